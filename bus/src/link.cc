// One sending link to a peer (see link.h).
#include "link.h"

#include <algorithm>
#include <cstring>

#include "dead_link.h"
#include "delay_line.h"

namespace bp::bus {
namespace {

// Monitor events that change the link state. CONNECTED only means the
// TCP/IPC connection exists; with ZMQ_IMMEDIATE frames flow once the ZMTP
// handshake is done, so "up" is HANDSHAKE_SUCCEEDED.
constexpr int kMonitorEvents =
    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
// Backoff cap while a peer stays away: bounds how late a restarted peer is
// noticed, while sparing the CPU a reconnect attempt every reconnect_ms.
constexpr int kReconnectMaxFactor = 8;
std::atomic<uint64_t> g_monitor_id{0};

// Frees the reference a zero-copy zmq message holds on its OutFrame bytes
// (called by ZeroMQ, on its I/O thread, when the frame has left).
void ReleaseFrameRef(void* /*data*/, void* hint) {
  delete static_cast<std::shared_ptr<const flatbuffers::DetachedBuffer>*>(hint);
}

uint64_t LinkSeed(uint64_t fault_seed, int slot) {
  // Different streams per link, the same stream per (seed, slot) every run.
  return fault_seed ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(slot + 1));
}

}  // namespace

Link::Link(SlotAddress address, uint64_t fault_seed, std::shared_ptr<AtomicCounters> totals)
    : address_(std::move(address)),
      totals_(std::move(totals)),
      rng_(LinkSeed(fault_seed, address_.slot)) {}

Link::~Link() {
  Close();
  CloseMonitor();
}

Status Link::Open(zmq::context_t& ctx, const LinkSocketOptions& opts) {
  std::lock_guard lock(mu_);
  try {
    return OpenLocked(ctx, opts);
  } catch (const zmq::error_t& e) {
    push_.close();
    monitor_.close();
    return Status::Unavailable("link to slot " + std::to_string(slot()) + " at " + endpoint() +
                               ": " + e.what());
  }
}

Status Link::OpenLocked(zmq::context_t& ctx, const LinkSocketOptions& opts) {
  push_ = zmq::socket_t(ctx, zmq::socket_type::push);
  // Fail fast with EAGAIN while unconnected rather than queue stale frames.
  push_.set(zmq::sockopt::immediate, 1);
  push_.set(zmq::sockopt::sndhwm, opts.send_queue_frames);
  push_.set(zmq::sockopt::linger, 0);
  push_.set(zmq::sockopt::reconnect_ivl, opts.reconnect_ms);
  push_.set(zmq::sockopt::reconnect_ivl_max, opts.reconnect_ms * kReconnectMaxFactor);
  if (IsTcpEndpoint(endpoint())) SetDeadLinkOptions(push_, opts.dead_link_ms);
  if (!opts.curve_keys.secret_z85.empty()) {
    push_.set(zmq::sockopt::curve_serverkey, public_key());
    push_.set(zmq::sockopt::curve_publickey, opts.curve_keys.public_z85);
    push_.set(zmq::sockopt::curve_secretkey, opts.curve_keys.secret_z85);
  }
  // The monitor must be attached before connecting, or the first handshake
  // event is lost and the link never reports up.
  std::string monitor_ep = "inproc://bp-bus-monitor-" + std::to_string(g_monitor_id++);
  if (zmq_socket_monitor(push_.handle(), monitor_ep.c_str(), kMonitorEvents) != 0) {
    throw zmq::error_t();
  }
  monitor_ = zmq::socket_t(ctx, zmq::socket_type::pair);
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(monitor_ep);
  push_.connect(endpoint());
  open_ = true;
  inproc_up_pending_.store(endpoint().starts_with("inproc://"), std::memory_order_release);
  return Status::Ok();
}

void Link::Close() {
  std::lock_guard lock(mu_);
  open_ = false;
  push_.close();
}

void Link::CloseMonitor() { monitor_.close(); }

bool Link::Send(const OutFrame& frame, int64_t now_us, DelayLine& delay) {
  std::lock_guard lock(mu_);
  if (!open_) {
    CountDrop(dropped_unconnected_);
    return false;
  }
  if (fault_.cut_out || LoseLocked()) {
    CountDrop(dropped_fault_);
    return false;
  }
  if (fault_.delay_us == 0 && delayed_frames_ == 0) return SendNowLocked(frame);
  // Never earlier than the frame before it: order holds when the delay shrinks.
  int64_t due_us = std::max(now_us + static_cast<int64_t>(fault_.delay_us), last_due_us_);
  switch (delay.Push(due_us, shared_from_this(), frame)) {
    case DelayLine::PushResult::kQueued:
      break;
    case DelayLine::PushResult::kFull:
      CountDrop(dropped_delay_full_);
      return false;
    case DelayLine::PushResult::kStopped:
      CountDrop(dropped_unconnected_);
      return false;
  }
  last_due_us_ = due_us;
  ++delayed_frames_;
  return true;
}

void Link::SendDelayed(const OutFrame& frame) {
  std::lock_guard lock(mu_);
  --delayed_frames_;
  SendNowLocked(frame);
}

void Link::DropDelayed() {
  std::lock_guard lock(mu_);
  --delayed_frames_;
  CountDrop(dropped_unconnected_);
}

bool Link::SendNowLocked(const OutFrame& frame) {
  if (!open_) {
    CountDrop(dropped_unconnected_);
    return false;
  }
  try {
    // Zero copy: the message references the shared bytes and keeps them
    // alive until ZeroMQ is done, so a broadcast shares one buffer.
    auto* ref = new std::shared_ptr<const flatbuffers::DetachedBuffer>(frame.buffer());
    zmq::message_t msg(const_cast<uint8_t*>(frame.data()), frame.size(), &ReleaseFrameRef, ref);
    if (push_.send(msg, zmq::send_flags::dontwait)) {
      sent_.fetch_add(1, std::memory_order_relaxed);
      totals_->sent.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  } catch (const zmq::error_t&) {
    // ETERM and the like: the context is going away; count it as a drop.
  }
  // EAGAIN: with ZMQ_IMMEDIATE an unconnected link has no pipe at all, so the
  // monitor's view tells "no peer" from "queue full".
  CountDrop(connected() ? dropped_full_ : dropped_unconnected_);
  return false;
}

bool Link::LoseLocked() {
  if (fault_.loss <= 0.0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < fault_.loss;
}

void Link::CountDrop(std::atomic<uint64_t>& reason) {
  reason.fetch_add(1, std::memory_order_relaxed);
  totals_->dropped.fetch_add(1, std::memory_order_relaxed);
}

void Link::SetFault(const LinkFault& fault) {
  std::lock_guard lock(mu_);
  fault_ = fault;
  fault_.loss = std::clamp(fault.loss, 0.0, 1.0);
  cut_in_.store(fault.cut_in, std::memory_order_relaxed);
}

LinkFault Link::fault() const {
  std::lock_guard lock(mu_);
  return fault_;
}

void Link::CountReceived(int64_t now_us) {
  received_.fetch_add(1, std::memory_order_relaxed);
  last_received_us_.store(now_us, std::memory_order_relaxed);
}

bool Link::ReadMonitorEvent(Event* transition) {
  *transition = Event::kNone;
  zmq::message_t head;
  zmq::message_t address;
  if (!monitor_.recv(head, zmq::recv_flags::dontwait)) return false;
  // Every event is two frames: {uint16 event, uint32 value} and the endpoint.
  if (head.more()) (void)monitor_.recv(address);
  if (head.size() < sizeof(uint16_t)) return true;
  uint16_t event = 0;
  std::memcpy(&event, head.data(), sizeof(event));
  if (event != ZMQ_EVENT_MONITOR_STOPPED) {
    *transition = Transition(event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  }
  return true;
}

Link::Event Link::Transition(bool up) {
  bool was_up = connected_.exchange(up, std::memory_order_acq_rel);
  if (was_up == up) return Event::kNone;
  return up ? Event::kUp : Event::kDown;
}

bool Link::MarkDown() { return Transition(false) == Event::kDown; }

Link::Event Link::TakeInprocUp() {
  if (!inproc_up_pending_.exchange(false, std::memory_order_acq_rel)) return Event::kNone;
  return Transition(true);
}

LinkStats Link::Stats() const {
  constexpr auto r = std::memory_order_relaxed;
  LinkStats s;
  s.slot = slot();
  s.endpoint = endpoint();
  s.connected = connected();
  s.sent = sent_.load(r);
  s.received = received_.load(r);
  s.dropped_full = dropped_full_.load(r);
  s.dropped_unconnected = dropped_unconnected_.load(r);
  s.dropped_fault = dropped_fault_.load(r);
  s.dropped_delay_full = dropped_delay_full_.load(r);
  s.last_received_us = last_received_us_.load(r);
  s.fault = fault();
  return s;
}

}  // namespace bp::bus
