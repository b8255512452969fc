#include "linearizability.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <unordered_map>

#include "stats.h"

namespace bp::chassis {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The effective return time of an op that may take effect at any time after
// its invoke, or never: after every other event.
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr int kAbsent = 0;      // register value before any put
constexpr int kUnwritten = -1;  // a value no put wrote: no state matches it

// One key's ops, prepared for the search.
struct KeyHistory {
  std::string key;
  std::vector<const HistoryOp*> all;  // for the report: all but failed gets, by invoke
  std::vector<const HistoryOp*> ops;  // the searched ops
  std::vector<int64_t> ret;           // effective return of ops[i]; kNever: maybe never
  std::vector<int> value;             // put: value id written; get: value id read
  bool unique = false;                // no two puts that may take effect write one value
};

// The verdict on one key, and where the search failed.
struct KeyOutcome {
  Verdict verdict = Verdict::kLinearizable;
  uint64_t states = 0;
  const HistoryOp* failed = nullptr;
  std::string reason;
};

struct Limits {
  uint64_t max_states = 0;
  size_t max_cache_bytes = 0;
  SteadyClock::time_point deadline;
};

// ---- preparation ----

// Values as small ints: 0 is "absent", each distinct value written by a put
// that may have taken effect gets the next id.
class ValueIds {
 public:
  void AddWritten(const std::string& v) { ids_.emplace(v, int(ids_.size()) + 1); }
  int Of(const std::optional<std::string>& v) const {
    if (!v) return kAbsent;
    auto it = ids_.find(*v);
    return it == ids_.end() ? kUnwritten : it->second;
  }

 private:
  std::unordered_map<std::string, int> ids_;
};

bool Effective(const HistoryOp& op) {
  return op.result == OpResult::kOk || (op.kind == OpKind::kPut && op.result == OpResult::kUnknown);
}

std::string Who(const HistoryOp& op) {
  return "client " + std::to_string(op.client) + "'s " + OpKindName(op.kind) + " -> " +
         (op.value ? *op.value : std::string("(not found)"));
}

// Cheap checks with a precise message, before the search: a get may only
// return a value that a put which may have taken effect wrote, and not
// before that put was invoked (checked when one put wrote the value).
const HistoryOp* PreCheck(const KeyHistory& h, std::string* reason) {
  std::unordered_map<std::string, std::vector<const HistoryOp*>> writers, failed;
  for (const HistoryOp* op : h.all) {
    if (op->kind != OpKind::kPut || !op->value) continue;
    (Effective(*op) ? writers : failed)[*op->value].push_back(op);
  }
  for (const HistoryOp* op : h.all) {
    if (op->kind != OpKind::kGet || op->result != OpResult::kOk || !op->value) continue;
    auto w = writers.find(*op->value);
    if (w == writers.end()) {
      *reason = Who(*op) + (failed.count(*op->value)
                                ? ": that value was written only by a put that failed "
                                  "(definitely not applied)"
                                : ": no put ever wrote that value");
      return op;
    }
    if (w->second.size() == 1 && op->return_us < w->second[0]->invoke_us) {
      *reason = Who(*op) + ": the get returned before the put of that value was invoked";
      return op;
    }
  }
  return nullptr;
}

// With unique values, an unknown-outcome put is pinned by the gets that saw
// it: unseen, dropping it changes no get's answer (so "never" explains as
// much as any time would); seen, it took effect before the first of those
// gets returned. Both keep the verdict and spare the search from trying
// the put at every later point of the history.
void PinUnknownPuts(KeyHistory& h, bool unique_values) {
  if (!unique_values) return;
  std::unordered_map<int, int64_t> first_read;  // value id -> earliest get return
  for (size_t i = 0; i < h.ops.size(); ++i) {
    if (h.ops[i]->kind != OpKind::kGet || h.value[i] <= kAbsent) continue;
    auto [it, fresh] = first_read.emplace(h.value[i], h.ret[i]);
    if (!fresh) it->second = std::min(it->second, h.ret[i]);
  }
  KeyHistory out{h.key, h.all, {}, {}, {}, true};
  for (size_t i = 0; i < h.ops.size(); ++i) {
    int64_t ret = h.ret[i];
    if (ret == kNever) {
      auto it = first_read.find(h.value[i]);
      if (it == first_read.end()) continue;
      ret = std::max(it->second, h.ops[i]->invoke_us);
    }
    out.ops.push_back(h.ops[i]);
    out.ret.push_back(ret);
    out.value.push_back(h.value[i]);
  }
  h = std::move(out);
}

KeyHistory Prepare(const std::string& key, std::vector<const HistoryOp*> ops) {
  KeyHistory h;
  h.key = key;
  std::stable_sort(ops.begin(), ops.end(), [](const HistoryOp* a, const HistoryOp* b) {
    return a->invoke_us < b->invoke_us;
  });
  ValueIds ids;
  std::map<std::string, int> writes;
  for (const HistoryOp* op : ops) {
    if (op->kind == OpKind::kGet && op->result != OpResult::kOk) continue;
    h.all.push_back(op);
    if (op->kind == OpKind::kPut && Effective(*op) && op->value) {
      ids.AddWritten(*op->value);
      ++writes[*op->value];
    }
  }
  h.unique = std::all_of(writes.begin(), writes.end(), [](const auto& w) { return w.second == 1; });
  for (const HistoryOp* op : h.all) {
    if (!Effective(*op)) continue;
    h.ops.push_back(op);
    // A return stamped before its invoke (hand-made histories): the op is
    // taken as instantaneous, so its call still precedes its return.
    h.ret.push_back(op->result == OpResult::kUnknown ? kNever
                                                     : std::max(op->return_us, op->invoke_us));
    h.value.push_back(ids.Of(op->value));
  }
  PinUnknownPuts(h, h.unique);
  return h;
}

// ---- the linearized set and the visited-state cache ----

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The set of linearized ops, by index in invoke order, with a Zobrist hash
// kept up to date. Every op below the frontier is linearized, and past it
// only ops concurrent with the frontier op can be, so the frontier and the
// few words from it on identify the set whatever the history's length.
class OpSet {
 public:
  explicit OpSet(size_t n) : n_(n), words_((n + 63) / 64) {
    std::mt19937_64 rng(n);
    for (size_t i = 0; i < n; ++i) zobrist_.push_back(rng());
  }

  void Add(size_t op) {
    words_[op / 64] |= 1ull << (op % 64);
    hash_ ^= zobrist_[op];
    ++count_;
    while (frontier_ < n_ && Has(frontier_)) ++frontier_;
  }
  void Remove(size_t op) {
    words_[op / 64] &= ~(1ull << (op % 64));
    hash_ ^= zobrist_[op];
    --count_;
    frontier_ = std::min(frontier_, op);
  }
  bool Has(size_t op) const { return (words_[op / 64] >> (op % 64)) & 1; }
  uint64_t hash() const { return hash_; }
  size_t frontier() const { return frontier_; }

  // The words from the frontier's up to the last one with an op in the set.
  std::span<const uint64_t> Tail() const {
    size_t first = frontier_ / 64, end = first;
    size_t left = count_ - first * 64;  // ops below first * 64 are all in
    while (left > 0) left -= size_t(std::popcount(words_[end++]));
    return {words_.data() + first, end - first};
  }

 private:
  size_t n_;
  std::vector<uint64_t> words_;
  std::vector<uint64_t> zobrist_;
  uint64_t hash_ = 0;
  size_t count_ = 0, frontier_ = 0;
};

// Visited (linearized set, register value) states, stored flat: the cache
// dominates the search's memory, so no allocation per state.
class StateCache {
 public:
  // True if the state was not there yet (and is now).
  bool Insert(int state, const OpSet& set) {
    std::span<const uint64_t> tail = set.Tail();
    auto [it, fresh] = heads_.emplace(set.hash() ^ Mix(uint64_t(state)), kNone);
    for (uint32_t i = it->second; i != kNone; i = next_[i]) {
      const uint64_t* s = &pool_[offset_[i]];
      if (s[0] == uint64_t(state) && s[1] == set.frontier() && s[2] == tail.size() &&
          std::equal(tail.begin(), tail.end(), s + 3)) {
        return false;
      }
    }
    next_.push_back(it->second);
    it->second = uint32_t(next_.size() - 1);
    offset_.push_back(pool_.size());
    pool_.insert(pool_.end(), {uint64_t(state), set.frontier(), tail.size()});
    pool_.insert(pool_.end(), tail.begin(), tail.end());
    return true;
  }
  size_t size() const { return next_.size(); }
  size_t bytes() const { return pool_.size() * 8 + next_.size() * 16 + heads_.size() * 32; }

 private:
  static constexpr uint32_t kNone = ~0u;
  std::vector<uint64_t> pool_;
  std::vector<size_t> offset_;
  std::vector<uint32_t> next_;
  std::unordered_map<uint64_t, uint32_t> heads_;
};

// ---- the search ----

class Search {
 public:
  Search(const KeyHistory& h, const Limits& limits) : h_(h), limits_(limits), set_(h.ops.size()) {
    BuildList();
    if (!h.unique) return;
    for (size_t i = 0; i < h.ops.size(); ++i) {
      int v = h.value[i];
      if (!IsGet(int(i)) || v < 0) continue;
      if (size_t(v) >= unread_.size()) {
        unread_.resize(size_t(v) + 1);
        readers_.resize(size_t(v) + 1);
      }
      ++unread_[size_t(v)];
      readers_[size_t(v)].push_back(int(i));
    }
  }

  Verdict Run() {
    Entry* e = head_.next;
    for (uint64_t steps = 1; e != nullptr; ++steps) {
      if (OverBudget(steps)) return Verdict::kInconclusive;
      if (!e->call) {
        // A return before its op took effect. An op that may never take
        // effect returns after every other event: all the rest is done.
        if (h_.ret[size_t(e->op)] == kNever) return Verdict::kLinearizable;
        NoteStuck(e->op);
        e = Backtrack();
        if (!e) return Verdict::kNotLinearizable;
        continue;
      }
      switch (TryLinearize(e)) {
        case Step::kDone:
          e = head_.next;
          break;
        case Step::kNotHere:
          e = e->next;
          break;
        case Step::kDeadEnd:
          e = Backtrack();
          if (!e) return Verdict::kNotLinearizable;
          break;
      }
    }
    return Verdict::kLinearizable;
  }

  uint64_t states() const { return cache_.size(); }
  const HistoryOp* stuck() const { return stuck_ < 0 ? nullptr : h_.ops[size_t(stuck_)]; }

 private:
  struct Entry {
    int op = -1;
    bool call = false;
    Entry* prev = nullptr;
    Entry* next = nullptr;
    Entry* match = nullptr;
  };
  struct Frame {
    Entry* entry;
    int state;
    bool get;  // a get: linearized as soon as its value matched (see TryLinearize)
  };
  enum class Step { kDone, kNotHere, kDeadEnd };

  // Events by time; on a tie the call first, so ops that touch overlap.
  void BuildList() {
    const size_t n = h_.ops.size();
    entries_.resize(2 * n);
    std::vector<Entry*> order;
    for (size_t i = 0; i < n; ++i) {
      entries_[2 * i] = {int(i), true, nullptr, nullptr, &entries_[2 * i + 1]};
      entries_[2 * i + 1] = {int(i), false, nullptr, nullptr, &entries_[2 * i]};
      order.push_back(&entries_[2 * i]);
      order.push_back(&entries_[2 * i + 1]);
    }
    auto time = [&](const Entry* e) {
      return e->call ? h_.ops[size_t(e->op)]->invoke_us : h_.ret[size_t(e->op)];
    };
    std::stable_sort(order.begin(), order.end(), [&](const Entry* a, const Entry* b) {
      if (time(a) != time(b)) return time(a) < time(b);
      return a->call && !b->call;
    });
    Entry* prev = &head_;
    for (Entry* e : order) {
      prev->next = e;
      e->prev = prev;
      prev = e;
    }
  }

  bool OverBudget(uint64_t steps) const {
    if (cache_.size() > limits_.max_states || cache_.bytes() > limits_.max_cache_bytes) return true;
    return steps % 1024 == 0 && SteadyClock::now() > limits_.deadline;
  }

  bool IsGet(int op) const { return h_.ops[size_t(op)]->kind == OpKind::kGet; }

  // Register semantics: a put sets the value; a get must read the current
  // one. With unique values (and no deletes, so "absent" never returns
  // either) a value lost to a put is never seen again: no put while a get
  // that reads the current value is still to be linearized.
  bool Apply(int op, int* state) const {
    if (IsGet(op)) return h_.value[size_t(op)] == *state;
    if (size_t(*state) < unread_.size() && unread_[size_t(*state)] > 0) return false;
    *state = h_.value[size_t(op)];
    return true;
  }

  void CountRead(int op, int delta) {
    if (IsGet(op) && size_t(h_.value[size_t(op)]) < unread_.size())
      unread_[size_t(h_.value[size_t(op)])] -= delta;
  }

  // A get that reads the current value may as well be linearized right now:
  // every op that returned before it was invoked is already linearized (its
  // return would come first in the list), and a get changes nothing, so if
  // any order completes the history from here, one with the get first does.
  // Hence a get is never tried elsewhere, and a visited state after it
  // (known to fail) condemns the current one.
  Step TryLinearize(Entry* e) {
    int next = state_;
    if (!Apply(e->op, &next)) return Step::kNotHere;
    const bool get = IsGet(e->op);
    set_.Add(size_t(e->op));
    if (!cache_.Insert(next, set_)) {
      set_.Remove(size_t(e->op));
      return get ? Step::kDeadEnd : Step::kNotHere;
    }
    stack_.push_back({e, state_, get});
    state_ = next;
    CountRead(e->op, 1);
    Lift(e);
    return Step::kDone;
  }

  // Undoes linearizations until one with an alternative: the entry to try
  // next, or nullptr if the search is exhausted. Undoing a get also undoes
  // the step before it (see TryLinearize).
  Entry* Backtrack() {
    while (!stack_.empty()) {
      Frame f = stack_.back();
      stack_.pop_back();
      state_ = f.state;
      set_.Remove(size_t(f.entry->op));
      CountRead(f.entry->op, -1);
      Unlift(f.entry);
      if (!f.get) return f.entry->next;
    }
    return nullptr;
  }

  // Takes an op's call and return entries out of the list (Lowe's lift).
  static void Lift(Entry* e) {
    e->prev->next = e->next;
    e->next->prev = e->prev;  // a call is never last: its return follows
    Entry* m = e->match;
    m->prev->next = m->next;
    if (m->next) m->next->prev = m->prev;
  }

  static void Unlift(Entry* e) {
    Entry* m = e->match;
    m->prev->next = m;
    if (m->next) m->next->prev = m;
    e->prev->next = e;
    e->next->prev = e;
  }

  // The failure shown is the one furthest into the history. A put held
  // back by a get of the current value that is still to come is not the
  // culprit: that get is (it saw a value the put must have overwritten).
  void NoteStuck(int op) {
    if (!IsGet(op) && size_t(state_) < unread_.size() && unread_[size_t(state_)] > 0) {
      for (int g : readers_[size_t(state_)]) {
        if (set_.Has(size_t(g))) continue;
        op = g;
        break;
      }
    }
    if (stuck_ < 0 || h_.ret[size_t(op)] > h_.ret[size_t(stuck_)]) stuck_ = op;
  }

  const KeyHistory& h_;
  const Limits limits_;
  std::vector<Entry> entries_;
  Entry head_;
  OpSet set_;
  int state_ = kAbsent;
  std::vector<Frame> stack_;
  StateCache cache_;
  std::vector<int> unread_;                // unique values: gets of each value not yet linearized
  std::vector<std::vector<int>> readers_;  // ... and all gets of each value
  int stuck_ = -1;
};

KeyOutcome CheckKey(const KeyHistory& h, const Limits& limits) {
  KeyOutcome out;
  if (const HistoryOp* bad = PreCheck(h, &out.reason)) {
    out.verdict = Verdict::kNotLinearizable;
    out.failed = bad;
    return out;
  }
  Search search(h, limits);
  out.verdict = search.Run();
  out.states = search.states();
  out.failed = search.stuck();
  if (out.verdict == Verdict::kNotLinearizable) {
    out.reason = "no order of the ops on " + h.key + " that respects real time explains " +
                 Who(*out.failed) + " (the search got furthest up to this op)";
  } else if (out.verdict == Verdict::kInconclusive) {
    out.reason = "search bound reached on " + h.key + " after " + std::to_string(out.states) +
                 " states; the history was neither confirmed nor refuted";
  }
  return out;
}

// ---- the report ----

// The key's ops around the failing op, plus the put whose value it read.
void FillWindow(const KeyHistory& h, const KeyOutcome& k, const CheckOptions& o, CheckResult& r) {
  auto it = std::find(h.all.begin(), h.all.end(), k.failed);
  size_t at = it == h.all.end() ? h.all.size() : size_t(it - h.all.begin());
  size_t begin = at > o.window_before ? at - o.window_before : 0;
  size_t end = std::min(h.all.size(), at + o.window_after + 1);
  std::vector<const HistoryOp*> w(h.all.begin() + long(begin), h.all.begin() + long(end));
  if (k.failed && k.failed->kind == OpKind::kGet && k.failed->value) {
    for (const HistoryOp* op : h.all) {
      bool writer = op->kind == OpKind::kPut && op->value == k.failed->value;
      if (writer && std::find(w.begin(), w.end(), op) == w.end()) w.push_back(op);
    }
  }
  std::stable_sort(w.begin(), w.end(), [](const HistoryOp* a, const HistoryOp* b) {
    return a->invoke_us < b->invoke_us;
  });
  for (const HistoryOp* op : w) {
    if (op == k.failed) r.failed_op = int(r.window.size());
    r.window.push_back(*op);
  }
}

// A violation outranks an inconclusive key; among violations, the earliest.
bool Worse(const KeyOutcome& a, const CheckResult& r, const HistoryOp* r_failed) {
  if (a.verdict == Verdict::kLinearizable) return false;
  if (r.verdict == Verdict::kLinearizable) return true;
  if (a.verdict != r.verdict) return a.verdict == Verdict::kNotLinearizable;
  return a.failed && r_failed && a.failed->invoke_us < r_failed->invoke_us;
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kNotLinearizable:
      return "not_linearizable";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "?";
}

CheckResult CheckLinearizable(const std::vector<HistoryOp>& history, const CheckOptions& o) {
  auto t0 = SteadyClock::now();
  Limits limits{o.max_states_per_key, o.max_cache_bytes,
                t0 + std::chrono::milliseconds(o.time_budget_ms)};
  std::map<std::string, std::vector<const HistoryOp*>> by_key;
  CheckResult r;
  for (const HistoryOp& op : history) {
    by_key[op.key].push_back(&op);
    ++r.counts[std::string(OpKindName(op.kind)) + "_" + OpResultName(op.result)];
  }
  r.ops = history.size();
  r.keys = by_key.size();
  const HistoryOp* worst = nullptr;
  for (auto& [key, ops] : by_key) {
    KeyHistory h = Prepare(key, std::move(ops));
    r.checked += h.ops.size();
    KeyOutcome k = CheckKey(h, limits);
    r.states += k.states;
    if (!Worse(k, r, worst)) continue;
    r.verdict = k.verdict;
    r.key = key;
    r.reason = k.reason;
    r.window.clear();
    r.failed_op = -1;
    FillWindow(h, k, o, r);
    worst = k.failed;
  }
  r.elapsed_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
  return r;
}

nlohmann::json CheckJson(const CheckResult& r, int64_t origin_us) {
  nlohmann::json j = {{"verdict", VerdictName(r.verdict)},
                      {"ops", r.ops},
                      {"checked", r.checked},
                      {"keys", r.keys},
                      {"counts", r.counts},
                      {"states", r.states},
                      {"check_ms", Round(r.elapsed_ms, 3)}};
  if (r.verdict == Verdict::kLinearizable) return j;
  j["key"] = r.key;
  j["reason"] = r.reason;
  j["ops_window"] = nlohmann::json::array();
  for (const HistoryOp& op : r.window) j["ops_window"].push_back(OpJson(op, origin_us));
  j["failed_op"] = r.failed_op;
  return j;
}

}  // namespace bp::chassis
