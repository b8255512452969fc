// Goal: the kill drill, end to end, as an operator runs it: `chassis up`
// with 3 boards in a temporary run directory, `chassis drill kill --rounds 3
// --json`, then `chassis down`. Checks the JSON report (3 rounds, failover
// statistics present, no acknowledged write lost under the default quorum
// policy) and that no board process is left afterwards. The run directory
// tears everything down even when an assertion fails.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"

namespace bp::chassis_test {
namespace {

using nlohmann::json;

void ExpectStats(const json& report, const char* name) {
  ASSERT_TRUE(report.contains(name)) << name;
  const json& s = report[name];
  for (const char* k : {"min", "p50", "p99", "max"}) {
    ASSERT_TRUE(s.contains(k) && s[k].is_number()) << name << "." << k << " in " << s.dump();
  }
  EXPECT_LE(s["min"].get<double>(), s["p50"].get<double>()) << name;
  EXPECT_LE(s["p50"].get<double>(), s["p99"].get<double>()) << name;
  EXPECT_LE(s["p99"].get<double>(), s["max"].get<double>()) << name;
}

TEST(ChassisKillDrill, ThreeRoundsLoseNoAckedWrite) {
  TempRunDir dir;
  CliResult up = RunChassis({"up", "--boards", "3", "--run-dir", dir.path()});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  ASSERT_NE(up.out.find("master"), std::string::npos) << up.out;

  CliResult drill =
      RunChassis({"drill", "kill", "--rounds", "3", "--json", "--run-dir", dir.path()});
  ASSERT_EQ(drill.exit_code, 0) << drill.out << drill.err;
  json report = json::parse(drill.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "stdout is not JSON:\n" << drill.out;
  EXPECT_EQ(report["drill"], "kill");
  EXPECT_EQ(report["rounds"], 3);
  EXPECT_EQ(report["ack_policy"], "quorum");
  EXPECT_EQ(report["lost_writes"], 0);
  EXPECT_GT(report["acked_writes"].get<uint64_t>(), 0u);
  EXPECT_TRUE(report["ok"].get<bool>()) << report["errors"].dump();
  for (const char* s :
       {"failover_ms", "detection_ms", "election_ms", "first_commit_ms", "reinit_ms"}) {
    ExpectStats(report, s);
  }
  ASSERT_EQ(report["rounds_detail"].size(), 3u);
  for (const auto& r : report["rounds_detail"]) {
    EXPECT_NE(r["new_master"], r["old_master"]) << r.dump();
  }

  std::vector<pid_t> pids = dir.RecordedPids();
  ASSERT_EQ(pids.size(), 3u);
  CliResult down = RunChassis({"down", "--run-dir", dir.path()});
  ASSERT_EQ(down.exit_code, 0) << down.out << down.err;
  for (pid_t p : pids) EXPECT_FALSE(ProcessAlive(p)) << "board pid " << p << " survived down";
  CliResult status = RunChassis({"status", "--run-dir", dir.path()});
  EXPECT_NE(status.exit_code, 0) << "status after down should say no chassis runs";
}

}  // namespace
}  // namespace bp::chassis_test
