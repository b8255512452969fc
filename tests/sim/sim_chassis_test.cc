// The simulation tier (ctest label `sim`): whole chassis of engines in one
// process on the in-process bus (tests/support/sim_bus.h), each seed
// driving a seeded fault schedule (kill = stop an engine and restart it
// empty, replace = planned switchover and an empty board, pause, partition,
// asymmetric cut, pull = silent death, message loss and duplication) under
// the drills' load, checked as the drills check: the history of puts and
// LINEARIZABLE gets is linearizable (tools/chassis/linearizability.h),
// never two masters answer at once (single_master.h), the chassis recovers
// one agreed master after every fault, and every write acknowledged as
// durable is present with its value on every board after healing.
//
// What a seed reproduces and what it does not. The seed fixes the fault
// schedule (kinds, targets by role, start gaps, durations, loss and
// duplication rates), the network's per-link drops, duplicates and delays
// for a given sequence of frames, the engines' own random draws (election
// jitter, request ids, backoff: EngineOptions::seed) and the clients' key
// and operation choices. It does not fix time or thread interleaving:
// Berkeley DB reads clock_gettime itself for its timeouts, rep_elect blocks
// its caller for real time, election ties are broken with __os_unique_id,
// and Berkeley DB's threads and the engine's interleave as the OS schedules
// them, so the frames sent (and so what the network draws for them) differ
// from run to run. The sim therefore reproduces the fault schedule and the
// engine's own decisions, not every interleaving inside Berkeley DB; a
// failing seed is worth replaying (`build/tests/sim/sim --seed S`), and the
// `sim` binary measures how often a failing seed fails again on replay
// (README.md, "The simulation tier", gives the figure).
//
// This test runs a fixed handful of seeds in bounded time (each seed has a
// few seconds of faults; recovery and settle waits are bounded). On a
// failure it prints the seed, its schedule and what was applied when.
#include <gtest/gtest.h>

#include "sim_chassis.h"

namespace bp::sim {
namespace {

struct Case {
  uint64_t seed;
  int boards;
};

class SimChassis : public ::testing::TestWithParam<Case> {};

TEST_P(SimChassis, SeedKeepsEveryAckedWriteLinearizableWithOneMaster) {
  SimOptions o;
  o.boards = GetParam().boards;
  o.faults = 4;
  SimResult r = RunSeed(GetParam().seed, o);
  std::printf("%s", r.Report().c_str());
  EXPECT_TRUE(r.ok) << r.Report();
  // A run that wrote nothing durable or read nothing checked nothing.
  EXPECT_GT(r.durable, 0u) << r.Report();
  EXPECT_GT(r.reads, 0u) << r.Report();
  EXPECT_NE(r.verdict, "inconclusive") << r.Report();
}

INSTANTIATE_TEST_SUITE_P(Seeds, SimChassis,
                         ::testing::Values(Case{1, 3}, Case{2, 3}, Case{3, 3}, Case{4, 5}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return "seed" + std::to_string(i.param.seed) + "_boards" +
                                  std::to_string(i.param.boards);
                         });

// The checks bite: a durable write that is nowhere and a read of a value
// never written each fail the run (a sim that cannot fail proves nothing).
TEST(SimChecks, PlantedLostWriteAndImpossibleReadFailTheRun) {
  SimOptions o;
  o.faults = 1;
  o.settle_timeout_ms = 500;
  o.plant_violations = true;
  SimResult r = RunSeed(5, o);
  EXPECT_FALSE(r.ok);
  std::string all;
  for (const auto& f : r.failures) all += f + "\n";
  EXPECT_NE(all.find("durable writes"), std::string::npos) << all;
  EXPECT_NE(all.find("u-planted-never-written"), std::string::npos) << all;
  EXPECT_NE(all.find("not linearizable"), std::string::npos) << all;
}

// The schedule is a pure function of the seed: a replay plays the same one.
TEST(SimSchedule, SameSeedSameScheduleOtherSeedOther) {
  SimOptions o;
  o.faults = 8;
  EXPECT_EQ(ScheduleText(MakeSchedule(42, o)), ScheduleText(MakeSchedule(42, o)));
  EXPECT_NE(ScheduleText(MakeSchedule(42, o)), ScheduleText(MakeSchedule(43, o)));
}

}  // namespace
}  // namespace bp::sim
