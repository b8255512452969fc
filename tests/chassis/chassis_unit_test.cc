// Goal: the pieces of the chassis tool that need no board: statistics
// (nearest-rank percentiles, empty samples as null), the run directory's
// pids file round trip, the value derivation used for read-back checks, and
// which ack policies make a lost write a failure.
#include <gtest/gtest.h>

#include <filesystem>

#include "load_gen.h"
#include "report.h"
#include "run_dir.h"
#include "stats.h"

namespace bp::chassis {
namespace {

TEST(Stats, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  Summary s = Summarize(v);
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.p50, 50);
  EXPECT_EQ(s.p99, 99);
  EXPECT_EQ(s.max, 100);
  Summary ten = Summarize({5, 1, 9, 3, 7, 2, 8, 4, 6, 10});
  EXPECT_EQ(ten.p99, 10);  // 10 samples: p99 is the max
  EXPECT_EQ(ten.p50, 5);
}

TEST(Stats, EmptyIsNullNotZero) {
  auto j = SummaryJson(Summarize({}));
  EXPECT_TRUE(j["p50"].is_null());
  EXPECT_EQ(j["count"], 0);
}

TEST(RunDir, PidsRoundTrip) {
  char tmpl[] = "/tmp/bpch-unit-XXXXXX";
  RunDir dir(mkdtemp(tmpl));
  ASSERT_TRUE(dir.Create().ok());
  EXPECT_FALSE(dir.HasState());
  RunState s;
  s.board_exe = "/x/board";
  s.boards = {{1, 100, 5, 1}, {2, 200, 6, 3}};
  ASSERT_TRUE(dir.SaveState(s).ok());
  auto back = dir.LoadState();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->board_exe, "/x/board");
  ASSERT_EQ(back->boards.size(), 2u);
  EXPECT_EQ(back->Find(2)->pid, 200);
  EXPECT_EQ(back->Find(2)->starts, 3);
  std::filesystem::remove_all(dir.path());
}

TEST(LoadGen, ValueDerivesFromKey) {
  EXPECT_EQ(MakeValue("ab", 7), "ab.ab.a");
  EXPECT_EQ(MakeValue("key", 0), "");
  EXPECT_NE(MakeValue("d1-0-1", 32), MakeValue("d1-0-2", 32));
}

TEST(Report, StrictPolicies) {
  EXPECT_TRUE(LossIsFailure("quorum"));
  EXPECT_TRUE(LossIsFailure("all"));
  EXPECT_FALSE(LossIsFailure("none"));
  EXPECT_FALSE(LossIsFailure("one"));
}

}  // namespace
}  // namespace bp::chassis
