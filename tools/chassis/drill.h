// Drills: faults injected into a live chassis under load, round after
// round, each round measured and then checked for lost writes.
//
//   kill       SIGKILL the master; time the takeover; restart it empty and
//              time its re-initialisation.
//   pause      SIGSTOP the master past the failure-detection timeout, then
//              SIGCONT: the old master must step down to the new one.
//   partition  cut the master off the bus (admin "partition"); after the
//              takeover heal it: the old master must step down and converge.
//   replace    SIGKILL a replica, start an empty board in its slot and time
//              its re-initialisation (with --data-mb preloaded).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bp/status.h"
#include "chassis.h"
#include "linearizability.h"
#include "load_gen.h"
#include "single_master.h"
#include "soak_eval.h"
#include "verify.h"

namespace bp::chassis {

const std::vector<std::string>& DrillKinds();

struct DrillOptions {
  std::string kind;
  int rounds = 1;
  LoadOptions load;
  double data_mb = 0;                                // replace: preloaded data
  int timeout_ms = 30000;                            // bound on every wait of a round
  int warmup_ms = 200;                               // load runs this long before the fault
  std::function<void(const std::string&)> progress;  // one line per step
  // --check: a second load records a history of gets (LINEARIZABLE) and puts
  // on a few keys alongside the drill load; each round's history is checked.
  bool check = false;
  LoadOptions check_load = CheckLoadDefaults();
  CheckOptions check_options;
  // --soak-s: rounds run back to back for this long (rounds is ignored),
  // every board's memory sampled between rounds.
  double soak_s = 0;

  static LoadOptions CheckLoadDefaults();
};

struct RoundResult {
  int round = 0;
  int old_master = -1, new_master = -1;
  int target = -1;        // the slot the fault hit
  double t_fault_ms = 0;  // since the drill started
  double t_end_ms = 0;    // when the round was over (verified)
  std::optional<double> t_became_ms;
  std::optional<double> detection_ms, election_ms, first_commit_ms, failover_ms;
  std::optional<double> reinit_ms;    // kill, replace: restart -> in sync
  std::optional<double> stepdown_ms;  // pause, partition: wake/heal -> replica
  std::optional<double> rejoin_ms;    // pause, partition: wake/heal -> in sync
  // pause, partition: when the old master came back, mastership moved once
  // more (a second election) and the old master followed this slot instead.
  std::optional<int> master_moved_to;
  VerifyResult verify;
  LoadTotals load;
  std::vector<int> restarted;        // boards that exited on their own, restarted
  std::string error;                 // empty: the round ran to the end
  std::optional<CheckResult> check;  // --check: the round's history checked
  std::optional<SingleMasterResult> single_master;  // --check: the round's served gets
  std::vector<HistoryOp> served_reads;  // --check: gets with served fields (whole-run check)
  int64_t t0_us = 0;  // the drill's start (CLOCK_MONOTONIC): report times count from it
  // --soak-s: every board after the round (RSS, data bytes, request ids).
  std::vector<BoardSample> memory_after;
};

// "[kill 3/10] " (or "[kill 3/soak 600 s] "): the prefix of progress lines.
std::string RoundTag(const DrillOptions& options, int round);

// --soak-s: a memory problem in a sample between rounds (a board that
// panicked, kept more request ids than its window, did not answer), or "".
std::string MemoryProblem(const std::vector<BoardSample>& boards);

// Per-round state shared by the drill steps.
struct RoundContext {
  Chassis& chassis;
  const DrillOptions& options;
  LoadGen& load;
  int64_t drill_start_us;
  RoundResult& result;
  void Progress(const std::string& line) const;
};

// The fault of one round (drill_faults.cc). `master` is the master before it.
Status RunKill(RoundContext& ctx, int master);
Status RunPause(RoundContext& ctx, int master);
Status RunPartition(RoundContext& ctx, int master);
Status RunReplace(RoundContext& ctx, int master);

// Checks the drill can run on this chassis; errors name the cause and fix.
Status CheckDrillPreconditions(const DrillOptions& options, Chassis& chassis);

// Runs every round (drill_runner.cc). Returns the rounds run; a round that
// could not finish carries its error.
Result<std::vector<RoundResult>> RunDrill(Chassis& chassis, const DrillOptions& options);

}  // namespace bp::chassis
