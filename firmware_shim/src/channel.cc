#include "channel.h"

#include <cerrno>
#include <chrono>
#include <zmq.hpp>

#include "board.h"

namespace fw {
namespace {

using Clock = std::chrono::steady_clock;

// Reconnect fast: a restarted board is usable again within ~20 ms.
constexpr int kReconnectMs = 20;
constexpr int kReconnectMaxMs = 200;

// Signals (SIGCHLD in a supervising firmware, profilers) interrupt blocking
// zmq calls; they are retried, not reported.
bool SendRetryingEintr(zmq::socket_t& s, std::string_view data) {
  for (;;) {
    try {
      return bool(s.send(zmq::buffer(data.data(), data.size()), zmq::send_flags::none));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
  }
}

int PollRetryingEintr(zmq::pollitem_t* item, std::chrono::milliseconds timeout) {
  try {
    return zmq::poll(item, 1, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    return 0;  // the caller's loop re-polls with the time left
  }
}

}  // namespace

Channel::Channel(zmq::context_t& ctx, const Options& opts)
    : socket_(std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer)) {
  ApplyCurve(opts, *socket_);
  socket_->set(zmq::sockopt::linger, 0);
  socket_->set(zmq::sockopt::immediate, 1);
  socket_->set(zmq::sockopt::reconnect_ivl, kReconnectMs);
  socket_->set(zmq::sockopt::reconnect_ivl_max, kReconnectMaxMs);
  // With ZMQ_IMMEDIATE a send blocks only while there is no connection.
  // A CURVE handshake the board refuses leaves no connection either: the
  // send times out the same way (FW_ERR_BOARD_DOWN).
  socket_->set(zmq::sockopt::sndtimeo, int(opts.connect_timeout_ms));
  socket_->connect(opts.endpoint);
}

Channel::~Channel() = default;

CallResult Channel::Call(std::string_view request, uint64_t min_seq, uint32_t timeout_ms) {
  CallResult out;
  if (!SendRetryingEintr(*socket_, request)) {
    out.kind = CallResult::Kind::kNotSent;
    return out;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return out;  // kNoReply
    if (PollRetryingEintr(&item, left) == 0) continue;
    zmq::message_t msg;
    if (!socket_->recv(msg, zmq::recv_flags::dontwait)) continue;
    std::optional<Incoming> in = Decode(msg.data(), msg.size());
    if (!in) {
      out.kind = CallResult::Kind::kBadFrame;
      return out;
    }
    if (!in->reply) continue;  // events belong to the subscription socket
    // seq 0: the board could not read our request at all (answered before
    // parsing the seq), so it is about this request.
    if (in->reply->seq != 0 && in->reply->seq < min_seq) continue;
    out.kind = CallResult::Kind::kReply;
    out.reply = std::move(*in->reply);
    return out;
  }
}

}  // namespace fw
