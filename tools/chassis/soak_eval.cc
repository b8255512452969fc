#include "soak_eval.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "stats.h"

namespace bp::chassis {

using nlohmann::json;

namespace {

// A number at j[a][b], nullopt when the object or the field is missing. An
// object there (bytes per table) counts as the sum of its numbers.
std::optional<uint64_t> U64At(const json& j, const char* a, const char* b) {
  if (!j.is_object() || !j.contains(a) || !j[a].is_object() || !j[a].contains(b)) {
    return std::nullopt;
  }
  const json& v = j[a][b];
  if (v.is_number()) return v.get<double>() < 0 ? 0 : uint64_t(v.get<double>());
  if (!v.is_object()) return std::nullopt;
  uint64_t sum = 0;
  for (const auto& [k, x] : v.items()) {
    if (x.is_number()) sum += uint64_t(std::max(0.0, x.get<double>()));
  }
  return sum;
}

std::optional<double> DoubleAt(const json& j, const char* a, const char* b) {
  if (!j.is_object() || !j.contains(a) || !j[a].is_object() || !j[a].contains(b) ||
      !j[a][b].is_number()) {
    return std::nullopt;
  }
  return j[a][b].get<double>();
}

template <typename T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

template <typename T>
std::string Cell(const std::optional<T>& v) {
  if (!v) return "";
  std::ostringstream o;
  o << *v;
  return o.str();
}

std::string Secs(double t) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f s", t);
  return buf;
}

}  // namespace

void ParseBoardStatus(const json& s, BoardSample* b) {
  if (!s.is_object()) return;
  b->role = s.value("role", std::string());
  b->master = s.value("master", -1);
  b->generation = s.value("generation", int64_t(-1));
  b->panicked = s.value("panicked", false);
  b->elections_held = U64At(s, "elections", "held");
  b->elections_won = U64At(s, "elections", "won");
  b->log_since_checkpoint_bytes = U64At(s, "log", "since_checkpoint_bytes");
  b->log_buffer_bytes = U64At(s, "log", "buffer_bytes");
  b->cache_bytes = U64At(s, "memory", "cache_bytes");
  b->data_bytes = U64At(s, "memory", "data_bytes");
  b->refused_writes = U64At(s, "memory", "refused_writes");
  b->high_water_pct = DoubleAt(s, "memory", "high_water_pct");
  b->ids = U64At(s, "requests", "ids");
  b->max_ids = U64At(s, "requests", "max_ids");
  b->retention_ms = U64At(s, "requests", "retention_ms");
  b->expired = U64At(s, "requests", "expired");
  b->evicted = U64At(s, "requests", "evicted");
}

std::optional<uint64_t> ParseVmRss(const std::string& text) {
  size_t at = text.find("VmRSS:");
  if (at == std::string::npos) return std::nullopt;
  unsigned long long kb = 0;
  if (sscanf(text.c_str() + at + 6, "%llu", &kb) != 1) return std::nullopt;
  return uint64_t(kb) * 1024;
}

std::optional<uint64_t> ReadRssBytes(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseVmRss(ss.str());
}

json BoardSampleJson(const BoardSample& b) {
  return {{"slot", b.slot},
          {"pid", b.pid},
          {"alive", b.alive},
          {"answered", b.answered},
          {"rss_bytes", Opt(b.rss_bytes)},
          {"role", b.role},
          {"master", b.master},
          {"generation", b.generation},
          {"panicked", b.panicked},
          {"elections_held", Opt(b.elections_held)},
          {"elections_won", Opt(b.elections_won)},
          {"log_since_checkpoint_bytes", Opt(b.log_since_checkpoint_bytes)},
          {"log_buffer_bytes", Opt(b.log_buffer_bytes)},
          {"cache_bytes", Opt(b.cache_bytes)},
          {"data_bytes", Opt(b.data_bytes)},
          {"high_water_pct", Opt(b.high_water_pct)},
          {"refused_writes", Opt(b.refused_writes)},
          {"request_ids", Opt(b.ids)},
          {"max_request_ids", Opt(b.max_ids)},
          {"retention_ms", Opt(b.retention_ms)},
          {"ids_expired", Opt(b.expired)},
          {"ids_evicted", Opt(b.evicted)}};
}

std::string SamplesCsvHeader() {
  return "t_s,warmup,acked_writes,slot,pid,alive,answered,rss_bytes,role,master,generation,"
         "panicked,elections_held,elections_won,log_since_checkpoint_bytes,log_buffer_bytes,"
         "cache_bytes,data_bytes,high_water_pct,refused_writes,request_ids,max_request_ids,"
         "retention_ms,ids_expired,ids_evicted\n";
}

std::string SampleCsvRows(const SoakSample& s) {
  std::ostringstream o;
  for (const auto& b : s.boards) {
    o << Round(s.t_s, 3) << "," << int(s.warmup) << "," << s.acked_writes << "," << b.slot << ","
      << b.pid << "," << int(b.alive) << "," << int(b.answered) << "," << Cell(b.rss_bytes) << ","
      << b.role << "," << b.master << "," << b.generation << "," << int(b.panicked) << ","
      << Cell(b.elections_held) << "," << Cell(b.elections_won) << ","
      << Cell(b.log_since_checkpoint_bytes) << "," << Cell(b.log_buffer_bytes) << ","
      << Cell(b.cache_bytes) << "," << Cell(b.data_bytes) << "," << Cell(b.high_water_pct) << ","
      << Cell(b.refused_writes) << "," << Cell(b.ids) << "," << Cell(b.max_ids) << ","
      << Cell(b.retention_ms) << "," << Cell(b.expired) << "," << Cell(b.evicted) << "\n";
  }
  return o.str();
}

std::string SamplesCsv(const std::vector<SoakSample>& samples) {
  std::string out = SamplesCsvHeader();
  for (const auto& s : samples) out += SampleCsvRows(s);
  return out;
}

// ---- values -------------------------------------------------------------

namespace {

std::string ValueHead(int client, uint64_t seq, const std::string& key) {
  return "c" + std::to_string(client) + "-" + std::to_string(seq) + "-" + key + ";";
}

}  // namespace

std::string SoakValue(int client, uint64_t seq, const std::string& key, size_t size) {
  const std::string head = ValueHead(client, seq, key);
  std::string v;
  v.reserve(size + head.size());
  while (v.size() < size) v += head;
  v.resize(size);
  return v;
}

size_t SoakValueMinSize(int clients, const std::string& longest_key) {
  // The largest client number and a 20-digit sequence number.
  return ValueHead(std::max(0, clients - 1), UINT64_MAX, longest_key).size();
}

std::optional<ParsedValue> ParseSoakValue(const std::string& value, const std::string& key) {
  unsigned long long seq = 0;
  int client = -1, used = 0;
  if (value.empty() || sscanf(value.c_str(), "c%d-%llu-%n", &client, &seq, &used) != 2 ||
      client < 0 || used <= 0) {
    return std::nullopt;
  }
  // The whole value must be the one SoakValue makes: this key, this length.
  if (SoakValue(client, uint64_t(seq), key, value.size()) != value) return std::nullopt;
  return ParsedValue{client, uint64_t(seq)};
}

const char* ValueVerdictName(ValueVerdict v) {
  switch (v) {
    case ValueVerdict::kOk:
      return "ok";
    case ValueVerdict::kLost:
      return "lost";
    case ValueVerdict::kDoubled:
      return "doubled";
    case ValueVerdict::kFailedApplied:
      return "failed_applied";
    case ValueVerdict::kLateUnknown:
      return "late_unknown";
  }
  return "?";
}

ValueVerdict ClassifyValue(const std::optional<std::string>& value, const std::string& key,
                           int owner, const KeyWrites& w) {
  if (!value) return w.acked ? ValueVerdict::kLost : ValueVerdict::kOk;
  auto p = ParseSoakValue(*value, key);
  if (!p || p->client != owner) return ValueVerdict::kLost;
  const uint64_t s = p->seq;
  if (s == 0 || s > w.attempted || w.failed.count(s)) return ValueVerdict::kFailedApplied;
  if (!w.acked || s >= *w.acked) return ValueVerdict::kOk;
  return w.uncertain.count(s) ? ValueVerdict::kLateUnknown : ValueVerdict::kDoubled;
}

// ---- verdict ------------------------------------------------------------

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double LeastSquaresSlope(const std::vector<std::pair<double, double>>& points) {
  if (points.size() < 2) return 0;
  double n = double(points.size()), sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, y] : points) {
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  double den = n * sxx - sx * sx;
  return den != 0 ? (n * sxy - sx * sy) / den : 0;
}

// The start and end levels of one pid's samples and the drift between them.
void SetLevels(const std::vector<std::pair<double, double>>& points, RssDrift& d) {
  if (points.empty()) return;
  const size_t w = std::clamp<size_t>(points.size() / 4, 1, 5);
  std::vector<double> first, last;
  for (size_t i = 0; i < w; ++i) {
    first.push_back(points[i].second);
    last.push_back(points[points.size() - 1 - i].second);
  }
  const double start = Median(first), end = Median(last);
  d.window = w;
  d.start_level_bytes = uint64_t(start);
  d.end_level_bytes = uint64_t(end);
  d.drift_pct = std::max(0.0, 100.0 * (end - start) / start);
}

}  // namespace

RssDrift ComputeRssDrift(const std::vector<SoakSample>& samples, int slot) {
  RssDrift d;
  pid_t pid = 0;
  uint64_t base = 0;
  std::vector<std::pair<double, double>> points;  // of the current pid
  for (const auto& s : samples) {
    if (s.warmup) continue;
    for (const auto& b : s.boards) {
      if (b.slot != slot || !b.rss_bytes || *b.rss_bytes == 0) continue;
      if (b.pid != pid) {  // first sample, or a restarted board: a new baseline
        pid = b.pid;
        base = *b.rss_bytes;
        points.clear();
        if (!d.baseline_bytes) d.baseline_bytes = base;
      }
      ++d.samples;
      d.max_bytes = std::max(d.max_bytes.value_or(0), *b.rss_bytes);
      double pct = 100.0 * (double(*b.rss_bytes) - double(base)) / double(base);
      d.max_drift_pct = std::max(d.max_drift_pct, pct);
      points.emplace_back(s.t_s, double(*b.rss_bytes));
    }
  }
  SetLevels(points, d);
  d.slope_bytes_per_s = LeastSquaresSlope(points);
  return d;
}

namespace {

// One board's samples in order: alive throughout, answering, no panic, no
// election, no change of master or generation, no write refused, request
// ids within the window. Finish() adds what failed to the verdict.
class BoardWatch {
 public:
  explicit BoardWatch(int slot) : name_("board " + std::to_string(slot)) {}

  void See(const BoardSample& b, double t, SoakVerdict& v) {
    if (!b.alive && !exited_) {
      exited_ = true;
      v.failures.push_back(name_ + " exited at " + Secs(t) + " (see its log)");
    }
    missed_ = b.answered ? 0 : missed_ + 1;
    max_missed_ = std::max(max_missed_, missed_);
    if (!b.answered) return;
    if (b.panicked && !panicked_) {
      panicked_ = true;
      ++v.panics;
      v.failures.push_back(name_ + " reported panicked at " + Secs(t));
    }
    if (b.elections_held) {
      if (!first_held_) first_held_ = b.elections_held;
      if (*b.elections_held > *first_held_ + elections_) {
        if (elections_ == 0) first_election_s_ = t;
        elections_ = *b.elections_held - *first_held_;
      }
    }
    SeeMaster(b, t);
    if (b.refused_writes) {
      if (!first_refused_) first_refused_ = b.refused_writes;
      last_refused_ = b.refused_writes;
    }
    if (b.ids && b.max_ids) {
      v.requests_reported = true;
      v.max_ids_seen = std::max(v.max_ids_seen, *b.ids);
      if (*b.ids > *b.max_ids && !over_window_) {
        over_window_ = true;
        v.failures.push_back(name_ + " kept " + std::to_string(*b.ids) + " request ids at " +
                             Secs(t) + ", over its window of " + std::to_string(*b.max_ids));
      }
    }
  }

  void Finish(SoakVerdict& v) const {
    if (last_refused_ && *last_refused_ > *first_refused_) {
      // A fixed key space never grows the data: refusals mean the cache is too small.
      v.failures.push_back(name_ + " refused " + std::to_string(*last_refused_ - *first_refused_) +
                           " write(s) at its memory high-water mark; raise cache_mb or use a "
                           "smaller --key-space / --value-size");
    }
    if (elections_ > 0) {
      v.failures.push_back(name_ + " held " + std::to_string(elections_) +
                           " election(s) during the soak, the first by " + Secs(first_election_s_));
    }
    if (failovers_ > 0) {
      v.failures.push_back(name_ + " saw " + std::to_string(failovers_) +
                           " failover(s), the first " + first_failover_);
    }
    // Every board counts the same election and sees the same failover.
    v.elections = std::max(v.elections, elections_);
    v.failovers = std::max(v.failovers, failovers_);
    // One slow status answer under full load is not a fault; three in a row are.
    if (max_missed_ >= 3) {
      v.failures.push_back(name_ + " did not answer status " + std::to_string(max_missed_) +
                           " seconds in a row");
    }
  }

 private:
  // A board between heartbeats of an election knows no master (-1): that
  // is the election's doing, not a change of master.
  void SeeMaster(const BoardSample& b, double t) {
    if (b.master <= 0) return;
    if (gen_ < 0) {
      master_ = b.master;
      gen_ = b.generation;
      return;
    }
    if (b.master == master_ && b.generation == gen_) return;
    if (failovers_++ == 0) {
      first_failover_ = "master " + std::to_string(master_) + " gen " + std::to_string(gen_) +
                        " -> master " + std::to_string(b.master) + " gen " +
                        std::to_string(b.generation) + " at " + Secs(t);
    }
    master_ = b.master;
    gen_ = b.generation;
  }

  const std::string name_;
  std::optional<uint64_t> first_held_, first_refused_, last_refused_;
  int master_ = -1;
  int64_t gen_ = -1;
  uint64_t elections_ = 0, failovers_ = 0;
  double first_election_s_ = 0;
  std::string first_failover_;
  int missed_ = 0, max_missed_ = 0;
  bool exited_ = false, panicked_ = false, over_window_ = false;
};

void CheckBoard(const std::vector<SoakSample>& samples, int slot, SoakVerdict& v) {
  BoardWatch watch(slot);
  for (const auto& s : samples) {
    for (const auto& b : s.boards) {
      if (b.slot == slot) watch.See(b, s.t_s, v);
    }
  }
  watch.Finish(v);
}

void CheckWrites(const WriteCheck& w, SoakVerdict& v) {
  if (w.acked == 0) v.failures.push_back("no write was acknowledged");
  if (w.lost) v.failures.push_back(std::to_string(w.lost) + " acknowledged write(s) lost");
  if (w.doubled) {
    v.failures.push_back(std::to_string(w.doubled) +
                         " write(s) applied twice (an older value over a later acknowledged one)");
  }
  if (w.failed_applied) {
    v.failures.push_back(std::to_string(w.failed_applied) +
                         " write(s) answered as not applied are there");
  }
}

}  // namespace

SoakVerdict EvaluateSoak(const std::vector<SoakSample>& samples, const WriteCheck& writes,
                         const SoakCriteria& criteria) {
  SoakVerdict v;
  if (samples.empty()) v.failures.push_back("no sample was taken");
  std::set<int> slots;
  for (const auto& s : samples) {
    for (const auto& b : s.boards) slots.insert(b.slot);
  }
  for (int slot : slots) {
    CheckBoard(samples, slot, v);
    RssDrift d = ComputeRssDrift(samples, slot);
    v.max_rss_drift_pct = std::max(v.max_rss_drift_pct, d.drift_pct);
    v.max_rss_peak_pct = std::max(v.max_rss_peak_pct, d.max_drift_pct);
    if (d.samples == 0) {
      v.failures.push_back("board " + std::to_string(slot) +
                           ": no RSS sample after the warm-up (run longer than --warmup-s)");
    } else if (d.drift_pct > criteria.rss_drift_pct) {
      char buf[240];
      snprintf(buf, sizeof buf,
               "board %d: RSS grew %.1f%% after the warm-up (median of %zu samples %.1f -> "
               "%.1f MiB), over --rss-drift-pct %.1f",
               slot, d.drift_pct, d.window, double(*d.start_level_bytes) / 1048576.0,
               double(*d.end_level_bytes) / 1048576.0, criteria.rss_drift_pct);
      v.failures.push_back(buf);
    }
    v.rss[slot] = d;
  }
  CheckWrites(writes, v);
  v.pass = v.failures.empty();
  return v;
}

json RssDriftJson(const RssDrift& d) {
  return {{"baseline_bytes", Opt(d.baseline_bytes)},
          {"max_bytes", Opt(d.max_bytes)},
          {"max_drift_pct", Round(d.max_drift_pct, 3)},
          {"start_level_bytes", Opt(d.start_level_bytes)},
          {"end_level_bytes", Opt(d.end_level_bytes)},
          {"level_window", d.window},
          {"drift_pct", Round(d.drift_pct, 3)},
          {"slope_bytes_per_s", Round(d.slope_bytes_per_s, 1)},
          {"samples_after_warmup", d.samples}};
}

json WriteCheckJson(const WriteCheck& w) {
  return {{"acked", w.acked},
          {"lost", w.lost},
          {"doubled", w.doubled},
          {"failed_applied", w.failed_applied},
          {"late_unknown", w.late_unknown},
          {"live_checks", w.live_checks},
          {"read_errors", w.read_errors},
          {"examples", w.examples}};
}

}  // namespace bp::chassis
