// The election figures (election_quorum.h).
#include "board/election_quorum.h"

#include <algorithm>

namespace bp::board {

ElectionQuorum ElectionQuorumFor(const ChassisConfig& c, int alive_electable) {
  ElectionQuorum q;
  q.nvotes = c.Majority();
  const bool two_board_failover =
      c.ElectableCount() == 2 && c.two_board_mode != TwoBoardMode::kStrict;
  if (two_board_failover && alive_electable <= 1) q.nvotes = 1;
  q.nsites = c.leases ? 0 : std::max(alive_electable, q.nvotes);
  return q;
}

int64_t ElectionRetryDelayUs(const ChassisConfig& c, bool not_enough_votes) {
  const int64_t hb_us = int64_t(c.heartbeat_interval_ms) * 1000;
  const int64_t election_us = int64_t(c.election_timeout_ms) * 1000;
  // Give the winner time to promote and announce itself.
  if (!not_enough_votes) return 2 * election_us;
  if (!c.leases) return 2 * hb_us;  // the missing voters may be back any moment
  return int64_t(c.lease_timeout_ms) * 1000 + 2 * election_us + hb_us;
}

}  // namespace bp::board
