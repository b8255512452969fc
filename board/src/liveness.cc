// The ticker: heartbeats, master watch, rep_flush and forwarded-write
// retries, every heartbeat interval.
//
// Every board broadcasts a heartbeat each heartbeat_interval_ms with its
// role, generation, the master it follows, whether it is in sync, and its
// next LSN (lag). A replica declares its master lost when the master's link
// drops (at once) or when no heartbeat claiming the master role arrived for
// heartbeat_timeout_ms, then asks for an election. A master confirms its
// mastership from the heartbeats of a majority naming it (linearizable reads).
#include <db.h>

#include <algorithm>

#include <chrono>

#include "board/engine.h"

namespace bp::board {

void Engine::TickerLoop() {
  const auto interval = std::chrono::milliseconds(opts_.config.heartbeat_interval_ms);
  int64_t last_flush_us = 0;
  auto next = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    next += interval;
    if (rep_started_.load()) {
      int64_t now = clock_.NowMicros();
      RefreshRepState();
      RefreshDbSize(now);
      RefreshMemory(now);
      SendHeartbeat();
      WatchMaster(now);
      if (role_.load() == Role::kMaster &&
          now - last_flush_us >= int64_t(opts_.config.flush_interval_ms) * 1000) {
        // Re-broadcasts the last log record so an idle replica that lost
        // the tail notices the gap and re-requests it (§6.2).
        DB_ENV* env = env_->raw();
        env->rep_flush(env);
        last_flush_us = now;
      }
      RetryForwards(now);
      MaybeHandOver(now);
      if (panicked_.load()) {
        Log("environment panicked: this board must restart empty and rejoin");
      }
    }
    {
      std::unique_lock<std::mutex> l(tick_mu_);
      tick_cv_.wait_until(l, next, [&] { return tick_now_ || stop_.load(); });
      tick_now_ = false;
    }
    if (std::chrono::steady_clock::now() > next + 10 * interval) {
      next = std::chrono::steady_clock::now();  // we were paused (SIGSTOP): don't burst
    }
  }
}

// This board's cache figures every kDbSizeEveryUs; the master's view of the
// chassis (smallest cache, largest data) every tick.
void Engine::RefreshMemory(int64_t now_us) {
  if (now_us - memory_measured_us_ >= kDbSizeEveryUs) {
    memory_.Measure(*env_);
    memory_measured_us_ = now_us;
  }
  if (role_.load() == Role::kMaster) {
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
  if (role_.load() == Role::kClient) {
    gen_ = sp->st_gen;
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
    // Berkeley DB may know the master before our event did (or after we
    // declared the old one dead): follow its view when that master is alive.
    int m = int(sp->st_master);
    if (m > 0 && m != master_slot_.load() && peers_.IsAlive(m, clock_.NowMicros())) {
      master_slot_ = m;
      last_master_seen_us_ = clock_.NowMicros();
    }
  }
  free(sp);
}

void Engine::SendHeartbeat() {
  bus::HeartbeatInfo hb;
  Role r = role_.load();
  hb.role = r == Role::kMaster ? wire::Role::Master
            : r == Role::kClient ? wire::Role::Client
                                 : wire::Role::Unknown;
  hb.gen = gen_.load();
  hb.master = master_slot_.load();
  hb.startup_done = startup_done();
  hb.reinit = reinit_.load() && r == Role::kClient;
  const SlotConfig* self = opts_.config.Find(opts_.self_slot);
  hb.electable = self->electable;
  hb.priority = self->priority;
  hb.next_lsn = {next_lsn_file_.load(), next_lsn_offset_.load()};
  hb.seq = ++heartbeat_seq_;
  hb.lease_valid = r == Role::kMaster && ConfirmedMaster(clock_.NowMicros());
  hb.confirm_gen = hb.master > 0 ? gen_.load() : 0;
  hb.db_pages = db_pages_.load();
  hb.page_size = page_size_.load();
  hb.cache_bytes = memory_.cache_bytes();
  hb.data_bytes = memory_.data_bytes();
  bus_->Send(bus::kBroadcast, bus::BuildHeartbeat(header_, hb));
}

void Engine::WatchMaster(int64_t now) {
  const ChassisConfig& c = opts_.config;
  if (role_.load() != Role::kClient) return;
  int m = master_slot_.load();
  const int64_t timeout_us = int64_t(c.heartbeat_timeout_ms) * 1000;
  if (m > 0 && m != opts_.self_slot) {
    if (peers_.IsAlive(m, now)) {
      // The instant it was last heard, not now: then the election starts
      // when its heartbeats have been missing for heartbeat_timeout_ms, not
      // that long after the peer table noticed (which doubled the detection
      // of a silent master).
      last_master_seen_us_ = std::max(last_master_seen_us_.load(), peers_.LastHeartbeat(m));
      return;
    }
    if (now - last_master_seen_us_.load() < timeout_us) return;
    Log("master slot " + std::to_string(m) + " silent for " +
        std::to_string((now - last_master_seen_us_.load()) / 1000) + " ms: calling an election");
    master_slot_ = -1;
    RequestElection("master heartbeats stopped");
    return;
  }
  // No master known. If a live board claims the role, Berkeley DB just has
  // not heard its NEWMASTER: re-announce (rep_start CLIENT broadcasts
  // NEWCLIENT, the master answers) instead of electing.
  uint32_t hb_gen = 0;
  int claimed = peers_.HeartbeatMaster(now, &hb_gen);
  if (claimed > 0 && hb_gen >= gen_.load()) {
    if (now - last_master_seen_us_.load() > timeout_us) {
      std::lock_guard<std::mutex> rl(rep_start_mu_);
      if (role_.load() == Role::kClient && !elected_pending_.load()) {
        DB_ENV* env = env_->raw();
        env->rep_start(env, nullptr, DB_REP_CLIENT);
      }
      last_master_seen_us_ = now;
    }
    return;
  }
  if (!in_election_.load() && now >= next_election_us_.load()) {
    next_election_us_ = now + int64_t(c.election_timeout_ms) * 1000;
    RequestElection("no master");
  }
}

// A master is confirmed while a majority of electable boards (counting
// itself) sent, within half the heartbeat timeout, heartbeats that follow
// it at its generation. Replicas only elect another master after missing
// its heartbeats for the full timeout, so a deposed master stops serving
// linearizable reads before a successor can exist.
bool Engine::ConfirmedMaster(int64_t now_us) const {
  if (role_.load() != Role::kMaster) return false;
  const ChassisConfig& c = opts_.config;
  int64_t window = int64_t(c.heartbeat_timeout_ms) * 1000 / 2;
  int followers = peers_.FollowersOf(opts_.self_slot, gen_.load(), now_us, window);
  return followers + 1 >= c.Majority();
}

}  // namespace bp::board
