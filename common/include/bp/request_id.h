// Request ids: the 128-bit id every write carries so that a retry of it is
// recognised and never applied twice.
//
// Layout (the master relies on it to keep ids for a bounded window only):
//   hi = issue time, milliseconds since the Unix epoch (48 bits) << 16
//        | 16 random bits
//   lo = 64 random bits
// The master keeps ids ordered by their bytes, so its table is ordered by
// issue time: expiry deletes from the front. An id whose issue time is older
// than the retention window and that the master no longer holds cannot be
// deduplicated any more, and is refused as such rather than applied again.
// Ids are made by fw_new_request_id (firmware), the engine (writes that come
// without one) and the test and drill clients, all through MakeRequestId.
#pragma once

#include <cstdint>

namespace bp {

constexpr int kRequestIdTimeShift = 16;
constexpr uint64_t kRequestIdMaxMs = (uint64_t(1) << 48) - 1;

// `wall_ms`: now, from the wall clock; `r1`, `r2`: random bits.
inline void MakeRequestId(uint64_t wall_ms, uint64_t r1, uint64_t r2, uint64_t* hi, uint64_t* lo) {
  *hi = ((wall_ms & kRequestIdMaxMs) << kRequestIdTimeShift) | (r1 & 0xffff);
  *lo = r2 | 1;  // never all zero (an empty id means "none")
}

// When the id was made (ms since the Unix epoch), as its maker's clock said.
inline uint64_t RequestIdIssuedMs(uint64_t hi) { return hi >> kRequestIdTimeShift; }

}  // namespace bp
