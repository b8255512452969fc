// Goal: the soak's pure logic, with no board: status fields read with
// defaults (a board without "memory"/"requests" is "not reported", not 0),
// VmRSS parsing, the values naming their writer, the classification that
// tells a lost write and a write applied twice from a good value, RSS drift
// after the warm-up, and the pass/fail verdict naming each failed criterion.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "drill.h"
#include "soak_eval.h"

namespace bp::chassis {
namespace {

using nlohmann::json;

TEST(SoakSample, StatusFieldsAreOptional) {
  BoardSample b;
  ParseBoardStatus(json{{"role", "replica"},
                        {"master", 2},
                        {"generation", 7},
                        {"panicked", false},
                        {"elections", {{"held", 1}, {"won", 0}}},
                        {"log", {{"since_checkpoint_bytes", 4096}, {"buffer_bytes", 1 << 22}}}},
                   &b);
  EXPECT_EQ(b.role, "replica");
  EXPECT_EQ(b.master, 2);
  EXPECT_EQ(b.generation, 7);
  EXPECT_EQ(b.elections_held, 1u);
  EXPECT_EQ(b.log_since_checkpoint_bytes, 4096u);
  EXPECT_FALSE(b.cache_bytes.has_value());  // no "memory" yet: not reported
  EXPECT_FALSE(b.ids.has_value());          // no "requests" yet
  ParseBoardStatus(json{{"memory",
                         {{"cache_bytes", 100},
                          {"data_bytes", {{"kv", 30}, {"__requests", 12}}},
                          {"high_water_pct", 85.5},
                          {"refused_writes", 0}}},
                        {"requests", {{"ids", 10}, {"max_ids", 50}, {"expired", 3}}}},
                   &b);
  EXPECT_EQ(b.cache_bytes, 100u);
  EXPECT_EQ(b.data_bytes, 42u);  // bytes per table: their sum
  EXPECT_DOUBLE_EQ(*b.high_water_pct, 85.5);
  EXPECT_EQ(b.ids, 10u);
  EXPECT_EQ(b.max_ids, 50u);
  EXPECT_EQ(b.expired, 3u);
  EXPECT_FALSE(b.evicted.has_value());
}

TEST(SoakSample, VmRss) {
  EXPECT_EQ(ParseVmRss("Name:\tboard\nVmPeak:\t 900 kB\nVmRSS:\t   12345 kB\n"), 12345u * 1024);
  EXPECT_FALSE(ParseVmRss("Name:\tboard\n").has_value());
  auto self = ReadRssBytes(getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_GT(*self, 0u);
}

TEST(SoakValue, NamesItsWriterAndKey) {
  std::string v = SoakValue(3, 17, "soak-k5", 64);
  EXPECT_EQ(v.size(), 64u);
  EXPECT_EQ(v.rfind("c3-17-soak-k5;", 0), 0u);
  auto p = ParseSoakValue(v, "soak-k5");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->client, 3);
  EXPECT_EQ(p->seq, 17u);
  EXPECT_FALSE(ParseSoakValue(v, "soak-k6").has_value());  // another key's value
  std::string bad = v;
  bad[40] ^= 1;
  EXPECT_FALSE(ParseSoakValue(bad, "soak-k5").has_value());  // corrupt
  EXPECT_FALSE(ParseSoakValue("", "soak-k5").has_value());
  EXPECT_GE(SoakValueMinSize(8, "soak-k999"),
            std::string("c7-18446744073709551615-soak-k999;").size());
}

KeyWrites Writes(std::optional<uint64_t> acked, uint64_t attempted,
                 std::set<uint64_t> uncertain = {}, std::set<uint64_t> failed = {}) {
  KeyWrites w;
  w.acked = acked;
  w.attempted = attempted;
  w.uncertain = std::move(uncertain);
  w.failed = std::move(failed);
  return w;
}

TEST(SoakClassify, LatestAckedIsOk) {
  const std::string k = "soak-k1";
  EXPECT_EQ(ClassifyValue(SoakValue(1, 9, k, 48), k, 1, Writes(9, 9)), ValueVerdict::kOk);
  EXPECT_EQ(ClassifyValue(std::nullopt, k, 1, Writes(std::nullopt, 0)), ValueVerdict::kOk);
  // A later write with no definite answer may have applied.
  EXPECT_EQ(ClassifyValue(SoakValue(1, 12, k, 48), k, 1, Writes(9, 12, {12})), ValueVerdict::kOk);
}

TEST(SoakClassify, MissingOrForeignIsLost) {
  const std::string k = "soak-k1";
  EXPECT_EQ(ClassifyValue(std::nullopt, k, 1, Writes(9, 9)), ValueVerdict::kLost);
  EXPECT_EQ(ClassifyValue(SoakValue(2, 9, k, 48), k, 1, Writes(9, 9)), ValueVerdict::kLost);
  EXPECT_EQ(ClassifyValue(std::string("garbage"), k, 1, Writes(9, 9)), ValueVerdict::kLost);
}

TEST(SoakClassify, OlderAckedValueOverALaterOneIsDoubled) {
  // Client 1 wrote seq 5 (acked) then seq 9 (acked) to the key: seq 5 showing
  // again means it was applied a second time after seq 9.
  const std::string k = "soak-k1";
  EXPECT_EQ(ClassifyValue(SoakValue(1, 5, k, 48), k, 1, Writes(9, 9)), ValueVerdict::kDoubled);
  // Had seq 5 no definite answer, its late apply is allowed (counted apart).
  EXPECT_EQ(ClassifyValue(SoakValue(1, 5, k, 48), k, 1, Writes(9, 9, {5})),
            ValueVerdict::kLateUnknown);
}

TEST(SoakClassify, FailedOrNeverSentIsFailedApplied) {
  const std::string k = "soak-k1";
  EXPECT_EQ(ClassifyValue(SoakValue(1, 7, k, 48), k, 1, Writes(9, 9, {}, {7})),
            ValueVerdict::kFailedApplied);
  EXPECT_EQ(ClassifyValue(SoakValue(1, 10, k, 48), k, 1, Writes(9, 9)),
            ValueVerdict::kFailedApplied);  // never sent
}

TEST(SoakClassify, LiveReadSeesAWriteInFlight) {
  // Acked floor 9 before the read; seq 10 was sent meanwhile and shows.
  const std::string k = "soak-k1";
  EXPECT_EQ(ClassifyValue(SoakValue(1, 10, k, 48), k, 1, Writes(9, 10)), ValueVerdict::kOk);
}

SoakSample Sample(double t, bool warmup, std::vector<std::pair<int, uint64_t>> rss,
                  pid_t pid_base = 100) {
  SoakSample s;
  s.t_s = t;
  s.warmup = warmup;
  for (auto [slot, bytes] : rss) {
    BoardSample b;
    b.slot = slot;
    b.pid = pid_base + slot;
    b.alive = b.answered = true;
    b.rss_bytes = bytes;
    b.role = slot == 1 ? "master" : "replica";
    b.master = 1;
    b.generation = 3;
    b.elections_held = 1;
    s.boards.push_back(b);
  }
  return s;
}

TEST(SoakDrift, CountsFromTheFirstSampleAfterWarmup) {
  std::vector<SoakSample> s{Sample(0, true, {{1, 50}}), Sample(1, true, {{1, 90}}),
                            Sample(2, false, {{1, 100}}), Sample(3, false, {{1, 103}}),
                            Sample(4, false, {{1, 101}})};
  RssDrift d = ComputeRssDrift(s, 1);
  EXPECT_EQ(d.baseline_bytes, 100u);
  EXPECT_EQ(d.max_bytes, 103u);
  EXPECT_NEAR(d.max_drift_pct, 3.0, 1e-9);
  EXPECT_EQ(d.samples, 3u);
  EXPECT_GT(d.slope_bytes_per_s, 0);
  // A shrinking RSS is no drift.
  std::vector<SoakSample> down{Sample(2, false, {{1, 100}}), Sample(3, false, {{1, 90}})};
  EXPECT_EQ(ComputeRssDrift(down, 1).max_drift_pct, 0);
}

WriteCheck GoodWrites() {
  WriteCheck w;
  w.acked = 1000;
  return w;
}

TEST(SoakVerdict, PassesWhenFlat) {
  std::vector<SoakSample> s;
  for (int t = 0; t < 10; ++t) s.push_back(Sample(t, t < 3, {{1, 100 + t / 5}, {2, 200}}));
  SoakVerdict v = EvaluateSoak(s, GoodWrites(), SoakCriteria{5});
  EXPECT_TRUE(v.pass) << (v.failures.empty() ? "" : v.failures[0]);
  EXPECT_EQ(v.elections, 0u);
  EXPECT_EQ(v.failovers, 0u);
}

bool Mentions(const SoakVerdict& v, const std::string& text) {
  for (const auto& f : v.failures) {
    if (f.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(SoakDrift, ASpikeRaisesThePeakNotTheLevel) {
  // 20 samples at 100 with one at 110 in the middle: the peak is 10 %, the
  // level the run ends at has not moved.
  std::vector<SoakSample> s;
  for (int t = 0; t < 20; ++t) s.push_back(Sample(t, false, {{1, t == 9 ? 110u : 100u}}));
  RssDrift d = ComputeRssDrift(s, 1);
  EXPECT_NEAR(d.max_drift_pct, 10.0, 1e-9);
  EXPECT_EQ(d.window, 5u);
  EXPECT_EQ(d.start_level_bytes, 100u);
  EXPECT_EQ(d.end_level_bytes, 100u);
  EXPECT_EQ(d.drift_pct, 0);
  SoakVerdict v = EvaluateSoak(s, GoodWrites(), SoakCriteria{5});
  EXPECT_TRUE(v.pass) << (v.failures.empty() ? "" : v.failures[0]);
  EXPECT_NEAR(v.max_rss_peak_pct, 10.0, 1e-9);
}

TEST(SoakDrift, ASteadyRiseUnderNoiseRaisesTheLevel) {
  // +1 a sample with +-3 of noise: the medians of the first and last 5
  // samples are 103 and 118 (first 100, 104, 99, 103, 107; last 115, 119,
  // 114, 118, 122).
  std::vector<SoakSample> s;
  const int noise[] = {0, 3, -3};
  for (int t = 0; t < 20; ++t) {
    s.push_back(Sample(t, false, {{1, uint64_t(100 + t + noise[t % 3])}}));
  }
  RssDrift d = ComputeRssDrift(s, 1);
  EXPECT_EQ(d.start_level_bytes, 103u);
  EXPECT_EQ(d.end_level_bytes, 118u);
  EXPECT_NEAR(d.drift_pct, 100.0 * 15 / 103, 1e-9);
  SoakVerdict v = EvaluateSoak(s, GoodWrites(), SoakCriteria{5});
  EXPECT_FALSE(v.pass);
  EXPECT_TRUE(Mentions(v, "median of 5 samples")) << v.failures[0];
}

TEST(SoakVerdict, RssGrowthFails) {
  std::vector<SoakSample> s;
  for (int t = 0; t < 10; ++t) s.push_back(Sample(t, t < 3, {{1, 100 + uint64_t(t) * 2}}));
  SoakVerdict v = EvaluateSoak(s, GoodWrites(), SoakCriteria{5});
  EXPECT_FALSE(v.pass);
  EXPECT_TRUE(Mentions(v, "board 1: RSS grew")) << v.failures[0];
  EXPECT_NEAR(v.max_rss_drift_pct, 100.0 * (118 - 106) / 106, 1e-6);
}

TEST(SoakVerdict, ElectionFailoverPanicAndWindowFail) {
  std::vector<SoakSample> s;
  for (int t = 0; t < 6; ++t) s.push_back(Sample(t, t < 2, {{1, 100}, {2, 100}}));
  s[3].boards[1].elections_held = 2;
  s[4].boards[1].generation = 4;
  s[5].boards[1].generation = 4;
  s[4].boards[0].panicked = true;
  s[5].boards[0].ids = 11;
  s[5].boards[0].max_ids = 10;
  SoakVerdict v = EvaluateSoak(s, GoodWrites(), SoakCriteria{5});
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(v.elections, 1u);
  EXPECT_EQ(v.failovers, 1u);
  EXPECT_EQ(v.panics, 1u);
  EXPECT_TRUE(Mentions(v, "board 2 held 1 election(s) during the soak, the first by 3.0 s"));
  EXPECT_TRUE(Mentions(
      v, "board 2 saw 1 failover(s), the first master 1 gen 3 -> master 1 gen 4 at 4.0 s"));
  EXPECT_TRUE(Mentions(v, "board 1 reported panicked"));
  EXPECT_TRUE(Mentions(v, "over its window of 10"));
  EXPECT_TRUE(v.requests_reported);
}

TEST(SoakVerdict, NoMasterForAMomentIsNoFailover) {
  std::vector<SoakSample> s;
  for (int t = 0; t < 6; ++t) s.push_back(Sample(t, t < 2, {{1, 100}, {2, 100}}));
  s[3].boards[1].master = -1;  // during an election it lost
  SoakVerdict v = EvaluateSoak(s, GoodWrites(), SoakCriteria{5});
  EXPECT_EQ(v.failovers, 0u);
  EXPECT_TRUE(v.pass) << v.failures[0];
  for (size_t t : {4, 5}) {  // a real change of master, from then on
    s[t].boards[1].master = 2;
    s[t].boards[1].generation = 4;
  }
  EXPECT_EQ(EvaluateSoak(s, GoodWrites(), SoakCriteria{5}).failovers, 1u);
}

TEST(SoakVerdict, RefusedWritesFailAndNameTheFix) {
  std::vector<SoakSample> s;
  for (int t = 0; t < 6; ++t) s.push_back(Sample(t, t < 2, {{1, 100}}));
  for (auto& x : s) x.boards[0].refused_writes = 7;  // before the soak: not its doing
  EXPECT_TRUE(EvaluateSoak(s, GoodWrites(), SoakCriteria{5}).pass);
  s[5].boards[0].refused_writes = 9;
  SoakVerdict v = EvaluateSoak(s, GoodWrites(), SoakCriteria{5});
  EXPECT_TRUE(
      Mentions(v, "board 1 refused 2 write(s) at its memory high-water mark; raise cache_mb"));
}

TEST(SoakVerdict, ExitedOrSilentBoardFails) {
  std::vector<SoakSample> s;
  for (int t = 0; t < 8; ++t) s.push_back(Sample(t, t < 2, {{1, 100}, {2, 100}}));
  for (int t = 3; t < 6; ++t) s[size_t(t)].boards[1].answered = false;
  s[7].boards[0].alive = false;
  s[7].boards[0].answered = false;
  SoakVerdict v = EvaluateSoak(s, GoodWrites(), SoakCriteria{5});
  EXPECT_TRUE(Mentions(v, "board 1 exited"));
  EXPECT_TRUE(Mentions(v, "board 2 did not answer status 3 seconds in a row"));
  // One missed answer under load is not a failure.
  std::vector<SoakSample> once;
  for (int t = 0; t < 8; ++t) once.push_back(Sample(t, t < 2, {{1, 100}}));
  once[4].boards[0].answered = false;
  EXPECT_TRUE(EvaluateSoak(once, GoodWrites(), SoakCriteria{5}).pass);
}

TEST(SoakVerdict, WritesLostOrDoubledFail) {
  std::vector<SoakSample> s;
  for (int t = 0; t < 5; ++t) s.push_back(Sample(t, t < 1, {{1, 100}}));
  WriteCheck w = GoodWrites();
  w.lost = 2;
  w.doubled = 1;
  w.late_unknown = 4;  // allowed
  SoakVerdict v = EvaluateSoak(s, w, SoakCriteria{5});
  EXPECT_EQ(v.failures.size(), 2u);
  EXPECT_TRUE(Mentions(v, "2 acknowledged write(s) lost"));
  EXPECT_TRUE(Mentions(v, "1 write(s) applied twice"));
  EXPECT_FALSE(EvaluateSoak(s, WriteCheck{}, SoakCriteria{5}).pass);  // nothing acked
  // No sample after the warm-up: the RSS criterion cannot be judged.
  std::vector<SoakSample> warm{Sample(0, true, {{1, 100}})};
  EXPECT_TRUE(Mentions(EvaluateSoak(warm, GoodWrites(), SoakCriteria{5}), "no RSS sample"));
}

TEST(SoakCsv, OneRowPerBoardPerSample) {
  std::vector<SoakSample> s{Sample(0, true, {{1, 100}, {2, 200}}), Sample(1, false, {{1, 100}})};
  std::string csv = SamplesCsv(s);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  EXPECT_EQ(csv.rfind("t_s,warmup,acked_writes,slot,", 0), 0u);
  EXPECT_NE(csv.find("\n1,0,0,1,101,1,1,100,master,"), std::string::npos) << csv;
}

TEST(DrillSoak, MemoryProblemBetweenRounds) {
  SoakSample s = Sample(0, false, {{1, 100}, {2, 100}});
  EXPECT_EQ(MemoryProblem(s.boards), "");
  s.boards[1].ids = 5;  // no max_ids reported: nothing to judge
  EXPECT_EQ(MemoryProblem(s.boards), "");
  s.boards[1].max_ids = 4;
  EXPECT_EQ(MemoryProblem(s.boards), "board 2 keeps 5 request ids, over its window of 4");
  s.boards[1].max_ids = 5;
  s.boards[0].panicked = true;
  EXPECT_EQ(MemoryProblem(s.boards), "board 1 reported panicked");
  s.boards[0].panicked = false;
  s.boards[0].answered = false;
  EXPECT_EQ(MemoryProblem(s.boards), "board 1 did not answer status");
  s.boards[0].alive = false;
  EXPECT_EQ(MemoryProblem(s.boards), "board 1 is not running");
}

}  // namespace
}  // namespace bp::chassis
