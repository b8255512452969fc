// Sustained write load through a small in-memory log ring: the ring must
// recycle (no DB_LOG_BUFFER_FULL), checkpoints must keep up with log volume,
// and memory must stay bounded by the configured sizes, not grow with the
// volume of log written.
#include <db.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "memenv/env.h"
#include "test_util.h"

// ASan keeps freed memory in a quarantine (256 MiB by default), which would
// show up as RSS growth proportional to the volume written; cap it so that
// the RSS bound below means the same in both builds.
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=4"; }

namespace bp::memenv {
namespace {

using testing::Key;

size_t RssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
  }
  return 0;
}

uint64_t LogEndBytes(__db_env* env) {
  DB_LOG_STAT* st = nullptr;
  EXPECT_EQ(env->log_stat(env, &st, 0), 0);
  const uint64_t end = uint64_t{st->st_cur_file - 1} * st->st_lg_size + st->st_cur_offset;
  free(st);
  return end;
}

TEST(LoadTest, LogRingRecyclesUnderSustainedWritesWithBoundedMemory) {
  constexpr size_t kLogBuffer = 2u << 20, kCache = 8u << 20;
  constexpr int kKeys = 2048, kValue = 1024, kBatch = 8;
  constexpr uint64_t kPayloadTarget = 48ull << 20;  // 24x the ring
  const size_t rss_before = RssBytes();

  EnvOptions o;
  o.cache_bytes = kCache;
  o.log_buffer_bytes = kLogBuffer;
  o.checkpoint_every_commits = 16;
  o.max_locks = o.max_lock_objects = 10000;
  o.max_lockers = 1000;
  auto env = testing::OpenOrDie(o);
  ASSERT_NE(env, nullptr);
  Table* table = env->OpenTable("load", true).value();

  const auto start = std::chrono::steady_clock::now();
  uint64_t payload = 0;
  std::string value(kValue, 'v');
  for (int n = 0; payload < kPayloadTarget; ++n) {
    std::vector<BatchOp> ops;
    for (int i = 0; i < kBatch; ++i) {
      // Whole-value changes: BDB logs only the changed bytes of an overwrite.
      std::fill(value.begin(), value.end(), static_cast<char>('a' + (n * kBatch + i) % 26));
      ops.push_back({BatchOp::Kind::kPut, Key((n * kBatch + i) % kKeys), value});
      payload += Key(0).size() + kValue;
    }
    Status s = table->ApplyBatch(ops);
    ASSERT_TRUE(s.ok()) << "batch " << n << ": " << s.ToString();  // no DB_LOG_BUFFER_FULL
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const uint64_t log_bytes = LogEndBytes(env->raw());
  const EnvStats st = env->Stats();
  const size_t rss_after = RssBytes();
  std::printf(
      "payload %.1f MiB, log %.1f MiB in %.2f s; %lu checkpoints, max log since "
      "checkpoint %.2f MiB; RSS %.1f -> %.1f MiB\n",
      payload / 1048576.0, log_bytes / 1048576.0, secs, static_cast<unsigned long>(st.checkpoints),
      st.log_since_checkpoint_max_bytes / 1048576.0, rss_before / 1048576.0, rss_after / 1048576.0);

  EXPECT_GE(log_bytes, 20 * kLogBuffer);
  EXPECT_EQ(table->Count().value(), uint64_t{kKeys});
  // Checkpoints follow volume, and the last one never leaves the ring.
  EXPECT_GE(st.checkpoints, log_bytes / (uint64_t{o.EffectiveCheckpointKbytes()} * 1024) / 2);
  EXPECT_LE(st.log_since_checkpoint_max_bytes, kLogBuffer / 2);
  // Memory: BDB adds 25% to caches under 500 MB; the log ring is allocated
  // once; 24 MiB covers the lock/txn regions, the allocator and, under ASan,
  // its capped quarantine and shadow memory. 48 MiB of payload (about twice
  // that in log) went through, so a leak per write would blow well past this.
  const size_t bound = kCache * 5 / 4 + kLogBuffer + (24u << 20);
  EXPECT_LT(rss_after - rss_before, bound)
      << "RSS grew by " << (rss_after - rss_before) / 1048576.0 << " MiB";
}

// A transaction left open pins the ring: once the others have written
// half a ring of log (log_in_flight_bytes) the log budget refuses them with
// Busy after log_wait_ms, before the ring is full (DB_LOG_BUFFER_FULL would
// panic a master); the env stays usable.
TEST(LoadTest, OpenTransactionPinningTheRingFailsOthersWithoutPanic) {
  EnvOptions o = testing::SmallOptions();
  o.log_wait_ms = 20;
  auto env = testing::OpenOrDie(o);
  ASSERT_NE(env, nullptr);
  Table* table = env->OpenTable("pin", true).value();
  // Its own table: BDB locks pages, and the open txn must not block the others.
  Table* held = env->OpenTable("held", true).value();
  std::promise<void> pinned, release;
  std::thread holder([&] {
    ASSERT_TRUE(env->WithTxn([&](Txn& txn) {
                     BP_RETURN_IF_ERROR(txn.Put(*held, "pinned", "x"));
                     pinned.set_value();
                     release.get_future().wait();
                     return Status::Ok();
                   })
                    .ok());
  });
  pinned.get_future().wait();
  Status s;
  int n = 0;
  for (; n < 10000 && s.ok(); ++n) s = table->Put(Key(n % 100), std::string(1000, 'a' + n % 26));
  EXPECT_EQ(s.code(), Status::Code::kBusy) << s.ToString();
  EXPECT_NE(s.message().find("the log ring is busy"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("log_buffer_mb"), std::string::npos) << s.ToString();
  EXPECT_EQ(env->Stats().log_budget_refused, 1u);
  release.set_value();
  holder.join();
  EXPECT_TRUE(table->Put("after", "ok").ok());
  EXPECT_EQ(held->Get("pinned").value(), "x");
}

}  // namespace
}  // namespace bp::memenv
