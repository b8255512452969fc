// Verification of a drill round: every write the load generator got a
// durable acknowledgement for must be on the master and on every replica
// once they are in sync. Writes that were accepted but not acknowledged
// durable (not durable / unknown outcome) are looked up on the master and
// counted as rolled back (absent) or survived (present).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "load_gen.h"

namespace bp::chassis {

struct VerifyResult {
  uint64_t acked = 0;                // acknowledged durable
  uint64_t lost = 0;                 // acked, but missing or wrong on some board
  uint64_t unacked = 0;              // not durable or unknown outcome
  uint64_t rolled_back_unacked = 0;  // ... and absent afterwards
  uint64_t unacked_survived = 0;     // ... and present afterwards
  uint64_t read_errors = 0;          // a read that failed even after retries
  std::map<int, uint64_t> missing_by_slot;
  std::vector<std::string> lost_examples;  // a few keys, for the message
};

struct VerifyOptions {
  std::map<int, std::string> endpoints;  // slot -> client endpoint
  int master = -1;
  size_t value_size = 0;
  // A replica may still be applying the tail of the log: a missing key is
  // read again until this long has passed before it counts as lost.
  int settle_ms = 3000;
};

// LOCAL reads through the shim, one thread per board.
VerifyResult VerifyWrites(const std::vector<WriteRecord>& writes, const VerifyOptions& options);

}  // namespace bp::chassis
