// Sizing and behaviour of one fully in-memory Berkeley DB environment.
//
// Everything lives in RAM: DB_PRIVATE regions, in-memory logs, in-memory
// replication metadata (DB_REP_CONF_INMEM), in-memory named databases. The
// in-memory log is a ring of `log_buffer_bytes`; it must hold every record of
// every active transaction (on a replication master a full ring PANICS the
// environment), and a checkpoint must always sit inside it (a joining replica's
// internal init needs one). The derived defaults below keep both true.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "bp/status.h"

struct __db_env;  // DB_ENV

namespace bp::memenv {

struct EnvOptions {
  // An existing, empty directory used as the environment home. Nothing is
  // written there (everything is in memory), but a non-NULL home halves the
  // page traffic of Berkeley DB's internal init (bdb-base-api.md §0 item 10).
  // Empty: memenv creates a private temporary directory and removes it at close.
  std::string home;

  // Cache: holds ALL data (in-memory databases cannot be evicted), the
  // replication backlog database and internal-init buffers. Size for >= 2x data.
  size_t cache_bytes = 256u << 20;

  // In-memory log ring (set_lg_bsize) and its "file" size (set_lg_max).
  // 0 for log_file_bytes derives log_buffer_bytes / 8 (must be < log_buffer_bytes).
  size_t log_buffer_bytes = 16u << 20;
  size_t log_file_bytes = 0;

  // Checkpoint trigger: txn_checkpoint(kbytes, 0, 0). 0 derives
  // log_buffer_bytes / 8 / 1024 so a checkpoint is always well inside the ring.
  uint32_t checkpoint_kbytes = 0;
  // How often the background checkpointer polls (it also runs after every
  // `checkpoint_every_commits` commits made through this Env: volume-driven).
  uint32_t checkpoint_poll_ms = 20;
  uint32_t checkpoint_every_commits = 64;
  bool run_checkpointer = true;

  // Largest transaction (sum of key+value bytes of its operations, times the
  // log overhead factor) allowed. 0 derives log_buffer_bytes / 4: a quarter of
  // the ring, leaving room for concurrent transactions and the checkpoint.
  size_t max_txn_bytes = 0;

  // The log volume all transactions in flight together may span (their
  // reservations plus the log written since the oldest of them began; see
  // memenv/src/log_budget.h). 0 derives log_buffer_bytes / 2. A transaction
  // waits up to log_wait_ms for room, then is refused with Busy.
  size_t log_in_flight_bytes = 0;
  uint32_t log_wait_ms = 1000;

  // Lock table sizing (set_lk_max_locks / objects / lockers).
  uint32_t max_locks = 100000;
  uint32_t max_lock_objects = 100000;
  uint32_t max_lockers = 10000;
  // Deadlock detection policy (DB_LOCK_DEFAULT, DB_LOCK_MINWRITE, ...) run on
  // every conflict (set_lk_detect), and how often a deadlocked txn is retried.
  uint32_t deadlock_policy = 0;  // 0 = DB_LOCK_DEFAULT
  int deadlock_retries = 20;
  // Seeds the randomized backoff between deadlock retries (0 = a fresh
  // seed): the board passes its own seed's backoff stream.
  uint64_t seed = 0;

  // Write transactions (WithTxn) begin with DB_IGNORE_LEASE. With master
  // leases Berkeley DB checks the lease after writing the commit record and
  // panics the environment when that check fails (a master cut off mid-
  // commit); an engine that enforces leases itself before committing, and
  // durability through its ack policy, sets this. Reads still check leases.
  bool commits_ignore_leases = false;

  // Called with every Berkeley DB error/informational message (set_errcall).
  // Default: written to stderr with a "bdb:" prefix.
  std::function<void(const std::string&)> on_bdb_message;

  // Hook run on the DB_ENV after memenv's own pre-open configuration and
  // before DB_ENV->open: the replication engine sets its transport, event
  // callback, nsites, priority, timeouts and rep config here. Its Status
  // is returned from Env::Open.
  std::function<Status(__db_env*)> before_open;

  // The effective values after derivation (filled in by Validate()).
  size_t EffectiveLogFileBytes() const;
  uint32_t EffectiveCheckpointKbytes() const;
  size_t EffectiveMaxTxnBytes() const;
  size_t EffectiveLogInFlightBytes() const;

  // Refuses impossible configurations with a message naming the field and
  // the fix (zero cache, log file >= log buffer, checkpoint trigger not
  // inside the ring, ...).
  Status Validate() const;
};

}  // namespace bp::memenv
