// memenv: one fully in-memory, transactional Berkeley DB environment per
// process, and the named in-memory tables in it.
//
// Why the C API and not db_cxx: the replication layer needs plain return
// codes (db_cxx throws for DB_REP_HOLDELECTION, DB_REP_DUPMASTER, ... unless
// constructed with DB_CXX_NO_EXCEPTIONS), a C function pointer for
// rep_set_transport, and app_private routing; the C API gives all three
// directly and keeps one error model (Status, translated in db_error.cc).
//
// Thread-safety: Env and Table are safe to use from any number of threads
// (DB_THREAD). Txn is owned by one thread at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bp/seed.h"
#include "bp/status.h"
#include "memenv/options.h"

struct __db_env;  // DB_ENV
struct __db;      // DB
struct __db_txn;  // DB_TXN

namespace bp::memenv {

class LogBudget;
class Table;
class Txn;

// One operation of an atomic batch.
struct BatchOp {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // unused for kDelete
};

// Figures for status pages.
struct EnvStats {
  uint64_t commits = 0;
  uint64_t aborts = 0;
  uint64_t deadlock_retries = 0;
  uint64_t checkpoints = 0;
  int64_t last_checkpoint_unix_ms = 0;
  size_t log_buffer_bytes = 0;
  // Log bytes written since the last checkpoint (end of log - last ckp LSN),
  // the figure that must stay below the ring size. Only meaningful where this
  // env writes its own log (standalone or master).
  uint64_t log_since_checkpoint_bytes = 0;
  uint64_t log_since_checkpoint_max_bytes = 0;
  // The log budget across all writers (EnvOptions.log_in_flight_bytes):
  // the share, the reservations in flight now and at most, how many
  // transactions waited for room, were refused, or re-ran with a larger
  // reservation.
  uint64_t log_in_flight_share_bytes = 0;
  uint64_t log_in_flight_bytes = 0;
  uint64_t log_in_flight_max_bytes = 0;
  uint64_t log_budget_waits = 0;
  uint64_t log_budget_refused = 0;
  uint64_t log_budget_reruns = 0;
};

class Env {
 public:
  // Opens the environment: validates options, creates the DB_ENV, applies
  // the in-memory configuration in the order Berkeley DB requires
  // (log_set_config(DB_LOG_IN_MEMORY), set_lg_bsize/lg_max,
  // rep_set_config(DB_REP_CONF_INMEM), cache, locks, deadlock detection),
  // runs options.before_open, then DB_ENV->open with DB_PRIVATE | DB_THREAD |
  // DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
  // DB_INIT_REP, and starts the checkpointer if asked.
  static Result<std::unique_ptr<Env>> Open(EnvOptions options);

  // Stops the checkpointer, closes every table and the environment. No
  // operation may be in flight; Table pointers are invalid afterwards.
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // The raw handle, for the replication engine (rep_* calls). memenv keeps
  // ownership; never close it. memenv never uses DB_ENV->app_private (the
  // engine owns it); BDB messages are routed by a registry keyed by DB_ENV*.
  __db_env* raw() const { return env_; }
  const EnvOptions& options() const { return options_; }

  // Opens (creating it when `create` is true) the named in-memory btree
  // database. A replica opens without create: while the master's create has
  // not arrived yet this returns NotFound (retry later). Tables are cached by
  // name; the same pointer is returned for the same name. Owned by the Env.
  Result<Table*> OpenTable(const std::string& name, bool create);

  // Marks every open table handle stale, so that the next use reopens it.
  // The engine calls this after a role change or internal init (Berkeley DB
  // invalidates handles then: DB_REP_HANDLE_DEAD). Tables also reopen by
  // themselves when they see DB_REP_HANDLE_DEAD.
  void InvalidateTables();

  // The size of every table this Env has open, as Berkeley DB holds it:
  // pages = last page number + 1 (what DB->stat's bt_pagecnt is made of) and
  // the database's own page size. pages * page_size is what an internal init
  // copies for that table. Reads the cache only (no page lock, no open) and
  // skips a table whose handle another thread is (re)opening, so a caller on
  // a latency-critical thread never waits; returns nothing at all while a
  // table is being opened.
  //
  // `free_pages` are the pages on the table's free list (deleted data whose
  // pages Berkeley DB keeps for reuse): (pages - free_pages) * page_size is
  // the data the table holds now, what memory admission counts. The free
  // list is walked one page at a time without locks (a read latch per
  // page), bounded by `pages`, so a list changing under the walk gives an
  // estimate, never a wait.
  struct TablePages {
    std::string name;
    uint64_t pages = 0;
    uint32_t page_size = 0;
    uint64_t free_pages = 0;
  };
  std::vector<TablePages> OpenTablePages();
  // The cache as Berkeley DB's memp_stat sees it: its size, the pages it
  // holds (every table's pages, free or not, and replication's buffers).
  struct CacheUse {
    uint64_t cache_bytes = 0;
    uint64_t pages = 0;       // buffers in the cache (st_pages)
    uint64_t dirty_pages = 0;
    uint32_t page_size = 0;   // the pool's assumed page size
  };
  Result<CacheUse> Cache() const;

  // Runs `body` inside a transaction, committing if it returns OK and
  // aborting otherwise. A DB_LOCK_DEADLOCK anywhere aborts and re-runs the
  // body, at most options.deadlock_retries times (then Busy). `body` must be
  // idempotent apart from its effects through the Txn. `before_commit` (if
  // set) is called with the DB_TXN* right before commit (the engine sets a
  // commit token there).
  //
  // Every write first reserves its estimated log volume in the Env's log
  // budget (log_budget.h), so that concurrent transactions never span more
  // than log_in_flight_bytes of the ring. `expected_log_bytes` (from
  // EstimateTxnLogBytes) reserves it all before the transaction begins,
  // waiting up to log_wait_ms; without it the transaction reserves as it
  // writes and, when the budget has no room mid-body, is re-run (like a
  // deadlock victim) with a larger reservation made before it begins. Busy
  // when no room was found in time.
  Status WithTxn(const std::function<Status(Txn&)>& body,
                 const std::function<void(__db_txn*)>& before_commit = nullptr,
                 uint64_t expected_log_bytes = 0);

  // Checks a transaction's estimated log volume against the limit. Returns
  // TooLarge naming the size, the limit and the fix. The estimate is
  // 2.125 * payload_bytes + 150 * op_count + min(payload_bytes, 1 KiB *
  // op_count): record headers logged twice, the items twice (new image and
  // undo image of an overwrite) and once more for page splits, which log
  // whole pages; measured in tests/memenv/log_budget_test.cc (estimate.h).
  // Txn also applies it to the running total of every transaction, before
  // each write.
  Status CheckTxnSize(size_t payload_bytes, size_t op_count) const;
  // The log volume a transaction of `op_count` ops and `payload_bytes` of
  // keys and values is assumed to write (what CheckTxnSize checks).
  static uint64_t EstimateTxnLogBytes(size_t payload_bytes, size_t op_count);

  // Checkpoints now if `force` (txn_checkpoint(0,0,DB_FORCE)); otherwise only
  // if at least checkpoint_kbytes of log were written since the last one.
  // Ignores the gate: the caller decides.
  Status Checkpoint(bool force);

  // Called by the write path after each commit: every
  // options.checkpoint_every_commits commits it runs the kbyte-triggered
  // checkpoint inline, so checkpoints follow log volume even when the
  // background thread is starved. WithTxn and the Table write operations call
  // it themselves; call it only for commits made on a raw DB_TXN.
  void NoteCommit();

  // Whether checkpoints should be attempted now (the engine sets a predicate
  // so that only a master or a standalone env checkpoints). Default: always.
  void SetCheckpointGate(std::function<bool()> gate);

  // Counters, plus the log distance to the last checkpoint (sampled fresh
  // only when the gate allows: log_stat/txn_stat block in a client lockout).
  EnvStats Stats() const;

 private:
  explicit Env(EnvOptions options);
  Status OpenImpl();
  Status ConfigureBeforeOpen();
  // The transaction loop behind WithTxn and Table::Scan: begin with
  // `begin_flags`, run, commit; abort and re-run on deadlock or a dead handle.
  // `writes` counts the commit and drives NoteCommit.
  Status RunTxn(uint32_t begin_flags, const std::function<Status(Txn&)>& body,
                const std::function<void(__db_txn*)>& before_commit, bool writes,
                uint64_t expected_log_bytes = 0);
  // The end of the log in bytes (log_stat), 0 if unknown: the log budget's
  // measure of what the transactions in flight span.
  uint64_t LogEndBytes() const;
  // Sleeps a small randomized time that grows with `attempt` (drawn from
  // backoff_rng_, seeded by EnvOptions::seed). Any thread.
  void Backoff(int attempt);
  // Whether this env currently is a replication client (rep_stat; never blocks).
  bool IsReplica() const;
  bool GateOpen() const;
  // End of log minus the last checkpoint LSN, in bytes (log_stat + txn_stat).
  Result<uint64_t> LogSinceCheckpoint() const;
  // Checkpoints if at least checkpoint_kbytes of log were written since the
  // last one (or always, if `force`). Requires ckpt_mu_.
  Status CheckpointLocked(bool force);
  void CheckpointLoop();
  // Checks (and checkpoints if due) when the gate allows. Returns whether the
  // check ran: without `wait` it is skipped while another one is running.
  bool MaybeCheckpoint(bool wait = false);
  // Volume trigger next to NoteCommit's count trigger: a few big
  // transactions can fill the ring well before N commits.
  void NoteLogVolume(uint64_t estimated_log_bytes);

  EnvOptions options_;
  SharedRng backoff_rng_;
  __db_env* env_ = nullptr;
  std::string owned_home_;  // temp dir created by us, removed at close

  std::mutex tables_mu_;
  std::vector<std::unique_ptr<Table>> tables_;

  std::mutex ckpt_mu_;  // serializes checkpoints
  mutable std::mutex gate_mu_;
  std::function<bool()> ckpt_gate_;  // guarded by gate_mu_
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;  // wakes the checkpointer at close
  std::atomic<bool> stop_{false};
  std::thread checkpointer_;

  std::atomic<uint64_t> commits_{0}, aborts_{0}, deadlock_retries_{0}, checkpoints_{0};
  std::atomic<uint64_t> commits_since_ckpt_check_{0}, log_since_ckpt_check_{0};
  std::atomic<int64_t> last_ckpt_ms_{0};
  std::atomic<uint64_t> ckpt_lag_last_{0}, ckpt_lag_max_{0};
  std::unique_ptr<LogBudget> log_budget_;

  friend class Table;
  friend class Txn;
};

// A transaction in flight. Aborts in its destructor unless committed: every
// early return or exception path leaves nothing behind.
class Txn {
 public:
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // Empty keys are InvalidArgument. A write that would take the
  // transaction's estimated log volume past the limit is refused with
  // TooLarge before anything of it is written (Env::CheckTxnSize).
  Status Put(Table& table, std::string_view key, std::string_view value);
  Status Delete(Table& table, std::string_view key);  // NotFound if absent
  Result<std::string> Get(Table& table, std::string_view key);
  // Inserts only if `key` is absent (DB_NOOVERWRITE, write-locked within
  // this transaction): true if inserted, false if the key was there.
  Result<bool> PutIfAbsent(Table& table, std::string_view key, std::string_view value);
  // The size of the value under `key`, read write-locked (DB_RMW) so that
  // the answer holds until this transaction ends; NotFound if absent.
  Result<size_t> ValueSize(Table& table, std::string_view key);
  __db_txn* raw() const { return txn_; }

 private:
  friend class Env;
  friend class Table;
  Txn(Env* env, __db_txn* txn) : env_(env), txn_(txn) {}
  Status Commit();
  void Abort();
  // The table's handle, pinned until the transaction ends: a handle must not
  // be closed while a transaction that used it is still open.
  Result<__db*> Use(Table& table);
  // Translates `ret`, remembering whether the whole transaction must re-run
  // (deadlock victim, or `db` invalidated by replication).
  Status Check(int ret, std::string_view what, Table& table, __db* db, bool write);
  Status Account(size_t payload_bytes);
  // Makes the transaction's log reservation cover `need` bytes (log_budget.h):
  // grows it without waiting, or marks the transaction for a re-run with a
  // larger reservation (budget_rerun_bytes_) and returns Busy.
  Status Reserve(uint64_t need);
  void ReleaseReservation();
  uint64_t EstimatedLogBytes() const;

  Env* env_;
  __db_txn* txn_;
  size_t payload_bytes_ = 0;
  size_t op_count_ = 0;
  bool must_retry_ = false;
  bool deadlocked_ = false;
  std::vector<std::shared_ptr<__db>> pinned_;
  uint64_t budget_id_ = 0;        // the log reservation's holder id; 0: none
  uint64_t reserved_bytes_ = 0;
  uint64_t budget_rerun_bytes_ = 0;  // > 0: re-run reserving this much first
};

// A named in-memory btree database. Keys are ordered bytewise.
class Table {
 public:
  ~Table();
  const std::string& name() const { return name_; }

  // Single operations, each its own transaction (Get: a non-transactional
  // read, locks held for the call only), with deadlock retry and handle
  // reopen on DB_REP_HANDLE_DEAD. Empty keys are InvalidArgument.
  // `ignore_lease`: skip Berkeley DB's master-lease check (DB_IGNORE_LEASE),
  // for reads that only serve a write's own bookkeeping; with leases a read
  // on a master whose lease is not yet (or no longer) granted blocks up to
  // ~1.5 s in that check.
  Result<std::string> Get(std::string_view key, bool ignore_lease = false);
  Status Put(std::string_view key, std::string_view value);
  Status Delete(std::string_view key);

  // All-or-nothing batch in one transaction (size checked first, so an
  // oversized batch writes nothing). Deleting an absent key is not an error.
  Status ApplyBatch(const std::vector<BatchOp>& ops);

  // Ordered scan of keys in [start, end) ("" end = to the last key), at most
  // `limit` pairs (0 = no limit), read in one read-committed cursor pass.
  Result<std::vector<std::pair<std::string, std::string>>> Scan(std::string_view start,
                                                                std::string_view end, size_t limit);
  // Number of keys (DB->stat, read-committed: walks the leaf pages but
  // copies no data).
  Result<uint64_t> Count();


 private:
  friend class Env;
  friend class Txn;
  Table(Env* env, std::string name, bool create)
      : env_(env), name_(std::move(name)), create_(create) {}
  // Returns the open DB handle, (re)opening it if needed. Reference-counted:
  // a stale handle is closed only when the last thread using it lets go, so
  // reopening never closes a DB* under another thread.
  Result<std::shared_ptr<__db>> Handle();
  Result<std::shared_ptr<__db>> OpenHandle();
  // Drops the current handle (closed when its last user lets go). With
  // `seen`, only if the current handle still is `seen`: another thread may
  // already have reopened it.
  void MarkStale(const __db* seen = nullptr);
  // Runs a non-transactional `op` on the handle with deadlock and
  // dead-handle retries.
  Status RunOnHandle(std::string_view what, const std::function<int(__db*)>& op);

  Env* env_;
  std::string name_;
  // Whether a (re)open creates the database: set once a master opened it with
  // create, so that a board promoted after opening as a replica can create.
  std::atomic<bool> create_;
  std::mutex mu_;
  std::shared_ptr<__db> db_;
};

}  // namespace bp::memenv
