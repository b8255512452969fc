// Checkpoints, driven by log volume: a background thread polls, and every
// checkpoint_every_commits commits the writer itself checks. A checkpoint
// must always sit inside the in-memory log ring, or a joining replica's
// internal init fails (bdb-base-api.md §5.3).
#include <db.h>

#include <chrono>
#include <cstdlib>

#include "db_error.h"
#include "log_budget.h"
#include "memenv/env.h"

namespace bp::memenv {

namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Env::SetCheckpointGate(std::function<bool()> gate) {
  std::lock_guard<std::mutex> lock(gate_mu_);
  ckpt_gate_ = std::move(gate);
}

bool Env::GateOpen() const {
  std::lock_guard<std::mutex> lock(gate_mu_);
  return !ckpt_gate_ || ckpt_gate_();
}

// In-memory log "files" are lg_max bytes each, so LSN distance converts to
// bytes (an upper bound: a record that does not fit a file's tail moves on).
Result<uint64_t> Env::LogSinceCheckpoint() const {
  DB_LOG_STAT* log = nullptr;
  BP_RETURN_IF_ERROR(FromDb(env_->log_stat(env_, &log, 0), "DB_ENV->log_stat"));
  DB_TXN_STAT* txn = nullptr;
  const int ret = env_->txn_stat(env_, &txn, 0);
  if (ret != 0) {
    std::free(log);
    return FromDb(ret, "DB_ENV->txn_stat");
  }
  DB_LSN ckp = txn->st_last_ckp;
  if (ckp.file == 0) ckp = {1, 0};  // never checkpointed: from the start of the log
  const uint64_t file_bytes = log->st_lg_size;
  const uint64_t end = uint64_t{log->st_cur_file} * file_bytes + log->st_cur_offset;
  const uint64_t at = uint64_t{ckp.file} * file_bytes + ckp.offset;
  std::free(txn);
  std::free(log);
  return end > at ? end - at : 0;
}

Status Env::CheckpointLocked(bool force) {
  if (!force) {
    Result<uint64_t> lag = LogSinceCheckpoint();
    if (!lag.ok()) return lag.status();
    ckpt_lag_last_ = *lag;
    if (*lag > ckpt_lag_max_) ckpt_lag_max_ = *lag;
    if (*lag < uint64_t{options_.EffectiveCheckpointKbytes()} * 1024) return Status::Ok();
  }
  // We decided above (so the count is exact); DB_FORCE skips BDB's own check.
  BP_RETURN_IF_ERROR(FromDb(env_->txn_checkpoint(env_, 0, 0, DB_FORCE), "txn_checkpoint"));
  ++checkpoints_;
  last_ckpt_ms_ = NowUnixMs();
  return Status::Ok();
}

Status Env::Checkpoint(bool force) {
  std::lock_guard<std::mutex> lock(ckpt_mu_);
  return CheckpointLocked(force);
}

// Writers do not queue behind a check in progress: one running is enough.
bool Env::MaybeCheckpoint(bool wait) {
  std::unique_lock<std::mutex> lock(ckpt_mu_, std::defer_lock);
  if (wait) {
    lock.lock();
  } else if (!lock.try_lock()) {
    return false;
  }
  if (!GateOpen()) return true;
  Status s = CheckpointLocked(/*force=*/false);
  if (!s.ok() && options_.on_bdb_message) options_.on_bdb_message("checkpoint: " + s.ToString());
  return true;
}

void Env::NoteCommit() {
  const uint32_t every = options_.checkpoint_every_commits;
  if (every != 0 && ++commits_since_ckpt_check_ % every == 0) MaybeCheckpoint();
}

// Checks every quarter of checkpoint_kbytes of (estimated) log. If checks
// were skipped for a whole checkpoint_kbytes (the running one is slow, e.g.
// its thread was preempted), the writer waits for it and checks itself:
// back-pressure that keeps the last checkpoint inside the ring.
void Env::NoteLogVolume(uint64_t estimated_log_bytes) {
  const uint64_t kbytes = uint64_t{options_.EffectiveCheckpointKbytes()} * 1024;
  const uint64_t pending = log_since_ckpt_check_ += estimated_log_bytes;
  if (pending < kbytes / 4) return;
  if (MaybeCheckpoint(/*wait=*/pending >= kbytes)) log_since_ckpt_check_ = 0;
}

void Env::CheckpointLoop() {
  const auto period = std::chrono::milliseconds(options_.checkpoint_poll_ms);
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, period, [this] { return stop_.load(); })) {
    lock.unlock();
    MaybeCheckpoint();
    lock.lock();
  }
}

EnvStats Env::Stats() const {
  EnvStats st;
  st.commits = commits_;
  st.aborts = aborts_;
  st.deadlock_retries = deadlock_retries_;
  st.checkpoints = checkpoints_;
  st.last_checkpoint_unix_ms = last_ckpt_ms_;
  st.log_buffer_bytes = options_.log_buffer_bytes;
  st.log_since_checkpoint_bytes = ckpt_lag_last_;
  if (GateOpen()) {
    Result<uint64_t> lag = LogSinceCheckpoint();
    if (lag.ok()) st.log_since_checkpoint_bytes = *lag;
  }
  st.log_since_checkpoint_max_bytes =
      std::max<uint64_t>(ckpt_lag_max_, st.log_since_checkpoint_bytes);
  const LogBudgetStats budget = log_budget_->Stats();
  st.log_in_flight_share_bytes = budget.share_bytes;
  st.log_in_flight_bytes = budget.in_flight_bytes;
  st.log_in_flight_max_bytes = budget.in_flight_max_bytes;
  st.log_budget_waits = budget.waits;
  st.log_budget_refused = budget.refused;
  st.log_budget_reruns = budget.reruns;
  return st;
}

}  // namespace bp::memenv
