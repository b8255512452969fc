// Prometheus metrics of a board (README "Metrics").
//
// StatusToPrometheus renders one status JSON (Engine::StatusJson plus the
// client endpoint's sections, ClientServer::StatusJson) as Prometheus text
// exposition format 0.0.4: HELP and TYPE lines, names prefixed backplane_,
// counters ending _total, times in seconds and sizes in bytes. A field the
// status lacks (an older board, rep_stat failed, a replica has no lag) is
// left out, never rendered as a made-up 0.
//
// Pure functions of their arguments; any thread, no lock. MetricsServer
// (metrics_server.h) calls StatusToPrometheus on its HTTP worker thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace bp::board {

// Facts the status JSON does not carry, added by the caller.
struct MetricsContext {
  double scrape_status_seconds = -1;  // how long building the status took (<0: unknown)
};

std::string StatusToPrometheus(const nlohmann::json& status, const MetricsContext& ctx = {});

}  // namespace bp::board
