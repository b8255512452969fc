// Takeover timing. All timestamps are CLOCK_MONOTONIC microseconds: the
// boards stamp their events with it and this machine shares one clock
// across processes, so the tool's fault time and the boards' event times
// are directly comparable.
//
//   fault ──detection──> first survivor event (peer_down of the old master
//                        or election_started)
//         ──election───> became_master on the winner
//         ──first commit> the load generator's first durable ack after that
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>

#include "bp/status.h"
#include "chassis.h"
#include "load_gen.h"

namespace bp::chassis {

struct Takeover {
  int old_master = -1;
  int new_master = -1;
  int64_t fault_us = 0;
  int64_t detect_us = 0;     // 0: not seen
  int64_t became_us = 0;     // 0: not seen
  int64_t first_ack_us = 0;  // 0: none
  std::optional<double> detection_ms, election_ms, first_commit_ms, failover_ms;
};

int64_t MonoNowUs();

// Waits for a new master among the boards not in `skip` (the faulty one),
// then reads the phases from the survivors' event logs.
Result<Takeover> WaitForTakeover(Chassis& chassis, int old_master, int64_t fault_us,
                                 const std::set<int>& skip, int timeout_ms);

// Waits (bounded) for the load generator's first durable ack after the
// winner became master, and fills in the phase durations.
void WaitFirstCommit(const LoadGen& load, Takeover* t, int timeout_ms);

// The first event of `kind` in `status` at or after `after_us` (and, if
// slot >= 0, about that slot); 0 if none.
int64_t FindEvent(const nlohmann::json& status, const std::string& kind, int64_t after_us,
                  int slot = -1);

// Polls `slot` until its status satisfies `done`; returns the CLOCK_MONOTONIC
// time it was first seen so (or the time of `event` in its log if that is
// earlier and after `after_us`).
Result<int64_t> WaitBoard(Chassis& chassis, int slot, int64_t after_us, int timeout_ms,
                          const std::string& event,
                          const std::function<bool(const nlohmann::json&)>& done);

}  // namespace bp::chassis
