// Txn, and the transaction loop (begin, run, commit; abort and re-run the
// deadlock victim) behind Env::WithTxn.
#include <db.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "db_error.h"
#include "dbt.h"
#include "estimate.h"
#include "log_budget.h"
#include "memenv/env.h"

namespace bp::memenv {

Txn::~Txn() { Abort(); }

void Txn::Abort() {
  if (txn_ != nullptr) {
    (void)txn_->abort(txn_);  // frees the handle whatever it returns
    txn_ = nullptr;
  }
  ReleaseReservation();  // after the abort's own log records
}

Status Txn::Commit() {
  DB_TXN* txn = txn_;
  txn_ = nullptr;  // commit frees the handle even when it fails
  const int ret = txn->commit(txn, 0);
  ReleaseReservation();  // the commit record is written: nothing more of it
  return FromDb(ret, "DB_TXN->commit", ret == EINVAL && env_->IsReplica());
}

void Txn::ReleaseReservation() {
  if (budget_id_ == 0) return;
  env_->log_budget_->Release(budget_id_);
  budget_id_ = 0;
  reserved_bytes_ = 0;
}

Result<DB*> Txn::Use(Table& table) {
  // After a deadlock BDB accepts nothing but abort; the loop re-runs the body.
  if (must_retry_) return Status::Busy("transaction already failed; it is retried");
  Result<std::shared_ptr<DB>> handle = table.Handle();
  if (!handle.ok()) return handle.status();
  for (const auto& pinned : pinned_) {
    if (pinned == *handle) return pinned.get();
  }
  pinned_.push_back(std::move(*handle));
  return pinned_.back().get();
}

Status Txn::Check(int ret, std::string_view what, Table& table, DB* db, bool write) {
  if (ret == 0) return Status::Ok();
  if (IsDeadlock(ret)) must_retry_ = deadlocked_ = true;
  if (ret == DB_REP_HANDLE_DEAD) {
    must_retry_ = true;
    table.MarkStale(db);
  }
  const bool replica_write = write && ret == EINVAL && env_->IsReplica();
  return FromDb(ret, std::string(what) + " on table '" + table.name() + "'", replica_write);
}

// Refuses the write that would take the transaction past the log limit,
// before it reaches the log: on a master a full log ring is a panic.
Status Txn::Account(size_t payload_bytes) {
  BP_RETURN_IF_ERROR(env_->CheckTxnSize(payload_bytes_ + payload_bytes, op_count_ + 1));
  const uint64_t need = EstimateLogBytes(payload_bytes_ + payload_bytes, op_count_ + 1);
  if (need > reserved_bytes_) BP_RETURN_IF_ERROR(Reserve(need));
  payload_bytes_ += payload_bytes;
  ++op_count_;
  return Status::Ok();
}

// Grows by doubling (a few budget look-ups per transaction, not one per op),
// never past the transaction limit. Only where this env writes its own log
// (the checkpoint gate: standalone or master); log_stat would block in a
// replica's lockout, and a replica refuses the write anyway.
Status Txn::Reserve(uint64_t need) {
  if (!env_->GateOpen()) return Status::Ok();
  const uint64_t limit = env_->options_.EffectiveMaxTxnBytes();
  const uint64_t want = std::min<uint64_t>(std::max(need, 2 * reserved_bytes_), limit);
  LogBudget& budget = *env_->log_budget_;
  bool granted = false;
  if (budget_id_ == 0) {
    budget_id_ = budget.TryAdmit(want);
    granted = budget_id_ != 0;
  } else {
    granted = budget.TryGrow(budget_id_, EstimatedLogBytes(), want);
  }
  if (granted) {
    reserved_bytes_ = want;
    return Status::Ok();
  }
  // Waiting here would hold page locks others may need: re-run instead,
  // reserving before the transaction begins (RunTxn).
  must_retry_ = true;
  budget_rerun_bytes_ = std::min<uint64_t>(std::max<uint64_t>(4 * need, 64 << 10), limit);
  return Status::Busy("log budget full: the transaction is re-run with a larger reservation");
}

uint64_t Txn::EstimatedLogBytes() const { return EstimateLogBytes(payload_bytes_, op_count_); }

Status Txn::Put(Table& table, std::string_view key, std::string_view value) {
  if (key.empty()) return Status::InvalidArgument("Put on table '" + table.name() + "': empty key");
  BP_RETURN_IF_ERROR(Account(key.size() + value.size()));
  Result<DB*> db = Use(table);
  if (!db.ok()) return db.status();
  DBT k = InDbt(key), v = InDbt(value);
  return Check((*db)->put(*db, txn_, &k, &v, 0), "DB->put", table, *db, true);
}

// Reads the old value's size first (write-locked: DB_RMW): deleting logs the
// whole old item, which is what the size check must count.
Status Txn::Delete(Table& table, std::string_view key) {
  if (key.empty())
    return Status::InvalidArgument("Delete on table '" + table.name() + "': empty key");
  Result<size_t> old = ValueSize(table, key);
  if (!old.ok()) return old.status();
  BP_RETURN_IF_ERROR(Account(key.size() + *old));
  Result<DB*> db = Use(table);
  if (!db.ok()) return db.status();
  DBT k = InDbt(key);
  return Check((*db)->del(*db, txn_, &k, 0), "DB->del", table, *db, true);
}

Result<bool> Txn::PutIfAbsent(Table& table, std::string_view key, std::string_view value) {
  if (key.empty()) return Status::InvalidArgument("Put on table '" + table.name() + "': empty key");
  BP_RETURN_IF_ERROR(Account(key.size() + value.size()));
  Result<DB*> db = Use(table);
  if (!db.ok()) return db.status();
  DBT k = InDbt(key), v = InDbt(value);
  int ret = (*db)->put(*db, txn_, &k, &v, DB_NOOVERWRITE);
  if (ret == DB_KEYEXIST) return false;
  BP_RETURN_IF_ERROR(Check(ret, "DB->put", table, *db, true));
  return true;
}

Result<size_t> Txn::ValueSize(Table& table, std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("Get on table '" + table.name() + "': empty key");
  Result<DB*> db = Use(table);
  if (!db.ok()) return db.status();
  DBT k = InDbt(key);
  DBT probe;
  std::memset(&probe, 0, sizeof probe);
  probe.flags = DB_DBT_USERMEM;  // ulen 0: BDB reports the size, copies nothing
  int ret = (*db)->get(*db, txn_, &k, &probe, DB_RMW);
  if (ret == DB_BUFFER_SMALL || ret == 0) return size_t(probe.size);
  BP_RETURN_IF_ERROR(Check(ret, "DB->get", table, *db, true));
  return size_t(probe.size);
}

Result<std::string> Txn::Get(Table& table, std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("Get on table '" + table.name() + "': empty key");
  Result<DB*> db = Use(table);
  if (!db.ok()) return db.status();
  DBT k = InDbt(key);
  OutDbt v;
  BP_RETURN_IF_ERROR(Check((*db)->get(*db, txn_, &k, v.get(), 0), "DB->get", table, *db, false));
  return std::string(v.view());
}

Status Env::WithTxn(const std::function<Status(Txn&)>& body,
                    const std::function<void(__db_txn*)>& before_commit,
                    uint64_t expected_log_bytes) {
  return RunTxn(options_.commits_ignore_leases ? DB_IGNORE_LEASE : 0, body, before_commit,
                /*writes=*/true, expected_log_bytes);
}

Status Env::RunTxn(uint32_t begin_flags, const std::function<Status(Txn&)>& body,
                   const std::function<void(__db_txn*)>& before_commit, bool writes,
                   uint64_t expected_log_bytes) {
  // Each budget re-run reserves more (at most the transaction limit): two
  // are enough; the third reserves the limit itself.
  constexpr int kBudgetReruns = 3;
  uint64_t reserve = std::min<uint64_t>(expected_log_bytes, options_.EffectiveMaxTxnBytes());
  int budget_reruns = 0;
  for (int attempt = 0;; ++attempt) {
    uint64_t budget_id = 0;
    if (reserve > 0 && GateOpen()) {
      Result<uint64_t> admitted = log_budget_->Admit(reserve);
      if (!admitted.ok()) return admitted.status();
      budget_id = *admitted;
    }
    DB_TXN* raw = nullptr;
    const int ret = env_->txn_begin(env_, nullptr, &raw, begin_flags);
    if (ret != 0) {
      if (budget_id != 0) log_budget_->Release(budget_id);
      return FromDb(ret, "DB_ENV->txn_begin");
    }
    Txn txn(this, raw);
    txn.budget_id_ = budget_id;
    txn.reserved_bytes_ = budget_id != 0 ? reserve : 0;
    Status s = body(txn);
    if (s.ok() && !txn.must_retry_) {
      if (before_commit) before_commit(raw);
      BP_RETURN_IF_ERROR(txn.Commit());
      if (writes) {
        ++commits_;
        NoteLogVolume(txn.EstimatedLogBytes());
        NoteCommit();
      }
      return Status::Ok();
    }
    txn.Abort();
    ++aborts_;
    // The body may have swallowed or rewrapped the error; the Txn knows.
    if (!txn.must_retry_) return s;
    if (txn.budget_rerun_bytes_ != 0 && budget_reruns < kBudgetReruns) {
      ++budget_reruns;
      log_budget_->NoteRerun();
      reserve = budget_reruns == kBudgetReruns
                    ? options_.EffectiveMaxTxnBytes()
                    : std::max(reserve * 4, txn.budget_rerun_bytes_);
      reserve = std::min<uint64_t>(reserve, options_.EffectiveMaxTxnBytes());
      --attempt;  // not a deadlock: does not use up deadlock_retries
      continue;
    }
    if (attempt >= options_.deadlock_retries) {
      if (!txn.deadlocked_) return s;  // the handle stays dead: Unavailable
      return Status::Busy(
          "transaction deadlocked " + std::to_string(attempt + 1) +
          " times in a row (deadlock_retries=" + std::to_string(options_.deadlock_retries) +
          "); retry later, make transactions touch fewer hot keys in a "
          "consistent order, or raise deadlock_retries");
    }
    ++deadlock_retries_;
    Backoff(attempt);
  }
}

// Randomized so that the two victims of a deadlock do not collide again in
// lock step; bounded (about 3 ms) so that a retry stays cheap.
void Env::Backoff(int attempt) {
  const int max_us = 50 << std::min(attempt, 6);
  std::this_thread::sleep_for(std::chrono::microseconds(backoff_rng_.Below(uint64_t(max_us))));
}

}  // namespace bp::memenv
