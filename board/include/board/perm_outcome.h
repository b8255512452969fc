// The outcome of the last PERMANENT send made on this thread. Berkeley DB
// swallows the transport's return value for commit records (the commit
// succeeds either way), and the transport runs on the committing thread, so
// the writer resets this before commit and reads it right after.
#pragma once

namespace bp::board {

struct PermOutcome {
  bool seen = false;  // a PERMANENT message was sent during the commit
  bool met = false;   // its ack policy was met
  int needed = 0;
  int got = 0;
};

// This thread's outcome (a function, not an extern thread_local: those go
// through TLS wrapper functions that sanitizers flag across units).
PermOutcome& ThisThreadPermOutcome();

}  // namespace bp::board
