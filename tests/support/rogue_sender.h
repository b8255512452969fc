// RogueSender: a process that is not a board, speaking on a board's bus.
//
// Connects a ZeroMQ PUSH socket to a board's bus endpoint (what anyone on
// the backplane network can do) and sends forged frames: acks, heartbeats,
// forwarded writes and replication messages claiming any sender slot, plus
// oversized and malformed bytes. Used by tests/board/rogue_frames_test.cc to
// show that every such frame is refused and counted (status "refused").
//
// The frames are built with the board's own schema (bus/schema/frames.fbs),
// so they pass the bus verifier unless made malformed on purpose.
//
// Thread-safety: one thread at a time (it owns one ZeroMQ socket).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bus/frames.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace bp::testing {

struct RogueOptions {
  std::string endpoint;      // the board's bus endpoint (its [[board]] endpoint)
  uint64_t chassis_id = 0;   // frames of another chassis are dropped before any check
  // CURVE (filled once the bus speaks it; empty = plain ZeroMQ): the board's
  // public key and the key pair this sender presents (z85 text).
  std::string curve_server_public;
  std::string curve_public;
  std::string curve_secret;
  // How long a send waits for a completed connection (ZMQ_SNDTIMEO).
  int send_timeout_ms = 2000;
};

class RogueSender {
 public:
  explicit RogueSender(RogueOptions options);
  ~RogueSender();

  // Sends raw bytes as one ZeroMQ message (bounded wait for the connection).
  bool SendBytes(const void* data, size_t size);
  bool Send(const bus::OutFrame& frame) { return SendBytes(frame.data(), frame.size()); }

  // Builders of forged frames, claiming `sender` in the frame header.
  bus::OutFrame Ack(int sender, uint32_t gen, bus::Lsn lsn) const;
  bus::OutFrame Heartbeat(int sender, const bus::HeartbeatInfo& hb) const;
  // A forwarded write of `puts` (none: an empty write) with `origin`.
  bus::OutFrame AppRequest(int sender, int origin,
                           const std::vector<std::pair<std::string, std::string>>& puts) const;
  // A replication message with these control bytes (null: no control field).
  bus::OutFrame RepMsg(int sender, const std::vector<uint8_t>* control,
                       const std::vector<uint8_t>& rec, uint32_t gen) const;

  // A Berkeley DB 5.3 replication control (36 bytes, network byte order).
  static std::vector<uint8_t> Control(uint32_t rep_version, uint32_t log_version, uint32_t rectype,
                                      uint32_t gen, uint32_t flags, bus::Lsn lsn = {});

 private:
  bus::FrameHeader Header(int sender) const { return {options_.chassis_id, sender}; }
  RogueOptions options_;
  std::unique_ptr<zmq::context_t> ctx_;
  std::unique_ptr<zmq::socket_t> push_;
};

}  // namespace bp::testing
