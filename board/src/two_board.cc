// Two-board chassis and the preferred master.
//
// With two electable boards a majority is both of them, so losing either
// stops elections. The chassis chooses (two_board_mode):
//   strict     no failover: with the master dead, writes are refused clearly
//              until it returns (no split brain, no rollback).
//   failover   the survivor may elect itself alone (nvotes = 1). A partition
//              then gives two masters, and the one that loses afterwards
//              rolls back what it wrote alone.
//   preferred  like failover, and the preferred board is master whenever it is
//              healthy. Berkeley DB 5.3 has no such mode, so the engine runs
//              the procedure by hand: the returning preferred board rejoins as
//              a replica and catches up; the current master stops taking new
//              writes, lets the ones in flight finish (acknowledged), waits
//              until the preferred board has applied its whole log, steps
//              down, and calls an election that the preferred board wins on
//              priority (equal logs). The preferred board joined empty, so it
//              has nothing of its own to roll back.
#include <db.h>

#include <chrono>

#include "board/election_quorum.h"
#include "board/role_machine.h"

namespace bp::board {

bool RoleMachine::PreferredMode() const {
  return config_.ElectableCount() == 2 && config_.two_board_mode == TwoBoardMode::kPreferred;
}

// Ticker, on the master: when the preferred board is alive and in sync, ask
// the election thread for the hand-over. The hand-over waits for writes in
// flight and for the preferred board to catch up (up to ack_timeout_ms +
// 600 ms): on the ticker that stopped this master's heartbeats for longer
// than heartbeat_timeout_ms, and the preferred board elected itself alone.
void RoleMachine::MaybeHandOver(int64_t now) {
  if (!PreferredMode() || role_.load() != Role::kMaster) return;
  const int preferred = config_.preferred_slot;
  if (preferred == self_slot_ || !peers_.IsInSyncClient(preferred, now)) return;
  {
    std::lock_guard<std::mutex> l(election_mu_);
    handover_requested_ = true;
  }
  election_cv_.notify_all();
}

// Election thread.
void RoleMachine::HandOver() {
  if (!PreferredMode() || role_.load() != Role::kMaster || shutting_down_.load()) return;
  const int preferred = config_.preferred_slot;
  if (preferred == self_slot_ || !peers_.IsInSyncClient(preferred, clock_.NowMicros())) return;
  listener_.Log("preferred board " + std::to_string(preferred) +
                " is back and in sync: handing mastership over");
  if (!StepDownAfterCatchUp(preferred, "hand-over to the preferred board")) {
    listener_.Log("preferred board did not catch up in time; keeping mastership for now");
    return;
  }
  next_election_us_ = clock_.NowMicros() + int64_t(config_.election_timeout_ms) * 1000;
  RequestElection("hand-over to the preferred board");
}

// Whether `to` (or, with to < 0, any live in-sync electable replica) has
// applied this master's log up to `mine`.
bool RoleMachine::CaughtUp(int to, bus::Lsn mine, int64_t now_us) const {
  for (const PeerView& p : peers_.Snapshot(now_us)) {
    bool candidate = to > 0 ? p.slot == to : p.electable && p.hb.role == wire::Role::Client &&
                                                 p.hb.startup_done && !p.hb.reinit;
    if (candidate && p.alive && !(p.hb.next_lsn < mine)) return true;
  }
  return false;
}

// Stops new writes, drains those in flight, waits (bounded) until `to` (or,
// with to < 0, any live in-sync electable replica) has applied this
// master's whole log, then steps down. Returns whether it stepped down.
// Leaves next_election_us_ to the caller (HandOver sets it; on shutdown no
// election follows).
bool RoleMachine::StepDownAfterCatchUp(int to, const char* why) {
  std::lock_guard<std::mutex> rl(rep_start_mu_);
  if (role_.load() != Role::kMaster) return false;
  // New writes wait at the gate; those inside finish with their acks.
  api_gate_.CloseAndDrain(std::chrono::milliseconds(config_.ack_timeout_ms + 100));
  bool caught_up = false;
  const int64_t deadline = clock_.NowMicros() + 500000;
  while (!caught_up && clock_.NowMicros() < deadline) {
    caught_up = CaughtUp(to, NextLsnNow(), clock_.NowMicros());
    if (!caught_up) clock_.SleepFor(Millis(1));
  }
  if (!caught_up) {
    api_gate_.Open();
    return false;
  }
  StepDownLocked(why, /*api_gate_closed=*/true, std::nullopt);
  return true;
}

// The preferred board's election priority: above the other board's, so that
// with equal logs it wins.
uint32_t RoleMachine::ElectionPriority() const {
  const SlotConfig& self = *config_.Find(self_slot_);
  if (!self.electable) return 0;
  if (PreferredMode() && self_slot_ == config_.preferred_slot) {
    return self.priority + 1000000;
  }
  return self.priority;
}

// Refuses a write at once when no master exists and none can be elected
// (fewer electable boards alive than an election needs), instead of letting
// it wait out the forwarding timeout.
Status RoleMachine::CheckWritable(int64_t now) const {
  if (role_.load() == Role::kMaster || master_slot_.load() > 0) return Status::Ok();
  std::string waiting = ElectionWait();
  if (!waiting.empty()) return Status::Unavailable("no master: " + waiting);
  const ChassisConfig& c = config_;
  const SlotConfig& self = *c.Find(self_slot_);
  int alive = peers_.AliveElectable(now) + (self.electable ? 1 : 0);
  int needed = ElectionQuorumFor(c, alive).nvotes;
  if (alive >= needed) return Status::Ok();
  std::string why = std::to_string(alive) + " of the " + std::to_string(c.ElectableCount()) +
                    " electable boards are alive and an election needs " + std::to_string(needed);
  if (c.ElectableCount() == 2 && c.two_board_mode == TwoBoardMode::kStrict) {
    why += " (two_board_mode = \"strict\": no failover without both boards; \"failover\" "
           "allows it at the risk of rollback after a partition)";
  }
  return Status::Unavailable("no master: " + why + "; writes are refused until a board returns");
}

}  // namespace bp::board
