// Goal: the single-master check over hand-made histories. Sorted by the
// instant each master last confirmed itself, LINEARIZABLE answers must never
// go back to an older generation, and one generation must be served by one
// slot only. Histories that pass (a clean handover, ties, unserved and failed
// ops ignored) and that fail (an old master answering after the new one; two
// slots in one generation) — and the drill report carries the verdict.
#include "single_master.h"

#include <gtest/gtest.h>

#include "report.h"

namespace bp::chassis {
namespace {

HistoryOp Get(int client, int slot, uint32_t gen, int64_t served_us,
              OpResult result = OpResult::kOk) {
  HistoryOp op;
  op.client = client;
  op.kind = OpKind::kGet;
  op.key = "k0";
  op.value = "c0-1";
  op.result = result;
  op.invoke_us = served_us - 100;
  op.return_us = served_us + 100;
  op.served = ServedBy{slot, gen, served_us};
  return op;
}

HistoryOp Put(int client, int64_t at_us) {
  HistoryOp op;
  op.client = client;
  op.kind = OpKind::kPut;
  op.key = "k0";
  op.value = "c" + std::to_string(client) + "-1";
  op.invoke_us = at_us;
  op.return_us = at_us + 50;
  return op;
}

TEST(SingleMaster, EmptyHistoryPasses) {
  SingleMasterResult r = CheckSingleMaster({});
  EXPECT_TRUE(r.single_master);
  EXPECT_EQ(r.reads, 0u);
}

TEST(SingleMaster, CleanHandoverPasses) {
  // Slot 1 serves gen 3, then slot 2 takes over with gen 4; histories are
  // recorded per client, so the input is not in served order.
  std::vector<HistoryOp> h = {Get(0, 2, 4, 5000), Get(1, 1, 3, 1000), Put(2, 1500),
                              Get(1, 1, 3, 2000), Get(0, 2, 4, 4000), Get(2, 2, 4, 4000)};
  SingleMasterResult r = CheckSingleMaster(h);
  EXPECT_TRUE(r.single_master) << r.reason;
  EXPECT_EQ(r.reads, 5u);
  EXPECT_EQ(r.by_slot.at(1), 2u);
  EXPECT_EQ(r.by_slot.at(2), 3u);
  EXPECT_EQ(r.gen_slot.at(3), 1);
  EXPECT_EQ(r.gen_slot.at(4), 2);
  EXPECT_FALSE(r.first.has_value());
}

TEST(SingleMaster, SameSlotAcrossGenerationsAndTiesPass) {
  // One slot re-elected with a higher generation; an old- and a
  // new-generation answer confirmed at the same microsecond are in order.
  std::vector<HistoryOp> h = {Get(0, 1, 3, 1000), Get(1, 1, 5, 3000), Get(2, 2, 4, 2000),
                              Get(0, 2, 4, 2000)};
  h.push_back(Get(1, 3, 6, 3000));
  SingleMasterResult r = CheckSingleMaster(h);
  // gen 4 (slot 2) at 2000, gen 5 (slot 1) and gen 6 (slot 3) at 3000.
  EXPECT_TRUE(r.single_master) << r.reason;
  EXPECT_EQ(r.reads, 5u);
}

TEST(SingleMaster, UnservedAndFailedOpsAreIgnored) {
  HistoryOp local = Get(0, 1, 3, 9000);
  local.served.reset();  // a LOCAL read carries no served fields
  HistoryOp failed = Get(1, 2, 2, 9500, OpResult::kFail);
  std::vector<HistoryOp> h = {Get(0, 1, 3, 1000), local, failed, Put(2, 3000)};
  SingleMasterResult r = CheckSingleMaster(h);
  EXPECT_TRUE(r.single_master) << r.reason;
  EXPECT_EQ(r.reads, 1u);
}

TEST(SingleMaster, OldMasterAnsweringAfterTheNewOneFails) {
  // Slot 2 confirmed as master of gen 4 at 2000; cut-off slot 1 still
  // confirmed itself as master of gen 3 at 2500.
  std::vector<HistoryOp> h = {Get(0, 1, 3, 1000), Get(1, 2, 4, 2000), Get(2, 1, 3, 2500),
                              Get(0, 2, 4, 3000)};
  SingleMasterResult r = CheckSingleMaster(h);
  EXPECT_FALSE(r.single_master);
  ASSERT_TRUE(r.first && r.second);
  EXPECT_EQ(r.first->served->slot, 2);
  EXPECT_EQ(r.first->served->us, 2000);
  EXPECT_EQ(r.second->served->slot, 1);
  EXPECT_EQ(r.second->served->gen, 3u);
  EXPECT_NE(r.reason.find("older generation 3"), std::string::npos) << r.reason;
  nlohmann::json j = SingleMasterJson(r, 0);
  EXPECT_EQ(j["single_master"], false);
  ASSERT_EQ(j["pair"].size(), 2u);
  EXPECT_EQ(j["pair"][0]["served_by"], 2);
  EXPECT_EQ(j["pair"][1]["served_by"], 1);
  EXPECT_DOUBLE_EQ(j["pair"][1]["served_ms"].get<double>(), 2.5);
}

TEST(SingleMaster, TwoSlotsInOneGenerationFail) {
  std::vector<HistoryOp> h = {Get(0, 1, 3, 1000), Get(1, 2, 3, 1200), Get(2, 1, 3, 1400)};
  SingleMasterResult r = CheckSingleMaster(h);
  EXPECT_FALSE(r.single_master);
  ASSERT_TRUE(r.first && r.second);
  EXPECT_EQ(r.first->served->slot, 1);
  EXPECT_EQ(r.second->served->slot, 2);
  EXPECT_NE(r.reason.find("two masters of one generation"), std::string::npos) << r.reason;
}

TEST(SingleMaster, OnlyTheFirstOffendingPairIsReported) {
  std::vector<HistoryOp> h = {Get(0, 1, 3, 1000), Get(1, 2, 4, 2000), Get(2, 1, 3, 2500),
                              Get(0, 3, 4, 2600)};
  SingleMasterResult r = CheckSingleMaster(h);
  EXPECT_FALSE(r.single_master);
  EXPECT_EQ(r.second->served->us, 2500);
}

RoundResult Round(int n, std::vector<HistoryOp> served) {
  RoundResult r;
  r.round = n;
  r.t0_us = 0;
  CheckResult c;
  c.ops = c.checked = served.size();
  r.check = c;
  r.single_master = CheckSingleMaster(served);
  r.served_reads = std::move(served);
  return r;
}

DrillReport Report(std::vector<RoundResult> rounds) {
  DrillReport d;
  d.kind = "partition";
  d.ack_policy = "none";  // a second master fails the drill under every policy
  d.boards = 3;
  d.rounds_requested = int(rounds.size());
  d.rounds = std::move(rounds);
  return d;
}

TEST(SingleMasterReport, CheckedAcrossRoundsAndInTheSummary) {
  auto j = ReportJson(Report({Round(1, {Get(0, 1, 3, 1000), Get(1, 2, 4, 2000)}),
                              Round(2, {Get(0, 2, 4, 5000), Get(1, 3, 5, 6000)})}));
  EXPECT_EQ(j["single_master"], true);
  EXPECT_EQ(j["single_master_check"]["reads"], 4);
  EXPECT_EQ(j["single_master_check"]["slots"].size(), 3u);
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["rounds_detail"][0]["single_master"]["single_master"], true);
  std::string s = HumanSummary(j);
  EXPECT_NE(s.find("single_master: true (4 LINEARIZABLE reads served"), std::string::npos) << s;
}

TEST(SingleMasterReport, ASecondMasterFailsTheDrill) {
  // Each round alone is fine; together, slot 1 answered for gen 3 after
  // slot 2 had answered for gen 4 (rounds overlap in time here on purpose).
  auto j = ReportJson(Report({Round(1, {Get(0, 2, 4, 2000)}), Round(2, {Get(0, 1, 3, 2500)})}));
  EXPECT_EQ(j["single_master"], false);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_TRUE(j["single_master_check"].contains("pair"));
  std::string s = HumanSummary(j);
  EXPECT_NE(s.find("single_master: false"), std::string::npos) << s;
  EXPECT_NE(s.find("served by slot 1, gen 3"), std::string::npos) << s;
}

TEST(SingleMasterReport, AbsentWithoutCheck) {
  RoundResult r;
  r.round = 1;
  auto j = ReportJson(Report({r}));
  EXPECT_FALSE(j.contains("single_master"));
}

}  // namespace
}  // namespace bp::chassis
