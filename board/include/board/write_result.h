// A write's identity and its outcome, as the engine, the forwarder and the
// client endpoint pass them around: the request id that makes a retry apply
// at most once (request_ids.h), and what the master answered.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "bp/status.h"

namespace bp::board {

struct RequestId {
  uint64_t hi = 0, lo = 0;
  bool empty() const { return hi == 0 && lo == 0; }
  friend auto operator<=>(const RequestId&, const RequestId&) = default;
};

struct WriteResult {
  Status status;
  bool durable = false;     // ack policy met (false: committed on the master only)
  bool duplicate = false;   // the request id was applied before; nothing re-applied
  std::string token;        // commit token (DB_TXN_TOKEN) for read-your-writes
  int master = -1;          // the board that applied it
};

}  // namespace bp::board
