// MetricsServer: a board's Prometheus endpoint. Serves GET /metrics over
// HTTP/1.1 (cpp-httplib) on the slot's metrics_endpoint (README "Metrics"),
// rendering a fresh status JSON with StatusToPrometheus (metrics.h) on
// every scrape.
//
// Who calls it: main.cc, on the main thread. Bind runs before the engine
// starts (a port in use fails the board's start, naming the key, before it
// joins the chassis); Serve after the engine and the client endpoint are
// up; Stop before the client endpoint and Engine::Stop (the status source
// reads both). No method is called concurrently with another.
//
// Threads: two, both owned here. The listener accepts connections and
// hands each to the worker through a queue of kQueuedConnections (when it
// is full the listener stops accepting and the kernel's backlog holds the
// rest); the worker answers one connection at a time and calls the status
// source, holding no lock of this class. A connection serves one request
// (no keep-alive, so an idle client cannot hold the worker), and waits at
// most kIoTimeoutSeconds for each read or write. Requests: a body of at
// most kMaxBodyBytes; the request line and headers at most 8 KiB each
// (cpp-httplib's compiled-in CPPHTTPLIB_REQUEST_URI_MAX_LENGTH and
// CPPHTTPLIB_HEADER_MAX_LENGTH).
//
// Can a scrape block on Berkeley DB? A scrape does what a "status" admin
// request does (ClientServer::StatusJson -> Engine::StatusJson): rep_stat
// everywhere, which takes the replication region's mutex for a moment and
// does not wait for the operation lockout; and, only while the board is
// master (memenv's checkpoint gate), log_stat and txn_stat, which Berkeley
// DB wraps in its replication API entry (REPLICATION_WRAP): those wait
// while a rep_start has the API locked out. A master's own rep_start
// (stepping down) flips the gate first, so only a scrape racing the
// step-down can wait, for as long as that rep_start (the role machine
// drains its gates for at most 500 ms each). Memory figures come from the
// gauge thread's cache (no memp reads here). A slow status shows as
// backplane_scrape_status_seconds; it delays scrapes only (one worker),
// never the engine's threads.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "board/config.h"
#include "bp/status.h"

namespace bp::board {

class MetricsServer {
 public:
  using StatusSource = std::function<nlohmann::json()>;

  static constexpr size_t kQueuedConnections = 4;
  static constexpr int kIoTimeoutSeconds = 2;
  static constexpr size_t kMaxBodyBytes = 4096;

  // Binds metrics_endpoint `value` (ParseMetricsEndpoint form; not "") for
  // `slot`'s board. Errors name the key, the endpoint and the fix.
  static Result<std::unique_ptr<MetricsServer>> Bind(const std::string& value, int slot);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Starts the two threads; every scrape calls `source` on the worker.
  void Serve(StatusSource source);
  // Closes the listening socket and joins both threads: returns once the
  // request being answered (if any) and the queued connections are done,
  // each bounded by kIoTimeoutSeconds. Idempotent.
  void Stop();
  int port() const { return port_; }

 private:
  class Http;
  MetricsServer();
  void Handle(const std::string& path, std::string* body, int* status) const;

  std::unique_ptr<Http> http_;
  StatusSource source_;  // set by Serve, read by the worker only after
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  int port_ = 0;
  int slot_ = 0;
};

}  // namespace bp::board
