#include "board/ack_tracker.h"

#include <algorithm>
#include <chrono>

namespace bp::board {

AckTracker::AckTracker(const ChassisConfig& config, int self_slot,
                       std::function<bool(int)> is_alive, std::function<bool(int)> is_caught_up,
                       const Clock& clock)
    : clock_(clock),
      config_(config),
      self_slot_(self_slot),
      is_alive_(std::move(is_alive)),
      is_caught_up_(is_caught_up ? std::move(is_caught_up) : is_alive_) {
  for (const auto& b : config_.boards) {
    if (b.slot == self_slot_) continue;
    replicas_[b.slot].electable = b.electable;
  }
}

void AckTracker::SetGeneration(uint32_t gen) {
  std::lock_guard<std::mutex> l(mu_);
  closed_ = false;
  if (gen == gen_) return;
  gen_ = gen;
  for (auto& [slot, r] : replicas_) r.lsn = {};
}

void AckTracker::OnAck(int slot, uint32_t gen, bus::Lsn lsn) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = replicas_.find(slot);
    if (it == replicas_.end() || gen != gen_) return;  // other generation: stale
    if (lsn <= it->second.lsn) return;
    it->second.gen = gen;
    it->second.lsn = lsn;
    if (waiters_.empty()) return;
    int live = 0;
    const int needed = NeededLocked(&live);
    const bool electable_only = config_.ack_policy == AckPolicy::kOnePeer ||
                                config_.ack_policy == AckPolicy::kQuorum;
    for (Waiter* w : waiters_) {
      if (CountAcked(w->lsn, electable_only) >= needed) w->cv.notify_one();
    }
  }
}

void AckTracker::Reset(int slot) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = replicas_.find(slot);
  if (it != replicas_.end()) it->second.lsn = {};
}

int AckTracker::CountAcked(bus::Lsn lsn, bool electable_only) const {
  int n = 0;
  for (const auto& [slot, r] : replicas_) {
    if (electable_only && !r.electable) continue;
    if (r.gen == gen_ && r.lsn >= lsn && !(r.lsn == bus::Lsn{})) ++n;
  }
  return n;
}

// How many acks the policy needs; also how many replicas that could give
// one are alive right now (for the fail-fast decision).
int AckTracker::NeededLocked(int* live_out) const {
  bool electable_only = config_.ack_policy == AckPolicy::kOnePeer ||
                        config_.ack_policy == AckPolicy::kQuorum;
  int live = 0, caught_up = 0, configured = 0;
  for (const auto& [slot, r] : replicas_) {
    if (electable_only && !r.electable) continue;
    ++configured;
    if (is_alive_(slot)) ++live;
    if (config_.ack_policy == AckPolicy::kAllAvailable && is_caught_up_(slot)) ++caught_up;
  }
  *live_out = live;
  switch (config_.ack_policy) {
    case AckPolicy::kNone: return 0;
    case AckPolicy::kOne:
    case AckPolicy::kOnePeer: return 1;
    case AckPolicy::kQuorum: {
      int e = config_.ElectableCount();
      return e <= 2 ? configured : e / 2;
    }
    case AckPolicy::kAllAvailable: return caught_up > 0 ? caught_up : 1;
    case AckPolicy::kAll: return configured;
  }
  return configured;
}

bool AckTracker::MetLocked(bus::Lsn lsn, int* got, int* needed) const {
  int live = 0;
  *needed = NeededLocked(&live);
  bool electable_only = config_.ack_policy == AckPolicy::kOnePeer ||
                        config_.ack_policy == AckPolicy::kQuorum;
  *got = CountAcked(lsn, electable_only);
  return *got >= *needed;
}

int AckTracker::Needed() const {
  std::lock_guard<std::mutex> l(mu_);
  int live = 0;
  return NeededLocked(&live);
}

bool AckTracker::IsMet(bus::Lsn lsn) {
  std::lock_guard<std::mutex> l(mu_);
  int got = 0, needed = 0;
  return MetLocked(lsn, &got, &needed);
}

AckOutcome AckTracker::Wait(bus::Lsn lsn, uint32_t timeout_ms) {
  AckOutcome out;
  std::unique_lock<std::mutex> l(mu_);
  ++waits_;
  int live = 0;
  out.needed = NeededLocked(&live);
  if (closed_ && out.needed > 0) {  // stepping down: nothing will be acked for us
    ++failures_;
    return out;
  }
  if (out.needed == 0) {
    out.met = true;
    return out;
  }
  // Fail fast: waiting cannot help when fewer replicas are alive than
  // needed (ALL with a dead board would otherwise pay the timeout on every
  // commit).
  if (live < out.needed) {
    out.fail_fast = true;
    out.got = CountAcked(lsn, config_.ack_policy == AckPolicy::kOnePeer ||
                                  config_.ack_policy == AckPolicy::kQuorum);
    out.met = out.got >= out.needed;
    if (!out.met) ++failures_;
    return out;
  }
  uint64_t epoch = abort_epoch_;
  const int64_t deadline_us = clock_.NowMicros() + int64_t(timeout_ms) * 1000;
  Waiter self;
  self.lsn = lsn;
  waiters_.push_back(&self);
  clock_.WaitUntil(self.cv, l, deadline_us, [&] {
    return abort_epoch_ != epoch || MetLocked(lsn, &out.got, &out.needed);
  });
  out.met = MetLocked(lsn, &out.got, &out.needed);
  if (!out.met) ++failures_;
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
  return out;
}

void AckTracker::Abort() {
  {
    std::lock_guard<std::mutex> l(mu_);
    ++abort_epoch_;
    closed_ = true;
    for (Waiter* w : waiters_) w->cv.notify_one();
  }
}

}  // namespace bp::board
