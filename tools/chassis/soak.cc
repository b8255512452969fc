#include "soak.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "board/config.h"
#include "stats.h"

namespace bp::chassis {

using nlohmann::json;

std::vector<BoardSample> SampleBoards(Chassis& chassis) {
  std::vector<BoardSample> out;
  for (const auto& [slot, v] : chassis.Snapshot()) {
    BoardSample b;
    b.slot = slot;
    b.pid = v.pid;
    b.alive = v.alive;
    b.answered = v.answered;
    if (v.alive) b.rss_bytes = ReadRssBytes(v.pid);
    if (v.answered) ParseBoardStatus(v.status, &b);
    out.push_back(b);
  }
  return out;
}

namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

int MasterOf(const std::vector<BoardSample>& boards) {
  for (const auto& b : boards) {
    if (b.answered && b.role == "master") return b.slot;
  }
  return -1;
}

std::string MiB(std::optional<uint64_t> bytes) {
  if (!bytes) return "n/a";
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f MiB", double(*bytes) / 1048576.0);
  return buf;
}

// One progress line: elapsed, writes, each board's RSS and request ids.
std::string ProgressLine(const SoakSample& s, double rate) {
  std::ostringstream o;
  char head[96];
  snprintf(head, sizeof head, "[soak %6.0f s%s] %llu acked (%.0f/s)", s.t_s,
           s.warmup ? " warm-up" : "", (unsigned long long)s.acked_writes, rate);
  o << head;
  for (const auto& b : s.boards) {
    o << "  board " << b.slot << ": " << (b.alive ? "" : "EXITED ") << "rss " << MiB(b.rss_bytes);
    if (b.ids) o << " ids " << *b.ids;
    if (b.data_bytes) o << " data " << MiB(b.data_bytes);
  }
  return o.str();
}

void AddWrites(const WriteCheck& from, WriteCheck* to) {
  to->lost += from.lost;
  to->doubled += from.doubled;
  to->failed_applied += from.failed_applied;
  to->late_unknown += from.late_unknown;
  to->live_checks += from.live_checks;
  to->read_errors += from.read_errors;
  for (const auto& e : from.examples) {
    if (to->examples.size() < 8) to->examples.push_back("during the run: " + e);
  }
}

// The sampling loop, once a second while the load runs. Returns early when
// a board exits (the verdict is already known).
void SampleWhileLoaded(Chassis& chassis, const SoakOptions& o, SoakLoad& load, SoakResult& r) {
  std::map<int, std::unique_ptr<BoardLink>> links;  // for the live checks
  const auto t0 = SteadyClock::now();
  auto next = t0;
  uint64_t last_acked = 0;
  double last_t = 0, next_progress = 0;
  WriteCheck live;
  std::ofstream csv;
  if (!o.live_csv_path.empty()) {
    csv.open(o.live_csv_path, std::ios::trunc);
    csv << SamplesCsvHeader() << std::flush;
  }
  while (true) {
    SoakSample s;
    s.t_s = SecondsSince(t0);
    s.warmup = s.t_s < o.warmup_s;
    s.acked_writes = load.acked();
    s.boards = SampleBoards(chassis);
    r.samples.push_back(s);
    if (csv.is_open()) csv << SampleCsvRows(s) << std::flush;
    bool exited = false;
    for (const auto& b : s.boards) exited |= !b.alive;
    int m = MasterOf(s.boards);
    if (m > 0 && o.live_check_keys > 0) {
      auto& link = links[m];
      if (!link) link = std::make_unique<BoardLink>(chassis.client_endpoint(m), 1000);
      load.LiveCheck(*link, m, o.live_check_keys, &live);
    }
    if (o.progress && (s.t_s >= next_progress || exited)) {
      double rate = s.t_s > last_t ? double(s.acked_writes - last_acked) / (s.t_s - last_t) : 0;
      o.progress(ProgressLine(s, rate));
      last_acked = s.acked_writes;
      last_t = s.t_s;
      next_progress = s.t_s + 10;
    }
    if (exited) {
      r.error = "a board exited during the soak";
      break;
    }
    if (s.t_s >= o.warmup_s + o.duration_s) break;
    if (o.interrupted && o.interrupted->load()) {
      char buf[96];
      snprintf(buf, sizeof buf, "interrupted after %.0f s of %.0f", s.t_s,
               o.warmup_s + o.duration_s);
      r.error = buf;
      break;
    }
    next += std::chrono::seconds(1);
    if (next < SteadyClock::now()) next = SteadyClock::now();  // a slow poll: no burst
    std::this_thread::sleep_until(next);
  }
  r.writes = live;
}

std::map<int, std::string> Endpoints(Chassis& c) {
  std::map<int, std::string> out;
  for (int s : c.slots()) out[s] = c.client_endpoint(s);
  return out;
}

}  // namespace

std::string SoakKeyPrefix(int64_t unix_s) { return "s" + std::to_string(unix_s) + "-k"; }

Result<SoakResult> RunSoak(Chassis& chassis, const SoakOptions& o) {
  SoakLoadOptions lo = o.load;
  lo.key_prefix = SoakKeyPrefix(std::time(nullptr));
  BP_RETURN_IF_ERROR(SoakLoad::Check(lo));
  auto healthy = chassis.WaitInSync(o.timeout_ms);
  if (!healthy.ok()) {
    return Status::FailedPrecondition(
        "the chassis is not healthy before the soak (see `chassis status`): " +
        healthy.status().message());
  }
  SoakResult r;
  std::vector<std::string> endpoints;
  for (int s : chassis.slots()) endpoints.push_back(chassis.client_endpoint(s));
  SoakLoad load(endpoints, lo);
  const auto t0 = SteadyClock::now();
  load.Start();
  SampleWhileLoaded(chassis, o, load, r);
  load.Stop();
  r.load = load.Totals();
  if (o.progress) o.progress("[soak] load stopped; checking every key on every board");
  auto synced = chassis.WaitInSync(o.timeout_ms);
  if (!synced.ok()) {
    r.error +=
        (r.error.empty() ? "" : "; ") + std::string("after the run: ") + synced.status().message();
  }
  WriteCheck final_check = load.FinalCheck(Endpoints(chassis), 5000);
  AddWrites(r.writes, &final_check);  // the live checks' findings too
  r.writes = final_check;
  r.elapsed_s = SecondsSince(t0);
  r.verdict = EvaluateSoak(r.samples, r.writes, o.criteria);
  if (!r.error.empty()) {
    r.verdict.failures.insert(r.verdict.failures.begin(), r.error);
    r.verdict.pass = false;
  }
  return r;
}

namespace {

json SamplesJson(const std::vector<SoakSample>& samples) {
  json out = json::array();
  for (const auto& s : samples) {
    json boards = json::array();
    for (const auto& b : s.boards) boards.push_back(BoardSampleJson(b));
    out.push_back({{"t_s", Round(s.t_s, 3)},
                   {"warmup", s.warmup},
                   {"acked_writes", s.acked_writes},
                   {"boards", boards}});
  }
  return out;
}

}  // namespace

json SoakReportJson(const Chassis& chassis, const SoakOptions& o, const SoakResult& r) {
  const board::ChassisConfig& cfg = chassis.config();
  const SoakVerdict& v = r.verdict;
  json rss = json::object();
  for (const auto& [slot, d] : v.rss) rss[std::to_string(slot)] = RssDriftJson(d);
  const double measured = r.load.elapsed_s > 0 ? r.load.elapsed_s : 1;
  return {{"soak", true},
          {"ok", v.pass},
          {"failures", v.failures},
          {"ack_policy", board::AckPolicyName(cfg.ack_policy)},
          {"boards", int(chassis.slots().size())},
          {"config", {{"cache_mb", cfg.cache_mb}, {"log_buffer_mb", cfg.log_buffer_mb}}},
          {"load",
           {{"clients", o.load.clients},
            {"rate", o.load.rate},
            {"key_space", o.load.key_space},
            {"value_size", o.load.value_size},
            {"through", "firmware_shim"}}},
          {"duration_s", o.duration_s},
          {"warmup_s", o.warmup_s},
          {"elapsed_s", Round(r.elapsed_s, 3)},
          {"writes",
           {{"acked", r.load.durable},
            {"acked_per_s", Round(double(r.load.durable) / measured, 1)},
            {"not_durable", r.load.not_durable},
            {"unknown_outcome", r.load.unknown},
            {"failed", r.load.failed},
            {"errors", r.load.errors},
            {"latency_us", SummaryJson(r.load.write_latency_us, 0)}}},
          {"write_check", WriteCheckJson(r.writes)},
          {"rss", rss},
          {"max_rss_drift_pct", Round(v.max_rss_drift_pct, 3)},
          {"max_rss_peak_pct", Round(v.max_rss_peak_pct, 3)},
          {"rss_drift_pct_limit", o.criteria.rss_drift_pct},
          {"elections", v.elections},
          {"failovers", v.failovers},
          {"panics", v.panics},
          {"requests_reported", v.requests_reported},
          {"max_request_ids_seen", v.max_ids_seen},
          {"samples", SamplesJson(r.samples)}};
}

namespace {

std::optional<uint64_t> OptU64(const json& v) {
  if (!v.is_number()) return std::nullopt;
  return v.get<uint64_t>();
}

// The last sample's value of a board field, for the summary.
template <typename F>
std::string LastOf(const json& samples, const std::string& slot, F field) {
  for (auto it = samples.rbegin(); it != samples.rend(); ++it) {
    for (const auto& b : (*it)["boards"]) {
      if (std::to_string(b["slot"].get<int>()) != slot) continue;
      const json& x = field(b);
      if (!x.is_null()) return x.dump();
    }
  }
  return "not reported";
}

}  // namespace

std::string SoakSummary(const json& j) {
  std::ostringstream o;
  const json& l = j["load"];
  const json& w = j["writes"];
  const json& c = j["write_check"];
  char buf[400];
  snprintf(buf, sizeof buf,
           "soak: %d boards, ack policy %s, cache_mb %u, %d clients over %llu keys x %zu B, "
           "%.0f s after a %.0f s warm-up (%zu samples)\n",
           j["boards"].get<int>(), j["ack_policy"].get<std::string>().c_str(),
           j["config"]["cache_mb"].get<unsigned>(), l["clients"].get<int>(),
           (unsigned long long)l["key_space"].get<uint64_t>(), l["value_size"].get<size_t>(),
           j["duration_s"].get<double>(), j["warmup_s"].get<double>(), j["samples"].size());
  o << buf;
  const json& lat = w["latency_us"];
  snprintf(buf, sizeof buf,
           "  writes: %llu acked (%.0f/s), p50 %s us, p99 %s us; %llu not durable, "
           "%llu unknown, %llu failed\n",
           (unsigned long long)w["acked"].get<uint64_t>(), w["acked_per_s"].get<double>(),
           lat["p50"].dump().c_str(), lat["p99"].dump().c_str(),
           (unsigned long long)w["not_durable"].get<uint64_t>(),
           (unsigned long long)w["unknown_outcome"].get<uint64_t>(),
           (unsigned long long)w["failed"].get<uint64_t>());
  o << buf;
  o << "  check: " << c["lost"] << " lost, " << c["doubled"] << " doubled, " << c["failed_applied"]
    << " failed but applied, " << c["late_unknown"] << " late unknown-outcome, " << c["live_checks"]
    << " live reads checked, " << c["read_errors"] << " read errors\n";
  for (const auto& [slot, d] : j["rss"].items()) {
    snprintf(buf, sizeof buf,
             "  board %s: RSS level %s -> %s (drift %.2f%%; first %s, peak %s = +%.2f%%; "
             "%.1f KiB/s)",
             slot.c_str(), MiB(OptU64(d["start_level_bytes"])).c_str(),
             MiB(OptU64(d["end_level_bytes"])).c_str(), d["drift_pct"].get<double>(),
             MiB(OptU64(d["baseline_bytes"])).c_str(), MiB(OptU64(d["max_bytes"])).c_str(),
             d["max_drift_pct"].get<double>(), d["slope_bytes_per_s"].get<double>() / 1024.0);
    o << buf << ", data bytes "
      << LastOf(j["samples"], slot, [](const json& b) -> const json& { return b["data_bytes"]; })
      << ", request ids "
      << LastOf(j["samples"], slot, [](const json& b) -> const json& { return b["request_ids"]; })
      << " of max "
      << LastOf(j["samples"], slot,
                [](const json& b) -> const json& { return b["max_request_ids"]; })
      << "\n";
  }
  o << "  elections " << j["elections"] << ", failovers " << j["failovers"] << ", panics "
    << j["panics"] << "; max RSS drift " << j["max_rss_drift_pct"] << "% (limit "
    << j["rss_drift_pct_limit"] << "%), max peak " << j["max_rss_peak_pct"] << "%\n";
  for (const auto& e : c["examples"]) o << "    " << e.get<std::string>() << "\n";
  for (const auto& f : j["failures"]) o << "  FAIL: " << f.get<std::string>() << "\n";
  o << "  result: " << (j["ok"].get<bool>() ? "PASS" : "FAILED") << "\n";
  return o.str();
}

}  // namespace bp::chassis
