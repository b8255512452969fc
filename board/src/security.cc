// The board's bus security: CURVE keys for the bus, peer key rotation and
// the status "security" section (see engine.h, README "Security").
#include <nlohmann/json.hpp>

#include "board/engine.h"

namespace bp::board {

// Open(), before the bus exists: the mode, this board's key pair (given by
// main, else read from the slot's secret_key_file) and the peers' keys.
Status Engine::ConfigureBusSecurity(bus::BusOptions* bo) {
  const ChassisConfig& c = opts_.config;
  if (c.security != SecurityMode::kCurve) {
    bo->security = bus::BusSecurity::kNone;
    return Status::Ok();
  }
  bo->security = bus::BusSecurity::kCurve;
  bo->keys = opts_.keys;
  if (bo->keys.secret_z85.empty()) {
    auto keys = LoadSlotKeys(c, opts_.self_slot);
    if (!keys.ok()) return keys.status();
    bo->keys = std::move(keys).value();
  }
  public_key_ = bo->keys.public_z85;
  std::lock_guard lock(keys_mu_);
  for (const bus::SlotAddress& p : bo->peers) peer_keys_[p.slot] = p.public_key;
  return Status::Ok();
}

Result<std::vector<int>> Engine::ReloadPeerKeys() {
  if (opts_.config_path.empty()) {
    return Status::FailedPrecondition("this board was started without a configuration file");
  }
  if (opts_.config.security != SecurityMode::kCurve) {
    return Status::FailedPrecondition("security is none: there are no keys to reload");
  }
  auto fresh = LoadChassisConfig(opts_.config_path);
  if (!fresh.ok()) return fresh.status().WithContext("reload_keys: nothing changed");
  if (fresh->security != SecurityMode::kCurve) {
    return Status::InvalidArgument("reload_keys: " + opts_.config_path +
                                   " now says security none; changing the mode needs a restart "
                                   "of every board; nothing changed");
  }
  std::lock_guard lock(keys_mu_);
  std::vector<int> changed;
  for (const SlotConfig& b : fresh->boards) {
    auto it = peer_keys_.find(b.slot);
    const SlotConfig* now = opts_.config.Find(b.slot);
    if (it == peer_keys_.end() || now == nullptr || it->second == b.public_key) continue;
    // Same slot and endpoint as at start; only the key moves.
    Status s = bus_->AddPeer({b.slot, now->endpoint, b.public_key});
    if (!s.ok()) return s.WithContext("reload_keys: slot " + std::to_string(b.slot));
    it->second = b.public_key;
    changed.push_back(b.slot);
    Log("slot " + std::to_string(b.slot) + " has a new public key " + b.public_key +
        " (reload_keys): its old key is refused from now on");
  }
  const SlotConfig* self = fresh->Find(opts_.self_slot);
  if (self != nullptr && self->public_key != public_key_) {
    Log("this board's public_key changed in " + opts_.config_path +
        ": restart this board (with its new key file) to use it");
  }
  ++key_reloads_;
  return changed;
}

nlohmann::json Engine::SecurityJson() const {
  using nlohmann::json;
  const bool curve = opts_.config.security == SecurityMode::kCurve;
  bus::ZapAuthenticator::Stats zap = bus_->ZapStats();
  json refused = json::array();
  for (const auto& r : zap.last_refused) {
    refused.push_back({{"public_key", r.public_z85},
                       {"mechanism", r.mechanism},
                       {"domain", r.domain},
                       {"reason", r.reason}});
  }
  json j = {{"mode", SecurityModeName(opts_.config.security)},
            {"public_key", curve ? public_key_ : ""},
            {"zap_accepted", zap.accepted},
            {"zap_refused", zap.refused},
            {"unauthenticated", bus_->Counters().unauthenticated},
            {"handshake_failed", bus_->Counters().handshake_failed},
            {"last_refused", refused}};
  std::lock_guard lock(keys_mu_);
  json keys = json::object();
  for (const auto& [slot, key] : peer_keys_) keys[std::to_string(slot)] = key;
  j["peer_keys"] = keys;
  j["key_reloads"] = key_reloads_;
  return j;
}

}  // namespace bp::board
