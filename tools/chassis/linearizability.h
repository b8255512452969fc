// Linearizability checker for histories of gets and puts on keys (each key a
// register). A history is linearizable if every key's ops can be put in one
// total order that respects real time (an op takes effect somewhere between
// its invoke and its return) and register semantics (a get returns the value
// of the last put before it, or "not found" before the first). Keys are
// independent registers, so each key is checked on its own (P-compositionality).
//
// The search is Wing & Gong's, as refined by Lowe: walk the history's call
// and return events in time order, try to linearize each pending call, and
// backtrack when an op's return is reached before it took effect. A cache of
// visited (set of linearized ops, register value) states prunes the search.
// Ops with an unknown outcome may take effect at any time after their invoke,
// or never; failed ops never take effect. The search is bounded in states and
// time: past the bound the verdict is "inconclusive", never a hang.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "history.h"

namespace bp::chassis {

enum class Verdict { kLinearizable, kNotLinearizable, kInconclusive };

const char* VerdictName(Verdict v);  // "linearizable" / "not_linearizable" / "inconclusive"

struct CheckOptions {
  uint64_t max_states_per_key = 2'000'000;  // cached search states
  uint64_t max_cache_bytes = 256ull << 20;  // per key; caps states for long keys
  int64_t time_budget_ms = 10'000;          // the whole history
  size_t window_before = 8;                 // ops shown before the failing one
  size_t window_after = 4;                  // ... and after it
};

struct CheckResult {
  Verdict verdict = Verdict::kLinearizable;
  size_t ops = 0;      // ops in the history
  size_t checked = 0;  // ops that entered the search (ok and unknown outcome)
  size_t keys = 0;
  // Ops by kind and result: "get_ok", "get_fail", "put_ok", "put_unknown", "put_fail".
  std::map<std::string, size_t> counts;
  uint64_t states = 0;  // search states cached, all keys
  double elapsed_ms = 0;
  // Not linearizable or inconclusive: the key, why, and that key's ops
  // around the point where the search failed (by invoke time).
  std::string key;
  std::string reason;
  std::vector<HistoryOp> window;
  int failed_op = -1;  // index in `window` of the op no order could place
};

CheckResult CheckLinearizable(const std::vector<HistoryOp>& history,
                              const CheckOptions& options = {});

// {verdict, ops, checked, keys, counts, states, check_ms} and, unless linearizable,
// {key, reason, ops: [...], failed_op}. Times in ms since `origin_us`.
nlohmann::json CheckJson(const CheckResult& result, int64_t origin_us);

}  // namespace bp::chassis
