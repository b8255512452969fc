// ClientServer: the board's client endpoint, where the firmware shim (and
// the chassis tool's admin calls) reach the board. A ZeroMQ ROUTER socket
// speaking bus/schema/client.fbs: one request, one reply, matched by `seq`;
// subscribers also get RoleEvent frames pushed.
//
// Local reads are answered on the server thread (the latency floor of the
// product); writes and read-your-writes waits run on engine threads and
// their replies come back through a queue.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "board/engine.h"
#include "bp/status.h"

namespace bp::board {

class ClientServer {
 public:
  // Binds `endpoint` and starts serving `engine`.
  static Result<std::unique_ptr<ClientServer>> Start(Engine* engine, const std::string& endpoint,
                                                     std::shared_ptr<zmq::context_t> context);
  ~ClientServer();
  void Stop();
  uint64_t requests() const { return requests_.load(); }
  uint64_t malformed() const { return malformed_.load(); }

 private:
  ClientServer(Engine* engine, std::shared_ptr<zmq::context_t> context);
  Status Bind(const std::string& endpoint);
  void Loop();
  void Handle(const std::string& identity, const uint8_t* data, size_t size);
  void Enqueue(std::string identity, std::string payload);  // any thread
  void DrainOutbox();
  void OnEvent(const BoardEvent& e);

  Engine* engine_;
  std::shared_ptr<zmq::context_t> ctx_;
  struct Sockets;
  std::unique_ptr<Sockets> sockets_;
  int wake_fd_ = -1;
  std::mutex out_mu_;
  std::deque<std::pair<std::string, std::string>> outbox_;
  std::mutex subs_mu_;
  std::set<std::string> subscribers_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0}, malformed_{0};
  ThreadPool waiters_;  // read-your-writes reads that wait for txn_applied
  std::thread thread_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace bp::board
