// Limits that must agree with each other, against real board processes
// (issue 12): a write larger than one bus frame is refused up front with an
// error naming the limit, never forwarded (ZeroMQ would drop the replica's
// connection to the master and the silence would trigger an election).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "local_chassis.h"

namespace bp::testing {
namespace {

constexpr int kSettleMs = 20000;

TEST(Limits, WriteLargerThanABusFrameIsRefusedAtTheReplicaAndTheMasterStays) {
  ChassisOptions o;
  o.tweak = [](board::ChassisConfig& c) {
    // A log ring big enough that memenv alone would take the write.
    c.log_buffer_mb = 256;
    c.cache_mb = 600;
  };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  const int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  const int replica = m == 1 ? 2 : 1;
  const auto gen = c.Status(m)["generation"];
  const auto held = c.Status(m)["elections"]["held"];
  ASSERT_TRUE(c.client(replica).Put("before", "ok").status.ok());

  // 17 values of 1 MiB (max_value_bytes): about 17 MiB in one frame.
  std::vector<std::pair<std::string, std::string>> big;
  for (int i = 0; i < 17; ++i) big.emplace_back("big" + std::to_string(i), std::string(1 << 20, 'x'));
  RawWrite w = c.client(replica).Batch(big, 10000);
  EXPECT_EQ(w.status.code(), Status::Code::kTooLarge) << w.status.ToString();
  EXPECT_NE(w.status.message().find("bus frame limit is 16.0 MiB"), std::string::npos)
      << w.status.message();
  EXPECT_NE(w.status.message().find("log_buffer_mb"), std::string::npos) << w.status.message();

  // The link to the master held: later writes through the replica pass at
  // once, and nobody held an election (waited for 3 heartbeat timeouts).
  ASSERT_TRUE(c.client(replica).Put("after", "ok").status.ok());
  const int hb_timeout_ms = int(c.config().heartbeat_timeout_ms);
  EXPECT_FALSE(LocalChassis::WaitUntil(
      [&] { return c.Status(m)["generation"] != gen || c.Status(m)["role"] != "master"; },
      3 * hb_timeout_ms));
  EXPECT_EQ(c.WaitForMaster(kSettleMs), m);
  EXPECT_EQ(c.Status(m)["elections"]["held"], held);
  EXPECT_TRUE(c.client(m).Get("big0").status().IsNotFound());
}

// Eight clients write a batch of 20,000 small puts each to the master at
// once: the master's log budget admits them in turn (or refuses one with
// Busy), so the log ring never fills (on a master that is a panic).
TEST(Limits, EightConcurrentBatchesOfSmallOpsNeverPanicTheMaster) {
  // What is tested is the log budget, not failure detection: eight 20,000-op
  // batches saturate both cores (more so under ASan), and with the default
  // 60 ms heartbeat timeout a replica once called an election mid-load
  // (session CI, ASan), demoting the master the test watches.
  ChassisOptions o;
  o.tweak = [](board::ChassisConfig& cfg) { cfg.heartbeat_timeout_ms = 1000; };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  const int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  const auto gen = c.Status(m)["generation"];
  constexpr int kClients = 8, kOps = 20000;
  auto key_of = [](int w, int i) {
    char key[32];
    std::snprintf(key, sizeof key, "w%d-%06d", w, i);
    return std::string(key);
  };
  // Every client's even keys exist already, each client in leaf pages of
  // its own: the concurrent batches insert the odd keys between them
  // without waiting on each other's page locks, so their log interleaves.
  for (int w = 0; w < kClients; ++w) {
    for (int at = 0; at < kOps; at += 1000) {
      std::vector<std::pair<std::string, std::string>> chunk;
      for (int i = at; i < at + 1000; ++i) chunk.emplace_back(key_of(w, 2 * i), "v012345678");
      ASSERT_TRUE(c.client(m).Batch(chunk, 10000).status.ok());
    }
  }
  std::vector<RawWrite> results(kClients);
  std::vector<std::thread> threads;
  for (int w = 0; w < kClients; ++w) {
    threads.emplace_back([&, w] {
      RawClient client(c.client_endpoint(m));
      std::vector<std::pair<std::string, std::string>> puts;
      for (int i = 0; i < kOps; ++i) puts.emplace_back(key_of(w, 2 * i + 1), "v012345678");
      results[w] = client.Batch(puts, 30000);
    });
  }
  for (auto& t : threads) t.join();
  int committed = 0;
  for (int w = 0; w < kClients; ++w) {
    const Status& s = results[w].status;
    if (s.ok()) {
      ++committed;
      continue;
    }
    EXPECT_EQ(s.code(), Status::Code::kBusy) << "client " << w << ": " << s.ToString();
    EXPECT_NE(s.message().find("log_buffer_mb"), std::string::npos) << s.ToString();
  }
  EXPECT_GE(committed, 1);
  std::printf("%d of %d batches committed\n", committed, kClients);
  ASSERT_TRUE(c.Running(m));
  EXPECT_EQ(c.Status(m)["role"], "master");
  EXPECT_EQ(c.Status(m)["panicked"], false);
  EXPECT_EQ(c.Status(m)["generation"], gen);
  EXPECT_EQ(c.WaitForMaster(kSettleMs), m);
  for (int slot = 1; slot <= 3; ++slot) EXPECT_TRUE(c.Running(slot)) << slot;
}

// A client-given read timeout is clamped to max_read_timeout_ms: a
// read-your-writes read for a write that never arrives (a token whose LSN
// lies far ahead) answers Timeout after the cap, not after the client's hour.
TEST(Limits, ClientReadTimeoutIsClampedToMaxReadTimeout) {
  ChassisOptions o;
  o.tweak = [](board::ChassisConfig& c) { c.max_read_timeout_ms = 300; };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  const int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  const int replica = m == 1 ? 2 : 1;
  RawWrite w = c.client(m).Put("k", "v");
  ASSERT_TRUE(w.status.ok()) << w.status.ToString();
  ASSERT_EQ(w.token.size(), 20u);
  std::string future = w.token;
  future[12] = char(0x7f);  // the LSN's file number (big-endian, bytes 12..15): far ahead
  const auto start = std::chrono::steady_clock::now();
  // The client asks for an hour; its own wait for the reply is that plus 500 ms.
  Result<std::string> r = c.client(replica).Get("k", /*kReadYourWrites*/ 1, future, 3600 * 1000);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout) << r.status().ToString();
  EXPECT_NE(r.status().message().find("after 300 ms"), std::string::npos) << r.status().ToString();
  EXPECT_LT(waited, std::chrono::seconds(10));
}

}  // namespace
}  // namespace bp::testing
