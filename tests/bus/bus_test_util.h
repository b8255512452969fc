// Shared helpers of the bus tests: endpoints per transport, a recording
// handler, and bounded waits (tests poll a condition with a deadline rather
// than sleep a fixed time).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "bus/bus.h"

namespace bp::bus::testing {

constexpr uint64_t kChassis = 7;
constexpr auto kWait = std::chrono::seconds(5);

// Polls `done` every millisecond until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = kWait);

// A temporary directory (mkdtemp), removed with its contents at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (a probe socket bound
// to port 0 and closed again).
int FreeTcpPort();

enum class Transport { kInproc, kIpc, kTcp };
std::string TransportName(Transport t);

// Hands out one endpoint per slot for a transport.
class Endpoints {
 public:
  explicit Endpoints(Transport t) : transport_(t) {}
  std::string For(int slot);

 private:
  Transport transport_;
  std::unique_ptr<TempDir> dir_;
  uint64_t id_ = NextId();
  static uint64_t NextId();
};

struct Received {
  int sender = -1;
  wire::Body body = wire::Body::NONE;
  uint32_t lsn_offset = 0;
  int64_t received_us = 0;
  size_t rec_bytes = 0;
  bool bytes_ok = false;  // RepMsg bytes are those Rep() put in
};

// Records every callback; waits on them with a deadline.
class RecordingHandler : public Handler {
 public:
  void OnFrame(InFrame&& frame) override;
  void OnPeerUp(int slot) override;
  void OnPeerDown(int slot) override;

  size_t frame_count() const;
  std::vector<Received> frames() const;
  int ups(int slot) const;
  int downs(int slot) const;
  bool WaitFrames(size_t n, std::chrono::milliseconds timeout = kWait) const;
  bool WaitUps(int slot, int n, std::chrono::milliseconds timeout = kWait) const;
  bool WaitDowns(int slot, int n, std::chrono::milliseconds timeout = kWait) const;
  // Monotonic time (Clock::Real) of the latest OnPeerDown.
  int64_t last_down_us() const;

 private:
  bool Wait(const std::function<bool()>& done, std::chrono::milliseconds timeout) const;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Received> frames_;
  std::vector<int> ups_;
  std::vector<int> downs_;
  int64_t last_down_us_ = 0;
};

BusOptions Options(int self, const std::string& endpoint, std::vector<SlotAddress> peers,
                   std::shared_ptr<zmq::context_t> ctx);
// A RepMsg whose lsn_offset carries a sequence number.
OutFrame Rep(int sender, uint32_t seq, size_t rec_bytes = 64);

// N buses, slots 1..N, every one a peer of every other, all started.
struct Mesh {
  Mesh(Transport t, int n, std::function<void(BusOptions&)> tweak = nullptr);
  ~Mesh();
  // Waits until every link of every bus is connected.
  bool WaitConnected() const;
  Bus& bus(int slot) { return *buses[slot - 1]; }
  RecordingHandler& handler(int slot) { return *handlers[slot - 1]; }

  std::shared_ptr<zmq::context_t> ctx = std::make_shared<zmq::context_t>(1);
  Endpoints endpoints;
  std::vector<std::unique_ptr<RecordingHandler>> handlers;
  std::vector<std::unique_ptr<Bus>> buses;
};

}  // namespace bp::bus::testing
