// Liveness alone (no engine, no bus): the heartbeat a board sends for each
// role (a master follows itself, only a replica reports re-init, slot
// settings from the configuration, one sequence), the re-init edge, the
// database size; and master confirmation: a majority of electable boards
// (counting the master) whose heartbeats follow it at its generation within
// half the heartbeat timeout. Time is a ManualClock.
#include "board/liveness.h"

#include <gtest/gtest.h>

namespace bp::board {
namespace {

ChassisConfig Chassis(int boards) {
  ChassisConfig c;
  c.heartbeat_timeout_ms = 100;  // confirmation window 50 ms
  for (int slot = 1; slot <= boards; ++slot) {
    SlotConfig b;
    b.slot = slot;
    b.endpoint = "ipc:///tmp/unused-" + std::to_string(slot);
    b.priority = uint32_t(10 * slot);
    c.boards.push_back(b);
  }
  return c;
}

bus::HeartbeatInfo Follower(int master, uint32_t gen) {
  bus::HeartbeatInfo hb;
  hb.role = wire::Role::Client;
  hb.master = master;
  hb.gen = gen;
  hb.confirm_gen = gen;
  hb.startup_done = true;
  return hb;
}

class LivenessTest : public ::testing::Test {
 protected:
  explicit LivenessTest(int boards = 3)
      : config_(Chassis(boards)), peers_(config_, 1), liveness_(config_, 1, clock_, peers_) {}

  void Hear(int slot, const bus::HeartbeatInfo& hb) {
    peers_.OnLinkUp(slot);
    peers_.OnHeartbeat(slot, hb, clock_.NowMicros());
  }

  static RoleView Master(uint32_t gen) { return {Role::kMaster, 1, gen, true}; }

  ManualClock clock_;
  ChassisConfig config_;
  PeerTable peers_;
  Liveness liveness_;
};

TEST_F(LivenessTest, MasterHeartbeatFollowsItselfAndCarriesItsState) {
  liveness_.ObserveNextLsn({2, 300});
  liveness_.SetDbSize(1000, 4096);
  // Berkeley DB's MASTER event came before the role machine named a master.
  RoleView v{Role::kMaster, -1, 5, true};
  bus::HeartbeatInfo hb = liveness_.MakeHeartbeat(v, 64 << 20, 4 << 20);
  EXPECT_EQ(hb.role, wire::Role::Master);
  EXPECT_EQ(hb.master, 1);
  EXPECT_EQ(hb.gen, 5u);
  EXPECT_EQ(hb.confirm_gen, 5u);
  EXPECT_EQ(hb.next_lsn.file, 2u);
  EXPECT_EQ(hb.next_lsn.offset, 300u);
  EXPECT_EQ(hb.db_pages, 1000u);
  EXPECT_EQ(hb.page_size, 4096u);
  EXPECT_EQ(hb.cache_bytes, uint64_t(64) << 20);
  EXPECT_EQ(hb.data_bytes, uint64_t(4) << 20);
  EXPECT_EQ(hb.priority, 10u);
  EXPECT_TRUE(hb.electable);
  EXPECT_FALSE(hb.lease_valid);  // no follower heard yet
  EXPECT_EQ(hb.seq, 1u);
  EXPECT_EQ(liveness_.MakeHeartbeat(v, 0, 0).seq, 2u);
  EXPECT_EQ(liveness_.heartbeats_sent(), 2u);
}

TEST_F(LivenessTest, OnlyAReplicaReportsReinitAndTheEdgeIsReportedOnce) {
  EXPECT_TRUE(liveness_.ObserveReinitPages(true));
  EXPECT_FALSE(liveness_.ObserveReinitPages(true));
  RoleView replica{Role::kClient, 2, 5, false};
  EXPECT_TRUE(liveness_.MakeHeartbeat(replica, 0, 0).reinit);
  EXPECT_EQ(liveness_.MakeHeartbeat(replica, 0, 0).master, 2);
  RoleView starting{Role::kStarting, -1, 0, false};
  bus::HeartbeatInfo hb = liveness_.MakeHeartbeat(starting, 0, 0);
  EXPECT_FALSE(hb.reinit);
  EXPECT_EQ(hb.role, wire::Role::Unknown);
  EXPECT_EQ(hb.confirm_gen, 0u);  // follows no master
  liveness_.OnStartupDone();
  EXPECT_FALSE(liveness_.reinit());
  EXPECT_TRUE(liveness_.ObserveReinitPages(true));  // a second re-init is a new edge
}

TEST_F(LivenessTest, ClearedDbSizeIsNotReported) {
  liveness_.SetDbSize(10, 8192);
  liveness_.ClearDbSize();
  EXPECT_EQ(liveness_.MakeHeartbeat({Role::kClient, 2, 1, false}, 0, 0).db_pages, 0u);
}

TEST_F(LivenessTest, OneFollowerConfirmsAMasterOfThree) {
  const int64_t now = clock_.NowMicros();
  EXPECT_FALSE(liveness_.ConfirmedMaster(Master(5), now));
  Hear(2, Follower(1, 5));
  EXPECT_TRUE(liveness_.ConfirmedMaster(Master(5), clock_.NowMicros()));
  EXPECT_TRUE(liveness_.MakeHeartbeat(Master(5), 0, 0).lease_valid);
  // Not a master: never confirmed, whatever the peers say.
  EXPECT_FALSE(liveness_.ConfirmedMaster({Role::kClient, 1, 5, true}, clock_.NowMicros()));
}

TEST_F(LivenessTest, AFollowerOfAnotherGenerationOrMasterDoesNotConfirm) {
  Hear(2, Follower(1, 4));
  Hear(3, Follower(2, 5));
  EXPECT_FALSE(liveness_.ConfirmedMaster(Master(5), clock_.NowMicros()));
}

TEST_F(LivenessTest, ConfirmationLapsesAfterHalfTheHeartbeatTimeout) {
  Hear(2, Follower(1, 5));
  clock_.Advance(Millis(49));
  EXPECT_TRUE(liveness_.ConfirmedMaster(Master(5), clock_.NowMicros()));
  clock_.Advance(Millis(2));  // 51 ms since the heartbeat: outside the 50 ms window
  EXPECT_FALSE(liveness_.ConfirmedMaster(Master(5), clock_.NowMicros()));
}

// The presented role (status "role", the shim): a master no majority has
// followed for a full heartbeat timeout shows "unconfirmed", after its first
// heartbeat timeout of grace as a new master.
TEST_F(LivenessTest, AMasterNoMajorityFollowsPresentsAsUnconfirmed) {
  const int64_t since = clock_.NowMicros();
  EXPECT_STREQ(liveness_.PresentedRole(Master(5), since, clock_.NowMicros()), "master");  // grace
  clock_.Advance(Millis(100));
  EXPECT_STREQ(liveness_.PresentedRole(Master(5), since, clock_.NowMicros()), "unconfirmed");
  Hear(2, Follower(1, 5));
  EXPECT_STREQ(liveness_.PresentedRole(Master(5), since, clock_.NowMicros()), "master");
  clock_.Advance(Millis(99));  // within the full timeout: still shown as master
  EXPECT_STREQ(liveness_.PresentedRole(Master(5), since, clock_.NowMicros()), "master");
  clock_.Advance(Millis(2));
  EXPECT_STREQ(liveness_.PresentedRole(Master(5), since, clock_.NowMicros()), "unconfirmed");
  EXPECT_STREQ(liveness_.PresentedRole({Role::kClient, 2, 5, true}, 0, clock_.NowMicros()), "replica");
}

// With two electable boards no majority elsewhere can elect a second master:
// a lone master of two stays "master".
TEST(LivenessOfTwo, ALoneMasterOfTwoStaysMaster) {
  ManualClock clock;
  ChassisConfig c = Chassis(2);
  PeerTable peers(c, 1);
  Liveness liveness(c, 1, clock, peers);
  clock.Advance(Millis(1000));
  EXPECT_STREQ(liveness.PresentedRole({Role::kMaster, 1, 5, true}, 0, clock.NowMicros()), "master");
}

class LivenessOfFive : public LivenessTest {
 protected:
  LivenessOfFive() : LivenessTest(5) {}
};

TEST_F(LivenessOfFive, TwoFollowersConfirmAMasterOfFive) {
  Hear(2, Follower(1, 5));
  EXPECT_FALSE(liveness_.ConfirmedMaster(Master(5), clock_.NowMicros()));
  Hear(4, Follower(1, 5));
  EXPECT_TRUE(liveness_.ConfirmedMaster(Master(5), clock_.NowMicros()));
}

}  // namespace
}  // namespace bp::board
