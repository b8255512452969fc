// The seams of common/: waits through the Clock (real and manual), and one
// seed's independent, repeatable streams.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "bp/clock.h"
#include "bp/seed.h"

namespace bp {
namespace {

TEST(ClockTest, RealWaitUntilReturnsWhenDoneOrAtTheDeadline) {
  const Clock& c = Clock::Real();
  std::mutex mu;
  std::condition_variable cv;
  bool flag = false;
  std::unique_lock<std::mutex> l(mu);
  const int64_t t0 = c.NowMicros();
  EXPECT_FALSE(c.WaitFor(cv, l, Millis(20), [&] { return flag; }));
  EXPECT_GE(c.NowMicros() - t0, 20000);
  std::thread t([&] {
    std::lock_guard<std::mutex> g(mu);
    flag = true;
    cv.notify_all();
  });
  EXPECT_TRUE(c.WaitFor(cv, l, Millis(10000), [&] { return flag; }));
  l.unlock();
  t.join();
}

TEST(ClockTest, ManualClockDeadlinesMoveOnlyWithAdvance) {
  ManualClock c(1000);
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    std::unique_lock<std::mutex> l(mu);
    EXPECT_FALSE(c.WaitFor(cv, l, Millis(50), [] { return false; }));
    returned = true;
  });
  // 30 ms of real time: the manual deadline has not passed.
  Clock::Real().SleepFor(Millis(30));
  EXPECT_FALSE(returned.load());
  c.Advance(Millis(50));
  waiter.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(c.NowMicros(), 1000 + 50000);
}

TEST(SeedTest, StreamsAreRepeatableAndIndependent) {
  EXPECT_EQ(DeriveSeed(7, SeedStream::kElectionJitter), DeriveSeed(7, SeedStream::kElectionJitter));
  std::set<uint64_t> seen;
  for (uint64_t s : {1, 2, 3, 4, 5, 6, 7}) seen.insert(DeriveSeed(42, s));
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_NE(DeriveSeed(1, SeedStream::kBusLoss), DeriveSeed(2, SeedStream::kBusLoss));
  SharedRng a(99), b(99);
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.Below(10);
    EXPECT_EQ(x, b.Below(10));
    EXPECT_LE(x, 10u);
  }
  EXPECT_NE(FreshSeed(), 0u);
}

}  // namespace
}  // namespace bp
