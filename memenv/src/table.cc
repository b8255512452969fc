// Table: a named in-memory btree, its reference-counted handle, and the
// operations on it.
#include <db.h>

#include "db_error.h"
#include "dbt.h"
#include "estimate.h"
#include "memenv/env.h"

namespace bp::memenv {

namespace {

// Opening a handle can lose a deadlock against a concurrent create; a handle
// can be invalidated again while a client syncs. Both settle quickly.
constexpr int kOpenAttempts = 10;

void CloseDb(DB* db) { (void)db->close(db, DB_NOSYNC); }

}  // namespace

Table::~Table() = default;  // db_'s deleter closes the handle once unused

Result<std::shared_ptr<DB>> Table::Handle() {
  std::lock_guard<std::mutex> lock(mu_);
  if (db_ != nullptr) return db_;
  Result<std::shared_ptr<DB>> opened = OpenHandle();
  if (opened.ok()) db_ = *opened;
  return opened;
}

Result<std::shared_ptr<DB>> Table::OpenHandle() {
  const uint32_t flags = DB_THREAD | DB_AUTO_COMMIT | (create_ ? DB_CREATE : 0);
  int ret = 0;
  for (int attempt = 0; attempt < kOpenAttempts; ++attempt) {
    DB* db = nullptr;
    ret = db_create(&db, env_->env_, 0);
    if (ret != 0) break;
    // No backing temporary file, ever: the database lives only in the cache.
    (void)db->get_mpf(db)->set_flags(db->get_mpf(db), DB_MPOOL_NOFILE, 1);
    // The open commits a transaction (it registers the handle in the log).
    // With commits_ignore_leases that one skips the lease check too: a new
    // master's first open would otherwise wait in Berkeley DB's lease
    // refresh loop (~350 ms) until its first lease grants arrive.
    DB_TXN* txn = nullptr;
    if (env_->options_.commits_ignore_leases) {
      ret = env_->env_->txn_begin(env_->env_, nullptr, &txn, DB_IGNORE_LEASE);
      if (ret != 0) {
        CloseDb(db);
        break;
      }
    }
    ret = db->open(db, txn, /*file=*/nullptr, name_.c_str(), DB_BTREE,
                   txn ? flags & ~uint32_t(DB_AUTO_COMMIT) : flags, 0);
    if (txn) {
      if (ret == 0) {
        ret = txn->commit(txn, 0);
      } else {
        txn->abort(txn);
      }
    }
    if (ret == 0) return std::shared_ptr<DB>(db, CloseDb);
    CloseDb(db);
    if (!IsDeadlock(ret) && ret != DB_REP_HANDLE_DEAD && ret != DB_REP_LOCKOUT) break;
    env_->Backoff(attempt);
  }
  if (ret == ENOENT) {
    return Status::NotFound("table '" + name_ +
                            "' does not exist yet (a replica sees it once the master's create "
                            "arrives): retry later");
  }
  return FromDb(ret, "DB->open('" + name_ + "')", create_ && env_->IsReplica());
}

void Table::MarkStale(const DB* seen) {
  std::lock_guard<std::mutex> lock(mu_);
  if (seen == nullptr || db_.get() == seen) db_.reset();
}

Status Table::RunOnHandle(std::string_view what, const std::function<int(DB*)>& op) {
  const int retries = env_->options_.deadlock_retries;
  for (int attempt = 0;; ++attempt) {
    Result<std::shared_ptr<DB>> handle = Handle();
    if (!handle.ok()) return handle.status();
    const int ret = op(handle->get());
    if (ret == 0) return Status::Ok();
    if (ret == DB_REP_HANDLE_DEAD) MarkStale(handle->get());
    const bool retry = IsDeadlock(ret) || ret == DB_REP_HANDLE_DEAD;
    if (!retry || attempt >= retries) {
      return FromDb(ret, std::string(what) + " on table '" + name_ + "'");
    }
    if (IsDeadlock(ret)) ++env_->deadlock_retries_;
    env_->Backoff(attempt);
  }
}

Result<std::string> Table::Get(std::string_view key, bool ignore_lease) {
  if (key.empty()) return Status::InvalidArgument("Get on table '" + name_ + "': empty key");
  std::string value;
  Status s = RunOnHandle("DB->get", [&](DB* db) {
    DBT k = InDbt(key);
    OutDbt v;
    const int ret = db->get(db, nullptr, &k, v.get(), ignore_lease ? DB_IGNORE_LEASE : 0);
    if (ret == 0) value.assign(v.view());
    return ret;
  });
  if (!s.ok()) return s;
  return value;
}

Status Table::Put(std::string_view key, std::string_view value) {
  return env_->WithTxn([&](Txn& txn) { return txn.Put(*this, key, value); });
}

Status Table::Delete(std::string_view key) {
  return env_->WithTxn([&](Txn& txn) { return txn.Delete(*this, key); });
}

Status Table::ApplyBatch(const std::vector<BatchOp>& ops) {
  size_t payload = 0;
  for (const BatchOp& op : ops) payload += op.key.size() + op.value.size();
  // Refused before the transaction starts: nothing is written.
  BP_RETURN_IF_ERROR(env_->CheckTxnSize(payload, ops.size()));
  return env_->WithTxn(
      [&](Txn& txn) {
        for (const BatchOp& op : ops) {
          Status s = op.kind == BatchOp::Kind::kPut ? txn.Put(*this, op.key, op.value)
                                                    : txn.Delete(*this, op.key);
          // Deleting an absent key is no reason to drop the rest of the batch.
          if (!s.ok() && !(s.IsNotFound() && op.kind == BatchOp::Kind::kDelete)) return s;
        }
        return Status::Ok();
      },
      nullptr, EstimateLogBytes(payload, ops.size()));
}

Result<uint64_t> Table::Count() {
  uint64_t keys = 0;
  Status s = RunOnHandle("DB->stat", [&](DB* db) {
    DB_BTREE_STAT* st = nullptr;
    const int ret = db->stat(db, nullptr, &st, DB_READ_COMMITTED);
    if (ret == 0) keys = st->bt_nkeys;
    std::free(st);
    return ret;
  });
  if (!s.ok()) return s;
  return keys;
}

}  // namespace bp::memenv
