// AckTracker: the master's side of ack policies.
//
// Replicas acknowledge (generation, LSN) whenever rep_process_message returns
// DB_REP_ISPERM; an ack for LSN x covers every PERM record up to x. The
// transport's PERMANENT send waits here until enough replicas acknowledged
// the commit's LSN under the chassis ack policy, or the ack timeout passes.
//
// Who counts, per policy (E = electable boards, clients = every other board):
//   NONE           0 acks, never waits
//   ONE            1 ack from any replica
//   ONE_PEER       1 ack from an electable replica
//   QUORUM         E/2 acks from electable replicas: with the master, a
//                  majority of electable boards holds the commit, so every
//                  electing majority contains a board that has it, and
//                  Berkeley DB's election picks the most up-to-date voter.
//                  (E = 2: the other board must ack.)
//   ALL_AVAILABLE  every replica currently alive and caught up (at least ONE)
//   ALL            every configured replica; with one down it fails at once.
// Only an ack counts, and a replica sends one only once it has applied the
// commit, so a re-initialising replica never counts before it caught up. A
// live one is waited for (up to the ack timeout: it is usually milliseconds
// from done); a dead one makes the wait fail fast when too few are left.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "board/config.h"
#include "bp/clock.h"
#include "bus/frames.h"

namespace bp::board {

struct AckOutcome {
  bool met = false;        // policy satisfied
  bool fail_fast = false;  // not enough live replicas to ever meet it: did not wait
  int needed = 0;
  int got = 0;
};

class AckTracker {
 public:
  // `is_alive(slot)`: the replica is reachable now (fail-fast decision).
  // `is_caught_up(slot)`: alive and not re-initialising (ALL_AVAILABLE).
  // `clock`: the waits' deadlines (the engine's clock seam).
  AckTracker(const ChassisConfig& config, int self_slot, std::function<bool(int)> is_alive,
             std::function<bool(int)> is_caught_up = nullptr,
             const Clock& clock = Clock::Real());

  // The master's generation: acks of other generations are ignored.
  void SetGeneration(uint32_t gen);
  // Records an ack from `slot` (receive thread). Wakes waiters.
  void OnAck(int slot, uint32_t gen, bus::Lsn lsn);
  // Forgets a replica's acks (it restarted, or the generation changed).
  void Reset(int slot);

  // Blocks until the policy is met for `lsn` or `timeout_ms` passes.
  AckOutcome Wait(bus::Lsn lsn, uint32_t timeout_ms);

  // Wakes every waiter (shutdown or demotion), making them return unmet;
  // later waits return unmet at once until SetGeneration (a new mastership).
  void Abort();

  // Highest LSN the policy is currently met for (status, duplicate replies).
  bool IsMet(bus::Lsn lsn);
  int Needed() const;
  uint64_t waits() const { return waits_; }
  uint64_t failures() const { return failures_; }

 private:
  const Clock& clock_;
  struct Replica {
    bool electable = false;
    uint32_t gen = 0;
    bus::Lsn lsn;
  };
  // A writer blocked in Wait: OnAck wakes only the writers whose LSN the
  // new ack satisfies (with many writers, waking all of them on every ack
  // costs more CPU than the commits).
  struct Waiter {
    bus::Lsn lsn;
    std::condition_variable cv;
  };
  int CountAcked(bus::Lsn lsn, bool electable_only) const;  // mu_ held
  int NeededLocked(int* live) const;                        // mu_ held
  bool MetLocked(bus::Lsn lsn, int* got, int* needed) const;

  const ChassisConfig config_;
  const int self_slot_;
  std::function<bool(int)> is_alive_;
  std::function<bool(int)> is_caught_up_;
  mutable std::mutex mu_;
  std::vector<Waiter*> waiters_;     // mu_ held
  std::map<int, Replica> replicas_;  // by slot, never self
  uint32_t gen_ = 0;
  uint64_t abort_epoch_ = 0;
  bool closed_ = false;
  uint64_t waits_ = 0, failures_ = 0;
};

}  // namespace bp::board
