// The soak: a running chassis written at a sustained rate over a fixed key
// space for a long time (SoakLoad), every board sampled once a second (RSS
// and its status: memory, request ids, log, elections, panics, role), the
// writes checked during the run and on every board at the end, and the
// verdict (EvaluateSoak): no write lost or applied twice, no panic, no
// election or failover, RSS flat after the warm-up, request ids within the
// window. Called by `chassis soak` on the main thread (Chassis is
// single-threaded); the load runs on its own threads.
//
// Also the memory samples `chassis drill --soak-s` takes between rounds.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chassis.h"
#include "soak_eval.h"
#include "soak_load.h"

namespace bp::chassis {

struct SoakOptions {
  SoakLoadOptions load;
  double duration_s = 60;  // measured, after the warm-up
  double warmup_s = 10;    // load runs, samples are taken but not judged for RSS
  SoakCriteria criteria;
  uint64_t live_check_keys = 100;  // keys read back from the master per sample
  int timeout_ms = 30000;          // bound on the waits before and after the run
  std::function<void(const std::string&)> progress;
  // When set and true (a signal handler's flag), the run stops at the next
  // sample, the writes are still checked, and the verdict says interrupted.
  const std::atomic<bool>* interrupted = nullptr;
  // When set, every sample is appended to this CSV as it is taken, so a
  // long run can be watched (and survives the tool's death).
  std::string live_csv_path;
};

struct SoakResult {
  std::vector<SoakSample> samples;
  WriteCheck writes;
  LoadTotals load;
  SoakVerdict verdict;
  double elapsed_s = 0;
  std::string error;  // the run could not go on (chassis unhealthy), if any
};

// Every board now: its pid, RSS and status fields.
std::vector<BoardSample> SampleBoards(Chassis& chassis);

// The keys of a run started at `unix_s`: "s<unix_s>-k<i>", so each run
// writes keys of its own and an earlier run's values are never taken for
// this one's.
std::string SoakKeyPrefix(int64_t unix_s);

Result<SoakResult> RunSoak(Chassis& chassis, const SoakOptions& options);

nlohmann::json SoakReportJson(const Chassis& chassis, const SoakOptions& options,
                              const SoakResult& result);
std::string SoakSummary(const nlohmann::json& report);

}  // namespace bp::chassis
