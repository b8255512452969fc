// The log volume a transaction is assumed to write (Env::CheckTxnSize).
#pragma once

#include <cstddef>
#include <cstdint>

namespace bp::memenv {

// Per-record overhead (record header, page and item bookkeeping), and a
// safety factor for the undo image an overwrite logs next to the new value.
constexpr uint64_t kLogOverheadPerOp = 64;
constexpr uint64_t kLogSafetyFactor = 2;

inline uint64_t EstimateLogBytes(size_t payload_bytes, size_t op_count) {
  return (uint64_t{payload_bytes} + uint64_t{op_count} * kLogOverheadPerOp) * kLogSafetyFactor;
}

}  // namespace bp::memenv
