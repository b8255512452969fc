#include "board/peers.h"

namespace bp::board {

PeerTable::PeerTable(const ChassisConfig& config, int self_slot)
    : timeout_us_(int64_t(config.heartbeat_timeout_ms) * 1000) {
  for (const auto& b : config.boards) {
    if (b.slot == self_slot) continue;
    PeerView p;
    p.slot = b.slot;
    p.electable = b.electable;
    peers_[b.slot] = p;
  }
}

void PeerTable::OnLinkUp(int slot) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(slot);
  if (it != peers_.end()) it->second.connected = true;
}

void PeerTable::OnLinkDown(int slot) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(slot);
  if (it == peers_.end()) return;
  it->second.connected = false;
  it->second.last_heartbeat_us = 0;  // dead now: don't wait out its timeout
}

void PeerTable::OnHeartbeat(int slot, const bus::HeartbeatInfo& hb, int64_t now_us) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(slot);
  if (it == peers_.end()) return;
  it->second.hb = hb;
  it->second.last_heartbeat_us = now_us;
  // A heartbeat proves the link works even if the monitor event is late.
  it->second.connected = true;
}

bool PeerTable::AliveLocked(const PeerView& p, int64_t now_us) const {
  return p.connected && p.last_heartbeat_us > 0 && now_us - p.last_heartbeat_us <= timeout_us_;
}

bool PeerTable::IsAlive(int slot, int64_t now_us) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(slot);
  return it != peers_.end() && AliveLocked(it->second, now_us);
}

bool PeerTable::IsConnected(int slot) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(slot);
  return it != peers_.end() && it->second.connected;
}

int64_t PeerTable::LastHeartbeat(int slot) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(slot);
  return it == peers_.end() ? 0 : it->second.last_heartbeat_us;
}

bool PeerTable::IsCaughtUp(int slot, int64_t now_us) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(slot);
  return it != peers_.end() && AliveLocked(it->second, now_us) && !it->second.hb.reinit;
}

bool PeerTable::IsInSyncClient(int slot, int64_t now_us) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(slot);
  if (it == peers_.end() || !AliveLocked(it->second, now_us)) return false;
  const auto& hb = it->second.hb;
  return hb.role == wire::Role::Client && hb.startup_done && !hb.reinit;
}

int PeerTable::AliveElectable(int64_t now_us) const {
  std::lock_guard<std::mutex> l(mu_);
  int n = 0;
  for (const auto& [slot, p] : peers_) n += p.electable && AliveLocked(p, now_us) ? 1 : 0;
  return n;
}

std::vector<int> PeerTable::InSyncClients(int64_t now_us) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<int> out;
  for (const auto& [slot, p] : peers_) {
    if (AliveLocked(p, now_us) && p.hb.role == wire::Role::Client && p.hb.startup_done &&
        !p.hb.reinit) {
      out.push_back(slot);
    }
  }
  return out;
}

int PeerTable::HeartbeatMaster(int64_t now_us, uint32_t* gen) const {
  std::lock_guard<std::mutex> l(mu_);
  int best = -1;
  uint32_t best_gen = 0;
  for (const auto& [slot, p] : peers_) {
    if (AliveLocked(p, now_us) && p.hb.role == wire::Role::Master && p.hb.gen >= best_gen) {
      best = slot;
      best_gen = p.hb.gen;
    }
  }
  if (gen) *gen = best_gen;
  return best;
}

int PeerTable::FollowersOf(int master, uint32_t gen, int64_t now_us, int64_t window_us) const {
  std::lock_guard<std::mutex> l(mu_);
  int n = 0;
  for (const auto& [slot, p] : peers_) {
    if (!p.electable || !p.connected) continue;
    if (now_us - p.last_heartbeat_us > window_us) continue;
    if (p.hb.master == master && p.hb.confirm_gen == gen) ++n;
  }
  return n;
}

std::vector<PeerView> PeerTable::Snapshot(int64_t now_us) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<PeerView> out;
  for (const auto& [slot, p] : peers_) {
    PeerView v = p;
    v.alive = AliveLocked(p, now_us);
    out.push_back(v);
  }
  return out;
}

}  // namespace bp::board
