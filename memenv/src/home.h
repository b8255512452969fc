// The environment home: an existing empty directory that must stay empty.
#pragma once

#include <string>
#include <vector>

#include "bp/status.h"

namespace bp::memenv {

// Creates a private directory under $TMPDIR (or /tmp), named
// bp-memenv-<pid>-XXXXXX, after removing those of processes that are gone
// (SweepDeadHomes): a board killed with SIGKILL cannot remove its own.
Result<std::string> MakeTempHome();

// Removes every bp-memenv-<pid>-* directory in `dir` owned by this user
// whose process no longer exists (kill(pid, 0) fails with ESRCH). Returns
// how many it removed. Directories of the old bp-memenv-XXXXXX form carry
// no pid and are left alone.
size_t SweepDeadHomes(const std::string& dir);

// OK if `path` is an existing, empty directory.
Status CheckEmptyHome(const std::string& path);

// Names of the entries in `path` (empty if it cannot be read).
std::vector<std::string> ListHome(const std::string& path);

// Removes a directory made by MakeTempHome, with anything left in it.
void RemoveTempHome(const std::string& path);

}  // namespace bp::memenv
