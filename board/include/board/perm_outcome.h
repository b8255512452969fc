// The last PERMANENT send made on this thread, and whether its ack policy was
// met. The transport runs on the committing thread: it records the commit's
// LSN here, and the writer (who reset this before the commit) waits for the
// acks right after the commit returns. Waiting inside the callback would hold
// the transaction's page locks for a whole round trip, so concurrent writers
// on the same pages would commit one round trip at a time; after the commit
// they pipeline and one cumulative ack covers all of them.
#pragma once

#include <cstdint>

namespace bp::board {

struct PermOutcome {
  bool seen = false;  // a PERMANENT message was sent during the commit
  bool met = false;   // its ack policy was met (set by Engine::AwaitDurable)
  int needed = 0;
  int got = 0;
  uint32_t lsn_file = 0;  // the PERMANENT record's LSN (the commit's)
  uint32_t lsn_offset = 0;
  int64_t send_us = 0, sent_us = 0;  // commit_trace.h (0 when tracing is off)
};

// This thread's outcome (a function, not an extern thread_local: those go
// through TLS wrapper functions that sanitizers flag across units).
PermOutcome& ThisThreadPermOutcome();

}  // namespace bp::board
