// The ticker: heartbeats, master watch, rep_flush and forwarded-write
// retries, every heartbeat interval.
//
// Every board broadcasts a heartbeat each heartbeat_interval_ms with its
// role, generation, the master it follows, whether it is in sync, and its
// next LSN (lag). A replica declares its master lost when the master's link
// drops (at once) or when no heartbeat claiming the master role arrived for
// heartbeat_timeout_ms, then asks for an election (RoleMachine::Tick and
// OnPeerDown, role_machine.cc). A master confirms its
// mastership from the heartbeats of a majority naming it (linearizable reads).
#include <db.h>

#include <algorithm>

#include <chrono>

#include "board/engine.h"

namespace bp::board {

void Engine::TickerLoop() {
  const int64_t interval_us = int64_t(opts_.config.heartbeat_interval_ms) * 1000;
  int64_t last_flush_us = 0;
  int64_t next = clock_.NowMicros();
  while (!stop_.load()) {
    next += interval_us;
    if (roles_.rep_started()) {
      int64_t now = clock_.NowMicros();
      RefreshRepState();
      RefreshMemory(now);
      SendHeartbeat();
      roles_.Tick(now);  // master watch; the preferred board's hand-over
      if (roles_.role() == Role::kMaster &&
          now - last_flush_us >= int64_t(opts_.config.flush_interval_ms) * 1000) {
        // Re-broadcasts the last log record so an idle replica that lost
        // the tail notices the gap and re-requests it (§6.2).
        DB_ENV* env = env_->raw();
        env->rep_flush(env);
        last_flush_us = now;
      }
      forwarder_.Retry(now);
      if (panicked_.load()) {
        Log("environment panicked: this board must restart empty and rejoin");
      }
    }
    {
      std::unique_lock<std::mutex> l(tick_mu_);
      clock_.WaitUntil(tick_cv_, l, next, [&] { return tick_now_ || stop_.load(); });
      tick_now_ = false;
    }
    if (clock_.NowMicros() > next + 10 * interval_us) {
      next = clock_.NowMicros();  // we were paused (SIGSTOP): don't burst
    }
  }
}

// The master's view of the chassis (smallest cache, largest data) every
// tick, from the peers' heartbeats and this board's last measurement (the
// gauge thread's: gauges.cc).
void Engine::RefreshMemory(int64_t now_us) {
  if (roles_.role() == Role::kMaster) {
    memory_.UpdateChassis(peers_.Snapshot(now_us));
  } else if (!startup_done()) {
    CheckCacheHoldsChassisData(now_us);
  }
}

// A board not yet in sync whose cache cannot hold the data the master
// reports would panic during its internal init ("unable to allocate space
// from the buffer cache"): it refuses to join instead (main exits with
// kExitCacheTooSmall), naming cache_mb. Happens when cache_mb was lowered
// in the file and this board restarted.
void Engine::CheckCacheHoldsChassisData(int64_t now_us) {
  if (!unfit_reason_.empty()) return;
  const uint64_t cache = memory_.cache_bytes() ? memory_.cache_bytes()
                                               : uint64_t(opts_.config.cache_mb) << 20;
  for (const PeerView& p : peers_.Snapshot(now_us)) {
    if (!p.alive || p.hb.role != wire::Role::Master || p.hb.data_bytes == 0) continue;
    if (p.hb.data_bytes * 100 <= cache * kJoinCachePct) return;
    std::lock_guard<std::mutex> l(unfit_mu_);
    unfit_reason_ = "the chassis holds " + std::to_string(p.hb.data_bytes >> 20) +
                    " MiB of data (master slot " + std::to_string(p.slot) + "), more than " +
                    std::to_string(kJoinCachePct) + " % of this board's cache (cache_mb = " +
                    std::to_string(opts_.config.cache_mb) + "): its re-init would fill the cache "
                    "and panic; raise cache_mb to at least what the other boards run with";
    unfit_ = true;
    Log("refusing to join: " + unfit_reason_);
    return;
  }
}

std::string Engine::UnfitReason() const {
  std::lock_guard<std::mutex> l(unfit_mu_);
  return unfit_reason_;
}

void Engine::WakeTicker() {
  {
    std::lock_guard<std::mutex> l(tick_mu_);
    tick_now_ = true;
  }
  tick_cv_.notify_all();
}

void Engine::RefreshRepState() {
  DB_REP_STAT* sp = nullptr;
  DB_ENV* env = env_->raw();
  if (env->rep_stat(env, &sp, 0) != 0 || !sp) return;
  next_lsn_file_ = sp->st_next_lsn.file;
  next_lsn_offset_ = sp->st_next_lsn.offset;
  if (roles_.role() == Role::kClient) {
    // Not in sync until STARTUPDONE; "re-initialising" only while the
    // internal init copies pages: such a board cannot acknowledge for a
    // while, so the master fails fast instead of waiting for it. A board
    // merely catching up on the log acknowledges within milliseconds and is
    // waited for.
    bool pages = !sp->st_startup_complete && (sp->st_next_pg != 0 || sp->st_waiting_pg != 0);
    if (pages && !reinit_.load()) Emit(EventKind::kReinitStarted, int(sp->st_master));
    reinit_ = pages;
    reinit_tracker_.Observe(clock_.NowMicros(), sp->st_startup_complete != 0, pages, int64_t(sp->st_pg_records),
                            int64_t(sp->st_next_pg),
                            int64_t(sp->st_next_lsn.file) * int64_t(env_->options().EffectiveLogFileBytes()) +
                                int64_t(sp->st_next_lsn.offset));
    roles_.FollowRepStat(sp->st_gen, int(sp->st_master), clock_.NowMicros());
  }
  free(sp);
}

void Engine::SendHeartbeat() {
  bus::HeartbeatInfo hb;
  const RoleView v = roles_.View();
  const Role r = v.role;
  hb.role = r == Role::kMaster ? wire::Role::Master
            : r == Role::kClient ? wire::Role::Client
                                 : wire::Role::Unknown;
  hb.gen = v.gen;
  // A master follows itself (receivers refuse a master heartbeat naming
  // another slot: frame_checks.h), also in the instant between Berkeley
  // DB's MASTER event and OnBecameMaster.
  hb.master = r == Role::kMaster ? opts_.self_slot : v.master;
  hb.startup_done = v.startup_done;
  hb.reinit = reinit_.load() && r == Role::kClient;
  const SlotConfig* self = opts_.config.Find(opts_.self_slot);
  hb.electable = self->electable;
  hb.priority = self->priority;
  hb.next_lsn = {next_lsn_file_.load(), next_lsn_offset_.load()};
  hb.seq = ++heartbeat_seq_;
  hb.lease_valid = r == Role::kMaster && ConfirmedMaster(clock_.NowMicros());
  hb.confirm_gen = hb.master > 0 ? v.gen : 0;
  hb.db_pages = db_pages_.load();
  hb.page_size = page_size_.load();
  hb.cache_bytes = memory_.cache_bytes();
  hb.data_bytes = memory_.data_bytes();
  guard_.FillHeartbeat(&hb);
  bus_->Send(bus::kBroadcast, bus::BuildHeartbeat(header_, hb));
}

// A master is confirmed while a majority of electable boards (counting
// itself) sent, within half the heartbeat timeout, heartbeats that follow
// it at its generation. Replicas only elect another master after missing
// its heartbeats for the full timeout, so a deposed master stops serving
// linearizable reads before a successor can exist.
bool Engine::ConfirmedMaster(int64_t now_us) const {
  const RoleView v = roles_.View();
  if (v.role != Role::kMaster) return false;
  const ChassisConfig& c = opts_.config;
  int64_t window = int64_t(c.heartbeat_timeout_ms) * 1000 / 2;
  int followers = peers_.FollowersOf(opts_.self_slot, v.gen, now_us, window);
  return followers + 1 >= c.Majority();
}

}  // namespace bp::board
