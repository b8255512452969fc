// Durability: the master's answer to "is this commit safe yet".
//
// Owns: the ack tracker (the ack policies: ack_tracker.h); the end of what
// this master has sent (written_end: an ack at or beyond it is forged,
// refusals.cc); the LSN of the last PERMANENT record sent (what a
// LINEARIZABLE read waits for); the committing writer's wait for its acks
// (AwaitDurable) and its figures (status "acks").
//
// Who calls it, on which thread:
//   transport callback (whatever thread is inside Berkeley DB: a committing
//     writer, the rep worker, the election thread, the checkpointer):
//     NoteWritten before every send of the master's, NotePermSent for the
//     commit's record; neither blocks.
//   bus receive thread (and the rep worker, with leases): OnAck.
//   role machine (through the engine, rep_start lock held): BeginMastership,
//     Abort; Engine::Stop: Abort.
//   write threads: AwaitDurable after the commit; readers: AwaitCommitted.
// Every method may be called from any thread: the tracker has its own lock,
// the rest are atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "board/ack_tracker.h"
#include "board/config.h"
#include "board/peers.h"
#include "board/perm_outcome.h"
#include "bp/clock.h"
#include "bus/frames.h"

namespace bp::board {

class Durability {
 public:
  // `on_perm_failed(detail)`: a commit's ack policy was not met (the engine
  // records a kPermFailed event). `peers` answers who is alive and caught up
  // (the tracker's fail-fast and ALL_AVAILABLE). References must outlive this.
  Durability(const ChassisConfig& config, int self_slot, const PeerTable& peers,
             const Clock& clock, std::function<void(const std::string&)> on_perm_failed);

  // ---- transport callback, on the master ----
  // Raises written_end past `last` (the last record of a send), before the
  // send: the replica's ack may arrive before the send returns.
  void NoteWritten(bus::Lsn last);
  // The commit's PERMANENT record was sent.
  void NotePermSent(bus::Lsn lsn);
  // Just past the highest record this master sent (file << 32 | offset).
  uint64_t written_end() const { return written_end_.load(); }

  // ---- acks (bus thread; rep worker with leases) ----
  void OnAck(int slot, uint32_t gen, bus::Lsn lsn) { acks_.OnAck(slot, gen, lsn); }

  // ---- role changes ----
  // A mastership of `gen` begins: acks of other generations are ignored, and
  // what a LINEARIZABLE read waits for is this mastership's commits only.
  void BeginMastership(uint32_t gen);
  // Stepping down or stopping: waiting writers return now, new waits at once.
  void Abort() { acks_.Abort(); }

  // ---- writers and readers ----
  // Waits until the ack policy is met for `lsn` (or the ack timeout passes,
  // or too few replicas are alive to ever meet it) and records the outcome
  // in `po`. Returns whether it was met.
  bool AwaitDurable(bus::Lsn lsn, PermOutcome* po);
  // Waits (up to the ack timeout) until every commit of this mastership so
  // far is acknowledged under the policy. Returns whether it is.
  bool AwaitCommitted();
  // Acks a commit needs now (0: a commit is durable without any).
  int Needed() const { return acks_.Needed(); }
  // Status "acks" (without the replica's acks_sent, which the applier counts).
  nlohmann::json Stats() const;

 private:
  // ---- constant after construction ----
  const uint32_t ack_timeout_ms_;
  const std::function<void(const std::string&)> on_perm_failed_;
  AckTracker acks_;  // its own lock

  // ---- atomics read anywhere, written by the transport callback ----
  // (and reset by BeginMastership for last_perm_lsn_). file << 32 | offset.
  std::atomic<uint64_t> written_end_{0};
  std::atomic<uint64_t> last_perm_lsn_{0};
  // ---- counters, written by the waiting writers ----
  std::atomic<uint64_t> perm_waits_{0}, perm_failures_{0};
};

}  // namespace bp::board
