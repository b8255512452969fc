// SimChassis: a whole chassis of engines in one process on a SimNetwork,
// driven by a seeded fault schedule, with the drills' load and checks.
//
// One run (RunSeed) owns: a temporary directory (one empty home per board
// incarnation), the SimNetwork, the engines (bp::board::Engine, started
// through its public interface with a bus factory for the SimNetwork and a
// seed derived from the run's seed), the client threads, and the fault
// thread (the caller's thread) that plays the schedule. Everything is torn
// down before RunSeed returns.
//
// The fault schedule (MakeSchedule) is a pure function of the seed
// (DeriveSeed(seed, kSimSchedule)): the same seed gives the same list of
// faults, kinds, targets, start times and durations. A target is named as a
// role ("the master", "a replica") and resolved when the fault is applied;
// the resolution is logged in the run's trace.
//
// Checks, as the drills make them (tools/chassis): the history of the
// history clients' puts and LINEARIZABLE gets is checked by
// CheckLinearizable and CheckSingleMaster; every write acknowledged as
// durable must be present with its value on every board at the end, after
// the network is healed (LOCAL reads of each engine); and the chassis must
// recover (one master every board agrees on) after each fault.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bp::sim {

enum class FaultKind { kKill, kPause, kPartition, kAsymmetric, kPull, kReplace, kLoss };
const char* FaultKindName(FaultKind k);

enum class Target { kMaster, kReplica };

struct FaultEvent {
  FaultKind kind = FaultKind::kKill;
  Target target = Target::kMaster;
  int pick = 0;          // which replica (index among replicas), or a peer for cuts
  int gap_ms = 0;        // quiet time before the fault (after the last recovery)
  int duration_ms = 0;   // how long the fault lasts (kill: the time the board is down)
  double loss = 0;       // kLoss: network loss probability; others: background loss
  double duplication = 0;
  std::string Text() const;
};

struct SimOptions {
  int boards = 3;
  int faults = 4;                  // events in the schedule
  int writers = 2;                 // unique-key writer threads
  int history_clients = 3;         // put/get threads on a few shared keys
  int history_keys = 3;
  int op_pause_us = 1500;          // each client's pause between operations
  int recover_timeout_ms = 20000;  // after each fault, for one agreed master
  int settle_timeout_ms = 20000;   // at the end, for every acked write everywhere
  bool verbose = false;            // print the engines' logs of a failing run
  // Master leases (leases = true, lease_timeout_ms as the lease tests use).
  bool leases = false;
  int lease_timeout_ms = 100;
  // Self-test of the checks: records one durable write that was never made
  // and one get of a value never written; the run must then fail both the
  // durability and the linearizability check.
  bool plant_violations = false;
};

std::vector<FaultEvent> MakeSchedule(uint64_t seed, const SimOptions& o);
std::string ScheduleText(const std::vector<FaultEvent>& schedule);

struct SimResult {
  uint64_t seed = 0;
  bool ok = false;
  std::vector<std::string> failures;  // one line each; empty when ok
  std::string schedule;               // ScheduleText of the seed
  std::vector<std::string> trace;     // what was applied, when, to which slot
  uint64_t durable = 0, not_durable = 0, unknown = 0, refused = 0;
  uint64_t reads = 0, history_ops = 0;
  std::string verdict;                // linearizability verdict
  double elapsed_s = 0;
  nlohmann::json details;             // checker outputs of a failing run
  // Seed, figures and failures; with the schedule and trace when failed or `full`.
  std::string Report(bool full = false) const;
  nlohmann::json Json() const;
};

// Runs one seed. Never throws; a setup failure is a failed result.
SimResult RunSeed(uint64_t seed, const SimOptions& options);

}  // namespace bp::sim
