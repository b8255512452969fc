// ElectionQuorumFor: rep_elect's nsites and nvotes for every chassis shape
// the configuration allows (1, 2, 3 and 5 boards; replica-only boards; boards
// down; the two-board modes; leases), and that an election among the live
// boards can reach nvotes exactly when a majority (or, two-board failover,
// the survivor) is alive.
#include <gtest/gtest.h>

#include "board/election_quorum.h"

namespace bp::board {
namespace {

ChassisConfig Chassis(int boards, int non_electable = 0,
                      TwoBoardMode mode = TwoBoardMode::kStrict, bool leases = false) {
  ChassisConfig c = MakeLocalChassis(boards, "/tmp/t", 1);
  for (int i = 0; i < non_electable; ++i) c.boards[size_t(boards - 1 - i)].electable = false;
  c.two_board_mode = mode;
  c.leases = leases;
  return c;
}

void ExpectQuorum(const ChassisConfig& c, int alive, int nsites, int nvotes) {
  const ElectionQuorum q = ElectionQuorumFor(c, alive);
  EXPECT_EQ(q.nsites, nsites) << "alive " << alive;
  EXPECT_EQ(q.nvotes, nvotes) << "alive " << alive;
}

TEST(ElectionQuorum, OneBoardElectsItself) { ExpectQuorum(Chassis(1), 1, 1, 1); }

TEST(ElectionQuorum, TwoBoardsStrictNeedBoth) {
  const ChassisConfig c = Chassis(2);
  ExpectQuorum(c, 2, 2, 2);
  ExpectQuorum(c, 1, 2, 2);  // the survivor alone cannot win
  ExpectQuorum(c, 0, 2, 2);
}

TEST(ElectionQuorum, TwoBoardsFailoverAndPreferredLetTheSurvivorWin) {
  for (TwoBoardMode mode : {TwoBoardMode::kFailover, TwoBoardMode::kPreferred}) {
    const ChassisConfig c = Chassis(2, 0, mode);
    ExpectQuorum(c, 2, 2, 2);  // both alive: both vote
    ExpectQuorum(c, 1, 1, 1);
    ExpectQuorum(c, 0, 1, 1);  // a replica-only board asking: one vote would do
  }
}

TEST(ElectionQuorum, ThreeBoardsNeedTwo) {
  const ChassisConfig c = Chassis(3);
  ExpectQuorum(c, 3, 3, 2);
  ExpectQuorum(c, 2, 2, 2);  // one down: phase 1 ends with the two live votes
  ExpectQuorum(c, 1, 2, 2);
}

TEST(ElectionQuorum, FiveBoardsNeedThree) {
  const ChassisConfig c = Chassis(5);
  ExpectQuorum(c, 5, 5, 3);
  ExpectQuorum(c, 4, 4, 3);
  ExpectQuorum(c, 3, 3, 3);
  ExpectQuorum(c, 2, 3, 3);  // two down beyond the majority: nsites never below nvotes
}

TEST(ElectionQuorum, ReplicaOnlyBoardsDoNotVote) {
  // 3 electable + 2 replica-only: a majority of 3, counted over electable boards.
  ExpectQuorum(Chassis(5, 2), 3, 3, 2);
  ExpectQuorum(Chassis(5, 2), 2, 2, 2);
  // 2 electable + 1 replica-only is a two-board chassis for the modes.
  ExpectQuorum(Chassis(3, 1), 2, 2, 2);
  ExpectQuorum(Chassis(3, 1, TwoBoardMode::kFailover), 1, 1, 1);
  ExpectQuorum(Chassis(3, 1, TwoBoardMode::kStrict), 1, 2, 2);
}

TEST(ElectionQuorum, LeasesAskForTheConfiguredGroup) {
  ExpectQuorum(Chassis(3, 0, TwoBoardMode::kStrict, true), 3, 0, 2);
  ExpectQuorum(Chassis(3, 0, TwoBoardMode::kStrict, true), 2, 0, 2);
  ExpectQuorum(Chassis(5, 0, TwoBoardMode::kStrict, true), 4, 0, 3);
}

// The retry after an election that made no master. With leases, a board
// short of votes waits until the others' lease wait (PHASE0) can complete:
// their retry after being cut short (2 x election_timeout) plus a whole
// lease_timeout, plus a heartbeat; before the fix it called again after
// 2 x heartbeat_interval and kept cutting their waits short.
TEST(ElectionRetry, LeaseBoardShortOfVotesLetsTheOthersFinishTheirLeaseWait) {
  ChassisConfig c = Chassis(3, 0, TwoBoardMode::kStrict, true);
  c.heartbeat_interval_ms = 10;
  c.election_timeout_ms = 50;
  c.lease_timeout_ms = 100;
  const int64_t retry = ElectionRetryDelayUs(c, /*not_enough_votes=*/true);
  EXPECT_EQ(retry, (100 + 2 * 50 + 10) * 1000);
  // The next vote request comes after a cut-short board retried and waited
  // a whole lease timeout.
  const int64_t cut_short_board_done =
      ElectionRetryDelayUs(c, /*not_enough_votes=*/false) + int64_t(c.heartbeat_interval_ms) * 1000 +
      int64_t(c.lease_timeout_ms) * 1000;
  EXPECT_GT(int64_t(c.election_timeout_ms) * 1000 + retry, cut_short_board_done);
}

TEST(ElectionRetry, WithoutLeasesAMissingVoterIsRetriedWithinHeartbeats) {
  ChassisConfig c = Chassis(3);
  c.heartbeat_interval_ms = 10;
  c.election_timeout_ms = 50;
  EXPECT_EQ(ElectionRetryDelayUs(c, true), 20 * 1000);
  EXPECT_EQ(ElectionRetryDelayUs(c, false), 100 * 1000);
}

}  // namespace
}  // namespace bp::board
