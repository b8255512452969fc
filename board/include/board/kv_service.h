// KvService: the key/value service of one board. Writes on the master (the
// request id claimed in the write's own transaction, memory admission, the
// lease confirmation, the throttle for lagging replicas, the wait for acks),
// writes submitted anywhere (applied here on the master, forwarded from a
// replica), the master side of forwarded writes (queued for the write pool,
// answered with an AppReply), and reads in the three consistency modes.
//
// Owns: the write pool (write_threads threads, at most write_queue_limit
// writes and write_queue_mb of keys and values waiting; refusals counted),
// the write counters of status "writes", the lease refusals of status
// "rep" "leases", and the random stream of request ids made for writes
// submitted without one.
//
// Borrows (references that outlive it): the configuration, the clock, the
// peer table and liveness (replica lag, re-init), durability (the ack wait),
// the request-id book and the memory gauge; the environment and the bus,
// given by Attach once the engine has opened them; and its host, the
// ServiceListener, for the role machine.
//
// Who calls it, on which thread:
//   SubmitWrite, Get, Scan, CheckWrite, LocalReadsServable, NotInSync: the
//     client endpoint and its reader threads, the sim tier; any thread.
//   Write: the write pool's threads (and tests); blocks until acked.
//   OnForwardedWrite: the bus receive thread (queues, never blocks).
//   ApplyHere: the forwarder (a board that became master with its own
//     writes still out to the old one).
//   Attach, Start, BeginStop, Stop, RequestTable: the engine's lifecycle
//     and its request expirer.
// No lock of its own: the counters are atomics; the pool is thread-safe;
// the api gate (the role machine's) is held around every Berkeley DB call.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "board/config.h"
#include "board/durability.h"
#include "board/gate.h"
#include "board/liveness.h"
#include "board/memory_gauge.h"
#include "board/peers.h"
#include "board/request_ids.h"
#include "board/role_machine.h"
#include "board/work_queue.h"
#include "board/write_result.h"
#include "bp/clock.h"
#include "bp/seed.h"
#include "bus/bus.h"
#include "memenv/env.h"

struct __db_txn_token;

namespace bp::board {

enum class ReadMode { kLocal = 0, kReadYourWrites = 1, kLinearizable = 2 };

// Who answered a LINEARIZABLE read: this board as master of `gen`, having
// last confirmed its mastership at `mono_us` (CLOCK_MONOTONIC, shared by
// every process on the machine). Filled only for a successful read.
struct ServedInfo {
  int slot = 0;
  uint32_t gen = 0;
  int64_t mono_us = 0;
};

// What the service asks of its board (the Engine implements it from its
// role machine and forwarder). Any thread; never called with a lock held.
class ServiceListener {
 public:
  virtual ~ServiceListener() = default;
  // Lock-free reads of the role machine.
  virtual Role ServiceRole() const = 0;
  virtual int ServiceMaster() const = 0;
  virtual uint32_t ServiceGeneration() const = 0;
  // One consistent snapshot (takes the role machine's view lock).
  virtual RoleView ServiceRoleView() const = 0;
  // In front of every application call into Berkeley DB (gate.h).
  virtual Gate& ServiceApiGate() = 0;
  // A majority's heartbeats confirm this board as master now (liveness.h).
  virtual bool ServiceConfirmedMaster(int64_t now_us) const = 0;
  // The role machine's refusal when no master exists or can be elected.
  virtual Status ServiceCheckWritable(int64_t now_us) const = 0;
  // Sends a checked write to the master (forwarder.h).
  virtual void ServiceForward(std::vector<memenv::BatchOp> ops, RequestId id,
                              std::function<void(WriteResult)> done, int64_t now_us) = 0;
};

class KvService {
 public:
  using Done = std::function<void(WriteResult)>;
  using KeyValues = std::vector<std::pair<std::string, std::string>>;

  // The figures of status "writes" and "rep" "leases".
  struct Stats {
    uint64_t committed = 0, not_durable = 0, duplicates = 0, throttled = 0;
    uint64_t forwarded_in = 0, forwarded_in_done = 0;  // master: from replicas
    uint64_t lease_expired = 0;         // refused: Berkeley DB found the lease expired
    int64_t last_lease_expired_us = 0;  // when the last one was (0 = never)
    QueueStats write_pool;
  };

  // References must outlive this. `seed` feeds the request-id stream.
  KvService(const ChassisConfig& config, int self_slot, const Clock& clock, const PeerTable& peers,
            const Liveness& liveness, Durability& durability, RequestIds& request_ids,
            MemoryGauge& memory, uint64_t seed, ServiceListener& host);
  KvService(const KvService&) = delete;
  KvService& operator=(const KvService&) = delete;

  // Lifecycle (the engine's main thread): the environment and bus once
  // open; the write threads; refuse new work; join the write threads.
  void Attach(memenv::Env* env, bus::Bus* bus);
  void Start();
  void BeginStop() { stopping_ = true; }
  void Stop() { write_pool_.Stop(); }

  // ---- writes ----
  // Shape and size limits of a write (keys, values, frame, transaction).
  Status CheckWrite(const std::vector<memenv::BatchOp>& ops) const;
  // Applies `ops` atomically on this board, which must be master. Blocks
  // until the ack policy is met or the ack timeout passes.
  // `forwarded`: it came from a replica (OnForwardedWrite).
  WriteResult Write(const std::vector<memenv::BatchOp>& ops, RequestId id, bool forwarded = false);
  // Applies on the master from any board: on this board's write pool when
  // master, else forwarded over the bus (retried at a new master, bounded).
  // `done` runs exactly once, on an engine thread or this one.
  void SubmitWrite(std::vector<memenv::BatchOp> ops, RequestId id, Done done);
  // The forwarder's: apply a write of this board's own here (it became master).
  void ApplyHere(RequestId id, std::vector<memenv::BatchOp> ops, Done done);
  // Bus thread: a replica's AppRequest (checked by the frame guard) is
  // queued for the write pool; a full pool is answered Busy at once.
  void OnForwardedWrite(bus::InFrame in);
  // Answers request `id` of replica `slot` with an AppReply (also the frame
  // guard's retryable refusals). Any thread.
  void ReplyTo(int slot, RequestId id, const WriteResult& r);

  // ---- reads ----
  Result<std::string> Get(std::string_view key, ReadMode mode, std::string_view token,
                          uint32_t timeout_ms, ServedInfo* served = nullptr);
  Result<KeyValues> Scan(std::string_view start, std::string_view end, size_t limit);
  // Whether LOCAL reads may go to Berkeley DB now: a master, or a replica
  // in sync and not re-initialising (a replica in internal init is locked
  // out of Berkeley DB and a read would wait for the whole init).
  bool LocalReadsServable() const;
  // The refusal for a LOCAL read while !LocalReadsServable() (Unavailable).
  Status NotInSync() const;

  // The request-id table (the expirer); nullptr until it exists.
  memenv::Table* RequestTable();
  Stats stats() const;

 private:
  // The steps of Write.
  Status AdmitWrite(const std::vector<memenv::BatchOp>& ops);
  Status StillWritableInsideGate();
  Status CommitWrite(const std::vector<memenv::BatchOp>& ops, RequestId id, bool forwarded,
                     __db_txn_token* token, bool* duplicate);
  void AwaitWriteAcks(int64_t begin_us, WriteResult* r);
  // The write's transaction body: claims the request id, then applies the
  // ops unless it is a duplicate, refusing growth past the memory mark.
  Status ApplyInTxn(memenv::Txn& t, memenv::Table& data, memenv::Table& reqs,
                    const std::vector<memenv::BatchOp>& ops, RequestId id, bool forwarded,
                    bool fits, RequestIds::Claim* claim);
  void ThrottleForLaggingReplicas();
  // On a write thread: Write, and if this board stepped down before
  // applying, SubmitWrite again (forwarded to the new master).
  void WriteOnPool(std::vector<memenv::BatchOp> ops, RequestId id, Done done);
  void HandleForwardedWrite(const bus::InFrame& in);
  Status WritePoolFull() const;
  // Read-your-writes: waits up to timeout_ms for the token's commit here.
  Status AwaitToken(std::string_view token, uint32_t timeout_ms);
  Status CheckLinearizableServable();
  Result<std::string> ConfirmLinearizableRead(Result<std::string> value, ServedInfo* served);
  // Counts a DB_REP_LEASE_EXPIRED refusal and rewrites it into a message
  // that says what to do; other statuses pass unchanged.
  Status LeaseExpired(Status st, const char* what);
  memenv::Table* DataTable();
  RequestId NewRequestId();
  static size_t OpsBytes(const std::vector<memenv::BatchOp>& ops);

  // Constant after construction.
  const ChassisConfig& config_;
  const int self_slot_;
  const Clock& clock_;
  const PeerTable& peers_;
  const Liveness& liveness_;
  Durability& durability_;
  RequestIds& request_ids_;
  MemoryGauge& memory_;
  ServiceListener& host_;
  const bus::FrameHeader header_;
  // Set once by Attach, before any caller.
  memenv::Env* env_ = nullptr;
  bus::Bus* bus_ = nullptr;

  std::atomic<bool> stopping_{false};
  SharedRng request_id_rng_;  // thread-safe
  ThreadPool write_pool_;
  std::atomic<uint64_t> writes_{0}, writes_not_durable_{0}, duplicates_{0}, throttled_{0};
  std::atomic<uint64_t> forwarded_in_{0}, forwarded_in_done_{0};
  std::atomic<uint64_t> lease_expired_{0};
  std::atomic<int64_t> last_lease_expired_us_{0};
};

}  // namespace bp::board
