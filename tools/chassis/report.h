// The drill report: JSON for scripts (stdout with --json), a one-screen
// human summary, and a PNG plot drawn by plot_drill.py (matplotlib).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bp/status.h"
#include "drill.h"

namespace bp::chassis {

struct DrillReport {
  std::string kind;
  int rounds_requested = 0;
  std::string ack_policy;
  int boards = 0;
  double data_mb = 0;
  LoadOptions load;
  double soak_s = 0;  // --soak-s: rounds ran for this long, not a count
  std::vector<RoundResult> rounds;
};

// Ack policies under which an acknowledged write must never be lost.
bool LossIsFailure(const std::string& ack_policy);

nlohmann::json ReportJson(const DrillReport& report);
std::string HumanSummary(const nlohmann::json& report);

// Runs the plot script on the report. Errors say what is missing and how to
// install it (python3-matplotlib).
Status WritePlot(const nlohmann::json& report, const std::string& png_path);
// Runs `script` (next to the binary, else in the source tree) as
// `python3 script JSON PNG`, with the same python3 lookup.
Status RunPlotScript(const std::string& script, const std::string& json_path,
                     const std::string& png_path);

}  // namespace bp::chassis
