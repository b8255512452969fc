#include "status_parse.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "errors.h"

namespace fw {
namespace {

fw_role_t RoleOf(const std::string& s) {
  if (s == "master") return FW_ROLE_MASTER;
  if (s == "replica") return FW_ROLE_REPLICA;
  return FW_ROLE_UNKNOWN;  // "starting", or a role this shim does not know
}

// Peers: how many, how many alive, and (master only) the largest lag.
void ParsePeers(const nlohmann::json& peers, fw_status_t* out) {
  out->max_lag_bytes = -1;
  if (!peers.is_array()) return;
  for (const auto& p : peers) {
    out->peers++;
    if (p.value("alive", false)) out->peers_alive++;
    if (p.contains("lag_bytes") && p["lag_bytes"].is_number()) {
      out->max_lag_bytes = std::max<int64_t>(out->max_lag_bytes, p["lag_bytes"].get<int64_t>());
    }
  }
}

}  // namespace

bool ParseStatus(const std::string& json, fw_status_t* out) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) {
    Fail(FW_ERR_PROTOCOL, "status: the board's status is not a JSON object");
    return false;
  }
  fw_status_t s{};
  s.role = RoleOf(j.value("role", std::string()));
  s.slot = j.value("slot", -1);
  s.master = j.value("master", -1);
  s.generation = j.value("generation", 0u);
  s.startup_complete = j.value("startup_complete", false) ? 1 : 0;
  s.reinit = j.value("reinit", false) ? 1 : 0;
  s.confirmed_master = j.value("confirmed_master", false) ? 1 : 0;
  if (j.contains("peers"))
    ParsePeers(j["peers"], &s);
  else
    s.max_lag_bytes = -1;
  *out = s;
  return true;
}

}  // namespace fw
