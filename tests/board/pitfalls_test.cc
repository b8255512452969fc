// The Base API pitfalls of bdb-base-api.md §0 that a test can reach, each
// against real board processes.
#include <gtest/gtest.h>

#include "local_chassis.h"

namespace bp::testing {
namespace {

constexpr int kSettleMs = 20000;

// §0 item 1: a master whose in-memory log fills panics. A transaction larger
// than the derived limit is refused before Berkeley DB sees it, nothing is
// written, and the master keeps working.
TEST(Pitfalls, OversizedTransactionIsRefusedAndTheMasterLives) {
  ChassisOptions o;
  o.tweak = [](board::ChassisConfig& c) {
    c.log_buffer_mb = 4;
    c.cache_mb = 64;
    c.max_value_bytes = 1 << 20;
  };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  std::vector<std::pair<std::string, std::string>> big;
  for (int i = 0; i < 4; ++i) big.emplace_back("big" + std::to_string(i), std::string(1 << 20, 'x'));
  RawWrite w = c.client(m).Batch(big);
  EXPECT_EQ(w.status.code(), Status::Code::kTooLarge) << w.status.ToString();
  EXPECT_NE(w.status.message().find("log_buffer"), std::string::npos) << w.status.message();
  EXPECT_TRUE(c.client(m).Get("big0").status().IsNotFound());
  // One value over max_value_bytes is refused too, naming the limit.
  w = c.client(m).Put("huge", std::string((1 << 20) + 1, 'y'));
  EXPECT_EQ(w.status.code(), Status::Code::kTooLarge);
  EXPECT_NE(w.status.message().find("max_value_bytes"), std::string::npos);
  // An empty key is refused with its own message.
  w = c.client(m).Put("", "v");
  EXPECT_EQ(w.status.code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(c.client(m).Put("small", "ok").status.ok());
  EXPECT_EQ(c.Status(m)["role"], "master");
  EXPECT_EQ(c.Status(m)["panicked"], false);
}

// §0 items 2 and 4: with many times the log buffer written, the master's
// volume-driven checkpoints (with CHECKPOINT_DELAY 0) keep a checkpoint
// inside the ring, so an empty board joining afterwards is re-initialised
// instead of panicking at the end of internal init.
TEST(Pitfalls, EmptyBoardJoinsAfterTheLogWrappedManyTimes) {
  ChassisOptions o;
  o.tweak = [](board::ChassisConfig& c) {
    c.log_buffer_mb = 2;
    c.cache_mb = 64;
    c.max_value_bytes = 64 << 10;
  };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  int late = m == 3 ? 2 : 3;
  c.Kill(late);
  // 8 MiB of log through a 2 MiB ring: 4 wraps.
  std::string value(16 << 10, 'v');
  for (int i = 0; i < 512; ++i) {
    // Retried on retryable errors: a busy 2-core machine can starve a board
    // past its heartbeat timeout and move mastership mid-loop.
    RawWrite w;
    ASSERT_TRUE(LocalChassis::WaitUntil([&] {
      w = c.client(m).Put("k" + std::to_string(i % 64), value);
      return w.status.ok() || !w.status.IsRetryable();
    }, kSettleMs));
    ASSERT_TRUE(w.status.ok()) << i << ": " << w.status.ToString();
  }
  m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  auto st = c.Status(m);
  EXPECT_GT(st["log"]["checkpoints"].get<int>(), 0);
  EXPECT_LT(st["log"]["since_checkpoint_max_bytes"].get<int64_t>(), 2 << 20) << st["log"].dump();
  ASSERT_TRUE(c.Start(late).ok());
  ASSERT_TRUE(LocalChassis::WaitUntil([&] {
    auto s = c.Status(late);
    return !s.is_null() && s["startup_complete"] == true && s["master"] == m;
  }, kSettleMs)) << c.Logs(late);
  auto v = c.client(late).Get("k63");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v.value(), value);
  EXPECT_EQ(c.Status(late)["panicked"], false);
}

// §0 item 6: promotion quiesces the message threads first, so it never
// takes Berkeley DB's 1-second lockout sleep; and no dual master appears.
TEST(Pitfalls, PromotionDoesNotSleepASecond) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  for (int round = 0; round < 3; ++round) {
    int m = c.WaitForMaster(kSettleMs);
    ASSERT_GT(m, 0);
    ASSERT_TRUE(c.client(m).Put("r" + std::to_string(round), "x").status.ok());
    c.Kill(m);
    int m2 = c.WaitForMaster(kSettleMs, m);
    ASSERT_GT(m2, 0);
    auto st = c.Status(m2);
    EXPECT_LT(st["elections"]["last_promotion_us"].get<int64_t>(), 500000) << st["elections"].dump();
    EXPECT_EQ(st["rep"]["dupmasters"], 0);
    ASSERT_TRUE(c.Start(m).ok());
    ASSERT_TRUE(LocalChassis::WaitUntil([&] { return c.Status(m)["startup_complete"] == true; }, kSettleMs));
  }
}

}  // namespace
}  // namespace bp::testing
