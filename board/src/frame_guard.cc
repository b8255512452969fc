#include "board/frame_guard.h"

#include <algorithm>

namespace bp::board {

FrameGuard::FrameGuard(const ChassisConfig& config, int self_slot)
    : self_slot_(self_slot), digest_(ChassisDigest(config)) {}

nlohmann::json FrameGuard::RefusedJson() const {
  nlohmann::json j = nlohmann::json::object();
  uint64_t total = 0;
  for (size_t i = 1; i < kRefusalCount; ++i) {
    const uint64_t n = counts_[i].load(std::memory_order_relaxed);
    j[RefusalName(Refusal(i))] = n;
    total += n;
  }
  j["total"] = total;
  return j;
}

void FrameGuard::FillHeartbeat(bus::HeartbeatInfo* hb) const {
  hb->config_digest = digest_.total;
  hb->config_digest_group_count = kDigestGroups;
  for (size_t i = 0; i < kDigestGroups; ++i) hb->config_digest_groups[i] = digest_.groups[i];
}

std::string FrameGuard::Differing(const PeerDigest& p) const {
  return DifferingGroups(digest_, p.groups.data(), p.group_count);
}

bool FrameGuard::OnPeerDigest(int slot, const bus::HeartbeatInfo& hb, int64_t now_us,
                              std::string* log_line) {
  log_line->clear();
  if (hb.config_digest == 0) return true;  // not reported (a board of an older build)
  std::lock_guard<std::mutex> l(mu_);
  PeerDigest& p = peers_[slot];
  p.total = hb.config_digest;
  p.group_count = std::min(hb.config_digest_group_count, p.groups.size());
  std::copy_n(hb.config_digest_groups.begin(), p.group_count, p.groups.begin());
  p.claims_master = hb.role == wire::Role::Master;
  p.heard_us = now_us;
  if (p.total == digest_.total) {
    p.logged_total = 0;  // agrees (again): a later disagreement is logged anew
    return true;
  }
  if (p.logged_total != p.total) {
    p.logged_total = p.total;
    *log_line = "configuration differs from slot " + std::to_string(slot) + "'s (" + Differing(p) +
                "; digest " + DigestHex(digest_.total) + " here, " + DigestHex(p.total) +
                " there): its replication messages are ignored and it is not counted alive "
                "until both run the same [chassis] settings (slots, ack policy, leases, "
                "security); give every board the same configuration file and restart the odd one";
  }
  return false;
}

bool FrameGuard::Disagrees(int slot) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(slot);
  return it != peers_.end() && it->second.total != digest_.total;
}

std::string FrameGuard::OutReason(int64_t now_us, int64_t window_us) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [slot, p] : peers_) {
    if (p.total == digest_.total || !p.claims_master || now_us - p.heard_us > window_us) continue;
    return "not joining: this board's configuration differs from master slot " +
           std::to_string(slot) + "'s (" + Differing(p) + "; digest " + DigestHex(digest_.total) +
           " here, " + DigestHex(p.total) +
           " there); it calls no election and applies nothing from it. Give board " +
           std::to_string(self_slot_) + " the chassis' configuration file and restart it";
  }
  return "";
}

nlohmann::json FrameGuard::ConfigJson(int64_t now_us, int64_t window_us) const {
  nlohmann::json groups = nlohmann::json::object();
  for (size_t i = 0; i < kDigestGroups; ++i) groups[DigestGroupName(DigestGroup(i))] = DigestHex(digest_.groups[i]);
  nlohmann::json disagreeing = nlohmann::json::array();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [slot, p] : peers_) {
      if (p.total == digest_.total) continue;
      disagreeing.push_back({{"slot", slot},
                             {"digest", DigestHex(p.total)},
                             {"groups", Differing(p)},
                             {"master", p.claims_master},
                             {"heard_ms_ago", (now_us - p.heard_us) / 1000}});
    }
  }
  return {{"digest", DigestHex(digest_.total)},
          {"groups", groups},
          {"disagreeing", disagreeing},
          {"out", OutReason(now_us, window_us)}};
}

}  // namespace bp::board
