// Goal: the drill report carries the checker's verdict: `linearizable` true
// when every round checked out, false with the violating round's ops (and a
// failed drill under quorum, a note under none), null when a round was
// inconclusive; absent without --check. The human summary says the same.
#include <gtest/gtest.h>

#include "report.h"

namespace bp::chassis {
namespace {

RoundResult MakeRound(int n, Verdict v) {
  RoundResult r;
  r.round = n;
  r.t0_us = 1'000'000;
  CheckResult c;
  c.verdict = v;
  c.ops = c.checked = 3;
  c.keys = 1;
  c.elapsed_ms = 0.5;
  if (v != Verdict::kLinearizable) {
    c.key = "k0";
    c.reason = "stale get";
    c.window = {{1, OpKind::kPut, "k0", "c1-0", OpResult::kOk, 1'000'000, 1'001'000, std::nullopt},
                {2, OpKind::kGet, "k0", std::nullopt, OpResult::kOk, 1'002'000, 1'003'000,
                 std::nullopt}};
    c.failed_op = 1;
  }
  r.check = c;
  return r;
}

DrillReport Report(std::vector<RoundResult> rounds, const std::string& policy = "quorum") {
  DrillReport d;
  d.kind = "partition";
  d.ack_policy = policy;
  d.boards = 3;
  d.rounds_requested = int(rounds.size());
  d.rounds = std::move(rounds);
  return d;
}

TEST(DrillReportCheck, AbsentWithoutCheck) {
  nlohmann::json j = ReportJson(Report({RoundResult{}}));
  EXPECT_FALSE(j.contains("linearizable"));
  EXPECT_EQ(HumanSummary(j).find("linearizability"), std::string::npos);
}

TEST(DrillReportCheck, AllRoundsLinearizable) {
  nlohmann::json j = ReportJson(
      Report({MakeRound(1, Verdict::kLinearizable), MakeRound(2, Verdict::kLinearizable)}));
  EXPECT_EQ(j["linearizable"], true);
  EXPECT_EQ(j["linearizability"]["rounds_checked"], 2);
  EXPECT_EQ(j["linearizability"]["checked"], 6);
  EXPECT_FALSE(j.contains("linearizability_violation"));
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_NE(HumanSummary(j).find("linearizability: linearizable"), std::string::npos);
}

TEST(DrillReportCheck, ViolationFailsTheDrillWithItsOps) {
  nlohmann::json j = ReportJson(
      Report({MakeRound(1, Verdict::kLinearizable), MakeRound(2, Verdict::kNotLinearizable)}));
  EXPECT_EQ(j["linearizable"], false);
  EXPECT_FALSE(j["ok"].get<bool>());
  const auto& v = j["linearizability_violation"];
  EXPECT_EQ(v["round"], 2);
  EXPECT_EQ(v["key"], "k0");
  ASSERT_EQ(v["ops_window"].size(), 2u);
  EXPECT_DOUBLE_EQ(v["ops_window"][1]["invoke_ms"].get<double>(), 2.0);  // since the drill start
  std::string text = HumanSummary(j);
  EXPECT_NE(text.find("not_linearizable"), std::string::npos) << text;
  EXPECT_NE(text.find(">> client 2 get -> (not found)"), std::string::npos) << text;
}

TEST(DrillReportCheck, ViolationUnderWeakPolicyIsReportedNotFailed) {
  nlohmann::json j = ReportJson(Report({MakeRound(1, Verdict::kNotLinearizable)}, "none"));
  EXPECT_EQ(j["linearizable"], false);
  EXPECT_FALSE(j["linearizability_fails_drill"].get<bool>());
  EXPECT_TRUE(j["ok"].get<bool>());
}

TEST(DrillReportCheck, InconclusiveIsNull) {
  nlohmann::json j = ReportJson(
      Report({MakeRound(1, Verdict::kInconclusive), MakeRound(2, Verdict::kLinearizable)}));
  EXPECT_TRUE(j["linearizable"].is_null());
  EXPECT_EQ(j["linearizability"]["verdict"], "inconclusive");
  EXPECT_EQ(j["linearizability_violation"]["round"], 1);
  EXPECT_TRUE(j["ok"].get<bool>());
}

}  // namespace
}  // namespace bp::chassis
