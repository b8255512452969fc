// Elections, promotion and demotion.
//
// The Base API never elects or promotes by itself; this file is the policy.
//
//  * A replica asks for an election when no master was heard within
//    startup_wait_ms of starting, when the master's link drops (a killed
//    process: seen at once by the bus monitor), when the master's heartbeats
//    stop for heartbeat_timeout_ms (a paused or partitioned master), and when
//    rep_process_message returns DB_REP_HOLDELECTION (someone else started
//    one: always join it, or the group can deadlock, §2.1).
//  * Only electable boards vote. rep_elect gets nsites = the electable boards
//    alive now (never fewer than a majority) so phase 1 ends as soon as every
//    live board voted instead of waiting out the timeout for dead ones, and
//    nvotes = a majority of the configured electable boards
//    (ElectionQuorumFor, election_quorum.h).
//  * The winner learns it from DB_EVENT_REP_ELECTED, fired on the thread
//    that counted the deciding vote (usually the rep worker). Promotion
//    (rep_start MASTER) first closes the gate in front of
//    rep_process_message and waits until no thread is inside: otherwise
//    Berkeley DB's lockout polls in 1-second sleeps while ignoring messages,
//    and the others may elect a second master (§3.6).
//  * A master steps down (rep_start CLIENT, StepDownLocked) on DB_REP_DUPMASTER or when it
//    hears the heartbeat of a master of a newer generation (a healed
//    partition); Berkeley DB then rolls back what it wrote alone.
#include <db.h>

#include <algorithm>
#include <chrono>

#include "board/election_quorum.h"
#include "board/role_machine.h"

namespace bp::board {

void RoleMachine::ElectionLoop() {
  while (!stop_.load()) {
    bool elect = false, demote = false, hand_over = false;
    std::string why;
    {
      std::unique_lock<std::mutex> l(election_mu_);
      clock_.WaitFor(election_cv_, l, Millis(20), [&] {
        return stop_.load() || election_requested_ || demote_requested_ || handover_requested_ ||
               elected_pending_.load();
      });
      if (stop_.load()) return;
      elect = election_requested_;
      demote = demote_requested_;
      hand_over = handover_requested_;
      why = demote ? demote_reason_ : election_reason_;
      election_requested_ = demote_requested_ = handover_requested_ = false;
    }
    if (hand_over) HandOver();
    // After stepping down the ticker finds the current master (or, when
    // there is none, as after a DUPMASTER, calls the election): electing
    // right away would drag a group that has a master into an election.
    if (demote) Demote(why.c_str());
    if (elected_pending_.load()) Promote();
    if (elect) RunElection(why);
  }
}

// Whether this board may call an election now; when not for a reason the
// operator must see, says so (status "elections" "waiting") and holds the
// next try back by a heartbeat timeout.
bool RoleMachine::MayElectNow() {
  const SlotConfig& self = *config_.Find(self_slot_);
  if (role_.load() == Role::kMaster || !self.electable || !rep_started_.load() || stop_.load() ||
      shutting_down_.load()) {
    return false;
  }
  const int64_t timeout_us = int64_t(config_.heartbeat_timeout_ms) * 1000;
  std::string wait_why = guard_.OutReason(clock_.NowMicros(), timeout_us);
  if (!wait_why.empty()) {  // a master of another configuration is alive (config_digest.h)
    next_election_us_ = clock_.NowMicros() + timeout_us;
    SetElectionWait(wait_why);
    return false;
  }
  if (ElectionWouldWipePeers(&wait_why)) {
    ++elections_refused_;
    next_election_us_ = clock_.NowMicros() + timeout_us;
    SetElectionWait(wait_why);
    return false;
  }
  SetElectionWait("");
  return true;
}

void RoleMachine::RunElection(const std::string& why) {
  if (!MayElectNow()) return;
  const ChassisConfig& c = config_;
  const int64_t now = clock_.NowMicros();
  const ElectionQuorum q = ElectionQuorumFor(c, peers_.AliveElectable(now) + 1);
  in_election_ = true;
  ++elections_;
  {
    std::lock_guard<std::mutex> l(election_wait_mu_);
    last_election_reason_ = why;
  }
  // The reason first, up to "; " (metrics.cc reads it as the switchover's).
  listener_.Emit(EventKind::kElectionStarted, -1,
                 why + "; nsites=" + std::to_string(q.nsites) + " nvotes=" + std::to_string(q.nvotes));
  int64_t t0 = clock_.NowMicros();
  DB_ENV* env = env_->raw();
  int ret = env->rep_elect(env, uint32_t(q.nsites), uint32_t(q.nvotes), 0);
  int64_t t1 = clock_.NowMicros();
  last_election_us_ = t1 - t0;
  in_election_ = false;
  if (elected_pending_.load()) Promote();

  // Jitter the retry so that boards which failed together do not collide again.
  int64_t jitter_us = int64_t(jitter_rng_.Below(uint64_t(c.heartbeat_interval_ms) * 1000));
  if (role_.load() == Role::kMaster) return;
  const bool not_enough_votes = ret == DB_REP_UNAVAIL;
  if (not_enough_votes) {
    listener_.Emit(EventKind::kElectionLost, -1, "not enough votes");
  } else {
    // Completed: someone else won, or a master answered (or, with leases,
    // a newer election cut this board's lease wait short).
    listener_.Emit(EventKind::kElectionLost, master_slot_.load(),
                   ret == 0 ? "another board won" : db_strerror(ret));
  }
  next_election_us_ = t1 + ElectionRetryDelayUs(c, not_enough_votes) + jitter_us;
}

// Keeps new messages and application calls out, waits (bounded) for those
// inside, then changes role. Called with rep_start_mu_ held, never from a
// thread inside a gate (the worker promotes after leaving its gate).
int RoleMachine::QuiescedRepStart(uint32_t flags) {
  message_gate_.CloseAndDrain(std::chrono::milliseconds(500));
  api_gate_.CloseAndDrain(std::chrono::milliseconds(500));
  DB_ENV* env = env_->raw();
  int ret = env->rep_start(env, nullptr, flags);
  api_gate_.Open();
  message_gate_.Open();
  return ret;
}

void RoleMachine::Promote() {
  std::lock_guard<std::mutex> rl(rep_start_mu_);
  if (!elected_pending_.load()) return;
  if (role_.load() == Role::kMaster || stop_.load()) {
    elected_pending_ = false;
    return;
  }
  int64_t t0 = clock_.NowMicros();
  int ret = QuiescedRepStart(DB_REP_MASTER);
  promotion_us_last_ = uint64_t(clock_.NowMicros() - t0);
  elected_pending_ = false;
  if (ret != 0) {
    listener_.Log(std::string("rep_start(MASTER) after winning failed: ") + db_strerror(ret));
    return;
  }
  OnBecameMaster();
}

void RoleMachine::OnBecameMaster() {
  uint32_t gen = gen_.load();
  DB_REP_STAT* sp = nullptr;
  DB_ENV* env = env_->raw();
  if (env->rep_stat(env, &sp, 0) == 0 && sp) {
    gen = sp->st_gen;
    free(sp);
  }
  {
    std::lock_guard<std::mutex> l(view_mu_);
    gen_ = gen;
  }
  listener_.OnMastershipBegins(gen);
  ever_synced_ = true;
  {
    std::lock_guard<std::mutex> l(view_mu_);
    if (role_.load() != Role::kMaster) master_since_us_ = clock_.NowMicros();
    role_ = Role::kMaster;
    master_slot_ = self_slot_;
    startup_done_ = true;
  }
  ++elections_won_;
  listener_.WakeTicker();
  env_->InvalidateTables();
  listener_.SendHeartbeat();  // tell everyone now, not at the next tick
  listener_.Emit(EventKind::kElectionWon, self_slot_, "");
  listener_.Emit(EventKind::kBecameMaster, self_slot_,
                 "promotion took " + std::to_string(promotion_us_last_.load()) + " us");
  listener_.Log("became master, generation " + std::to_string(gen));
}

// DUPMASTER, or a newer master that a majority backs: step down now. The
// ticker then finds the current master, or calls the election after a
// heartbeat timeout.
void RoleMachine::Demote(const char* why) {
  std::lock_guard<std::mutex> rl(rep_start_mu_);
  if (role_.load() != Role::kMaster || stop_.load()) return;
  StepDownLocked(why, /*api_gate_closed=*/false,
                 clock_.NowMicros() + int64_t(config_.heartbeat_timeout_ms) * 1000);
}

void RoleMachine::StepDownLocked(const char* why, bool api_gate_closed,
                                 std::optional<int64_t> next_election_us) {
  SetRole(Role::kClient);  // new writes (and those waiting at a closed gate) are refused from here on
  if (api_gate_closed) api_gate_.Open();
  listener_.AbortDurabilityWaits();  // committers waiting for acks return now, and new waits at once
  int64_t t0 = clock_.NowMicros();
  int ret = QuiescedRepStart(DB_REP_CLIENT);
  demotion_us_last_ = uint64_t(clock_.NowMicros() - t0);
  if (ret != 0) {
    listener_.Log(std::string("rep_start(CLIENT) to step down (") + why + ") failed: " +
                  db_strerror(ret));
  }
  {
    std::lock_guard<std::mutex> l(view_mu_);
    master_slot_ = -1;
    startup_done_ = false;
  }
  env_->InvalidateTables();
  last_master_seen_us_ = clock_.NowMicros();
  if (next_election_us) next_election_us_ = *next_election_us;
  listener_.Log(std::string("stepped down to replica: ") + why);
}

// This board's log end now (rep_stat), or the ticker's last reading.
bus::Lsn RoleMachine::NextLsnNow() {
  bus::Lsn mine = listener_.TickerNextLsn();
  DB_REP_STAT* sp = nullptr;
  DB_ENV* env = env_->raw();
  if (env->rep_stat(env, &sp, 0) == 0 && sp) {
    mine = {sp->st_next_lsn.file, sp->st_next_lsn.offset};
    free(sp);
  }
  return mine;
}

// An electable board that never held data in this process must not win an
// election while a live peer holds more log that no live electable board
// holds (it would wipe that peer by internal init). Fills `why` and returns
// true when the election must wait.
bool RoleMachine::ElectionWouldWipePeers(std::string* why) {
  if (ever_synced_.load()) return false;
  const bus::Lsn mine = NextLsnNow();
  const auto peers = peers_.Snapshot(clock_.NowMicros());
  bus::Lsn most = mine;
  int holder = -1;
  for (const PeerView& p : peers) {
    if (p.alive && most < p.hb.next_lsn) {
      most = p.hb.next_lsn;
      holder = p.slot;
    }
  }
  if (holder < 0) return false;
  // Berkeley DB elects the voter with the most log first: a live electable
  // board holding it all wins any election this board takes part in.
  for (const PeerView& p : peers) {
    if (p.alive && p.electable && !(p.hb.next_lsn < most)) return false;
  }
  *why = "not calling an election: this board holds no data yet (started empty) and slot " +
         std::to_string(holder) + " holds log up to " + std::to_string(most.file) + "/" +
         std::to_string(most.offset) + " (this board: " + std::to_string(mine.file) + "/" +
         std::to_string(mine.offset) + "), which no live electable board holds; winning would " +
         "wipe it by internal init. Read the data at slot " + std::to_string(holder) +
         "; to go on without it, stop that board";
  return true;
}

void RoleMachine::SetElectionWait(const std::string& why) {
  {
    std::lock_guard<std::mutex> l(election_wait_mu_);
    if (election_wait_ == why) return;
    election_wait_ = why;
  }
  if (!why.empty()) listener_.Log(why);
}

std::string RoleMachine::ElectionWait() const {
  std::lock_guard<std::mutex> l(election_wait_mu_);
  return election_wait_;
}

std::string RoleMachine::LastElectionReason() const {
  std::lock_guard<std::mutex> l(election_wait_mu_);
  return last_election_reason_;
}

void RoleMachine::StepDownForShutdown() {
  shutting_down_ = true;  // this board takes part in no election from here on
  if (role_.load() != Role::kMaster || stop_.load()) return;
  listener_.Log("stopping: handing mastership over first");
  if (!StepDownAfterCatchUp(-1, "stopping (SIGTERM): a replica takes over")) {
    listener_.Log("no in-sync replica caught up in time; stopping as master");
  }
}

}  // namespace bp::board
