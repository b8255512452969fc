// sim: runs seeds of the simulation tier (sim_chassis.h) for reliability
// figures, and replays one.
//
//   sim --seeds N [--first-seed S] [--boards 3|5] [--faults F] [--json]
//   sim --seed S [--verbose]          one seed, its schedule and trace
//
// Prints pass/fail counts and each failing seed's report; each failing seed
// is run once more to measure how often a failure reproduces on replay
// (Berkeley DB's own timing is outside the seed: sim_chassis_test.cc).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sim_chassis.h"

int main(int argc, char** argv) {
  CLI::App app{"simulated chassis: seeded fault schedules on in-process engines"};
  uint64_t seeds = 10, first = 1, one = 0;
  bp::sim::SimOptions o;
  bool json = false;
  app.add_option("--seeds", seeds, "how many seeds to run");
  app.add_option("--first-seed", first, "the first seed (then first+1, ...)");
  app.add_option("--seed", one, "run this one seed (a replay) and print its report");
  app.add_option("--boards", o.boards, "boards in the chassis")->check(CLI::IsMember({3, 5}));
  app.add_option("--faults", o.faults, "faults in each seed's schedule");
  app.add_flag("--json", json, "one JSON document on stdout");
  app.add_flag("--verbose", o.verbose, "print the engines' logs of a failing seed");
  app.add_flag("--leases", o.leases, "a chassis with master leases (lease_timeout_ms 100)");
  CLI11_PARSE(app, argc, argv);
  if (one != 0) {
    first = one;
    seeds = 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t passed = 0, failed = 0, reproduced = 0;
  nlohmann::json out = {{"boards", o.boards}, {"faults", o.faults}, {"failing", nlohmann::json::array()}};
  for (uint64_t s = first; s < first + seeds; ++s) {
    bp::sim::SimResult r = bp::sim::RunSeed(s, o);
    if (!json) std::fprintf(stderr, "%s", r.Report(one != 0).c_str());
    if (r.ok) {
      ++passed;
      continue;
    }
    ++failed;
    bp::sim::SimResult again = bp::sim::RunSeed(s, o);
    if (!again.ok) ++reproduced;
    if (!json) {
      std::fprintf(stderr, "  replay of seed %llu: %s\n", (unsigned long long)s,
                   again.ok ? "passed (did not reproduce)" : "failed again");
    }
    nlohmann::json f = r.Json();
    f["replay"] = again.Json();
    out["failing"].push_back(f);
  }
  const double minutes =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60.0;
  out["seeds"] = seeds;
  out["passed"] = passed;
  out["failed"] = failed;
  out["replays_failed_again"] = reproduced;
  out["minutes"] = minutes;
  out["seeds_per_minute"] = minutes > 0 ? double(seeds) / minutes : 0;
  if (json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("seeds %llu (first %llu, %d boards, %d faults each): passed %llu, failed %llu",
                (unsigned long long)seeds, (unsigned long long)first, o.boards, o.faults,
                (unsigned long long)passed, (unsigned long long)failed);
    if (failed) std::printf(", failing seeds:");
    for (const auto& f : out["failing"]) std::printf(" %llu", (unsigned long long)f["seed"].get<uint64_t>());
    std::printf("\nreplay: %llu of %llu failing seeds failed again; %.2f min, %.1f seeds/min\n",
                (unsigned long long)reproduced, (unsigned long long)failed, minutes,
                out["seeds_per_minute"].get<double>());
  }
  return failed ? 1 : 0;
}
