// The one place where Berkeley DB return codes become Status.
#pragma once

#include <string_view>

#include "bp/status.h"

namespace bp::memenv {

// Translates a Berkeley DB return code (or errno) from the call described by
// `what` into a Status whose message names the cause and, where there is one,
// the fix. `replica_write` tells that the call was a write on an environment
// that is a replication client: EACCES/EINVAL then mean NotMaster.
// ret == 0 gives OK.
Status FromDb(int ret, std::string_view what, bool replica_write = false);

// True for the codes after which the whole transaction must be aborted and
// re-run (deadlock victim, lock not granted).
bool IsDeadlock(int ret);

}  // namespace bp::memenv
