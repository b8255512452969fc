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

// Ticker, on the master: when the preferred board is alive and in sync, ask
// the election thread for the hand-over. The hand-over waits for writes in
// flight and for the preferred board to catch up (up to ack_timeout_ms +
// 600 ms): on the ticker that stopped this master's heartbeats for longer
// than heartbeat_timeout_ms, and the preferred board elected itself alone.
void Engine::MaybeHandOver(int64_t now) {
  if (!PreferredMode() || role_.load() != Role::kMaster) return;
  const int preferred = opts_.config.preferred_slot;
  if (preferred == opts_.self_slot || !peers_.IsInSyncClient(preferred, now)) return;
  {
    std::lock_guard<std::mutex> l(election_mu_);
    handover_requested_ = true;
  }
  election_cv_.notify_all();
}

// Election thread.
void Engine::HandOver() {
  if (!PreferredMode() || role_.load() != Role::kMaster || shutting_down_.load()) return;
  const int preferred = opts_.config.preferred_slot;
  if (preferred == opts_.self_slot || !peers_.IsInSyncClient(preferred, clock_.NowMicros())) return;
  Log("preferred board " + std::to_string(preferred) + " is back and in sync: handing mastership over");
  if (!StepDownAfterCatchUp(preferred, "hand-over to the preferred board")) {
    Log("preferred board did not catch up in time; keeping mastership for now");
    return;
  }
  next_election_us_ = clock_.NowMicros() + int64_t(opts_.config.election_timeout_ms) * 1000;
  RequestElection("hand-over to the preferred board");
}

bool Engine::StepDownAfterCatchUp(int to, const char* why) {
  std::lock_guard<std::mutex> rl(rep_start_mu_);
  if (role_.load() != Role::kMaster) return false;
  // New writes wait at the gate; those inside finish with their acks.
  api_gate_.CloseAndDrain(std::chrono::milliseconds(opts_.config.ack_timeout_ms + 100));
  bool caught_up = false;
  const int64_t deadline = clock_.NowMicros() + 500000;
  while (!caught_up && clock_.NowMicros() < deadline) {
    DB_REP_STAT* sp = nullptr;
    DB_ENV* env = env_->raw();
    bus::Lsn mine{next_lsn_file_.load(), next_lsn_offset_.load()};
    if (env->rep_stat(env, &sp, 0) == 0 && sp) {
      mine = {sp->st_next_lsn.file, sp->st_next_lsn.offset};
      free(sp);
    }
    for (const PeerView& p : peers_.Snapshot(clock_.NowMicros())) {
      bool candidate = to > 0 ? p.slot == to : p.electable && p.hb.role == wire::Role::Client &&
                                                   p.hb.startup_done && !p.hb.reinit;
      if (candidate && p.alive && !(p.hb.next_lsn < mine)) caught_up = true;
    }
    if (!caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!caught_up) {
    api_gate_.Open();
    return false;
  }
  role_ = Role::kClient;  // writes waiting at the gate are refused from here on
  api_gate_.Open();
  acks_.Abort();
  int ret = QuiescedRepStart(DB_REP_CLIENT);
  if (ret != 0) Log(std::string("rep_start(CLIENT) for ") + why + " failed: " + db_strerror(ret));
  master_slot_ = -1;
  startup_done_ = false;
  env_->InvalidateTables();
  last_master_seen_us_ = clock_.NowMicros();
  Log(std::string("stepped down to replica: ") + why);
  return true;
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
Status Engine::CheckWritable(int64_t now) {
  if (role_.load() == Role::kMaster || master_slot_.load() > 0) return Status::Ok();
  std::string waiting = ElectionWait();
  if (!waiting.empty()) return Status::Unavailable("no master: " + waiting);
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
