// The environment home: an existing empty directory that must stay empty.
#pragma once

#include <string>
#include <vector>

#include "bp/status.h"

namespace bp::memenv {

// Creates a private directory under $TMPDIR (or /tmp).
Result<std::string> MakeTempHome();

// OK if `path` is an existing, empty directory.
Status CheckEmptyHome(const std::string& path);

// Names of the entries in `path` (empty if it cannot be read).
std::vector<std::string> ListHome(const std::string& path);

// Removes a directory made by MakeTempHome, with anything left in it.
void RemoveTempHome(const std::string& path);

}  // namespace bp::memenv
