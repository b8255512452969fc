// Preconditions of a drill: each refusal names the cause and the fix.
#include <algorithm>

#include "drill.h"

namespace bp::chassis {
namespace {

std::string KindList() {
  std::string out;
  for (const auto& k : DrillKinds()) out += (out.empty() ? "" : ", ") + k;
  return out;
}

std::string Restart(const Chassis& c, int boards) {
  return "`chassis down --run-dir " + c.dir().path() + "` then `chassis up --boards " +
         std::to_string(boards) + " --run-dir " + c.dir().path() + "`";
}

// The drills that take the master away need a survivor that can win.
Status CheckElectable(const DrillOptions& o, const Chassis& c) {
  const board::ChassisConfig& cfg = c.config();
  const int electable = cfg.ElectableCount();
  if (electable < 2) {
    return Status::FailedPrecondition(
        "the " + o.kind +
        " drill takes the master away, so another board must be able to win "
        "the election, but the chassis in " +
        c.dir().path() + " has " + std::to_string(electable) +
        " electable board(s); start one with 3 boards: " + Restart(c, 3));
  }
  if (electable == 2 && cfg.two_board_mode == board::TwoBoardMode::kStrict) {
    return Status::FailedPrecondition(
        "the " + o.kind +
        " drill needs a survivor that can win an election, but with 2 "
        "electable boards and two_board_mode = \"strict\" a lone survivor has no majority; use "
        "3 boards (" +
        Restart(c, 3) + ") or set two_board_mode = \"failover\" in the config");
  }
  return Status::Ok();
}

}  // namespace

Status CheckDrillPreconditions(const DrillOptions& o, Chassis& c) {
  if (std::find(DrillKinds().begin(), DrillKinds().end(), o.kind) == DrillKinds().end()) {
    return Status::InvalidArgument("unknown drill '" + o.kind + "'; use one of: " + KindList() +
                                   " (see `chassis drill --help`)");
  }
  if (o.rounds <= 0) {
    return Status::InvalidArgument("--rounds must be at least 1 (got " + std::to_string(o.rounds) +
                                   ")");
  }
  if (o.kind == "replace") {
    if (c.slots().size() < 2) {
      return Status::FailedPrecondition("the replace drill kills a replica, but the chassis in " +
                                        c.dir().path() + " has a single board; " + Restart(c, 3));
    }
  } else {
    BP_RETURN_IF_ERROR(CheckElectable(o, c));
  }
  for (int s : c.slots()) {
    if (!c.Alive(s)) {
      return Status::FailedPrecondition(
          "board " + std::to_string(s) + " of the chassis in " + c.dir().path() +
          " is not running (log: " + c.dir().log_path(s) +
          "); restart the chassis: " + Restart(c, int(c.slots().size())));
    }
  }
  return Status::Ok();
}

}  // namespace bp::chassis
