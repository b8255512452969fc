// AckTracker: the policy arithmetic, generation filtering, cumulative acks,
// fail-fast and timeouts, with a scripted liveness predicate.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "board/ack_tracker.h"

namespace bp::board {
namespace {

ChassisConfig Chassis(int n, AckPolicy p, int non_electable = 0) {
  ChassisConfig c = MakeLocalChassis(n, "/tmp/t", 1);
  for (int i = 0; i < non_electable; ++i) c.boards[size_t(n - 1 - i)].electable = false;
  c.ack_policy = p;
  return c;
}

TEST(AckTracker, NeededPerPolicy) {
  auto all_alive = [](int) { return true; };
  EXPECT_EQ(AckTracker(Chassis(3, AckPolicy::kNone), 1, all_alive).Needed(), 0);
  EXPECT_EQ(AckTracker(Chassis(3, AckPolicy::kOne), 1, all_alive).Needed(), 1);
  EXPECT_EQ(AckTracker(Chassis(3, AckPolicy::kQuorum), 1, all_alive).Needed(), 1);
  EXPECT_EQ(AckTracker(Chassis(5, AckPolicy::kQuorum), 1, all_alive).Needed(), 2);
  EXPECT_EQ(AckTracker(Chassis(2, AckPolicy::kQuorum), 1, all_alive).Needed(), 1);
  EXPECT_EQ(AckTracker(Chassis(5, AckPolicy::kAll), 1, all_alive).Needed(), 4);
  EXPECT_EQ(AckTracker(Chassis(5, AckPolicy::kAllAvailable), 1, [](int s) { return s != 5; }).Needed(), 3);
  // 3 electable + 1 replica-only: QUORUM counts electable boards only.
  EXPECT_EQ(AckTracker(Chassis(4, AckPolicy::kQuorum, 1), 1, all_alive).Needed(), 1);
}

TEST(AckTracker, CumulativeAcksOfTheCurrentGenerationCount) {
  AckTracker t(Chassis(3, AckPolicy::kQuorum), 1, [](int) { return true; });
  t.SetGeneration(4);
  t.OnAck(2, 3, {1, 500});  // old generation: ignored
  EXPECT_FALSE(t.IsMet({1, 100}));
  t.OnAck(2, 4, {1, 500});
  EXPECT_TRUE(t.IsMet({1, 100}));   // a later LSN covers earlier ones
  EXPECT_TRUE(t.IsMet({1, 500}));
  EXPECT_FALSE(t.IsMet({1, 501}));
  t.SetGeneration(5);               // new generation forgets old acks
  EXPECT_FALSE(t.IsMet({1, 100}));
}

TEST(AckTracker, ReplicaOnlyAcksDoNotMakeQuorum) {
  AckTracker t(Chassis(4, AckPolicy::kQuorum, 1), 1, [](int) { return true; });
  t.SetGeneration(1);
  t.OnAck(4, 1, {1, 10});  // slot 4 is not electable
  EXPECT_FALSE(t.IsMet({1, 10}));
  t.OnAck(3, 1, {1, 10});
  EXPECT_TRUE(t.IsMet({1, 10}));
}

TEST(AckTracker, WaitReturnsWhenAcked) {
  AckTracker t(Chassis(3, AckPolicy::kQuorum), 1, [](int) { return true; });
  t.SetGeneration(1);
  std::thread acker([&] { t.OnAck(3, 1, {2, 8}); });
  AckOutcome o = t.Wait({2, 8}, 5000);
  acker.join();
  EXPECT_TRUE(o.met);
  EXPECT_EQ(o.needed, 1);
}

TEST(AckTracker, AllFailsFastWithADeadReplica) {
  AckTracker t(Chassis(3, AckPolicy::kAll), 1, [](int s) { return s != 3; });
  t.SetGeneration(1);
  AckOutcome o = t.Wait({1, 1}, 60000);  // would hang a minute if it waited
  EXPECT_FALSE(o.met);
  EXPECT_TRUE(o.fail_fast);
  EXPECT_EQ(t.failures(), 1u);
}

TEST(AckTracker, TimesOutWhenNobodyAcks) {
  AckTracker t(Chassis(3, AckPolicy::kOne), 1, [](int) { return true; });
  t.SetGeneration(1);
  AckOutcome o = t.Wait({1, 1}, 20);
  EXPECT_FALSE(o.met);
  EXPECT_FALSE(o.fail_fast);
}

TEST(AckTracker, AbortWakesWaiters) {
  AckTracker t(Chassis(3, AckPolicy::kOne), 1, [](int) { return true; });
  t.SetGeneration(1);
  std::thread w([&] { EXPECT_FALSE(t.Wait({1, 1}, 60000).met); });
  // Abort until the waiter has left (it may not have started waiting yet).
  while (t.waits() == 0) std::this_thread::yield();
  t.Abort();
  w.join();
}

}  // namespace
}  // namespace bp::board
