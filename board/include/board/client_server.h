// ClientServer: the board's client endpoint, where the firmware shim (and
// the chassis tool's admin calls) reach the board. A ZeroMQ ROUTER socket
// speaking bus/schema/client.fbs: one request, one reply, matched by `seq`;
// subscribers also get RoleEvent frames pushed.
//
// Local reads on a master are answered on the server thread (the latency
// floor of the product). The server thread never calls into Berkeley DB on
// a replica (a replica's internal init locks the API out for the whole
// init): its reads run on the reader pool, and are refused at once while it
// is not in sync. Writes and read-your-writes waits run on engine threads;
// every reply comes back through the bounded outbox.
//
// Bounds (status "queues"): the outbox (client_send_queue_limit /
// client_send_queue_mb), each client's ZeroMQ pipe (kClientPipeHwm), the
// request size (ZMQ_MAXMSGSIZE = MaxClientRequestBytes), the subscribers
// (max_subscribers; one whose connection is gone is pruned on the next
// push, and ZeroMQ heartbeats close connections of peers that vanished),
// and the reader and waiter pools (kReadQueueLimit each).
//
// Access (board/client_security.h, status "client_security"): an ipc://
// socket file gets client_socket_group / client_socket_mode before anyone
// but the owner can connect; a tcp:// endpoint with security = "curve" is a
// CURVE server admitting client_public_keys only (ZAP domain "client"), its
// refused handshakes counted from the router's monitor on the server thread.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "board/engine.h"
#include "board/latency_histogram.h"
#include "bp/status.h"
#include "bus/curve.h"

namespace bp::wire {
struct ClientRequest;
}
namespace bp::bus {
class ZapAuthenticator;
}

namespace bp::board {

// How a tcp:// client endpoint is secured (board/client_security.h).
struct ClientCurveOptions {
  bool curve = false;             // security = "curve": CURVE server + ZAP
  bus::CurveKeyPair server_keys;  // the board's own pair (its secret_key_file)
};

class ClientServer {
 public:
  // Binds `endpoint` and starts serving `engine`. With curve, a tcp://
  // endpoint is a CURVE server that admits config.client_public_keys only
  // (a ZapAuthenticator on `context`, which must then have no other).
  static Result<std::unique_ptr<ClientServer>> Start(Engine* engine, const std::string& endpoint,
                                                     std::shared_ptr<zmq::context_t> context,
                                                     ClientCurveOptions curve = {});
  ~ClientServer();
  void Stop();
  uint64_t requests() const { return requests_.load(); }
  uint64_t malformed() const { return malformed_.load(); }
  // The engine's status plus this endpoint's sections: queues client_send,
  // subscribers, replica_reads, waiting_reads; client_security; and
  // client_writes (the latency of writes from request to reply). Any
  // thread: the server thread (status and admin requests) and the metrics
  // endpoint's worker (metrics_server.h).
  nlohmann::json StatusJson();

  // Fixed bounds a user does not reach (README "Bounds").
  static constexpr int kClientPipeHwm = 10000;       // replies queued in ZeroMQ per client
  static constexpr size_t kReadQueueLimit = 10000;   // reads waiting for a reader / waiter
  static constexpr int kHeartbeatIvlMs = 1000;       // ZeroMQ PING to every client
  static constexpr int kHeartbeatTimeoutMs = 10000;  // no answer: the connection is closed

 private:
  ClientServer(Engine* engine, std::shared_ptr<zmq::context_t> context);
  Status Bind(const std::string& endpoint);
  // An ipc:// endpoint with a socket file: owner-only at bind, then
  // client_socket_group / client_socket_mode (board/client_security.h).
  Status BindIpc(const std::string& endpoint);
  // tcp:// with curve: CURVE server options and the ZAP table of client keys.
  Status SecureTcp(const std::string& endpoint);
  nlohmann::json SecurityJson() const;  // status "client_security"
  void OnMonitorEvent();
  void Loop();
  void Handle(const std::string& identity, const uint8_t* data, size_t size);
  // Any thread. False when the outbox is full (the reply is dropped and
  // counted; the client times out and retries).
  bool Enqueue(std::string identity, std::string payload);
  void DrainOutbox();
  void SendOne(const std::string& identity, const std::string& payload);
  void OnEvent(const BoardEvent& e);
  void HandleGet(const std::string& identity, uint64_t seq, const wire::ClientRequest* req);
  void HandleScan(const std::string& identity, uint64_t seq, const wire::ClientRequest* req);
  void HandleSubscribe(const std::string& identity, uint64_t seq, bool subscribe);
  // Runs `read` on `pool`, or replies Busy when its queue is full.
  void Offload(ThreadPool& pool, const char* what, const std::string& identity, uint64_t seq,
               std::function<void()> read);

  Engine* engine_;
  std::shared_ptr<zmq::context_t> ctx_;
  struct Sockets;
  std::unique_ptr<Sockets> sockets_;
  int wake_fd_ = -1;
  std::mutex out_mu_;
  std::deque<std::pair<std::string, std::string>> outbox_;  // guarded by out_mu_
  size_t outbox_bytes_ = 0, outbox_peak_ = 0;                // guarded by out_mu_
  uint64_t outbox_refused_ = 0;                              // guarded by out_mu_
  // Server thread: replies ZeroMQ refused (the client's pipe was full, or
  // the client was gone).
  std::atomic<uint64_t> send_pipe_full_{0}, send_unreachable_{0};
  std::mutex subs_mu_;
  std::set<std::string> subscribers_;  // guarded by subs_mu_
  uint64_t subs_refused_ = 0, subs_pruned_ = 0;  // guarded by subs_mu_
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0}, malformed_{0};
  // Writes answered OK, from the request's arrival to its reply (commit and
  // acks on the master, plus forwarding on a replica). Shared with the
  // completions, which run on engine threads.
  std::shared_ptr<LatencyHistogram> write_latency_ = std::make_shared<LatencyHistogram>();
  // Reads that may wait (txn_applied, a LINEARIZABLE ack wait, leases).
  ThreadPool waiters_{QueueLimits{kReadQueueLimit, SIZE_MAX}};
  // A replica's LOCAL reads and scans (never on the server thread).
  ThreadPool readers_{QueueLimits{kReadQueueLimit, SIZE_MAX}};
  std::thread thread_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  nlohmann::json security_;  // set by Bind, read-only after (status "client_security")
  ClientCurveOptions curve_;
  std::unique_ptr<bus::ZapAuthenticator> zap_;  // tcp:// with curve only
  // Server thread: the router's CURVE handshakes (tcp:// with curve).
  std::atomic<uint64_t> handshakes_ok_{0}, handshakes_refused_key_{0}, handshakes_refused_other_{0};
};

}  // namespace bp::board
