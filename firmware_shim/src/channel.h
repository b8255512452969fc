// Channel: one DEALER socket to the board's client endpoint, used for
// request/reply. Not thread-safe: the owning handle serializes calls.
//
// The socket is ZMQ_IMMEDIATE, so a request is queued only on a live
// connection: when no board is listening, sending times out (the request
// was never sent: nothing can be applied later) instead of queueing a
// write that a board started minutes later would execute.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codec.h"

namespace fw {
struct Options;
}

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace fw {

struct CallResult {
  enum class Kind { kReply, kNotSent, kNoReply, kBadFrame };
  Kind kind = Kind::kNoReply;
  Reply reply;  // kReply only
};

class Channel {
 public:
  // Throws zmq::error_t on a malformed endpoint (the caller reports it).
  // With keys in `opts`, the socket is a CURVE client.
  Channel(zmq::context_t& ctx, const Options& opts);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Sends `request` and waits up to `timeout_ms` for a reply whose seq is
  // >= `min_seq` (replies to this operation's earlier attempts count: they
  // are answers to the same write). Older replies are stale and dropped.
  CallResult Call(std::string_view request, uint64_t min_seq, uint32_t timeout_ms);

 private:
  std::unique_ptr<zmq::socket_t> socket_;
};

}  // namespace fw
