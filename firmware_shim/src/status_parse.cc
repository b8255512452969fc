#include "status_parse.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "errors.h"

namespace fw {
namespace {

using nlohmann::json;

fw_role_t RoleOf(const std::string& s) {
  if (s == "master") return FW_ROLE_MASTER;
  if (s == "replica") return FW_ROLE_REPLICA;
  return FW_ROLE_UNKNOWN;  // "starting", or a role this shim does not know
}

// Typed readers of an object's member: a missing member keeps *out; one of
// another type (or out of range) is a protocol error naming the key. Never
// json::value / get on an unchecked type: those throw, and a float beyond
// the integer's range converts with undefined behaviour (found by
// fuzz_shim_reply).
bool ReadBool(const json& o, const char* key, bool* out) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->is_boolean()) return false;
  *out = it->get<bool>();
  return true;
}

bool ReadInt(const json& o, const char* key, int64_t lo, int64_t hi, int64_t* out) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (it->is_number_unsigned()) {
    if (it->get<uint64_t>() > uint64_t(hi)) return false;
    *out = int64_t(it->get<uint64_t>());
    return true;
  }
  if (!it->is_number_integer()) return false;
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool ReadString(const json& o, const char* key, std::string* out) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

bool Bad(const std::string& key) {
  Fail(FW_ERR_PROTOCOL, "status: '" + key + "' in the board's status is not of the expected type; is the "
                        "board a version this shim supports?");
  return false;
}

// Peers: how many, how many alive, and (master only) the largest lag.
bool ParsePeers(const json& peers, fw_status_t* out) {
  out->max_lag_bytes = -1;
  if (!peers.is_array()) return true;
  for (const auto& p : peers) {
    if (!p.is_object()) return Bad("peers");
    bool alive = false;
    int64_t lag = -1;
    if (!ReadBool(p, "alive", &alive)) return Bad("peers.alive");
    if (!ReadInt(p, "lag_bytes", INT64_MIN, INT64_MAX, &lag)) return Bad("peers.lag_bytes");
    out->peers++;
    if (alive) out->peers_alive++;
    out->max_lag_bytes = std::max(out->max_lag_bytes, lag);
  }
  return true;
}

}  // namespace

bool ParseStatus(const std::string& text, fw_status_t* out) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) {
    Fail(FW_ERR_PROTOCOL, "status: the board's status is not a JSON object");
    return false;
  }
  fw_status_t s{};
  std::string role;
  int64_t slot = -1, master = -1, generation = 0;
  bool startup = false, reinit = false, confirmed = false;
  if (!ReadString(j, "role", &role)) return Bad("role");
  if (!ReadInt(j, "slot", INT32_MIN, INT32_MAX, &slot)) return Bad("slot");
  if (!ReadInt(j, "master", INT32_MIN, INT32_MAX, &master)) return Bad("master");
  if (!ReadInt(j, "generation", 0, UINT32_MAX, &generation)) return Bad("generation");
  if (!ReadBool(j, "startup_complete", &startup)) return Bad("startup_complete");
  if (!ReadBool(j, "reinit", &reinit)) return Bad("reinit");
  if (!ReadBool(j, "confirmed_master", &confirmed)) return Bad("confirmed_master");
  s.role = RoleOf(role);
  s.slot = int32_t(slot);
  s.master = int32_t(master);
  s.generation = uint32_t(generation);
  s.startup_complete = startup ? 1 : 0;
  s.reinit = reinit ? 1 : 0;
  s.confirmed_master = confirmed ? 1 : 0;
  s.max_lag_bytes = -1;
  if (j.contains("peers") && !ParsePeers(j["peers"], &s)) return false;
  *out = s;
  return true;
}

}  // namespace fw
