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
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bp/status.h"
#include "memenv/options.h"

struct __db_env;  // DB_ENV
struct __db;      // DB
struct __db_txn;  // DB_TXN

namespace bp::memenv {

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

  // Stops the checkpointer, closes every table and the environment.
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // The raw handle, for the replication engine (rep_* calls). memenv keeps
  // ownership; never close it.
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

  // Runs `body` inside a transaction, committing if it returns OK and
  // aborting otherwise. A DB_LOCK_DEADLOCK anywhere aborts and re-runs the
  // body, at most options.deadlock_retries times (then Busy). `body` must be
  // idempotent apart from its effects through the Txn. `before_commit` (if
  // set) is called with the DB_TXN* right before commit (the engine sets a
  // commit token there).
  Status WithTxn(const std::function<Status(Txn&)>& body,
                 const std::function<void(__db_txn*)>& before_commit = nullptr);

  // Checks a transaction's estimated log volume against the limit. Returns
  // TooLarge naming the size, the limit and the fix.
  Status CheckTxnSize(size_t payload_bytes, size_t op_count) const;

  // Forces a checkpoint now (txn_checkpoint(0,0,DB_FORCE)).
  Status Checkpoint(bool force);

  // Called by the write path after each commit: every
  // options.checkpoint_every_commits commits it runs the kbyte-triggered
  // checkpoint inline, so checkpoints follow log volume even when the
  // background thread is starved.
  void NoteCommit();

  // Whether checkpoints should be attempted now (the engine sets a predicate
  // so that only a master or a standalone env checkpoints). Default: always.
  void SetCheckpointGate(std::function<bool()> gate);

  EnvStats Stats() const;

 private:
  explicit Env(EnvOptions options);
  Status OpenImpl();
  void CheckpointLoop();
  void MaybeCheckpoint();

  EnvOptions options_;
  __db_env* env_ = nullptr;
  std::string owned_home_;  // temp dir created by us, removed at close

  std::mutex tables_mu_;
  std::vector<std::unique_ptr<Table>> tables_;

  std::mutex ckpt_mu_;  // serializes checkpoints
  std::function<bool()> ckpt_gate_;
  std::atomic<bool> stop_{false};
  std::thread checkpointer_;

  std::atomic<uint64_t> commits_{0}, aborts_{0}, deadlock_retries_{0}, checkpoints_{0};
  std::atomic<int64_t> last_ckpt_ms_{0};
  std::atomic<uint64_t> ckpt_lag_max_{0};

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

  Status Put(Table& table, std::string_view key, std::string_view value);
  Status Delete(Table& table, std::string_view key);  // NotFound if absent
  Result<std::string> Get(Table& table, std::string_view key);
  __db_txn* raw() const { return txn_; }

 private:
  friend class Env;
  Txn(Env* env, __db_txn* txn) : env_(env), txn_(txn) {}
  Status Commit();
  void Abort();
  Env* env_;
  __db_txn* txn_;
};

// A named in-memory btree database. Keys are ordered bytewise.
class Table {
 public:
  ~Table();
  const std::string& name() const { return name_; }

  // Single operations, each its own transaction (auto-commit), with deadlock
  // retry and handle reopen on DB_REP_HANDLE_DEAD.
  Result<std::string> Get(std::string_view key);
  Status Put(std::string_view key, std::string_view value);
  Status Delete(std::string_view key);

  // All-or-nothing batch in one transaction (size checked first).
  Status ApplyBatch(const std::vector<BatchOp>& ops);

  // Ordered scan of keys in [start, end) ("" end = to the last key), at most
  // `limit` pairs (0 = no limit), read in one read-committed cursor pass.
  Result<std::vector<std::pair<std::string, std::string>>> Scan(std::string_view start,
                                                                std::string_view end,
                                                                size_t limit);
  // Number of keys (DB->stat, fast).
  Result<uint64_t> Count();

 private:
  friend class Env;
  friend class Txn;
  Table(Env* env, std::string name, bool create) : env_(env), name_(std::move(name)), create_(create) {}
  // Returns the open DB handle, (re)opening it if needed. Reference-counted:
  // a stale handle is closed only when the last thread using it lets go, so
  // reopening never closes a DB* under another thread.
  Result<std::shared_ptr<__db>> Handle();
  void MarkStale();

  Env* env_;
  std::string name_;
  bool create_;
  std::mutex mu_;
  std::shared_ptr<__db> db_;
};

}  // namespace bp::memenv
