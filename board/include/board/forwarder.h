// Forwarder: the origin side of forwarded writes. A write submitted on a
// board that is not the master is sent to the master as an AppRequest and
// waits here for the master's AppReply.
//
// Owns: the pending forwarded writes (their ops, their caller's callback,
// attempts, where and when each was last sent, its deadline), the retry
// policy (resend to a new master, resend after a silent attempt, give up at
// forward_timeout_ms or after forward_retries attempts) and the count of
// writes forwarded (status "writes" "forwarded"). Retries reuse the request
// id, so the master applies a write at most once (request_ids.h).
//
// Who calls it, on which thread:
//   Forward: Engine::SubmitWrite's caller (client endpoint, shim, a write
//     thread that found its board stepped down).
//   Retry: the engine's ticker, every tick (and early when a master appears).
//   OnReply: the bus receive thread (the master's AppReply).
//   AbandonAll: Engine::Stop, after the ticker and the bus have stopped.
// Every method may be called from any thread: the pending table is guarded
// by mu_; the listener and the callers' callbacks are never called with mu_
// held (a callback may submit the write again).
//
// The master side (KvService::OnForwardedWrite, ReplyTo: kv_service.h) is
// a write like any other there.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "board/config.h"
#include "board/decode.h"
#include "board/write_result.h"
#include "bp/clock.h"
#include "bus/frames.h"
#include "memenv/env.h"

namespace bp::board {

// What the forwarder asks of its board (the Engine implements it). Called
// without the forwarder's lock held.
class ForwardListener {
 public:
  virtual ~ForwardListener() = default;
  // The master this board follows now (<= 0: none known), and whether this
  // board is itself the master.
  virtual int ForwardMaster() const = 0;
  virtual bool ForwardSelfIsMaster() const = 0;
  // Sends the AppRequest `frame` to `slot` (the bus; false when not sent).
  virtual bool SendForward(int slot, const bus::OutFrame& frame) = 0;
  // This board became master while the write was out to the old one: apply
  // it here (the request id makes a write the old master applied a no-op).
  virtual void ApplyForwardHere(RequestId id, std::vector<memenv::BatchOp> ops,
                                std::function<void(WriteResult)> done) = 0;
};

class Forwarder {
 public:
  using Done = std::function<void(WriteResult)>;

  // References must outlive this.
  Forwarder(const ChassisConfig& config, int self_slot, const Clock& clock,
            ForwardListener& listener);
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Keeps the (checked) write pending, with its deadline counted from
  // `now_us`, and sends it to the master if one is known (else Retry does,
  // once there is one). `done` runs exactly once, on whichever thread
  // settles the write.
  void Forward(std::vector<memenv::BatchOp> ops, RequestId id, Done done, int64_t now_us);
  // Every tick: see the class comment.
  void Retry(int64_t now_us);
  // The master's reply to request `reply.id_hi/id_lo`. A reply for no
  // pending write (a late duplicate) is ignored; NotMaster and Busy are
  // resent at the next tick, not handed to the caller.
  void OnReply(AppReplyFields reply);
  // Fails every pending write with `why` (the board is stopping).
  void AbandonAll(const Status& why);

  uint64_t forwarded() const { return forwarded_.load(); }
  size_t pending() const;

 private:
  struct Pending {
    std::vector<memenv::BatchOp> ops;
    Done done;
    uint32_t attempts = 0;
    int64_t sent_us = 0;
    int64_t deadline_us = 0;
    int sent_to = -1;  // -1: not out (no master known, or refused: resend)
  };
  // Sends (or re-sends) pending write `id` to the current master.
  void Send(RequestId id);
  bus::OutFrame BuildRequest(RequestId id, const Pending& p, int64_t now_us) const;
  Status GiveUpStatus(uint32_t attempts) const;

  // ---- constant after construction ----
  const ChassisConfig& config_;
  const int self_slot_;
  const Clock& clock_;
  ForwardListener& listener_;
  const bus::FrameHeader header_;

  mutable std::mutex mu_;
  std::map<RequestId, Pending> pending_;  // guarded by mu_

  std::atomic<uint64_t> forwarded_{0};
};

}  // namespace bp::board
