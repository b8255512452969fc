// What an InFrame owns: the received zmq message, and an aligned copy of its
// bytes when ZeroMQ handed them at an address FlatBuffers cannot read from.
#pragma once

#include <cstdint>
#include <memory>
#include <zmq.hpp>

#include "bus/bus.h"

namespace bp::bus {

struct InFrame::Storage {
  // Takes the message; copies its bytes when they are not 8-byte aligned
  // (ZeroMQ's zero-copy decoder slices large messages out of its receive
  // buffer at any offset, and FlatBuffers reads scalars in place).
  explicit Storage(zmq::message_t&& m);
  // Bytes from outside ZeroMQ: `keep` holds them alive (or is null and
  // they are copied).
  Storage(const uint8_t* data, size_t n, std::shared_ptr<const void> keep);

  zmq::message_t msg;                 // empty for a frame built from bytes
  std::shared_ptr<const void> keep;   // an OutFrame's buffer shared by FromOutFrame
  std::unique_ptr<uint64_t[]> aligned_copy;
  const uint8_t* bytes = nullptr;
  size_t size = 0;
  const wire::Frame* frame = nullptr;  // set once CheckFrame accepted `bytes`
};

}  // namespace bp::bus
