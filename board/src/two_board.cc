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
#include <thread>

#include "board/engine.h"

namespace bp::board {

bool Engine::PreferredMode() const {
  const ChassisConfig& c = opts_.config;
  return c.ElectableCount() == 2 && c.two_board_mode == TwoBoardMode::kPreferred;
}

// Ticker, on the master: hand mastership back when the preferred board is
// alive, in sync and has applied everything we wrote.
void Engine::MaybeHandOver(int64_t now) {
  if (!PreferredMode() || role_.load() != Role::kMaster) return;
  const int preferred = opts_.config.preferred_slot;
  if (preferred == opts_.self_slot || !peers_.IsInSyncClient(preferred, now)) return;
  Log("preferred board " + std::to_string(preferred) + " is back and in sync: handing mastership over");
  std::lock_guard<std::mutex> rl(rep_start_mu_);
  if (role_.load() != Role::kMaster) return;
  // New writes wait at the gate; those inside finish with their acks.
  api_gate_.CloseAndDrain(std::chrono::milliseconds(opts_.config.ack_timeout_ms + 100));
  bool caught_up = false;
  const int64_t deadline = clock_.NowMicros() + 500000;
  while (!caught_up && clock_.NowMicros() < deadline) {
    RefreshRepState();
    bus::Lsn mine{next_lsn_file_.load(), next_lsn_offset_.load()};
    for (const PeerView& p : peers_.Snapshot(clock_.NowMicros())) {
      if (p.slot == preferred && p.alive && !(p.hb.next_lsn < mine)) caught_up = true;
    }
    if (!caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  api_gate_.Open();
  if (!caught_up) {
    Log("preferred board did not catch up in time; keeping mastership for now");
    return;
  }
  role_ = Role::kClient;
  acks_.Abort();
  int ret = QuiescedRepStart(DB_REP_CLIENT);
  if (ret != 0) Log(std::string("rep_start(CLIENT) for hand-over failed: ") + db_strerror(ret));
  master_slot_ = -1;
  startup_done_ = false;
  env_->InvalidateTables();
  last_master_seen_us_ = clock_.NowMicros();
  next_election_us_ = clock_.NowMicros() + int64_t(opts_.config.election_timeout_ms) * 1000;
  RequestElection("hand-over to the preferred board");
}

// The preferred board's election priority: above the other board's, so that
// with equal logs it wins.
uint32_t Engine::ElectionPriority() const {
  const SlotConfig& self = *opts_.config.Find(opts_.self_slot);
  if (!self.electable) return 0;
  if (PreferredMode() && opts_.self_slot == opts_.config.preferred_slot) {
    return self.priority + 1000000;
  }
  return self.priority;
}

// Refuses a write at once when no master exists and none can be elected
// (fewer electable boards alive than an election needs), instead of letting
// it wait out the forwarding timeout.
Status Engine::CheckWritable(int64_t now) const {
  if (role_.load() == Role::kMaster || master_slot_.load() > 0) return Status::Ok();
  const ChassisConfig& c = opts_.config;
  const SlotConfig& self = *c.Find(opts_.self_slot);
  int alive = peers_.AliveElectable(now) + (self.electable ? 1 : 0);
  int needed = c.Majority();
  if (c.ElectableCount() == 2 && c.two_board_mode != TwoBoardMode::kStrict) needed = 1;
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
