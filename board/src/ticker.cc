// The ticker: every heartbeat interval it reads rep_stat, refreshes the
// chassis memory view, broadcasts this board's heartbeat (Liveness builds
// it: liveness.h), runs the role machine's master watch, rep_flush on the
// master and forwarded-write retries. It never waits on Berkeley DB's
// operation lockout (rep_stat only; the gauge thread does the page reads).
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
  liveness_.ObserveNextLsn({sp->st_next_lsn.file, sp->st_next_lsn.offset});
  if (roles_.role() == Role::kClient) {
    // Not in sync until STARTUPDONE; "re-initialising" only while the
    // internal init copies pages: such a board cannot acknowledge for a
    // while, so the master fails fast instead of waiting for it. A board
    // merely catching up on the log acknowledges within milliseconds and is
    // waited for.
    const bool pages = !sp->st_startup_complete && (sp->st_next_pg != 0 || sp->st_waiting_pg != 0);
    if (liveness_.ObserveReinitPages(pages)) Emit(EventKind::kReinitStarted, int(sp->st_master));
    const int64_t log_offset =
        int64_t(sp->st_next_lsn.file) * int64_t(env_->options().EffectiveLogFileBytes()) +
        int64_t(sp->st_next_lsn.offset);
    reinit_tracker_.Observe(clock_.NowMicros(), sp->st_startup_complete != 0, pages,
                            int64_t(sp->st_pg_records), int64_t(sp->st_next_pg), log_offset);
    roles_.FollowRepStat(sp->st_gen, int(sp->st_master), clock_.NowMicros());
  }
  free(sp);
}

void Engine::SendHeartbeat() {
  bus::HeartbeatInfo hb =
      liveness_.MakeHeartbeat(roles_.View(), memory_.cache_bytes(), memory_.data_bytes());
  guard_.FillHeartbeat(&hb);
  bus_->Send(bus::kBroadcast, bus::BuildHeartbeat(header_, hb));
}

}  // namespace bp::board
