#include "status_view.h"

#include <cstdio>
#include <sstream>

namespace bp::chassis {

using nlohmann::json;

namespace {

// The master reports each replica's lag in bytes of log.
std::map<int, int64_t> LagFromMaster(const std::map<int, BoardView>& views) {
  std::map<int, int64_t> lag;
  for (const auto& [slot, v] : views) {
    if (!v.answered || v.status.value("role", "") != "master") continue;
    lag[slot] = 0;
    for (const auto& p : v.status.value("peers", json::array())) {
      if (p.contains("lag_bytes")) lag[p.value("slot", 0)] = p["lag_bytes"].get<int64_t>();
    }
  }
  return lag;
}

std::string Health(const BoardView& v) {
  if (!v.alive) return "down";
  if (!v.answered) return "no answer";
  if (v.status.value("panicked", false)) return "panicked";
  int peers = 0, alive = 0;
  for (const auto& p : v.status.value("peers", json::array())) {
    ++peers;
    alive += p.value("alive", false) ? 1 : 0;
  }
  return "ok, " + std::to_string(alive) + "/" + std::to_string(peers) + " peers";
}

}  // namespace

json StatusRows(const std::map<int, BoardView>& views) {
  auto lag = LagFromMaster(views);
  json rows = json::array();
  for (const auto& [slot, v] : views) {
    json r = {{"slot", slot},
              {"pid", v.pid},
              {"alive", v.alive},
              {"answered", v.answered},
              {"health", Health(v)}};
    if (v.answered) {
      r["role"] = v.status.value("role", "?");
      r["master"] = v.status.value("master", -1);
      r["generation"] = v.status.value("generation", 0);
      r["in_sync"] = v.status.value("startup_complete", false) && !v.status.value("reinit", false);
      r["reinit"] = v.status.value("reinit", false);
      r["lag_bytes"] = lag.count(slot) ? json(lag[slot]) : json(nullptr);
    } else {
      r["error"] = v.error;
    }
    rows.push_back(r);
  }
  return rows;
}

std::string StatusTable(const json& rows) {
  std::ostringstream o;
  char buf[256];
  snprintf(buf, sizeof buf, "%-5s %-8s %-8s %-7s %-4s %-7s %-10s %s\n", "SLOT", "PID", "ROLE",
           "MASTER", "GEN", "IN SYNC", "LAG", "HEALTH");
  o << buf;
  for (const auto& r : rows) {
    bool ans = r["answered"].get<bool>();
    std::string lag = ans && !r["lag_bytes"].is_null()
                          ? std::to_string(r["lag_bytes"].get<int64_t>()) + " B"
                          : "-";
    snprintf(buf, sizeof buf, "%-5d %-8d %-8s %-7s %-4s %-7s %-10s %s\n", r["slot"].get<int>(),
             r["pid"].get<int>(), ans ? r["role"].get<std::string>().c_str() : "-",
             ans ? std::to_string(r["master"].get<int>()).c_str() : "-",
             ans ? std::to_string(r["generation"].get<uint32_t>()).c_str() : "-",
             ans ? (r["in_sync"].get<bool>() ? "yes" : "no") : "-", lag.c_str(),
             r["health"].get<std::string>().c_str());
    o << buf;
  }
  return o.str();
}

}  // namespace bp::chassis
