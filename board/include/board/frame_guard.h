// FrameGuard: the counts of refused frames (status "refused") and what this
// board knows of its peers' configuration digests (status "config").
//
// Who calls it: the bus receive thread (Count, OnPeerDigest, Disagrees for
// every frame), the rep worker (Count, for acks queued with leases), the
// election thread (OutReason) and status (any thread). Counters are atomic;
// the digest table has its own lock, never held while calling out.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "board/config.h"
#include "board/config_digest.h"
#include "board/frame_checks.h"
#include "bus/frames.h"

namespace bp::board {

class FrameGuard {
 public:
  FrameGuard(const ChassisConfig& config, int self_slot);

  void Count(Refusal r) {
    if (r != Refusal::kNone && r != Refusal::kCount) counts_[size_t(r)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t count(Refusal r) const { return counts_[size_t(r)].load(std::memory_order_relaxed); }
  // {"<reason>": n, ...} for every reason, and "total".
  nlohmann::json RefusedJson() const;

  // This board's digest, for its heartbeats.
  const ChassisDigestValue& digest() const { return digest_; }
  void FillHeartbeat(bus::HeartbeatInfo* hb) const;

  // Records `slot`'s digest from its heartbeat. Returns false when it is
  // reported and differs from this board's; `*log_line` is then set the
  // first time that peer shows that digest (log it once), else cleared.
  bool OnPeerDigest(int slot, const bus::HeartbeatInfo& hb, int64_t now_us, std::string* log_line);
  // The last digest `slot` reported differs from ours (drop its rep messages).
  bool Disagrees(int slot) const;
  // Why this board must not elect or join now ("" = it may): a peer of
  // another configuration claiming master was heard within `window_us`.
  std::string OutReason(int64_t now_us, int64_t window_us) const;
  // {"digest", "groups": {name: hex}, "disagreeing": [{slot, digest, groups, master}]}.
  nlohmann::json ConfigJson(int64_t now_us, int64_t window_us) const;

 private:
  struct PeerDigest {
    uint64_t total = 0;
    std::array<uint64_t, bus::HeartbeatInfo::kMaxDigestGroups> groups{};
    size_t group_count = 0;
    bool claims_master = false;
    int64_t heard_us = 0;
    uint64_t logged_total = 0;  // the disagreeing digest last logged
  };
  std::string Differing(const PeerDigest& p) const;
  const int self_slot_;
  const ChassisDigestValue digest_;
  std::array<std::atomic<uint64_t>, kRefusalCount> counts_{};
  mutable std::mutex mu_;
  std::map<int, PeerDigest> peers_;  // mu_; only slots that reported a digest
};

}  // namespace bp::board
