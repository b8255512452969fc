// Encoding ClientRequests and decoding ClientFrames (bus/schema/client.fbs).
// The only file that knows the FlatBuffers schema.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firmware_shim/fw_shim.h"

namespace fw {

// One decoded ClientReply.
struct Reply {
  uint64_t seq = 0;
  int code = 0;  // bp::Status::Code
  std::string message;
  std::string value;
  bool durable = false;
  std::string token;
  std::string status_json;
  int served_by = 0;  // LINEARIZABLE get: who served it (client.fbs)
  uint32_t served_gen = 0;
  uint64_t served_us = 0;
};

// One decoded RoleEvent.
struct RoleEventMsg {
  int kind = 0;
  int role = 0;  // wire::Role: 0 unknown, 1 client, 2 master (same numbers as fw_role_t)
  int master = -1;
  uint32_t gen = 0;
};

// A decoded frame from the board: exactly one of the two is set.
struct Incoming {
  std::optional<Reply> reply;
  std::optional<RoleEventMsg> event;
};

std::string EncodeGet(uint64_t seq, std::string_view key, fw_read_mode_t mode,
                      std::string_view token, uint32_t board_timeout_ms);
std::string EncodeWrite(uint64_t seq, fw_request_id_t id, const fw_op_t* ops, size_t n);
std::string EncodeStatus(uint64_t seq);
std::string EncodeAdmin(uint64_t seq, std::string_view json_cmd);
std::string EncodeSubscribe(uint64_t seq, bool subscribe);

// Verifies and decodes a frame; nullopt if it is not a valid ClientFrame.
std::optional<Incoming> Decode(const void* data, size_t size);

}  // namespace fw
