// The bound on a write's encoded size: a write that does not fit one bus
// frame would make ZeroMQ drop the replica's connection to the master (and
// the silence trigger an election), so it is refused before it is sent.
#include "board/config.h"
#include "bus/frames.h"

namespace bp::board {
namespace {

// The frame envelope (header, AppRequest fields, vtables) and, per op, the
// KvOp table and its two byte vectors (length prefixes and padding): upper
// bounds of what FlatBuffers adds to the keys and values.
constexpr uint64_t kFrameEnvelopeBytes = 1024;
constexpr uint64_t kEncodedBytesPerOp = 64;
// Kept free below the frame limit.
constexpr uint64_t kFrameHeadroomBytes = 64 << 10;

std::string Mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1 << 20));
  return buf;
}

}  // namespace

uint64_t MaxWriteFrameBytes() { return uint64_t(bus::kMaxFrameBytes) - kFrameHeadroomBytes; }

uint64_t EncodedWriteBytes(uint64_t payload_bytes, uint64_t op_count) {
  return kFrameEnvelopeBytes + payload_bytes + op_count * kEncodedBytesPerOp;
}

Status CheckWriteFitsFrame(uint64_t payload_bytes, uint64_t op_count, const ChassisConfig& c) {
  const uint64_t encoded = EncodedWriteBytes(payload_bytes, op_count);
  if (encoded <= MaxWriteFrameBytes()) return Status::Ok();
  return Status::TooLarge(
      "write of " + std::to_string(op_count) + " ops encodes to about " + Mib(encoded) +
      ", more than the " + Mib(MaxWriteFrameBytes()) + " a bus frame can carry (the bus frame "
      "limit is " + Mib(uint64_t(bus::kMaxFrameBytes)) + "; a replica forwards a write to the "
      "master in one frame): split the write into smaller batches (log_buffer_mb = " +
      std::to_string(c.log_buffer_mb) + " and max_value_bytes = " +
      std::to_string(c.max_value_bytes) + " allow larger transactions than one frame holds)");
}

}  // namespace bp::board
