// The log volume in flight across all writers of one Env (issue 12).
//
// Why: the in-memory log ring must hold every record from the first record
// of the oldest active transaction to the end of the log (Berkeley DB
// returns DB_LOG_BUFFER_FULL otherwise, and a replication master panics).
// A per-transaction size check cannot keep that true: eight transactions of
// a quarter of the ring each, interleaved, span twice the ring. So every
// writing transaction reserves its estimated log volume here first, and a
// reservation is granted only while
//
//   (log written since the oldest holder started)        measured
//   + (what every holder may still write: reserved - used) estimated
//   + the new reservation
//
// stays within `share_bytes` (half the ring by default). An admission waits
// (bounded, first come first served) and is refused with Busy at its
// deadline; growing a reservation mid-transaction never waits (the
// transaction holds page locks then): Txn re-runs it with a larger
// reservation instead, admitted before it takes any lock.
//
// Called by Txn (Account, Commit, Abort) and Env::RunTxn, on the writer's
// own thread; every member is guarded by mu_. `log_end` is called under mu_
// and must not block on anything a writer holds while calling in here
// (DB_ENV->log_stat takes only the log region mutex).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include "bp/status.h"

namespace bp::memenv {

struct LogBudgetStats {
  uint64_t share_bytes = 0;
  uint64_t in_flight_bytes = 0;      // sum of reservations now
  uint64_t in_flight_max_bytes = 0;  // the largest sum seen
  uint64_t waits = 0;                // admissions that had to wait
  uint64_t refused = 0;              // admissions refused at their deadline
  uint64_t reruns = 0;               // transactions re-run with a larger reservation
};

class LogBudget {
 public:
  // `log_end`: the current end of the log in bytes (0 when unknown, e.g.
  // log_stat failed: the measured span then counts as zero).
  LogBudget(uint64_t share_bytes, std::chrono::milliseconds wait,
            std::function<uint64_t()> log_end);

  // Reserves `bytes`, waiting up to the configured wait for room. Returns
  // the holder's id (> 0), or Busy naming the figures and the fix.
  Result<uint64_t> Admit(uint64_t bytes);
  // Without waiting: a first reservation made inside a transaction body
  // (returns 0 when there is no room or others are waiting), or the growth
  // of holder `id` to `bytes` after it used `used_bytes` (false: no room).
  // A sole holder always gets its growth: nothing else is in flight.
  uint64_t TryAdmit(uint64_t bytes);
  bool TryGrow(uint64_t id, uint64_t used_bytes, uint64_t bytes);
  void Release(uint64_t id);
  void NoteRerun();

  LogBudgetStats Stats() const;

 private:
  struct Holder {
    uint64_t start = 0;     // end of log when admitted
    uint64_t reserved = 0;
    uint64_t used = 0;      // the holder's own estimate of what it wrote, as of its last growth
  };
  // Whether `extra` more bytes fit (projected span, see the file comment),
  // skipping holder `except`'s remaining reservation. Requires mu_.
  bool Fits(uint64_t extra, uint64_t except) const;
  // The log span the holders may reach: measured span since the oldest
  // began plus what they may still write (holder `except`'s left out).
  uint64_t ProjectedLocked(uint64_t except) const;
  uint64_t AddLocked(uint64_t bytes);

  const uint64_t share_bytes_;
  const std::chrono::milliseconds wait_;
  const std::function<uint64_t()> log_end_;

  mutable std::mutex mu_;
  std::condition_variable cv_;   // a holder left, or a waiter gave up
  std::map<uint64_t, Holder> holders_;
  std::deque<uint64_t> waiters_;  // tickets in arrival order
  uint64_t next_id_ = 1;
  uint64_t in_flight_ = 0;
  LogBudgetStats stats_;
};

}  // namespace bp::memenv
