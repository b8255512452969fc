// `chassis status`: one row per board (slot, pid, role, master, generation,
// in sync, lag, health) as a table or as JSON for scripts.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "chassis.h"

namespace bp::chassis {

// One row per configured board; lag comes from the master's view.
nlohmann::json StatusRows(const std::map<int, BoardView>& views);
std::string StatusTable(const nlohmann::json& rows);

}  // namespace bp::chassis
