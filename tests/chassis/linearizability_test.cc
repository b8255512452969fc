// Goal: the linearizability checker gives the right verdict on small
// hand-made histories of gets and puts (stale reads, values never written,
// concurrent puts seen in either order, unknown-outcome puts seen or not,
// failed puts, real-time order), points at the op where the search failed,
// stays within its bound (inconclusive, not a hang), and checks random
// histories of thousands of ops per key well under a second.
#include "linearizability.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>

namespace bp::chassis {
namespace {

// A history built op by op; times in microseconds.
struct History {
  std::vector<HistoryOp> ops;

  History& Put(int client, const std::string& v, int64_t t0, int64_t t1, OpResult r = OpResult::kOk,
               const std::string& key = "x") {
    ops.push_back({client, OpKind::kPut, key, v, r, t0, t1, std::nullopt});
    return *this;
  }
  History& Get(int client, std::optional<std::string> v, int64_t t0, int64_t t1,
               const std::string& key = "x") {
    ops.push_back({client, OpKind::kGet, key, std::move(v), OpResult::kOk, t0, t1, std::nullopt});
    return *this;
  }
  CheckResult Check(const CheckOptions& o = {}) const { return CheckLinearizable(ops, o); }
};

const std::optional<std::string> kNotFound;

bool Linearizable(const History& h) { return h.Check().verdict == Verdict::kLinearizable; }
bool Violation(const History& h) { return h.Check().verdict == Verdict::kNotLinearizable; }

TEST(Linearizability, EmptyAndSequential) {
  EXPECT_TRUE(Linearizable(History{}));
  History h;
  h.Get(1, kNotFound, 0, 5).Put(1, "a", 10, 20).Get(2, "a", 30, 40).Put(2, "b", 50, 60);
  h.Get(1, "b", 70, 80);
  EXPECT_TRUE(Linearizable(h));
  CheckResult r = h.Check();
  EXPECT_EQ(r.ops, 5u);
  EXPECT_EQ(r.checked, 5u);
  EXPECT_EQ(r.keys, 1u);
}

TEST(Linearizability, StaleReadAfterCompletedPut) {
  History h;
  h.Put(1, "a", 0, 10).Put(2, "b", 20, 30).Get(3, "a", 40, 50);
  CheckResult r = h.Check();
  ASSERT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(r.key, "x");
  ASSERT_GE(r.failed_op, 0);
  const HistoryOp& failed = r.window[size_t(r.failed_op)];
  EXPECT_EQ(failed.kind, OpKind::kGet);
  EXPECT_EQ(failed.value, "a");
  EXPECT_EQ(r.window.size(), 3u);  // both puts are shown with the stale get
  EXPECT_NE(r.reason.find("client 3's get -> a"), std::string::npos) << r.reason;
}

TEST(Linearizability, NotFoundAfterCompletedPut) {
  EXPECT_TRUE(Violation(History{}.Put(1, "a", 0, 10).Get(2, kNotFound, 20, 30)));
  // Overlapping the put, "not found" is fine.
  EXPECT_TRUE(Linearizable(History{}.Put(1, "a", 0, 10).Get(2, kNotFound, 5, 30)));
}

TEST(Linearizability, ValueNeverWritten) {
  CheckResult r = History{}.Put(1, "a", 0, 10).Get(2, "zzz", 20, 30).Check();
  ASSERT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_NE(r.reason.find("no put ever wrote"), std::string::npos) << r.reason;
  EXPECT_EQ(r.window[size_t(r.failed_op)].value, "zzz");
}

TEST(Linearizability, ConcurrentPutsSeenInEitherOrder) {
  History base;
  base.Put(1, "a", 0, 100).Put(2, "b", 10, 90);
  // Reads during the puts may see a then b, or b then a...
  EXPECT_TRUE(Linearizable(History(base).Get(3, "a", 20, 30).Get(3, "b", 40, 50)));
  EXPECT_TRUE(Linearizable(History(base).Get(3, "b", 20, 30).Get(3, "a", 40, 50)));
  // ... after both, either one is the last...
  EXPECT_TRUE(Linearizable(History(base).Get(3, "a", 110, 120)));
  EXPECT_TRUE(Linearizable(History(base).Get(3, "b", 110, 120)));
  // ... but not a, then b, then a again: each put happens once.
  EXPECT_TRUE(Violation(History(base).Get(3, "a", 20, 30).Get(3, "b", 40, 50).Get(3, "a", 60, 70)));
  // Two readers after both puts must agree on the last one.
  EXPECT_TRUE(Violation(History(base).Get(3, "a", 110, 120).Get(4, "b", 130, 140)));
}

TEST(Linearizability, UnknownOutcomePutSeenOrNot) {
  // Seen: it took effect.
  EXPECT_TRUE(Linearizable(History{}.Put(1, "a", 0, 10, OpResult::kUnknown).Get(2, "a", 50, 60)));
  // Not seen: it may never have taken effect.
  EXPECT_TRUE(
      Linearizable(History{}.Put(1, "a", 0, 10, OpResult::kUnknown).Get(2, kNotFound, 50, 60)));
  // It may take effect long after its call returned: after a later put.
  EXPECT_TRUE(Linearizable(History{}
                               .Put(1, "a", 0, 10, OpResult::kUnknown)
                               .Put(2, "b", 20, 30)
                               .Get(3, "b", 40, 50)
                               .Get(3, "a", 60, 70)));
  // Once seen, it cannot be unseen.
  EXPECT_TRUE(Violation(History{}
                            .Put(1, "a", 0, 10, OpResult::kUnknown)
                            .Get(2, "a", 50, 60)
                            .Get(2, kNotFound, 70, 80)));
  // Nor seen before it was invoked.
  EXPECT_TRUE(Violation(History{}.Get(2, "a", 0, 10).Put(1, "a", 20, 30, OpResult::kUnknown)));
}

TEST(Linearizability, FailedPutsNeverTakeEffect) {
  CheckResult r = History{}.Put(1, "a", 0, 10, OpResult::kFail).Get(2, "a", 20, 30).Check();
  ASSERT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_NE(r.reason.find("failed"), std::string::npos) << r.reason;
  EXPECT_EQ(r.window.size(), 2u);  // the failed put is shown
  EXPECT_TRUE(
      Linearizable(History{}.Put(1, "a", 0, 10, OpResult::kFail).Get(2, kNotFound, 20, 30)));
  EXPECT_TRUE(Violation(
      History{}.Put(1, "a", 0, 10).Put(2, "b", 20, 30, OpResult::kFail).Get(3, "b", 40, 50)));
}

TEST(Linearizability, RealTimeOrder) {
  // A get that returned before the put began cannot see it.
  EXPECT_TRUE(Violation(History{}.Get(2, "a", 0, 10).Put(1, "a", 20, 30)));
  // A put that completed before another began is overwritten by it.
  EXPECT_TRUE(Violation(History{}.Put(1, "a", 0, 10).Put(1, "b", 20, 30).Get(2, "a", 40, 50)));
  // Two gets in real-time order cannot see the puts backwards.
  EXPECT_TRUE(Violation(History{}
                            .Put(1, "a", 0, 100)
                            .Put(2, "b", 0, 100)
                            .Get(3, "b", 10, 20)
                            .Get(4, "a", 30, 40)
                            .Get(5, "b", 50, 60)));
}

TEST(Linearizability, KeysAreIndependent) {
  History h;
  h.Put(1, "a", 0, 10, OpResult::kOk, "k1").Put(2, "b", 0, 10, OpResult::kOk, "k2");
  h.Get(3, "a", 20, 30, "k1").Get(3, kNotFound, 40, 50, "k2");  // stale on k2 only
  CheckResult r = h.Check();
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(r.keys, 2u);
  EXPECT_EQ(r.key, "k2");
}

TEST(Linearizability, RepeatedValuesUseTheGeneralSearch) {
  // Two puts of the same value: the unknown one may land after "b".
  History h;
  h.Put(1, "a", 0, 10).Put(2, "a", 5, 15, OpResult::kUnknown).Put(1, "b", 20, 30);
  EXPECT_TRUE(Linearizable(History(h).Get(3, "a", 40, 50)));
  EXPECT_TRUE(Linearizable(History(h).Get(3, "b", 40, 50)));
  EXPECT_TRUE(Violation(History(h).Get(3, "a", 40, 50).Get(3, "b", 60, 70)));
}

// Random histories from a simulated register: each op takes effect at a
// point inside its interval (unknown puts: any time after the call, or
// never; failed puts: never), so the history is linearizable by
// construction.
History RandomHistory(int clients, int ops, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  struct Timed {
    HistoryOp op;
    int64_t point;  // when it takes effect; -1: never
  };
  std::vector<Timed> all;
  for (int c = 0; c < clients; ++c) {
    int64_t t = uni(0, 100);
    for (int i = 0; i < ops / clients; ++i) {
      HistoryOp op{
          c, uni(0, 1) ? OpKind::kGet : OpKind::kPut, "x", {}, OpResult::kOk, t, t + uni(1, 300), {}};
      int64_t point = uni(op.invoke_us, op.return_us);
      if (op.kind == OpKind::kPut) {
        op.value = "c" + std::to_string(c) + "-" + std::to_string(i);
        int64_t dice = uni(0, 99);
        if (dice < 4) op.result = OpResult::kUnknown;
        if (dice < 2) point = op.invoke_us + uni(0, 2000);  // lands late
        if (dice == 2) point = -1;                          // never lands
        if (dice >= 96) op.result = OpResult::kFail, point = -1;
      }
      all.push_back({op, point});
      t = op.return_us + uni(0, 50);
    }
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const Timed& a, const Timed& b) { return a.point < b.point; });
  std::optional<std::string> reg;
  History h;
  for (Timed& t : all) {
    if (t.point >= 0 && t.op.kind == OpKind::kPut) reg = t.op.value;
    if (t.op.kind == OpKind::kGet) t.op.value = reg;  // a get always lands
    h.ops.push_back(t.op);
  }
  return h;
}

TEST(Linearizability, ThousandsOfOpsPerKeyWellUnderASecond) {
  for (uint64_t seed : {1, 2, 3}) {
    History h = RandomHistory(8, 4000, seed);
    auto t0 = std::chrono::steady_clock::now();
    CheckResult r = h.Check();
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.verdict, Verdict::kLinearizable) << "seed " << seed << ": " << r.reason;
    EXPECT_LT(ms, 1000.0) << "seed " << seed << ", " << r.states << " states";
  }
}

TEST(Linearizability, LateViolationInALongHistoryIsFound) {
  History h = RandomHistory(8, 4000, 7);
  int64_t end = 0;
  for (const auto& op : h.ops) end = std::max(end, op.return_us);
  // A put completes after everything; then a get misses it.
  h.Put(9, "last", end + 10, end + 20).Get(9, kNotFound, end + 30, end + 40);
  auto t0 = std::chrono::steady_clock::now();
  CheckResult r = h.Check();
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(r.window[size_t(r.failed_op)].value, kNotFound);
  EXPECT_LE(r.window.size(), 13u);
  EXPECT_LT(ms, 1000.0);
}

TEST(Linearizability, BoundedSearchIsInconclusive) {
  History h = RandomHistory(8, 2000, 11);
  CheckOptions tiny;
  tiny.max_states_per_key = 10;
  CheckResult r = h.Check(tiny);
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_NE(r.reason.find("bound"), std::string::npos) << r.reason;
  CheckOptions no_time;
  no_time.time_budget_ms = 0;
  EXPECT_NE(h.Check(no_time).verdict, Verdict::kNotLinearizable);
}

// The definition, by brute force: some subset of the unknown puts, in some
// order with the other effective ops, respects real time and the register.
bool BruteForce(const std::vector<HistoryOp>& history) {
  std::vector<HistoryOp> ops, unknown;
  for (const auto& op : history) {
    if (op.result == OpResult::kOk) ops.push_back(op);
    if (op.result == OpResult::kUnknown) unknown.push_back(op);
  }
  for (uint32_t mask = 0; mask < (1u << unknown.size()); ++mask) {
    std::vector<HistoryOp> chosen = ops;
    for (size_t i = 0; i < unknown.size(); ++i) {
      if (mask >> i & 1) chosen.push_back(unknown[i]);
    }
    std::vector<size_t> order(chosen.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    do {
      bool ok = true;
      std::optional<std::string> reg;
      for (size_t i = 0; i < order.size() && ok; ++i) {
        const HistoryOp& op = chosen[order[i]];
        for (size_t j = i + 1; j < order.size() && ok; ++j) {
          const HistoryOp& later = chosen[order[j]];
          ok = later.result == OpResult::kUnknown || later.return_us >= op.invoke_us;
        }
        if (op.kind == OpKind::kPut) reg = op.value;
        if (op.kind == OpKind::kGet) ok = ok && op.value == reg;
      }
      if (ok) return true;
    } while (std::next_permutation(order.begin(), order.end()));
  }
  return false;
}

History RandomSmallHistory(std::mt19937_64& rng, bool unique) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  History h;
  std::vector<std::string> written;
  int n = uni(2, 7);
  for (int i = 0; i < n; ++i) {
    int64_t t0 = uni(0, 40), t1 = t0 + uni(0, 15);
    if (uni(0, 1)) {
      std::string v = unique ? "v" + std::to_string(i) : std::string(1, char('a' + uni(0, 1)));
      int dice = uni(0, 9);
      h.Put(uni(0, 2), v, t0, t1,
            dice < 2   ? OpResult::kUnknown
            : dice < 3 ? OpResult::kFail
                       : OpResult::kOk);
      written.push_back(v);
    } else {
      int pick = uni(-1, int(written.size()) - 1);  // -1: not found
      h.Get(uni(0, 2), pick < 0 ? kNotFound : std::optional<std::string>(written[size_t(pick)]), t0,
            t1);
    }
  }
  return h;
}

TEST(Linearizability, AgreesWithBruteForceOnSmallHistories) {
  std::mt19937_64 rng(42);
  int yes = 0, no = 0;
  for (int i = 0; i < 4000; ++i) {
    History h = RandomSmallHistory(rng, i % 3 != 0);
    bool expected = BruteForce(h.ops);
    CheckResult r = h.Check();
    ASSERT_NE(r.verdict, Verdict::kInconclusive);
    std::string dump;
    for (const auto& op : h.ops) dump += OpLine(op, 0) + "\n";
    ASSERT_EQ(r.verdict == Verdict::kLinearizable, expected) << dump << r.reason;
    (expected ? yes : no)++;
  }
  EXPECT_GT(yes, 500);  // both verdicts well exercised
  EXPECT_GT(no, 500);
}

TEST(Linearizability, ReportJson) {
  CheckResult r = History{}.Put(1, "a", 1000, 2000).Get(2, kNotFound, 3000, 4000).Check();
  nlohmann::json j = CheckJson(r, 0);
  EXPECT_EQ(j["verdict"], "not_linearizable");
  EXPECT_EQ(j["key"], "x");
  ASSERT_EQ(j["ops_window"].size(), 2u);
  EXPECT_EQ(j["ops_window"][1]["op"], "get");
  EXPECT_TRUE(j["ops_window"][1]["value"].is_null());
  EXPECT_DOUBLE_EQ(j["ops_window"][1]["invoke_ms"].get<double>(), 3.0);
  EXPECT_EQ(j["failed_op"], 1);
  EXPECT_FALSE(CheckJson(History{}.Check(), 0).contains("ops_window"));
}

}  // namespace
}  // namespace bp::chassis
