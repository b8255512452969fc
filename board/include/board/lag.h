// LagBytes: how far one log position is behind another, in bytes of the
// in-memory log. Pure. Status ("lag_bytes" per peer, as the master sees it),
// the write throttle (kv_service.cc: the worst lag of a caught-up replica) and
// re-init progress (reinit_progress.cc: this board behind its master) all
// measure it this one way.
//
// An LSN is (file, offset) and every log file holds `log_file_bytes`
// (lg_max: memenv's EffectiveLogFileBytes), so the distance is the whole
// files between the two plus the difference of the offsets. A position at
// or ahead of `ahead` is not behind at all: 0.
#pragma once

#include <cstdint>

#include "bus/frames.h"

namespace bp::board {

int64_t LagBytes(bus::Lsn ahead, bus::Lsn behind, int64_t log_file_bytes);

}  // namespace bp::board
