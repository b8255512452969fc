// ElectionQuorum: the figures an election on this chassis runs with, from
// the configuration and how many electable boards are alive. Pure; the role
// machine passes them to rep_elect (election.cc) and uses the same figure to
// refuse writes at once when no election could succeed (CheckWritable).
//
// Only electable boards vote (a non-electable board ignores HOLDELECTION),
// so every count here is of electable boards.
//   nvotes  a majority of the configured electable boards; with two electable
//           boards and two_board_mode failover or preferred, 1 while this
//           board is alone (the survivor may elect itself: README, the risk).
//   nsites  the electable boards alive now, never fewer than nvotes, so
//           phase 1 ends as soon as every live board voted instead of
//           waiting out the election timeout for dead ones. With leases
//           Berkeley DB requires nsites = 0 (the configured group): a board
//           that granted a lease cannot vote until it expires anyway.
#pragma once

#include "board/config.h"

namespace bp::board {

struct ElectionQuorum {
  int nsites = 0;
  int nvotes = 0;
};

// `alive_electable`: electable boards alive now, this board included when it
// is electable (0 when none is alive, not even this one).
ElectionQuorum ElectionQuorumFor(const ChassisConfig& config, int alive_electable);

// How long after an election that made no master this board waits before
// it calls the next one (jitter is added by the caller), in microseconds.
// `not_enough_votes`: rep_elect returned DB_REP_UNAVAIL; else it returned
// without a win (another board won, or a master answered).
//
// With leases, a board that never granted a lease spends its first
// rep_elect waiting a whole lease_timeout (PHASE0, rep_elect.c) and leaves
// that wait early, to try again from the start next time, whenever a vote
// request of a newer election arrives. A board that did finish its wait
// and lacks votes must therefore not call again before the others can
// finish theirs: their retry (2 x election_timeout after their early
// return) plus a whole lease_timeout, plus a heartbeat. Calling sooner
// (every 2 x heartbeat_interval) kept three lease boards at generation 0
// for minutes on a loaded machine.
int64_t ElectionRetryDelayUs(const ChassisConfig& config, bool not_enough_votes);

}  // namespace bp::board
