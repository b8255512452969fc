// The log volume a transaction is assumed to write (Env::CheckTxnSize, and
// the reservations of the log budget).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace bp::memenv {

// Measured (tests/memenv/log_budget_test.cc, EstimateCovers...): per op
// ~75 bytes of record header and page bookkeeping, logged twice (redo and
// undo); the keys and values twice (the new item, and the undo image of an
// overwrite), plus 1/8 for the headers of overflow pages; and page splits,
// which log whole pages: small inserts into fresh pages write about one
// more copy of each item, up to ~1 KiB per op (items larger than a quarter
// page go to overflow pages, which do not split). The estimate is at least
// what was measured for every value size from 1 byte to 20 KB, inserts and
// overwrites, in order and scattered.
constexpr uint64_t kLogOverheadPerOp = 75;
constexpr uint64_t kLogSafetyFactor = 2;
constexpr uint64_t kLogSplitBytesPerOp = 1024;

inline uint64_t EstimateLogBytes(size_t payload_bytes, size_t op_count) {
  const uint64_t payload = payload_bytes, ops = op_count;
  return payload * 2 + payload / 8 + ops * kLogOverheadPerOp * kLogSafetyFactor +
         std::min(payload, ops * kLogSplitBytesPerOp);
}

}  // namespace bp::memenv
