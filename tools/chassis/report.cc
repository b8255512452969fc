#include "report.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "process.h"
#include "stats.h"

extern char** environ;

#ifndef BP_CHASSIS_PLOT_SCRIPT
#define BP_CHASSIS_PLOT_SCRIPT "plot_drill.py"
#endif

namespace bp::chassis {

using nlohmann::json;

namespace {

json Opt(const std::optional<double>& v) { return v ? json(Round(*v, 3)) : json(nullptr); }

json Stat(const std::vector<RoundResult>& rounds, std::optional<double> RoundResult::*field) {
  std::vector<double> v;
  for (const auto& r : rounds) {
    if (r.*field) v.push_back(*(r.*field));
  }
  return SummaryJson(Summarize(std::move(v)), 2);
}

json MemoryJson(const std::vector<BoardSample>& boards) {
  json out = json::array();
  for (const auto& b : boards) out.push_back(BoardSampleJson(b));
  return out;
}

json RoundJson(const RoundResult& r) {
  return {{"round", r.round},
          {"old_master", r.old_master},
          {"new_master", r.new_master},
          {"target_slot", r.target},
          {"t_fault_ms", Round(r.t_fault_ms, 3)},
          {"t_end_ms", Round(r.t_end_ms, 3)},
          {"t_became_master_ms", Opt(r.t_became_ms)},
          {"failover_ms", Opt(r.failover_ms)},
          {"detection_ms", Opt(r.detection_ms)},
          {"election_ms", Opt(r.election_ms)},
          {"first_commit_ms", Opt(r.first_commit_ms)},
          {"reinit_ms", Opt(r.reinit_ms)},
          {"stepdown_ms", Opt(r.stepdown_ms)},
          {"rejoin_ms", Opt(r.rejoin_ms)},
          {"master_moved_to", r.master_moved_to ? nlohmann::json(*r.master_moved_to) : nlohmann::json()},
          {"acked_writes", r.verify.acked},
          {"lost_writes", r.verify.lost},
          {"lost_examples", r.verify.lost_examples},
          {"missing_by_slot", r.verify.missing_by_slot},
          {"rolled_back_unacked", r.verify.rolled_back_unacked},
          {"unacked_survived", r.verify.unacked_survived},
          {"not_durable_writes", r.load.not_durable},
          {"unknown_outcome_writes", r.load.unknown},
          {"failed_writes", r.load.failed},
          {"verify_read_errors", r.verify.read_errors},
          {"write_throughput_per_s",
           r.load.elapsed_s > 0 ? Round(double(r.load.durable) / r.load.elapsed_s, 1) : 0.0},
          {"write_latency_us", SummaryJson(r.load.write_latency_us, 0)},
          {"restarted_boards", r.restarted},
          {"linearizability", r.check ? CheckJson(*r.check, r.t0_us) : json(nullptr)},
          {"single_master",
           r.single_master ? SingleMasterJson(*r.single_master, r.t0_us) : json(nullptr)},
          {"memory", MemoryJson(r.memory_after)},
          {"error", r.error.empty() ? json(nullptr) : json(r.error)}};
}

// --soak-s: the memory samples between rounds, and each board's RSS growth
// over them (from its first sample after a round; a restarted board starts
// again).
void AddSoak(const DrillReport& d, json& j) {
  std::vector<SoakSample> samples;
  json list = json::array();
  for (const auto& r : d.rounds) {
    if (r.memory_after.empty()) continue;
    samples.push_back({r.t_end_ms / 1000.0, false, r.memory_after, r.verify.acked});
    list.push_back({{"round", r.round},
                    {"t_end_ms", Round(r.t_end_ms, 3)},
                    {"boards", MemoryJson(r.memory_after)}});
  }
  j["soak_s"] = d.soak_s;
  j["memory_samples"] = list;
  json rss = json::object();
  std::set<int> slots;
  for (const auto& s : samples) {
    for (const auto& b : s.boards) slots.insert(b.slot);
  }
  for (int slot : slots) rss[std::to_string(slot)] = RssDriftJson(ComputeRssDrift(samples, slot));
  j["rss_between_rounds"] = rss;
}

// Which slot was master when: before each fault the old master, from the
// fault to the winner's became_master none, then the new master.
json Timeline(const std::vector<RoundResult>& rounds) {
  json t = json::array();
  for (const auto& r : rounds) {
    if (r.old_master > 0 && r.new_master != r.old_master) {
      t.push_back({{"t_ms", Round(r.t_fault_ms, 3)}, {"master", -1}, {"round", r.round}});
    }
    if (r.t_became_ms && r.new_master > 0) {
      t.push_back(
          {{"t_ms", Round(*r.t_became_ms, 3)}, {"master", r.new_master}, {"round", r.round}});
    }
  }
  return t;
}

json LoadJson(const LoadOptions& l) {
  return {{"clients", l.clients},
          {"rate", l.rate},
          {"value_size", l.value_size},
          {"read_ratio", l.read_ratio},
          {"through", "firmware_shim"}};
}

template <typename F>
uint64_t Sum(const std::vector<RoundResult>& rounds, F f) {
  uint64_t n = 0;
  for (const auto& r : rounds) n += f(r);
  return n;
}

// The round whose check decides the drill's verdict: the first violation,
// else the first inconclusive round; nullptr when every round checked out.
const RoundResult* DecidingRound(const std::vector<RoundResult>& rounds) {
  const RoundResult* inconclusive = nullptr;
  for (const auto& r : rounds) {
    if (!r.check) continue;
    if (r.check->verdict == Verdict::kNotLinearizable) return &r;
    if (r.check->verdict == Verdict::kInconclusive && !inconclusive) inconclusive = &r;
  }
  return inconclusive;
}

json CheckTotals(const std::vector<RoundResult>& rounds) {
  uint64_t n = 0, ops = 0, checked = 0, states = 0;
  double ms = 0, max_ms = 0;
  for (const auto& r : rounds) {
    if (!r.check) continue;
    ++n;
    ops += r.check->ops;
    checked += r.check->checked;
    states += r.check->states;
    ms += r.check->elapsed_ms;
    max_ms = std::max(max_ms, r.check->elapsed_ms);
  }
  return {{"rounds_checked", n},      {"ops", ops},
          {"checked", checked},       {"states", states},
          {"check_ms", Round(ms, 3)}, {"max_round_check_ms", Round(max_ms, 3)}};
}

// --check: `linearizable` is true, false, or null (inconclusive: the search
// hit its bound); when not true, the deciding round's failing ops. Returns
// whether the verdict fails the drill.
bool AddCheck(const DrillReport& d, json& j) {
  if (std::none_of(d.rounds.begin(), d.rounds.end(), [](const auto& r) { return r.check; }))
    return false;
  const RoundResult* deciding = DecidingRound(d.rounds);
  Verdict v = deciding ? deciding->check->verdict : Verdict::kLinearizable;
  j["linearizable"] =
      v == Verdict::kInconclusive ? json(nullptr) : json(v == Verdict::kLinearizable);
  j["linearizability"] = CheckTotals(d.rounds);
  j["linearizability"]["verdict"] = VerdictName(v);
  j["linearizability_fails_drill"] = LossIsFailure(d.ack_policy);
  if (deciding) {
    json f = CheckJson(*deciding->check, deciding->t0_us);
    f["round"] = deciding->round;
    j["linearizability_violation"] = f;
  }
  return v == Verdict::kNotLinearizable && LossIsFailure(d.ack_policy);
}

// --check: no two boards answered LINEARIZABLE reads as master at once,
// checked over the served gets of every round together (generations keep
// increasing across rounds). Returns whether it fails the drill (always,
// when false: a second master serving reads is never acceptable).
bool AddSingleMaster(const DrillReport& d, json& j) {
  std::vector<HistoryOp> served;
  int64_t origin = 0;
  bool any = false;
  for (const auto& r : d.rounds) {
    if (!r.single_master) continue;
    any = true;
    origin = r.t0_us;
    served.insert(served.end(), r.served_reads.begin(), r.served_reads.end());
  }
  if (!any) return false;
  SingleMasterResult sm = CheckSingleMaster(served);
  j["single_master"] = sm.single_master;
  j["single_master_check"] = SingleMasterJson(sm, origin);
  return !sm.single_master;
}

}  // namespace

bool LossIsFailure(const std::string& p) { return p == "quorum" || p == "all"; }

json ReportJson(const DrillReport& d) {
  const auto& R = d.rounds;
  json errors = json::array();
  for (const auto& r : R) {
    if (!r.error.empty()) errors.push_back("round " + std::to_string(r.round) + ": " + r.error);
  }
  uint64_t lost = Sum(R, [](const RoundResult& r) { return r.verify.lost; });
  bool lost_fails = LossIsFailure(d.ack_policy) && lost > 0;
  json j = {
      {"drill", d.kind},
      {"rounds", int(R.size())},
      {"rounds_requested", d.rounds_requested},
      {"ack_policy", d.ack_policy},
      {"boards", d.boards},
      {"load", LoadJson(d.load)},
      {"failover_ms", Stat(R, &RoundResult::failover_ms)},
      {"detection_ms", Stat(R, &RoundResult::detection_ms)},
      {"election_ms", Stat(R, &RoundResult::election_ms)},
      {"first_commit_ms", Stat(R, &RoundResult::first_commit_ms)},
      {"reinit_ms", Stat(R, &RoundResult::reinit_ms)},
      {"stepdown_ms", Stat(R, &RoundResult::stepdown_ms)},
      {"rejoin_ms", Stat(R, &RoundResult::rejoin_ms)},
      {"acked_writes", Sum(R, [](const RoundResult& r) { return r.verify.acked; })},
      {"lost_writes", lost},
      {"rolled_back_unacked",
       Sum(R, [](const RoundResult& r) { return r.verify.rolled_back_unacked; })},
      {"unacked_survived", Sum(R, [](const RoundResult& r) { return r.verify.unacked_survived; })},
      {"not_durable_writes", Sum(R, [](const RoundResult& r) { return r.load.not_durable; })},
      {"unknown_outcome_writes", Sum(R, [](const RoundResult& r) { return r.load.unknown; })},
      {"lost_writes_fail_drill", LossIsFailure(d.ack_policy)},
      {"errors", errors},
      {"ok", errors.empty() && !lost_fails &&
                 (d.soak_s > 0 ? !R.empty() : int(R.size()) == d.rounds_requested)},
      {"timeline", Timeline(R)},
      {"rounds_detail", json::array()}};
  if (AddCheck(d, j)) j["ok"] = false;
  if (AddSingleMaster(d, j)) j["ok"] = false;
  if (d.data_mb > 0) j["data_mb"] = d.data_mb;
  if (d.soak_s > 0) AddSoak(d, j);
  for (const auto& r : R) j["rounds_detail"].push_back(RoundJson(r));
  return j;
}

namespace {

std::string StatLine(const json& report, const char* name, const char* label) {
  const json& s = report[name];
  if (s.value("count", 0) == 0) return "";
  char buf[200];
  snprintf(buf, sizeof buf, "  %-15s min %8.1f  p50 %8.1f  p99 %8.1f  max %8.1f  (n=%d)\n", label,
           s["min"].get<double>(), s["p50"].get<double>(), s["p99"].get<double>(),
           s["max"].get<double>(), s["count"].get<int>());
  return buf;
}

// The failing ops, one a line, the one no order could place marked ">>".
std::string ViolationOps(const json& v) {
  std::ostringstream o;
  o << "    ops on " << v["key"].get<std::string>() << " around it (ms since the drill start):\n";
  int i = 0;
  for (const auto& op : v["ops_window"]) {
    char buf[256];
    std::string val = op["value"].is_null() ? "(not found)" : op["value"].get<std::string>();
    std::string kind = op["op"].get<std::string>();
    snprintf(buf, sizeof buf, "    %s client %d %s %s %s [%.3f, %.3f] %s\n",
             i++ == v["failed_op"].get<int>() ? ">>" : "  ", op["client"].get<int>(), kind.c_str(),
             kind == "put" ? "=" : "->", val.c_str(), op["invoke_ms"].get<double>(),
             op["return_ms"].get<double>(), op["result"].get<std::string>().c_str());
    o << buf;
  }
  return o.str();
}

std::string CheckSummary(const json& j) {
  if (!j.contains("linearizability")) return "";
  const json& t = j["linearizability"];
  char buf[256];
  snprintf(buf, sizeof buf,
           "  linearizability: %s (%d round(s), %llu ops, %llu checked, %.1f ms to check)\n",
           t["verdict"].get<std::string>().c_str(), t["rounds_checked"].get<int>(),
           (unsigned long long)t["ops"].get<uint64_t>(),
           (unsigned long long)t["checked"].get<uint64_t>(), t["check_ms"].get<double>());
  std::string out = buf;
  if (j.contains("single_master_check")) {
    const json& sm = j["single_master_check"];
    std::string slots;
    for (const auto& [slot, n] : sm["slots"].items()) {
      slots += (slots.empty() ? "" : ", ") + std::string("slot ") + slot + ": " +
               std::to_string(n.get<uint64_t>());
    }
    out += std::string("  single_master: ") + (sm["single_master"].get<bool>() ? "true" : "false") +
           " (" + std::to_string(sm["reads"].get<uint64_t>()) + " LINEARIZABLE reads served" +
           (slots.empty() ? "" : "; " + slots) + ")\n";
    if (sm.contains("reason")) {
      out += "    " + sm["reason"].get<std::string>() + "\n";
      for (const auto& op : sm["pair"]) {
        char pb[256];
        snprintf(pb, sizeof pb,
                 "    client %d get %s [%.3f, %.3f] served by slot %d, gen %u, confirmed at %.3f ms\n",
                 op["client"].get<int>(), op["key"].get<std::string>().c_str(),
                 op["invoke_ms"].get<double>(), op["return_ms"].get<double>(),
                 op["served_by"].get<int>(), op["served_gen"].get<unsigned>(),
                 op["served_ms"].get<double>());
        out += pb;
      }
    }
  }
  if (!j.contains("linearizability_violation")) return out;
  const json& v = j["linearizability_violation"];
  out += "    round " + std::to_string(v["round"].get<int>()) + ": " +
         v["reason"].get<std::string>() + "\n";
  return out + ViolationOps(v);
}

}  // namespace

std::string HumanSummary(const json& j) {
  std::ostringstream o;
  o << "drill " << j["drill"].get<std::string>() << ": " << j["rounds"] << " round(s), "
    << j["boards"] << " boards, ack policy " << j["ack_policy"].get<std::string>() << ", load "
    << j["load"]["clients"] << " clients via firmware_shim\n";
  o << "  times in ms\n";
  o << StatLine(j, "failover_ms", "failover") << StatLine(j, "detection_ms", "  detection")
    << StatLine(j, "election_ms", "  election") << StatLine(j, "first_commit_ms", "  first commit")
    << StatLine(j, "reinit_ms", "reinit") << StatLine(j, "stepdown_ms", "step-down")
    << StatLine(j, "rejoin_ms", "rejoin");
  o << "  writes: " << j["acked_writes"] << " acked durable, " << j["lost_writes"] << " lost, "
    << j["rolled_back_unacked"] << " unacked rolled back, " << j["unacked_survived"]
    << " unacked survived\n";
  o << CheckSummary(j);
  if (j.contains("memory_samples")) {
    o << "  soak: " << j["rounds"] << " round(s) back to back in " << j["soak_s"]
      << " s, memory sampled after " << j["memory_samples"].size() << " of them\n";
    for (const auto& [slot, d] : j["rss_between_rounds"].items()) {
      char buf[160];
      snprintf(buf, sizeof buf, "    board %s: RSS max drift %.2f%% over %d samples (%.1f KiB/s)\n",
               slot.c_str(), d["max_drift_pct"].get<double>(),
               d["samples_after_warmup"].get<int>(), d["slope_bytes_per_s"].get<double>() / 1024);
      o << buf;
    }
  }
  for (const auto& e : j["errors"]) o << "  ERROR " << e.get<std::string>() << "\n";
  if (j["lost_writes"].get<uint64_t>() > 0) {
    o << (j["lost_writes_fail_drill"].get<bool>()
              ? "  FAILED: acknowledged writes were lost under ack policy "
              : "  note: acknowledged writes may be lost under ack policy ")
      << j["ack_policy"].get<std::string>() << "\n";
  }
  o << "  result: " << (j["ok"].get<bool>() ? "OK" : "FAILED") << "\n";
  return o.str();
}

namespace {

// The plot script: next to the binary first (installed or build tree),
// then the source tree.
std::string PlotScript(const std::string& name) {
  std::string next_to_us = SelfDir() + "/" + name;
  if (access(next_to_us.c_str(), R_OK) == 0) return next_to_us;
  std::string source = BP_CHASSIS_PLOT_SCRIPT;  // .../tools/chassis/plot_drill.py
  return source.substr(0, source.rfind('/') + 1) + name;
}

// Runs argv (PATH lookup) and returns its exit status; -1 if it could not
// run. No shell: paths are passed as they are.
int Run(const std::vector<std::string>& args, bool quiet) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (quiet) {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  } else {
    posix_spawn_file_actions_adddup2(&fa, 2, 1);  // stdout stays the JSON report's
  }
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A python3 that has matplotlib: $CHASSIS_PYTHON, the system one, PATH's.
std::string FindPython() {
  std::vector<std::string> candidates;
  if (const char* env = getenv("CHASSIS_PYTHON")) candidates.push_back(env);
  candidates.push_back("/usr/bin/python3");
  candidates.push_back("python3");
  for (const auto& py : candidates) {
    if (Run({py, "-c", "import matplotlib"}, true) == 0) return py;
  }
  return "";
}

}  // namespace

Status RunPlotScript(const std::string& script, const std::string& json_path,
                     const std::string& png_path) {
  std::string py = FindPython();
  if (py.empty()) {
    return Status::FailedPrecondition(
        "cannot draw " + png_path +
        ": no python3 with matplotlib found; install it "
        "(apt-get install python3-matplotlib) or set CHASSIS_PYTHON to a python3 that has it");
  }
  int rc = Run({py, PlotScript(script), json_path, png_path}, false);
  if (rc != 0) {
    return Status::Internal("plot script " + PlotScript(script) + " failed (exit status " +
                            std::to_string(rc) + "); the report is in " + json_path);
  }
  return Status::Ok();
}

Status WritePlot(const json& report, const std::string& png_path) {
  std::string json_path = png_path + ".json";
  std::ofstream(json_path) << report.dump(2);
  return RunPlotScript("plot_drill.py", json_path, png_path);
}

}  // namespace bp::chassis
