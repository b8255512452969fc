// Goal: a partition drill with --check, end to end: `chassis up` with 3
// boards, `chassis drill partition --rounds 2 --check --json`, `chassis
// down`. The recorded history of LINEARIZABLE gets and acknowledged puts on
// a few shared keys, across the master being cut off and a new one taking
// over, must check as linearizable; the report must say how much was
// checked. No board process is left afterwards, whatever happens.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"

namespace bp::chassis_test {
namespace {

using nlohmann::json;

TEST(ChassisPartitionCheck, HistoryAcrossPartitionIsLinearizable) {
  TempRunDir dir;
  CliResult up = RunChassis({"up", "--boards", "3", "--run-dir", dir.path()});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;

  CliResult drill = RunChassis({"drill", "partition", "--rounds", "2", "--check", "--json",
                                "--timeout-s", "15", "--run-dir", dir.path()});
  json report = json::parse(drill.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "stdout is not JSON:\n" << drill.out << drill.err;
  EXPECT_EQ(report["drill"], "partition");
  ASSERT_TRUE(report.contains("linearizable")) << report.dump(2);
  // The drill itself must pass: a history is only worth checking when every
  // round ran to the end (a failed round is a failure, not a note).
  EXPECT_EQ(drill.exit_code, 0) << report.value("errors", json()).dump(2) << "\n" << drill.err;
  EXPECT_TRUE(report.value("errors", json::array()).empty()) << report["errors"].dump(2);
  EXPECT_EQ(report["ok"], true) << report.dump(2);
  EXPECT_EQ(report["rounds"], 2) << "not every round ran";
  EXPECT_EQ(report["linearizable"], true)
      << report.value("linearizability_violation", json()).dump(2) << "\n"
      << drill.err;
  const json& lin = report["linearizability"];
  EXPECT_EQ(lin["verdict"], "linearizable");
  EXPECT_EQ(lin["rounds_checked"], report["rounds"]);
  EXPECT_GT(lin["checked"].get<uint64_t>(), 100u) << lin.dump();
  EXPECT_LT(lin["max_round_check_ms"].get<double>(), 5000.0) << lin.dump();
  EXPECT_FALSE(report.contains("linearizability_violation"));
  for (const auto& r : report["rounds_detail"]) {
    EXPECT_EQ(r["linearizability"]["verdict"], "linearizable") << r.dump();
    EXPECT_GT(r["linearizability"]["counts"].value("get_ok", 0), 0) << r.dump();
    EXPECT_GT(r["linearizability"]["counts"].value("put_ok", 0), 0) << r.dump();
  }
  EXPECT_EQ(report["lost_writes"], 0);
  EXPECT_NE(drill.err.find("linearizability: linearizable"), std::string::npos) << drill.err;

  std::vector<pid_t> pids = dir.RecordedPids();
  ASSERT_EQ(pids.size(), 3u);
  CliResult down = RunChassis({"down", "--run-dir", dir.path()});
  ASSERT_EQ(down.exit_code, 0) << down.out << down.err;
  for (pid_t p : pids) EXPECT_FALSE(ProcessAlive(p)) << "board pid " << p << " survived down";
}

}  // namespace
}  // namespace bp::chassis_test
