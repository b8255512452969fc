// LagBytes (lag.h).
#include "board/lag.h"

namespace bp::board {

int64_t LagBytes(bus::Lsn ahead, bus::Lsn behind, int64_t log_file_bytes) {
  if (ahead <= behind) return 0;
  return (int64_t(ahead.file) - int64_t(behind.file)) * log_file_bytes + int64_t(ahead.offset) -
         int64_t(behind.offset);
}

}  // namespace bp::board
