#include "subscription.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <zmq.hpp>

#include "errors.h"

namespace fw {
namespace {

constexpr size_t kQueueMax = 256;
constexpr int kPollMs = 100;
// Resubscribe pacing: quickly while the handshake is not done (the send
// fails), slowly while a sent Subscribe is unanswered.
constexpr int64_t kResendUnsentMs = 20;
constexpr int64_t kResendUnansweredMs = 500;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string MonitorAddress(const void* self) {
  static std::atomic<uint64_t> n{0};
  char buf[96];
  snprintf(buf, sizeof buf, "inproc://fw-shim-monitor-%p-%llu", self,
           static_cast<unsigned long long>(n++));
  return buf;
}

void Signal(int fd) {
  uint64_t one = 1;
  (void)!write(fd, &one, sizeof one);
}

void Drain(int fd) {
  uint64_t n;
  (void)!read(fd, &n, sizeof n);
}

}  // namespace

struct Subscription::Sockets {
  explicit Sockets(zmq::context_t& ctx)
      : sub(ctx, zmq::socket_type::dealer), monitor(ctx, zmq::socket_type::pair) {}
  zmq::socket_t sub;
  zmq::socket_t monitor;  // ZMQ_EVENT_CONNECTED / DISCONNECTED of `sub`
};

Subscription::Subscription(const Options& opts, fw_event_cb cb, void* arg)
    : opts_(opts), cb_(cb), arg_(arg) {}

fw_err_t Subscription::Start(zmq::context_t& ctx, const Options& opts, fw_event_cb cb, void* arg,
                             std::unique_ptr<Subscription>* out) {
  std::unique_ptr<Subscription> s(new Subscription(opts, cb, arg));
  fw_err_t e = s->Init(ctx);
  if (e != FW_OK) return e;
  Subscription* raw = s.get();
  s->thread_ = std::thread([raw] { raw->Loop(); });
  if (!s->WaitSubscribed(opts.request_timeout_ms)) {
    return Fail(FW_ERR_BOARD_DOWN,
                "subscribe at " + opts.endpoint + ": the board did not confirm within " +
                    std::to_string(opts.request_timeout_ms) + " ms; is the board process running?");
  }
  *out = std::move(s);
  return FW_OK;
}

fw_err_t Subscription::Init(zmq::context_t& ctx) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0 || wake_fd_ < 0) {
    return Fail(FW_ERR_INTERNAL, std::string("subscribe: eventfd failed: ") + strerror(errno));
  }
  sockets_ = std::make_unique<Sockets>(ctx);
  zmq::socket_t& sub = sockets_->sub;
  ApplyCurve(opts_, sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::immediate, 1);
  sub.set(zmq::sockopt::reconnect_ivl, 20);
  sub.set(zmq::sockopt::reconnect_ivl_max, 200);
  std::string mon = MonitorAddress(this);
  if (zmq_socket_monitor(sub.handle(), mon.c_str(), ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) !=
      0) {
    return Fail(FW_ERR_INTERNAL,
                std::string("subscribe: zmq_socket_monitor failed: ") + zmq_strerror(zmq_errno()));
  }
  sockets_->monitor.set(zmq::sockopt::linger, 0);
  sockets_->monitor.connect(mon);
  sub.connect(opts_.endpoint);  // after the monitor: the first CONNECTED is seen
  return FW_OK;
}

Subscription::~Subscription() {
  stop_ = true;
  if (wake_fd_ >= 0) Signal(wake_fd_);
  if (thread_.joinable()) thread_.join();
  if (sockets_) {
    // Best effort: a board that misses this drops us when it next fails to
    // deliver (its ROUTER discards frames to gone peers).
    try {
      std::string req = EncodeSubscribe(next_seq_++, false);
      (void)sockets_->sub.send(zmq::buffer(req), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
    }
    zmq_socket_monitor(sockets_->sub.handle(), nullptr, 0);
  }
  sockets_.reset();
  if (event_fd_ >= 0) close(event_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool Subscription::WaitSubscribed(uint32_t timeout_ms) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [this] { return subscribed_; });
}

bool Subscription::Next(fw_event_t* out) {
  std::lock_guard<std::mutex> l(mu_);
  if (queue_.empty()) return false;
  *out = queue_.front();
  queue_.pop_front();
  if (queue_.empty()) Drain(event_fd_);  // level-triggered: readable iff pending
  return true;
}

void Subscription::Loop() {
  zmq::pollitem_t items[] = {{sockets_->sub.handle(), 0, ZMQ_POLLIN, 0},
                             {sockets_->monitor.handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
  while (!stop_) {
    try {
      zmq::poll(items, 3, std::chrono::milliseconds(kPollMs));
      if (items[1].revents & ZMQ_POLLIN) OnMonitor();
      if (items[0].revents & ZMQ_POLLIN) OnFrame();
      bool waiting;
      {
        std::lock_guard<std::mutex> l(mu_);
        waiting = !subscribed_;
      }
      int64_t pace = pending_seq_ ? kResendUnansweredMs : kResendUnsentMs;
      if (connected_ && waiting && NowMs() - last_sent_ms_ >= pace) SendSubscribe();
    } catch (const zmq::error_t&) {
      // EINTR, or a socket error: keep serving until stopped.
    }
  }
}

void Subscription::OnMonitor() {
  zmq::message_t head, addr;
  if (!sockets_->monitor.recv(head, zmq::recv_flags::dontwait)) return;
  if (head.more()) (void)sockets_->monitor.recv(addr, zmq::recv_flags::none);
  if (head.size() < sizeof(uint16_t)) return;
  uint16_t event;
  memcpy(&event, head.data(), sizeof event);
  if (event == ZMQ_EVENT_CONNECTED) {
    connected_ = true;
    pending_seq_ = 0;
    SendSubscribe();
    return;
  }
  if (event != ZMQ_EVENT_DISCONNECTED) return;
  connected_ = false;
  bool was;
  {
    std::lock_guard<std::mutex> l(mu_);
    was = subscribed_;
    subscribed_ = false;
  }
  if (was) {
    lost_link_ = true;
    Emit(FW_EVENT_BOARD_LINK_DOWN);
  }
}

void Subscription::SendSubscribe() {
  uint64_t seq = next_seq_++;
  std::string req = EncodeSubscribe(seq, true);
  last_sent_ms_ = NowMs();
  // Not yet connected (ZMQ_IMMEDIATE): the pacing in Loop tries again.
  pending_seq_ = sockets_->sub.send(zmq::buffer(req), zmq::send_flags::dontwait) ? seq : 0;
}

void Subscription::OnFrame() {
  for (int i = 0; i < 64; ++i) {  // a burst, then look at the other sockets
    zmq::message_t msg;
    if (!sockets_->sub.recv(msg, zmq::recv_flags::dontwait)) return;
    std::optional<Incoming> in = Decode(msg.data(), msg.size());
    if (!in) continue;
    if (in->event) {
      last_role_ = in->event->role;
      last_master_ = in->event->master;
      last_gen_ = in->event->gen;
      Emit(in->event->kind);
      continue;
    }
    if (in->reply->seq != pending_seq_ || in->reply->code != kBoardOk) continue;
    pending_seq_ = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      subscribed_ = true;
    }
    cv_.notify_all();
    if (lost_link_) {
      lost_link_ = false;
      Emit(FW_EVENT_BOARD_LINK_UP);
    }
  }
}

void Subscription::Emit(int kind) {
  fw_event_t ev{};
  ev.kind = kind;
  bool link = kind == FW_EVENT_BOARD_LINK_DOWN || kind == FW_EVENT_BOARD_LINK_UP;
  bool known = last_role_ == FW_ROLE_REPLICA || last_role_ == FW_ROLE_MASTER;
  ev.role = link || !known ? FW_ROLE_UNKNOWN : static_cast<fw_role_t>(last_role_);
  ev.master = link ? -1 : last_master_;
  ev.generation = last_gen_;
  Deliver(ev);
}

void Subscription::Deliver(const fw_event_t& ev) {
  if (cb_) {
    cb_(arg_, &ev);  // C code: cannot throw
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  if (queue_.size() >= kQueueMax) {
    queue_.pop_front();  // the newest state matters most to firmware
    ++dropped_;
  }
  queue_.push_back(ev);
  queue_.back().dropped = dropped_;
  if (queue_.size() == 1) Signal(event_fd_);
}

}  // namespace fw
