// ReplicaApplier: hands the replication messages that arrive on the bus to
// Berkeley DB and acts on every code rep_process_message returns.
//
// Owns the two bounded queues and their workers:
//   rep worker    the master's stream (and, with leases, acks: an ack must
//                 follow the same replica's lease grant), in arrival order;
//                 one worker keeps the order and makes the pre-promotion
//                 quiesce trivial. Under load it acknowledges a run of
//                 commits with one ack (HeldAck): fewer frames, fewer
//                 wake-ups of the master's waiting writers.
//   serve worker  requests any board may answer (DB_REP_ANYWHERE: log and
//                 page requests of a board catching up or re-initialising),
//                 so that serving pages never delays this board's acks.
// and the message figures (status "messages", "acks.acks_sent").
//
// What the return codes mean for the role (HOLDELECTION, DUPMASTER, a
// panic) goes to the ApplierListener; so does promotion after a message
// (the VOTE2 that made this board win is processed on the rep worker, and
// promotion must run outside rep_process_message: bdb-base-api.md §3.5).
//
// Callers and threads: the bus receive thread (QueueRep, QueueServe); the
// engine's StartThreads / Stop (Start, Close, Join, once each); status
// (stats, any thread). held_ack_ belongs to the rep worker alone; the
// counters are atomics; the queues have their own locks. Nothing here
// holds a lock while it calls out.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <thread>

#include "board/config.h"
#include "board/gate.h"
#include "board/role_machine.h"
#include "board/work_queue.h"
#include "bp/clock.h"
#include "bus/bus.h"
#include "bus/frames.h"

namespace bp::board {

// What the applier asks of the rest of the engine (the Engine implements
// it). Called from the two workers, never with a lock of the applier held.
class ApplierListener {
 public:
  virtual ~ApplierListener() = default;
  virtual bool ApplierRepStarted() const = 0;  // rep_process_message before rep_start is EINVAL
  virtual Gate& ApplierGate() = 0;             // passed around every rep_process_message
  // Where acks go, on every ISPERM: a lock-free read (-1 = none known).
  virtual int ApplierMaster() const = 0;
  // One snapshot of the role (DUPMASTER only: it takes the view's lock).
  virtual RoleView ApplierRoleView() const = 0;
  // Rep worker, after each message, outside rep_process_message.
  virtual void ApplierAfterMessage() = 0;
  virtual void ApplierHoldElection() = 0;
  // DUPMASTER from `sender`; `demote` false when this master ignores it (an
  // older generation's master leaving).
  virtual void ApplierDupMaster(int sender, bool demote) = 0;
  virtual void ApplierPanicked() = 0;  // DB_RUNRECOVERY
  // With leases: an ack frame, taken in order on the rep worker.
  virtual void ApplierAck(const bus::InFrame& ack) = 0;
  virtual void ApplierLog(const std::string& line) = 0;
};

// The call into Berkeley DB (rep_process_message), a seam for tests:
// returns its code and fills *ret_lsn.
using RepProcessFn = std::function<int(std::span<const uint8_t> control,
                                       std::span<const uint8_t> rec, int sender,
                                       bus::Lsn* ret_lsn)>;

class ReplicaApplier {
 public:
  // While more replication messages wait in the queue, only the last
  // ISPERM of a run is acknowledged (an ack covers every commit up to its
  // LSN), at most this many in one ack so a steady stream still acks.
  static constexpr int kMaxHeldAcks = 16;

  struct Stats {
    uint64_t processed = 0, acks_sent = 0, errors = 0;
    uint64_t isperm = 0, notperm = 0, ignored = 0, dupmaster_ignored = 0;
    QueueStats rep, serve;
  };

  ReplicaApplier(const ChassisConfig& config, int self_slot, const Clock& clock,
                 ApplierListener& host);
  ReplicaApplier(const ReplicaApplier&) = delete;
  ReplicaApplier& operator=(const ReplicaApplier&) = delete;
  ~ReplicaApplier();

  // Before Start: where acks go out and how messages reach Berkeley DB.
  void Attach(bus::Bus* bus, RepProcessFn process);
  void Start();
  // Stop: Close wakes the workers (queued messages are dropped), Join waits.
  void Close();
  void Join();

  // ---- bus receive thread ----
  // False (and logged, counted in the queue's refusals) when the queue is
  // full: Berkeley DB re-requests what it misses.
  bool QueueRep(bus::InFrame&& in);
  bool QueueServe(bus::InFrame&& in);

  Stats stats() const;
  size_t rep_queued() const { return rep_queue_.size(); }

 private:
  struct HeldAck {
    bool held = false;
    int to = 0;
    uint32_t gen = 0;
    bus::Lsn lsn;
    int covered = 0;  // ISPERMs this ack stands for
  };

  bool Queue(WorkQueue<bus::InFrame>& q, const char* which, bus::InFrame&& in);
  // Waits until rep_start returned; false when stopping.
  bool WaitForRepStart();
  void RepLoop();
  void ServeLoop();
  // Returns the LSN acknowledged (trace::Pack), or 0 when it was not ISPERM.
  uint64_t Process(const bus::InFrame& in, bool hold_ack);
  void OnResult(int ret, int sender, uint32_t frame_gen, const bus::Lsn& lsn, bool hold_ack);
  void OnDupMaster(int sender, uint32_t frame_gen);
  void SendAck(int to, uint32_t gen, const bus::Lsn& lsn);
  void FlushAck();

  // Constant after construction (bus_ and process_ after Attach).
  const int self_slot_;
  const Clock& clock_;
  ApplierListener& host_;
  const bus::FrameHeader header_;
  bus::Bus* bus_ = nullptr;
  RepProcessFn process_;

  std::atomic<bool> stop_{false};
  // Bounded by rep_queue_frames / rep_queue_mb and serve_queue_frames /
  // serve_queue_mb: beyond, a message is dropped (counted; re-requested).
  WorkQueue<bus::InFrame> rep_queue_, serve_queue_;
  std::thread rep_worker_, serve_worker_;
  HeldAck held_ack_;  // rep worker only

  std::atomic<uint64_t> processed_{0}, acks_sent_{0}, errors_{0};
  std::atomic<uint64_t> isperm_{0}, notperm_{0}, ignored_{0}, dupmaster_ignored_{0};
};

}  // namespace bp::board
