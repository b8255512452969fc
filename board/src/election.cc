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
//    nvotes = a majority of the configured electable boards.
//  * The winner learns it from DB_EVENT_REP_ELECTED, fired on the thread
//    that counted the deciding vote (usually the rep worker). Promotion
//    (rep_start MASTER) first closes the gate in front of
//    rep_process_message and waits until no thread is inside: otherwise
//    Berkeley DB's lockout polls in 1-second sleeps while ignoring messages,
//    and the others may elect a second master (§3.6).
//  * A master steps down (rep_start CLIENT) on DB_REP_DUPMASTER or when it
//    hears the heartbeat of a master of a newer generation (a healed
//    partition); Berkeley DB then rolls back what it wrote alone.
#include <db.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "board/engine.h"

namespace bp::board {

void Engine::RequestElection(const char* why) {
  {
    std::lock_guard<std::mutex> l(election_mu_);
    election_requested_ = true;
    election_reason_ = why;
  }
  election_cv_.notify_all();
}

void Engine::RequestDemote(const char* why) {
  {
    std::lock_guard<std::mutex> l(election_mu_);
    demote_requested_ = true;
    demote_reason_ = why;
  }
  election_cv_.notify_all();
}

void Engine::ElectionLoop() {
  while (!stop_.load()) {
    bool elect = false, demote = false, hand_over = false;
    std::string why;
    {
      std::unique_lock<std::mutex> l(election_mu_);
      election_cv_.wait_for(l, std::chrono::milliseconds(20), [&] {
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
    if (elect) RunElection();
  }
}

void Engine::RunElection() {
  const ChassisConfig& c = opts_.config;
  const SlotConfig& self = *c.Find(opts_.self_slot);
  if (role_.load() == Role::kMaster || !self.electable || !rep_started_.load() || stop_.load() ||
      shutting_down_.load()) {
    return;
  }
  std::string wait_why;
  if (ElectionWouldWipePeers(&wait_why)) {
    ++elections_refused_;
    next_election_us_ = clock_.NowMicros() + int64_t(c.heartbeat_timeout_ms) * 1000;
    SetElectionWait(wait_why);
    return;
  }
  SetElectionWait("");
  int64_t now = clock_.NowMicros();
  int majority = c.Majority();
  int alive = peers_.AliveElectable(now) + 1;
  int nvotes = majority;
  if (c.ElectableCount() == 2 && c.two_board_mode != TwoBoardMode::kStrict && alive == 1) {
    nvotes = 1;  // failover / preferred: the survivor may elect itself (README: the risk)
  }
  int nsites = std::max(alive, nvotes);
  // With leases Berkeley DB requires nsites = 0 (the configured group): a
  // board that granted a lease cannot vote until it expires anyway.
  if (c.leases) nsites = 0;
  in_election_ = true;
  ++elections_;
  Emit(EventKind::kElectionStarted, -1,
       "nsites=" + std::to_string(nsites) + " nvotes=" + std::to_string(nvotes));
  int64_t t0 = clock_.NowMicros();
  DB_ENV* env = env_->raw();
  int ret = env->rep_elect(env, uint32_t(nsites), uint32_t(nvotes), 0);
  int64_t t1 = clock_.NowMicros();
  last_election_ms_x1000_ = t1 - t0;
  in_election_ = false;
  if (elected_pending_.load()) Promote();

  // Jitter the retry so that boards which failed together do not collide again.
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ uint64_t(opts_.self_slot));
  int64_t jitter_us = int64_t(rng() % (c.heartbeat_interval_ms * 1000 + 1));
  if (role_.load() == Role::kMaster) return;
  if (ret == DB_REP_UNAVAIL) {
    Emit(EventKind::kElectionLost, -1, "not enough votes");
    next_election_us_ = t1 + 2 * int64_t(c.heartbeat_interval_ms) * 1000 + jitter_us;
  } else {
    // Completed: someone else won, or a master answered. Give the winner
    // time to promote and announce itself before trying again.
    Emit(EventKind::kElectionLost, master_slot_.load(), ret == 0 ? "another board won" : db_strerror(ret));
    next_election_us_ = t1 + 2 * int64_t(c.election_timeout_ms) * 1000 + jitter_us;
  }
}

// Keeps new messages and application calls out, waits (bounded) for those
// inside, then changes role. Called with rep_start_mu_ held, never from a
// thread inside a gate (the worker promotes after leaving its gate).
int Engine::QuiescedRepStart(uint32_t flags) {
  message_gate_.CloseAndDrain(std::chrono::milliseconds(500));
  api_gate_.CloseAndDrain(std::chrono::milliseconds(500));
  DB_ENV* env = env_->raw();
  int ret = env->rep_start(env, nullptr, flags);
  api_gate_.Open();
  message_gate_.Open();
  return ret;
}

void Engine::Promote() {
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
    Log(std::string("rep_start(MASTER) after winning failed: ") + db_strerror(ret));
    return;
  }
  OnBecameMaster();
}

void Engine::OnBecameMaster() {
  DB_REP_STAT* sp = nullptr;
  DB_ENV* env = env_->raw();
  if (env->rep_stat(env, &sp, 0) == 0 && sp) {
    gen_ = sp->st_gen;
    free(sp);
  }
  acks_.SetGeneration(gen_.load());
  // What a LINEARIZABLE read waits for is this mastership's commits: an
  // earlier mastership's tail may have been rolled back, and the new log
  // may never reach its LSN.
  last_perm_lsn_ = 0;
  ever_synced_ = true;
  role_ = Role::kMaster;
  master_slot_ = opts_.self_slot;
  startup_done_ = true;
  mastership_since_us_ = clock_.NowMicros();
  ++elections_won_;
  WakeTicker();
  env_->InvalidateTables();
  SendHeartbeat();  // tell everyone now, not at the next tick
  Emit(EventKind::kElectionWon, opts_.self_slot);
  Emit(EventKind::kBecameMaster, opts_.self_slot,
       "promotion took " + std::to_string(promotion_us_last_.load()) + " us");
  Log("became master, generation " + std::to_string(gen_.load()));
}

void Engine::Demote(const char* why) {
  std::lock_guard<std::mutex> rl(rep_start_mu_);
  if (role_.load() != Role::kMaster || stop_.load()) return;
  role_ = Role::kClient;  // new writes are refused from here on
  acks_.Abort();          // committers waiting for acks return now, and new waits at once
  int64_t t0 = clock_.NowMicros();
  int ret = QuiescedRepStart(DB_REP_CLIENT);
  demotion_us_last_ = uint64_t(clock_.NowMicros() - t0);
  if (ret != 0) Log(std::string("rep_start(CLIENT) to step down failed: ") + db_strerror(ret));
  master_slot_ = -1;
  startup_done_ = false;
  env_->InvalidateTables();
  last_master_seen_us_ = clock_.NowMicros();
  next_election_us_ = clock_.NowMicros() + int64_t(opts_.config.heartbeat_timeout_ms) * 1000;
  Log(std::string("stepped down to replica: ") + why);
}

bool Engine::ElectionWouldWipePeers(std::string* why) {
  if (ever_synced_.load()) return false;
  bus::Lsn mine{next_lsn_file_.load(), next_lsn_offset_.load()};
  DB_REP_STAT* sp = nullptr;
  DB_ENV* env = env_->raw();
  if (env->rep_stat(env, &sp, 0) == 0 && sp) {
    mine = {sp->st_next_lsn.file, sp->st_next_lsn.offset};
    free(sp);
  }
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

void Engine::SetElectionWait(const std::string& why) {
  {
    std::lock_guard<std::mutex> l(election_wait_mu_);
    if (election_wait_ == why) return;
    election_wait_ = why;
  }
  if (!why.empty()) Log(why);
}

std::string Engine::ElectionWait() {
  std::lock_guard<std::mutex> l(election_wait_mu_);
  return election_wait_;
}

void Engine::StepDownForShutdown() {
  shutting_down_ = true;  // this board takes part in no election from here on
  if (role_.load() != Role::kMaster || stop_.load()) return;
  Log("stopping: handing mastership over first");
  if (!StepDownAfterCatchUp(-1, "stopping (SIGTERM): a replica takes over")) {
    Log("no in-sync replica caught up in time; stopping as master");
  }
}

}  // namespace bp::board
