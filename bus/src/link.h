// One sending link to a peer: its PUSH socket, the monitor that reports the
// connection state, the emulated faults and the per-link figures.
//
// Threads: Send/SendDelayed/SetFault/Close may run on any thread (the PUSH
// socket is only touched under mu_). The monitor socket belongs to the
// receive thread once the link is published (ReadMonitorEvents, CloseMonitor).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <zmq.hpp>

#include "bus/bus.h"
#include "counters.h"

namespace bp::bus {

class DelayLine;

// Socket settings every link of a bus shares (from BusOptions).
struct LinkSocketOptions {
  int send_queue_frames = 0;
  int reconnect_ms = 0;
  int dead_link_ms = 0;  // tcp:// only (dead_link.h); 0 = off
  // Non-empty with BusSecurity::kCurve: this board's key pair; the link is
  // then a CURVE client with the peer's public_key as the server key.
  CurveKeyPair curve_keys;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  enum class Event { kNone, kUp, kDown };

  Link(SlotAddress address, uint64_t fault_seed, std::shared_ptr<AtomicCounters> totals);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Creates the PUSH socket and its monitor and starts connecting. Errors
  // name the endpoint.
  Status Open(zmq::context_t& ctx, const LinkSocketOptions& opts);
  // Closes the PUSH socket: later sends drop (counted dropped_unconnected).
  void Close();

  // Sends now, or through `delay` when a delay is set or frames are still
  // waiting there (so frames never overtake each other). Returns false when
  // the frame was dropped (reason counted).
  bool Send(const OutFrame& frame, int64_t now_us, DelayLine& delay);
  // Called by the delay line when a delayed frame is due.
  void SendDelayed(const OutFrame& frame);
  // Called by the delay line for a frame it discards at shutdown.
  void DropDelayed();

  void SetFault(const LinkFault& fault);
  bool cut_in() const { return cut_in_.load(std::memory_order_relaxed); }
  void CountReceived(int64_t now_us);

  // Receive thread only. Reads one pending monitor event (returns false when
  // there is none) and sets the connection transition it caused (kNone when
  // the state did not change, so each transition is reported once).
  bool ReadMonitorEvent(Event* transition);
  // Receive thread only: marks the link down (returns true if it was up).
  bool MarkDown();
  // Receive thread only. inproc:// has no connection handshake and ZeroMQ
  // emits no monitor event for it: such a link counts as up once opened and
  // this reports that (kUp) once. Never reported down (inproc does not
  // reconnect either); inproc is for tests within one process.
  Event TakeInprocUp();
  void CloseMonitor();
  zmq::socket_t& monitor() { return monitor_; }

  int slot() const { return address_.slot; }
  const std::string& endpoint() const { return address_.endpoint; }
  const std::string& public_key() const { return address_.public_key; }
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  LinkFault fault() const;
  LinkStats Stats() const;

 private:
  Status OpenLocked(zmq::context_t& ctx, const LinkSocketOptions& opts);
  bool SendNowLocked(const OutFrame& frame);
  bool LoseLocked();
  void CountDrop(std::atomic<uint64_t>& reason);
  Event Transition(bool up);

  const SlotAddress address_;
  const std::shared_ptr<AtomicCounters> totals_;

  mutable std::mutex mu_;
  zmq::socket_t push_;           // guarded by mu_
  bool open_ = false;            // guarded by mu_: push_ connected and not closed
  LinkFault fault_;              // guarded by mu_
  std::mt19937_64 rng_;          // guarded by mu_
  int64_t last_due_us_ = 0;      // guarded by mu_: due time of the newest delayed frame
  uint64_t delayed_frames_ = 0;  // guarded by mu_: frames waiting in the delay line

  zmq::socket_t monitor_;  // receive thread (after Open)

  std::atomic<bool> connected_{false};
  std::atomic<bool> inproc_up_pending_{false};
  std::atomic<bool> cut_in_{false};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> dropped_full_{0};
  std::atomic<uint64_t> dropped_unconnected_{0};
  std::atomic<uint64_t> dropped_fault_{0};
  std::atomic<uint64_t> dropped_delay_full_{0};
  std::atomic<int64_t> last_received_us_{0};
};

}  // namespace bp::bus
