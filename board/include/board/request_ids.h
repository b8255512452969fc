// RequestIds: the master's memory of which writes it applied, so that a
// retry of a write (the shim's retries, a replica's forward re-sends, a
// caller's fw_batch_with_id after FW_ERR_UNKNOWN_OUTCOME) is recognised and
// never applied twice, kept for a bounded window and a bounded budget.
//
// The ids live in the replicated table "__requests", keyed by the id's 16
// bytes, big-endian. An id's high bits are its issue time
// (bp/request_id.h), so the table is ordered by issue time and expiry
// deletes from its front:
//   - window: ids issued more than request_retention_s ago are deleted;
//   - budget: when more ids are kept than 90 % of what request_budget_pct of
//     the cache holds, the oldest go first (down to 80 %: the writes between
//     two expiry passes stay under the budget), and the issue time of the newest evicted id
//     is recorded (replicated, under the all-zero key) as the eviction mark.
// A write whose id is absent but issued before the window or at or before
// the eviction mark cannot be deduplicated: it is refused with
// Status::Expired (its outcome is unknown and too old), never applied again.
//
// The claim happens inside the write's own transaction with DB_NOOVERWRITE:
// two copies of one request serialise on the id's lock and the second finds
// the first's record, so at most one copy ever applies.
//
// Threads: ClaimInTxn from the write pool (any number at once), inside a
// transaction; Expire and Recount from the engine's request-expirer thread
// only (deletes on the master, counts anywhere); Stats from any thread. The
// counters are atomics; the eviction mark cache is guarded by mu_.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "bp/status.h"
#include "memenv/env.h"

namespace bp::board {

struct RequestId;

class RequestIds {
 public:
  // Bytes one id takes in the cache, measured (README "Exactly-once
  // writes"): 16-byte key, 8-byte stamp, item headers and the leaf fill
  // came to 65-70 bytes an id in board_memory_test (8 KiB pages).
  static constexpr uint64_t kBytesPerId = 72;
  // Ids deleted per expiry transaction: small, so an expiry never stalls
  // writers or fills the log ring (about 20 KB of log each).
  static constexpr size_t kExpireBatch = 256;
  // Transactions per Expire call before it yields to the next tick.
  static constexpr int kMaxBatchesPerPass = 8;

  struct Limits {
    int64_t retention_ms = 0;
    uint64_t max_ids = 0;
  };
  explicit RequestIds(Limits limits) : limits_(limits) {}
  static Limits LimitsFor(uint32_t retention_s, uint32_t cache_mb, uint32_t budget_pct);

  enum class Claim { kNone, kNew, kDuplicate };
  // Inside a write's transaction on the master of generation `gen`:
  // records `id` (kNew) or finds it recorded (kDuplicate, its stamp
  // re-written so this commit's acknowledgement covers the first one's).
  // Expired when it is absent and too old; InvalidArgument when its issue
  // time is further in the future than the window. An empty id: kNone.
  Result<Claim> ClaimInTxn(memenv::Txn& t, memenv::Table& reqs, const RequestId& id, uint32_t gen,
                           int64_t now_wall_ms);
  // Every write that may claim an id holds a WriteScope from before its
  // transaction begins until it has counted its claim (Committed, after the
  // commit), so that a recount can tell whether a commit overlapped it: such
  // a commit's record may be counted by both (the count one high for good).
  // Write-pool threads.
  class WriteScope {
   public:
    explicit WriteScope(RequestIds& ids) : ids_(ids) { ids_.writes_begun_.fetch_add(1); }
    ~WriteScope() { ids_.writes_ended_.fetch_add(1); }
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;
    // After the write committed.
    void Committed(Claim c) { ids_.Committed(c); }

   private:
    RequestIds& ids_;
  };

  // Request-expirer thread, master only: deletes expired ids, then evicts
  // the oldest while over the budget, in transactions of kExpireBatch, at
  // most kMaxBatchesPerPass of them. True when more are left to delete.
  Result<bool> Expire(memenv::Env& env, memenv::Table& reqs, int64_t now_wall_ms);
  // Request-expirer thread: counts the ids held (a new master, or a replica
  // for its status). Walks the table's leaf pages. A count that a write's
  // WriteScope overlapped may be off by the writes in flight: it is kept (it
  // is closer than the old one) and RecountWanted() says to count again.
  Status Recount(memenv::Table& reqs);
  bool RecountWanted() const { return recount_wanted_.load(); }

  uint64_t ids() const { return uint64_t(std::max<int64_t>(ids_.load(), 0)); }
  nlohmann::json Stats() const;

  // The table key of an id (16 bytes, big-endian hi then lo).
  static std::string Key(const RequestId& id);

 private:
  // The eviction mark as of generation `gen` (read from the table once per
  // mastership). Guarded by mu_.
  Result<int64_t> EvictionMark(memenv::Txn& t, memenv::Table& reqs, uint32_t gen);
  Status ExpireBatch(memenv::Env& env, memenv::Table& reqs, int64_t cutoff_ms, bool* more);
  Status RefusedAsExpired(const RequestId& id, int64_t now_wall_ms, int64_t mark_ms);
  void Committed(Claim c);

  const Limits limits_;
  std::mutex mu_;
  uint32_t mark_gen_ = 0;       // guarded by mu_
  int64_t mark_ms_ = -1;        // guarded by mu_; -1: not read this mastership
  // Signed: an expiry may count its deletes before a writer counts the same
  // id's insert (the two commute; only the reading is clamped).
  std::atomic<int64_t> ids_{0};
  // WriteScopes begun and ended; equal and unchanged across a count: no
  // commit overlapped it.
  std::atomic<uint64_t> writes_begun_{0}, writes_ended_{0};
  std::atomic<bool> recount_wanted_{false};
  std::atomic<uint64_t> expired_{0}, evicted_{0}, too_old_{0}, future_{0};
  std::atomic<int64_t> evicted_through_ms_{0};
};

}  // namespace bp::board
