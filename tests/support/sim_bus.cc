#include "sim_bus.h"

#include <algorithm>
#include <climits>

#include "bp/seed.h"

namespace bp::testing {

// ---------------------------------------------------------------- network

SimNetwork::SimNetwork(uint64_t seed, const Clock* clock) : seed_(seed), clock_(clock) {}

SimNetwork::~SimNetwork() = default;

Result<std::unique_ptr<bus::Bus>> SimNetwork::CreateBus(bus::BusOptions options) {
  if (options.chassis_id == 0) {
    return Status::InvalidArgument("sim bus: chassis_id must be set (non-zero)");
  }
  std::set<int> seen;
  for (const auto& p : options.peers) {
    if (p.slot == options.self_slot) {
      return Status::InvalidArgument("sim bus: slot " + std::to_string(p.slot) +
                                     " is both self and a peer");
    }
    if (!seen.insert(p.slot).second) {
      return Status::InvalidArgument("sim bus: peer slot " + std::to_string(p.slot) +
                                     " appears twice");
    }
  }
  return std::unique_ptr<bus::Bus>(new SimBus(this, std::move(options)));
}

std::function<Result<std::unique_ptr<bus::Bus>>(bus::BusOptions)> SimNetwork::Factory() {
  return [this](bus::BusOptions o) { return CreateBus(std::move(o)); };
}

void SimNetwork::SetDelay(uint32_t min_us, uint32_t max_us) {
  std::lock_guard<std::mutex> l(mu_);
  delay_min_us_ = min_us;
  delay_max_us_ = std::max(min_us, max_us);
}

void SimNetwork::SetLoss(double p) {
  std::lock_guard<std::mutex> l(mu_);
  loss_ = std::clamp(p, 0.0, 1.0);
}

void SimNetwork::SetDuplication(double p) {
  std::lock_guard<std::mutex> l(mu_);
  dup_ = std::clamp(p, 0.0, 1.0);
}

void SimNetwork::Cut(int from, int to, bool cut) {
  std::lock_guard<std::mutex> l(mu_);
  if (cut) {
    cuts_.insert({from, to});
  } else {
    cuts_.erase({from, to});
  }
}

void SimNetwork::Partition(const std::vector<int>& a, const std::vector<int>& b, bool cut) {
  std::lock_guard<std::mutex> l(mu_);
  for (int x : a) {
    for (int y : b) {
      if (cut) {
        cuts_.insert({x, y});
        cuts_.insert({y, x});
      } else {
        cuts_.erase({x, y});
        cuts_.erase({y, x});
      }
    }
  }
}

void SimNetwork::Pause(int slot) {
  std::lock_guard<std::mutex> l(mu_);
  paused_.insert(slot);
}

void SimNetwork::Resume(int slot) {
  std::lock_guard<std::mutex> l(mu_);
  paused_.erase(slot);
  NotifyAllLocked();  // held frames may be due now
}

void SimNetwork::Pull(int slot) {
  std::lock_guard<std::mutex> l(mu_);
  pulled_.insert(slot);
}

void SimNetwork::Plug(int slot) {
  std::lock_guard<std::mutex> l(mu_);
  pulled_.erase(slot);
}

void SimNetwork::HealAll() {
  std::lock_guard<std::mutex> l(mu_);
  cuts_.clear();
  paused_.clear();
  pulled_.clear();
  loss_ = dup_ = 0;
  NotifyAllLocked();
}

bool SimNetwork::Inject(int from_slot, int to_slot, std::span<const uint8_t> bytes) {
  std::lock_guard<std::mutex> l(mu_);
  if (!buses_.count(to_slot)) return false;
  Pending p;
  p.raw.assign(bytes.begin(), bytes.end());
  p.due_us = clock_->NowMicros();
  LinkQueue& lq = LinkLocked(from_slot, to_slot);
  p.due_us = std::max(p.due_us, lq.last_due_us);
  lq.last_due_us = p.due_us;
  lq.q.push_back(std::move(p));
  ++stats_.queued;
  buses_[to_slot]->cv_.notify_all();
  return true;
}

SimNetworkStats SimNetwork::Stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

bool SimNetwork::Registered(int slot) const {
  std::lock_guard<std::mutex> l(mu_);
  return buses_.count(slot) > 0;
}

SimNetwork::LinkQueue& SimNetwork::LinkLocked(int from, int to) {
  auto it = links_.find({from, to});
  if (it != links_.end()) return it->second;
  LinkQueue& lq = links_[{from, to}];
  lq.rng.seed(DeriveSeed(seed_, uint64_t(from) * 4096 + uint64_t(to)));
  return lq;
}

bool SimNetwork::BlockedLocked(int from, int to) const {
  return paused_.count(from) || paused_.count(to);
}

double SimNetwork::Draw(LinkQueue& l) {
  return std::uniform_real_distribution<double>(0.0, 1.0)(l.rng);
}

bool SimNetwork::EnqueueLocked(int from, int to, Pending p, size_t bound) {
  LinkQueue& lq = LinkLocked(from, to);
  // Every draw is made for every frame, whatever the faults, so a fault
  // switched on or off does not shift the link's later numbers.
  const double loss_draw = Draw(lq), dup_draw = Draw(lq), delay_draw = Draw(lq);
  if (pulled_.count(from) || pulled_.count(to)) {
    ++stats_.pulled;
    return true;  // silent: the sender cannot tell
  }
  if (cuts_.count({from, to})) {
    ++stats_.cut;
    return false;
  }
  if (loss_draw < loss_) {
    ++stats_.lost;
    return false;
  }
  const int copies = dup_draw < dup_ ? 2 : 1;
  const int64_t delay = int64_t(delay_min_us_) +
                        int64_t(delay_draw * double(delay_max_us_ - delay_min_us_));
  p.due_us = std::max(p.due_us + delay, lq.last_due_us);
  lq.last_due_us = p.due_us;
  SimBus* rx = buses_.at(to);
  for (int i = 0; i < copies; ++i) {
    if (lq.q.size() >= bound) {
      ++stats_.full;
      return i > 0;
    }
    lq.q.push_back(p);
    ++stats_.queued;
    if (i > 0) ++stats_.duplicated;
  }
  rx->cv_.notify_all();
  return true;
}

void SimNetwork::RegisterLocked(SimBus* b) {
  buses_[b->slot()] = b;
  for (auto& [slot, other] : buses_) {
    if (other == b) continue;
    if (other->peers_.count(b->slot())) other->PeerEventLocked(b->slot(), true);
    if (b->peers_.count(slot)) b->PeerEventLocked(slot, true);
  }
}

void SimNetwork::UnregisterLocked(SimBus* b) {
  auto it = buses_.find(b->slot());
  if (it == buses_.end() || it->second != b) return;
  buses_.erase(it);
  // Frames queued for it die with it (a killed process's socket buffers).
  for (auto& [key, lq] : links_) {
    if (key.second != b->slot()) continue;
    stats_.unregistered += lq.q.size();
    lq.q.clear();
  }
  for (auto& [slot, other] : buses_) {
    if (other->peers_.count(b->slot())) other->PeerEventLocked(b->slot(), false);
  }
}

void SimNetwork::NotifyAllLocked() {
  for (auto& [slot, b] : buses_) b->cv_.notify_all();
}

// ---------------------------------------------------------------- bus

SimBus::SimBus(SimNetwork* net, bus::BusOptions options)
    : net_(net), opts_(std::move(options)), clock_(opts_.clock ? opts_.clock : &Clock::Real()) {
  uint64_t i = 0;
  for (const auto& a : opts_.peers) {
    Peer& p = peers_[a.slot];
    p.addr = a;
    p.stats.slot = a.slot;
    p.stats.endpoint = a.endpoint;
    p.rng.seed(DeriveSeed(opts_.fault_seed, i++));
  }
}

SimBus::~SimBus() {
  Stop();
  if (thread_.joinable()) thread_.join();  // Stop from a callback left it
}

Status SimBus::Start(bus::Handler* handler) {
  std::lock_guard<std::mutex> l(net_->mu_);
  if (started_ || stopped_) return Status::FailedPrecondition("sim bus: Start once per bus");
  auto it = net_->buses_.find(slot());
  if (it != net_->buses_.end()) {
    return Status::Unavailable("sim bus: slot " + std::to_string(slot()) +
                               " is held by another started bus");
  }
  handler_ = handler;
  started_ = true;
  net_->RegisterLocked(this);
  thread_ = std::thread([this] { ReceiveLoop(); });
  return Status::Ok();
}

void SimBus::Stop() {
  {
    std::lock_guard<std::mutex> l(net_->mu_);
    if (stopped_) return;
    stopped_ = true;
    if (started_) net_->UnregisterLocked(this);
    for (auto& [slot, p] : peers_) p.stats.connected = false;
    cv_.notify_all();
  }
  if (thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) thread_.join();
}

bool SimBus::Send(int slot, const bus::OutFrame& frame) {
  std::lock_guard<std::mutex> l(net_->mu_);
  if (!started_ || stopped_) return false;
  if (slot == bus::kBroadcast) {
    bool any = false;
    for (auto& [s, p] : peers_) any = SendOneLocked(p, frame) || any;
    return any;
  }
  auto it = peers_.find(slot);
  if (it == peers_.end()) return false;
  return SendOneLocked(it->second, frame);
}

bool SimBus::SendOneLocked(Peer& p, const bus::OutFrame& frame) {
  const int to = p.addr.slot;
  const double draw = std::uniform_real_distribution<double>(0.0, 1.0)(p.rng);
  auto rx = net_->buses_.find(to);
  if (rx == net_->buses_.end()) {
    ++p.stats.dropped_unconnected;
    ++counters_.dropped;
    return false;
  }
  if (p.stats.fault.cut_out || draw < p.stats.fault.loss) {
    ++p.stats.dropped_fault;
    ++counters_.dropped;
    return false;
  }
  auto rx_peer = rx->second->peers_.find(slot());
  if (rx_peer != rx->second->peers_.end() && rx_peer->second.stats.fault.cut_in) {
    ++rx->second->counters_.dropped_fault_in;
    ++p.stats.sent;  // it left this bus; the receiver's emulation dropped it
    ++counters_.sent;
    return true;
  }
  SimNetwork::Pending pending;
  pending.frame = frame;
  pending.due_us = clock_->NowMicros() + int64_t(p.stats.fault.delay_us);
  const size_t bound = size_t(std::max(1, opts_.send_queue_frames));
  if (!net_->EnqueueLocked(slot(), to, std::move(pending), bound)) {
    // A network cut or loss looks like a drop by link emulation here.
    ++p.stats.dropped_fault;
    ++counters_.dropped;
    return false;
  }
  ++p.stats.sent;
  ++counters_.sent;
  return true;
}

Status SimBus::AddPeer(const bus::SlotAddress& peer) {
  std::lock_guard<std::mutex> l(net_->mu_);
  if (peer.slot == slot()) {
    return Status::InvalidArgument("sim bus: slot " + std::to_string(peer.slot) + " is self");
  }
  auto it = peers_.find(peer.slot);
  if (it != peers_.end()) {
    if (it->second.addr.endpoint == peer.endpoint && it->second.addr.public_key == peer.public_key) {
      return Status::Ok();
    }
    // A new link: the fault carries over, the figures restart; the peer's
    // liveness is the slot's, which a new address does not change here.
    const bus::LinkFault keep = it->second.stats.fault;
    const bool connected = it->second.stats.connected;
    it->second.addr = peer;
    it->second.stats = bus::LinkStats{};
    it->second.stats.slot = peer.slot;
    it->second.stats.endpoint = peer.endpoint;
    it->second.stats.fault = keep;
    it->second.stats.connected = connected;
    return Status::Ok();
  }
  Peer& p = peers_[peer.slot];
  p.addr = peer;
  p.stats.slot = peer.slot;
  p.stats.endpoint = peer.endpoint;
  p.rng.seed(DeriveSeed(opts_.fault_seed, 1000 + uint64_t(peer.slot)));
  if (started_ && !stopped_ && net_->buses_.count(peer.slot)) PeerEventLocked(peer.slot, true);
  return Status::Ok();
}

Status SimBus::RemovePeer(int s) {
  std::lock_guard<std::mutex> l(net_->mu_);
  auto it = peers_.find(s);
  if (it == peers_.end()) return Status::NotFound("sim bus: slot " + std::to_string(s) + " is not a peer");
  const bool was_up = it->second.stats.connected;
  peers_.erase(it);
  if (was_up) {
    events_.push_back({false, s});
    cv_.notify_all();
  }
  return Status::Ok();
}

Status SimBus::SetLinkFault(int s, const bus::LinkFault& fault) {
  if (fault.loss < 0 || fault.loss > 1) {
    return Status::InvalidArgument("sim bus: loss must be within [0, 1]");
  }
  std::lock_guard<std::mutex> l(net_->mu_);
  auto it = peers_.find(s);
  if (it == peers_.end()) return Status::NotFound("sim bus: slot " + std::to_string(s) + " is not a peer");
  it->second.stats.fault = fault;
  return Status::Ok();
}

bool SimBus::IsConnected(int s) const {
  std::lock_guard<std::mutex> l(net_->mu_);
  auto it = peers_.find(s);
  return it != peers_.end() && it->second.stats.connected;
}

std::vector<bus::LinkStats> SimBus::Links() const {
  std::lock_guard<std::mutex> l(net_->mu_);
  std::vector<bus::LinkStats> out;
  for (const auto& [s, p] : peers_) out.push_back(p.stats);
  return out;
}

bus::BusCounters SimBus::Counters() const {
  std::lock_guard<std::mutex> l(net_->mu_);
  bus::BusCounters c = counters_;
  uint64_t depth = 0;
  for (const auto& [key, lq] : net_->links_) {
    if (key.second == slot()) depth += lq.q.size();
  }
  c.delay_line_depth = depth;
  return c;
}

// Under the lock. `up` transitions are reported once each, as on ZeroMQ.
void SimBus::PeerEventLocked(int s, bool up) {
  auto it = peers_.find(s);
  if (it == peers_.end() || it->second.stats.connected == up) return;
  it->second.stats.connected = up;
  events_.push_back({up, s});
  cv_.notify_all();
}

bool SimBus::TakeDueLocked(int64_t now, SimNetwork::Pending* out, int* from, int64_t* next_due) {
  *next_due = INT64_MAX;
  // The earliest due head over every unblocked link into this slot; ties go
  // to the lower sender slot (a fixed rule, not the map's whim).
  SimNetwork::LinkQueue* best = nullptr;
  int best_from = 0;
  for (auto& [key, lq] : net_->links_) {
    if (key.second != slot() || lq.q.empty()) continue;
    if (net_->BlockedLocked(key.first, key.second)) continue;
    if (!best || lq.q.front().due_us < best->q.front().due_us) {
      best = &lq;
      best_from = key.first;
    }
  }
  if (!best) return false;
  if (best->q.front().due_us > now) {
    *next_due = best->q.front().due_us;
    return false;
  }
  *out = std::move(best->q.front());
  best->q.pop_front();
  *from = best_from;
  return true;
}

void SimBus::ReceiveLoop() {
  std::unique_lock<std::mutex> l(net_->mu_);
  while (!stopped_) {
    if (!events_.empty()) {
      Event e = events_.front();
      events_.pop_front();
      l.unlock();
      if (e.up) {
        handler_->OnPeerUp(e.slot);
      } else {
        handler_->OnPeerDown(e.slot);
      }
      l.lock();
      continue;
    }
    SimNetwork::Pending p;
    int from = 0;
    int64_t next_due = INT64_MAX;
    if (TakeDueLocked(clock_->NowMicros(), &p, &from, &next_due)) {
      if (net_->pulled_.count(from) || net_->pulled_.count(slot())) {
        ++net_->stats_.pulled;  // in flight when the cable went
        continue;
      }
      l.unlock();
      DeliverFrame(std::move(p));
      l.lock();
      continue;
    }
    // Wake for the next due frame, a new frame, an event or Stop; at most
    // every 50 ms in any case (a resumed link notifies, this is a backstop).
    const int64_t cap = clock_->NowMicros() + 50'000;
    clock_->WaitUntil(cv_, l, std::min(next_due, cap), [&] {
      return stopped_ || !events_.empty() || NextDueLocked() <= clock_->NowMicros();
    });
  }
}

int64_t SimBus::NextDueLocked() const {
  int64_t due = INT64_MAX;
  for (const auto& [key, lq] : net_->links_) {
    if (key.second != slot() || lq.q.empty()) continue;
    if (net_->BlockedLocked(key.first, key.second)) continue;
    due = std::min(due, lq.q.front().due_us);
  }
  return due;
}

void SimBus::DeliverFrame(SimNetwork::Pending&& p) {
  const int64_t now = clock_->NowMicros();
  bus::Reject why = bus::Reject::kNone;
  bus::InFrame in = p.raw.empty()
                        ? bus::InFrame::FromOutFrame(p.frame, opts_.chassis_id, now, &why)
                        : bus::InFrame::FromBytes(p.raw, opts_.chassis_id, now, &why);
  bool deliver = false;
  {
    std::lock_guard<std::mutex> l(net_->mu_);
    if (!in.frame()) {
      if (why == bus::Reject::kWrongChassis) {
        ++counters_.wrong_chassis;
      } else if (why == bus::Reject::kWrongVersion) {
        ++counters_.wrong_version;
      } else {
        ++counters_.malformed;
      }
    } else if (!peers_.count(in.sender())) {
      ++counters_.unknown_slot;
    } else if (!stopped_) {
      Peer& peer = peers_[in.sender()];
      ++peer.stats.received;
      peer.stats.last_received_us = now;
      ++counters_.received;
      ++net_->stats_.delivered;
      deliver = true;
    }
  }
  if (deliver) handler_->OnFrame(std::move(in));
}

}  // namespace bp::testing
