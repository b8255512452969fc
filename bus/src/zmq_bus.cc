// The ZeroMQ bus: lifecycle, the send fan-out and the receive thread.
//
// Threads and locks (acquired in this order, never the reverse):
//   admin_mu_   serializes Start / Stop / AddPeer / RemovePeer;
//   links_mu_   shared by senders and the receive thread to find a link,
//               exclusive only to publish or retire one;
//   Link::mu_   guards one PUSH socket (sends, delayed sends, close);
//   DelayLine::mu_.
// The PULL socket and the monitor sockets belong to the receive thread; other
// threads ask it to re-read the link table through links_changed_ + wake_fd_.
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bus/bus.h"
#include "counters.h"
#include "dead_link.h"
#include "delay_line.h"
#include "in_frame_storage.h"
#include "link.h"
#include "options_check.h"

namespace bp::bus {
namespace {

// Per-sender receive queue. Large so bursts from a peer are absorbed here
// rather than refused at the sender (where they would drop as "full").
constexpr int kInboxHwmFrames = 100'000;
// Largest frame accepted (bus::kMaxFrameBytes, frames.h): a 1 MB bulk
// buffer or page plus its envelope, with room to spare. A bigger message is
// garbage and ZeroMQ drops the connection.
// Frames delivered per poll round before the monitors are looked at again.
constexpr int kMaxFramesPerRound = 1024;
// Index of the fixed entries of the receive thread's poll set.
constexpr size_t kInboxItem = 0;
constexpr size_t kWakeItem = 1;
constexpr size_t kInboxMonitorItem = 2;
constexpr size_t kFirstMonitorItem = 3;
// Handshakes refused on the inbox (wrong mechanism, bad key, ZAP refusal).
constexpr int kInboxMonitorEvents = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
std::atomic<uint64_t> g_inbox_monitor_id{0};

}  // namespace

class BusImpl final : public Bus {
 public:
  explicit BusImpl(BusOptions options);
  ~BusImpl() override;

  Status Start(Handler* handler) override;
  void Stop() override;
  bool Send(int slot, const OutFrame& frame) override;
  Status AddPeer(const SlotAddress& peer) override;
  Status RemovePeer(int slot) override;
  Status SetLinkFault(int slot, const LinkFault& fault) override;
  bool IsConnected(int slot) const override;
  std::vector<LinkStats> Links() const override;
  BusCounters Counters() const override {
    BusCounters c = totals_->Snapshot();
    const DelayLine::Stats d = delay_.GetStats();
    c.delay_line_depth = d.depth;
    c.delay_line_bytes = d.bytes;
    c.delay_line_peak = d.peak;
    c.delay_line_refused = d.refused;
    return c;
  }
  const BusOptions& options() const override { return options_; }
  ZapAuthenticator::Stats ZapStats() const override {
    return zap_ == nullptr ? ZapAuthenticator::Stats{} : zap_->GetStats();
  }

 private:
  enum class State { kCreated, kRunning, kStopped };
  struct PollSet {
    std::vector<zmq::pollitem_t> items;
    std::vector<std::shared_ptr<Link>> links;  // links[i] polls items[kFirstMonitorItem + i]
  };

  std::shared_ptr<Link> NewLink(const SlotAddress& address) const;
  std::shared_ptr<Link> FindLink(int slot) const;
  std::vector<std::shared_ptr<Link>> AllLinks() const;
  void Publish(std::shared_ptr<Link> link, std::shared_ptr<Link> replaced);
  Status OpenSockets();
  Status OpenInbox();
  Status StartZap();
  Status UpdateZapTable();
  bool curve() const { return options_.security == BusSecurity::kCurve; }
  void CloseSockets();
  void Wake();

  // Receive thread.
  void ReceiveLoop();
  void RebuildPollSet(PollSet* set);
  bool Poll(PollSet* set);
  void DrainWakeFd();
  void DrainInbox();
  void Deliver(zmq::message_t&& msg);
  bool Authenticated(const zmq::message_t& msg, int sender);
  void RebindInbox();
  void CountReject(Reject why);
  void ReadMonitor(Link& link);
  void ReadInboxMonitor();
  void CloseReceiverSockets(PollSet* set);

  const BusOptions options_;  // as given to Create (context filled in)
  const LinkSocketOptions link_options_;
  const std::shared_ptr<AtomicCounters> totals_ = std::make_shared<AtomicCounters>();
  DelayLine delay_;

  std::mutex admin_mu_;
  State state_ = State::kCreated;  // guarded by admin_mu_
  std::atomic<bool> running_{false};

  mutable std::shared_mutex links_mu_;
  std::map<int, std::shared_ptr<Link>> links_;  // guarded by links_mu_
  // Removed links whose monitors the receive thread still has to close.
  std::vector<std::shared_ptr<Link>> retired_;  // guarded by links_mu_

  Handler* handler_ = nullptr;  // set by Start, before the receive thread exists
  zmq::socket_t inbox_;         // PULL at self_endpoint; the receive thread's after Start
  zmq::socket_t inbox_monitor_;  // its handshake failures; the receive thread's after Start
  std::string bound_endpoint_;  // inbox_'s last_endpoint (for unbind); receive thread
  // kCurve: the context's ZAP handler (ours, or BusOptions::zap); set by Start.
  std::shared_ptr<ZapAuthenticator> zap_;
  // A peer's key changed: the receive thread re-binds the inbox so every
  // incoming connection authenticates again (and one made with the old key
  // is cut).
  std::atomic<bool> rebind_requested_{false};
  int wake_fd_ = -1;
  std::atomic<bool> links_changed_{false};
  std::atomic<bool> stop_requested_{false};
  std::thread receiver_;
};

// ---- Creation and lifecycle ------------------------------------------------

const char* BusSecurityName(BusSecurity mode) {
  return mode == BusSecurity::kCurve ? "curve" : "none";
}

Result<std::unique_ptr<Bus>> Bus::Create(BusOptions options) {
  BP_RETURN_IF_ERROR(CheckOptions(options));
  if (options.context == nullptr) options.context = std::make_shared<zmq::context_t>(1);
  return std::unique_ptr<Bus>(new BusImpl(std::move(options)));
}

BusImpl::BusImpl(BusOptions options)
    : options_(std::move(options)),
      link_options_{options_.send_queue_frames, options_.reconnect_ms, options_.dead_link_ms,
                    options_.security == BusSecurity::kCurve ? options_.keys : CurveKeyPair{}},
      delay_(options_.clock, options_.delay_line_frames, options_.delay_line_bytes) {
  for (const SlotAddress& peer : options_.peers) links_[peer.slot] = NewLink(peer);
}

BusImpl::~BusImpl() {
  Stop();
  // Stop skips the join when called from a handler; the thread is gone or
  // about to be once the callback returns.
  if (receiver_.joinable()) receiver_.join();
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status BusImpl::Start(Handler* handler) {
  if (handler == nullptr) return Status::InvalidArgument("Bus::Start: handler is null");
  std::lock_guard admin(admin_mu_);
  if (state_ != State::kCreated) {
    return Status::FailedPrecondition("Bus::Start: already started or stopped; create a new Bus");
  }
  handler_ = handler;
  if (curve()) BP_RETURN_IF_ERROR(StartZap());
  if (Status s = OpenSockets(); !s.ok()) {
    CloseSockets();
    return s;
  }
  state_ = State::kRunning;
  running_.store(true, std::memory_order_release);
  receiver_ = std::thread([this] { ReceiveLoop(); });
  return Status::Ok();
}

Status BusImpl::OpenSockets() {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Status::Internal("Bus::Start: eventfd failed");
  try {
    inbox_ = zmq::socket_t(*options_.context, zmq::socket_type::pull);
    inbox_.set(zmq::sockopt::rcvhwm, kInboxHwmFrames);
    inbox_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
    inbox_.set(zmq::sockopt::linger, 0);
    if (IsTcpEndpoint(options_.self_endpoint)) SetDeadLinkOptions(inbox_, options_.dead_link_ms);
    if (curve()) {
      inbox_.set(zmq::sockopt::curve_server, 1);
      inbox_.set(zmq::sockopt::curve_secretkey, options_.keys.secret_z85);
      inbox_.set(zmq::sockopt::zap_domain, options_.zap_domain);
    }
    std::string monitor_ep = "inproc://bp-bus-inbox-monitor-" + std::to_string(g_inbox_monitor_id++);
    if (zmq_socket_monitor(inbox_.handle(), monitor_ep.c_str(), kInboxMonitorEvents) != 0) {
      throw zmq::error_t();
    }
    inbox_monitor_ = zmq::socket_t(*options_.context, zmq::socket_type::pair);
    inbox_monitor_.set(zmq::sockopt::linger, 0);
    inbox_monitor_.connect(monitor_ep);
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("Bus::Start: cannot set up the receiving socket: ") +
                            e.what());
  }
  BP_RETURN_IF_ERROR(OpenInbox());
  for (const auto& link : AllLinks())
    BP_RETURN_IF_ERROR(link->Open(*options_.context, link_options_));
  return Status::Ok();
}

Status BusImpl::OpenInbox() {
  try {
    inbox_.bind(options_.self_endpoint);
    bound_endpoint_ = inbox_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("slot " + std::to_string(options_.self_slot) + " cannot bind " +
                               options_.self_endpoint + ": " + e.what() +
                               " (another process holds it, or the directory does not exist)");
  }
  return Status::Ok();
}

Status BusImpl::StartZap() {
  zap_ = options_.zap;
  if (zap_ == nullptr) {
    auto started = ZapAuthenticator::Start(*options_.context);
    if (!started.ok()) return started.status().WithContext("Bus::Start (security curve)");
    zap_ = std::move(started).value();
  }
  return UpdateZapTable();
}

// The ZAP table of our domain: every peer's public key -> its slot number.
// Called under admin_mu_ whenever the peers change.
Status BusImpl::UpdateZapTable() {
  if (zap_ == nullptr) return Status::Ok();
  std::map<std::string, std::string> table;
  for (const auto& link : AllLinks()) table[link->public_key()] = std::to_string(link->slot());
  return zap_->SetDomain(options_.zap_domain, table);
}

void BusImpl::CloseSockets() {
  inbox_monitor_.close();
  inbox_.close();
  for (const auto& link : AllLinks()) {
    link->Close();
    link->CloseMonitor();
  }
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

void BusImpl::Stop() {
  std::lock_guard admin(admin_mu_);
  if (state_ == State::kStopped) return;
  bool was_running = state_ == State::kRunning;
  state_ = State::kStopped;
  running_.store(false, std::memory_order_release);
  // Before closing the links: the receive thread must not report the
  // closing links as peers going down.
  stop_requested_.store(true, std::memory_order_release);
  // Closing under each link's mutex makes racing senders see a closed link
  // (they return false) instead of a dead socket.
  for (const auto& link : AllLinks()) link->Close();
  delay_.Stop();
  // A shared handler keeps serving its other sockets; our domain goes dark.
  if (zap_ != nullptr) (void)zap_->SetDomain(options_.zap_domain, {});
  if (!was_running) return;
  Wake();
  if (receiver_.get_id() != std::this_thread::get_id()) receiver_.join();
}

// ---- Peers, faults and figures ----------------------------------------------

std::shared_ptr<Link> BusImpl::NewLink(const SlotAddress& address) const {
  return std::make_shared<Link>(address, options_.fault_seed, totals_);
}

std::shared_ptr<Link> BusImpl::FindLink(int slot) const {
  std::shared_lock lock(links_mu_);
  auto it = links_.find(slot);
  return it == links_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Link>> BusImpl::AllLinks() const {
  std::shared_lock lock(links_mu_);
  std::vector<std::shared_ptr<Link>> all;
  all.reserve(links_.size());
  for (const auto& [slot, link] : links_) all.push_back(link);
  return all;
}

void BusImpl::Publish(std::shared_ptr<Link> link, std::shared_ptr<Link> replaced) {
  {
    std::unique_lock lock(links_mu_);
    if (link != nullptr) links_[link->slot()] = link;
    if (replaced != nullptr) retired_.push_back(replaced);
  }
  if (replaced != nullptr) replaced->Close();
  links_changed_.store(true, std::memory_order_release);
  Wake();
}

Status BusImpl::AddPeer(const SlotAddress& peer) {
  std::lock_guard admin(admin_mu_);
  if (state_ == State::kStopped) return Status::FailedPrecondition("Bus::AddPeer: bus stopped");
  std::vector<SlotAddress> current;
  for (const auto& link : AllLinks()) {
    current.push_back({link->slot(), link->endpoint(), link->public_key()});
  }
  BP_RETURN_IF_ERROR(CheckNewPeer(options_, current, peer));
  std::shared_ptr<Link> old = FindLink(peer.slot);
  const bool rekeyed = old != nullptr && curve() && old->public_key() != peer.public_key;
  if (old != nullptr && old->endpoint() == peer.endpoint && !rekeyed) return Status::Ok();
  std::shared_ptr<Link> link = NewLink(peer);
  if (old != nullptr) link->SetFault(old->fault());  // a drill's faults survive a move
  if (state_ == State::kRunning) BP_RETURN_IF_ERROR(link->Open(*options_.context, link_options_));
  Publish(std::move(link), std::move(old));
  BP_RETURN_IF_ERROR(UpdateZapTable());
  if (rekeyed && state_ == State::kRunning) {
    rebind_requested_.store(true, std::memory_order_release);
    Wake();
  }
  return Status::Ok();
}

Status BusImpl::RemovePeer(int slot) {
  std::lock_guard admin(admin_mu_);
  std::shared_ptr<Link> old;
  {
    std::unique_lock lock(links_mu_);
    auto it = links_.find(slot);
    if (it == links_.end()) {
      return Status::NotFound("Bus::RemovePeer: slot " + std::to_string(slot) + " is not a peer");
    }
    old = it->second;
    links_.erase(it);
  }
  Publish(nullptr, std::move(old));
  return UpdateZapTable();
}

Status BusImpl::SetLinkFault(int slot, const LinkFault& fault) {
  if (!(fault.loss >= 0.0 && fault.loss <= 1.0)) {
    return Status::InvalidArgument("LinkFault::loss must be within [0, 1]");
  }
  std::shared_ptr<Link> link = FindLink(slot);
  if (link == nullptr) {
    return Status::NotFound("Bus::SetLinkFault: slot " + std::to_string(slot) + " is not a peer");
  }
  link->SetFault(fault);
  return Status::Ok();
}

bool BusImpl::IsConnected(int slot) const {
  std::shared_ptr<Link> link = FindLink(slot);
  return link != nullptr && link->connected();
}

std::vector<LinkStats> BusImpl::Links() const {
  std::vector<LinkStats> stats;
  for (const auto& link : AllLinks()) stats.push_back(link->Stats());
  return stats;
}

// ---- Send path ---------------------------------------------------------------

// Runs on the caller's thread (often a committing one): no allocation beyond
// the zmq message, no thread hop unless the link has an emulated delay.
bool BusImpl::Send(int slot, const OutFrame& frame) {
  if (!running_.load(std::memory_order_acquire) || frame.size() == 0) return false;
  int64_t now_us = options_.clock->NowMicros();
  std::shared_lock lock(links_mu_);
  if (slot != kBroadcast) {
    auto it = links_.find(slot);
    return it != links_.end() && it->second->Send(frame, now_us, delay_);
  }
  bool any = false;
  for (const auto& [peer, link] : links_) any = link->Send(frame, now_us, delay_) || any;
  return any;
}

void BusImpl::Wake() {
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
}

// ---- Receive thread ----------------------------------------------------------

void BusImpl::ReceiveLoop() {
  PollSet set;
  RebuildPollSet(&set);
  while (!stop_requested_.load(std::memory_order_acquire)) {
    if (rebind_requested_.exchange(false, std::memory_order_acq_rel)) RebindInbox();
    if (links_changed_.exchange(false, std::memory_order_acq_rel)) RebuildPollSet(&set);
    if (!Poll(&set)) break;
    if (set.items[kWakeItem].revents & ZMQ_POLLIN) DrainWakeFd();
    if (set.items[kInboxItem].revents & ZMQ_POLLIN) DrainInbox();
    if (set.items[kInboxMonitorItem].revents & ZMQ_POLLIN) ReadInboxMonitor();
    for (size_t i = 0; i < set.links.size(); ++i) {
      if (set.items[kFirstMonitorItem + i].revents & ZMQ_POLLIN) ReadMonitor(*set.links[i]);
    }
  }
  CloseReceiverSockets(&set);
}

// Re-reads the link table: polls the monitors of current links, reports
// removed links that were up as down, and closes their monitors.
void BusImpl::RebuildPollSet(PollSet* set) {
  std::vector<std::shared_ptr<Link>> retired;
  {
    std::unique_lock lock(links_mu_);
    retired.swap(retired_);
    set->links.clear();
    for (const auto& [slot, link] : links_) set->links.push_back(link);
  }
  for (const auto& link : retired) {
    if (link->MarkDown()) handler_->OnPeerDown(link->slot());
    link->CloseMonitor();
  }
  for (const auto& link : set->links) {
    if (link->TakeInprocUp() == Link::Event::kUp) handler_->OnPeerUp(link->slot());
  }
  set->items.clear();
  set->items.push_back({inbox_.handle(), 0, ZMQ_POLLIN, 0});
  set->items.push_back({nullptr, wake_fd_, ZMQ_POLLIN, 0});
  set->items.push_back({inbox_monitor_.handle(), 0, ZMQ_POLLIN, 0});
  for (const auto& link : set->links) {
    set->items.push_back({link->monitor().handle(), 0, ZMQ_POLLIN, 0});
  }
}

bool BusImpl::Poll(PollSet* set) {
  try {
    zmq::poll(set->items.data(), set->items.size(), std::chrono::milliseconds(-1));
    return true;
  } catch (const zmq::error_t& e) {
    // EINTR: a signal; poll again. Anything else (ETERM): the context is gone.
    for (auto& item : set->items) item.revents = 0;
    return e.num() == EINTR;
  }
}

// Receive thread. Unbinding closes the listener and every connection it
// accepted; peers reconnect within reconnect_ms and pass ZAP again. A failed
// bind is retried on the next round (Wake keeps it coming).
void BusImpl::RebindInbox() {
  try {
    if (!bound_endpoint_.empty()) inbox_.unbind(bound_endpoint_);
  } catch (const zmq::error_t&) {
    // Already unbound by an earlier failed round.
  }
  bound_endpoint_.clear();
  if (!OpenInbox().ok()) {
    rebind_requested_.store(true, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.reconnect_ms));
    Wake();
  }
}

void BusImpl::DrainWakeFd() {
  uint64_t count = 0;
  (void)!read(wake_fd_, &count, sizeof(count));
}

void BusImpl::DrainInbox() {
  for (int i = 0; i < kMaxFramesPerRound; ++i) {
    if (stop_requested_.load(std::memory_order_acquire)) return;
    zmq::message_t msg;
    try {
      if (!inbox_.recv(msg, zmq::recv_flags::dontwait)) return;
    } catch (const zmq::error_t&) {
      return;
    }
    Deliver(std::move(msg));
  }
}

void BusImpl::Deliver(zmq::message_t&& msg) {
  int64_t now_us = options_.clock->NowMicros();
  auto storage = std::make_unique<InFrame::Storage>(std::move(msg));
  Reject why = Reject::kNone;
  storage->frame = CheckFrame(storage->bytes, storage->size, options_.chassis_id, &why);
  if (storage->frame == nullptr) return CountReject(why);
  int sender = storage->frame->sender();
  if (curve() && !Authenticated(storage->msg, sender)) {
    totals_->unauthenticated.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::shared_ptr<Link> link = sender == options_.self_slot ? nullptr : FindLink(sender);
  if (link == nullptr) {
    totals_->unknown_slot.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (link->cut_in()) {
    totals_->dropped_fault_in.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  link->CountReceived(now_us);
  totals_->received.fetch_add(1, std::memory_order_relaxed);
  InFrame in;
  in.storage_ = std::move(storage);
  in.received_us_ = now_us;
  handler_->OnFrame(std::move(in));
}

// kCurve: the connection's ZAP user id is the slot it authenticated as;
// the frame must speak for that slot and no other.
bool BusImpl::Authenticated(const zmq::message_t& msg, int sender) {
  const char* user = zmq_msg_gets(msg.handle(), "User-Id");
  return user != nullptr && std::to_string(sender) == user;
}

void BusImpl::CountReject(Reject why) {
  switch (why) {
    case Reject::kWrongChassis:
      totals_->wrong_chassis.fetch_add(1, std::memory_order_relaxed);
      return;
    case Reject::kWrongVersion:
      totals_->wrong_version.fetch_add(1, std::memory_order_relaxed);
      return;
    case Reject::kMalformed:
    case Reject::kNone:
      totals_->malformed.fetch_add(1, std::memory_order_relaxed);
      return;
  }
}

// Every event is two frames: {uint16 event, uint32 value} and the endpoint;
// each is one refused handshake.
void BusImpl::ReadInboxMonitor() {
  try {
    for (int i = 0; i < kMaxFramesPerRound; ++i) {
      zmq::message_t head;
      zmq::message_t address;
      if (!inbox_monitor_.recv(head, zmq::recv_flags::dontwait)) return;
      if (head.more()) (void)inbox_monitor_.recv(address);
      uint16_t event = 0;
      if (head.size() >= sizeof(event)) std::memcpy(&event, head.data(), sizeof(event));
      if (event & kInboxMonitorEvents) {
        totals_->handshake_failed.fetch_add(1, std::memory_order_relaxed);
      }
    }
  } catch (const zmq::error_t&) {
    // Closed under us at Stop.
  }
}

void BusImpl::ReadMonitor(Link& link) {
  Link::Event event = Link::Event::kNone;
  try {
    while (link.ReadMonitorEvent(&event)) {
      if (stop_requested_.load(std::memory_order_acquire)) return;
      if (event == Link::Event::kUp) handler_->OnPeerUp(link.slot());
      if (event == Link::Event::kDown) handler_->OnPeerDown(link.slot());
    }
  } catch (const zmq::error_t&) {
    // The monitored socket was closed under us (Stop); nothing to report.
  }
}

// The monitors of links added or removed since the last rebuild are closed
// here too: the receive thread owns every monitor until it exits.
void BusImpl::CloseReceiverSockets(PollSet* set) {
  std::vector<std::shared_ptr<Link>> links = std::move(set->links);
  {
    std::unique_lock lock(links_mu_);
    links.insert(links.end(), retired_.begin(), retired_.end());
    retired_.clear();
    for (const auto& [slot, link] : links_) links.push_back(link);
  }
  for (const auto& link : links) link->CloseMonitor();
  inbox_monitor_.close();
  inbox_.close();
}

}  // namespace bp::bus
