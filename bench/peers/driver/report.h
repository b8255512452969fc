// A compact side-by-side table printed after the run: each measured figure
// next to the figure of /work/shared/reference/repmgr-anchors.md (taken by an
// independent harness on this machine, 2026-11-22). Printed to stderr so that
// --benchmark_format=json on stdout stays valid JSON.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "driver/scenarios.h"

namespace bp::peers {

void RecordSummary(const std::string& name, const Summary& s, const CommitRun& run);
void RecordFailover(const std::string& name, const std::vector<double>& first_commit_ms,
                    double rep_master_ms, double detect_ms);
void RecordInit(const std::string& name, double startup_ms, double copy_ms, double copy_mib_per_s,
                double overall_mib_per_s, int64_t pages, double mib);
void PrintAnchorComparison(FILE* out);

}  // namespace bp::peers
