// `chassis drill KIND`: runs rounds of a drill against the running chassis,
// prints progress on stderr, the report (JSON on stdout with --json, else a
// summary) and optionally a plot. Exit status 1 if the drill failed: a round
// could not finish, or acknowledged writes were lost under quorum/all.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include "chassis.h"
#include "commands.h"
#include "drill.h"
#include "report.h"

namespace bp::chassis {
namespace {

struct DrillCmd {
  std::string run_dir = DefaultRunDir();
  DrillOptions drill;
  bool json = false;
  std::string plot;
  int timeout_s = 30;
  std::string check_read_mode = "linearizable";
};

void Progress(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

// Checks that need no chassis come first, so a typo is reported as such.
Status CheckArguments(const DrillOptions& d) {
  const auto& kinds = DrillKinds();
  if (std::find(kinds.begin(), kinds.end(), d.kind) == kinds.end()) {
    std::string list;
    for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
    return Status::InvalidArgument("unknown drill '" + d.kind + "'; use one of: " + list +
                                   " (see `chassis drill --help`)");
  }
  if (d.rounds <= 0) {
    return Status::InvalidArgument("--rounds must be at least 1 (got " + std::to_string(d.rounds) +
                                   "); e.g. --rounds 10");
  }
  if (d.data_mb < 0) return Status::InvalidArgument("--data-mb must be >= 0");
  if (d.soak_s < 0) {
    return Status::InvalidArgument("--soak-s must be >= 0 (seconds of rounds back to back; 0 = "
                                   "use --rounds)");
  }
  if (d.load.clients < 1) return Status::InvalidArgument("--clients must be at least 1");
  if (d.check && (d.check_load.clients < 1 || d.check_load.history_keys < 1)) {
    return Status::InvalidArgument("--check-clients and --check-keys must be at least 1");
  }
  return Status::Ok();
}

int Finish(const DrillCmd& o, const DrillReport& report) {
  nlohmann::json j = ReportJson(report);
  if (o.json) {
    std::cout << j.dump(2) << "\n";
    std::cerr << HumanSummary(j);
  } else {
    std::cout << HumanSummary(j);
  }
  if (!o.plot.empty()) {
    Status st = WritePlot(j, o.plot);
    if (st.ok())
      std::fprintf(stderr, "plot written to %s\n", o.plot.c_str());
    else
      Fail(st.message());
  }
  if (j["ok"].get<bool>()) return 0;
  const nlohmann::json& lin = j.contains("linearizable") ? j["linearizable"] : nlohmann::json();
  if (lin.is_boolean() && !lin.get<bool>() && j["linearizability_fails_drill"].get<bool>()) {
    const nlohmann::json& v = j["linearizability_violation"];
    return Fail("drill FAILED: the history of round " + std::to_string(v["round"].get<int>()) +
                " is not linearizable: " + v["reason"].get<std::string>());
  }
  if (j.contains("single_master") && !j["single_master"].get<bool>()) {
    return Fail("drill FAILED: two boards answered LINEARIZABLE reads as master at once: " +
                j["single_master_check"]["reason"].get<std::string>());
  }
  if (j["lost_writes"].get<uint64_t>() > 0 && j["lost_writes_fail_drill"].get<bool>()) {
    return Fail("drill FAILED: " + std::to_string(j["lost_writes"].get<uint64_t>()) +
                " acknowledged writes lost under ack policy " + report.ack_policy +
                " (see lost_examples in rounds_detail)");
  }
  return Fail("drill FAILED: " + (j["errors"].empty() ? std::string("not every round ran")
                                                      : j["errors"][0].get<std::string>()));
}

// Gets other than LINEARIZABLE may legitimately be stale; they are there to
// see the checker catch it.
Status ParseCheckReadMode(const std::string& m, fw_read_mode_t* mode) {
  static const std::map<std::string, fw_read_mode_t> modes{{"linearizable", FW_READ_LINEARIZABLE},
                                                           {"local", FW_READ_LOCAL},
                                                           {"ryw", FW_READ_YOUR_WRITES}};
  auto it = modes.find(m);
  if (it == modes.end()) {
    return Status::InvalidArgument("unknown --check-read-mode '" + m +
                                   "'; use linearizable (the default), local or ryw");
  }
  *mode = it->second;
  return Status::Ok();
}

int RunDrillCmd(DrillCmd o) {
  Status st = CheckArguments(o.drill);
  if (st.ok()) st = ParseCheckReadMode(o.check_read_mode, &o.drill.check_load.read_mode);
  if (!st.ok()) return Fail(st.message(), 2);
  auto c = Chassis::Open(RunDir(o.run_dir));
  if (!c.ok()) return Fail(c.status().message());
  o.drill.timeout_ms = o.timeout_s * 1000;
  o.drill.progress = Progress;
  DrillReport report;
  report.kind = o.drill.kind;
  report.rounds_requested = o.drill.rounds;
  report.ack_policy = board::AckPolicyName((*c)->config().ack_policy);
  report.boards = int((*c)->slots().size());
  report.data_mb = o.drill.data_mb;
  report.soak_s = o.drill.soak_s;
  report.load = o.drill.load;
  auto rounds = RunDrill(**c, o.drill);
  if (!rounds.ok()) return Fail(rounds.status().message());
  report.rounds = std::move(*rounds);
  if (o.drill.soak_s > 0) report.rounds_requested = int(report.rounds.size());  // by time
  return Finish(o, report);
}

void AddCheckOptions(CLI::App* sub, DrillOptions& d) {
  sub->add_flag("--check", d.check,
                "also record a history of LINEARIZABLE gets and puts on a few keys and check "
                "that it is linearizable (a violation fails the drill under quorum/all)");
  sub->add_option("--check-clients", d.check_load.clients, "recording clients (--check)")
      ->capture_default_str();
  sub->add_option("--check-rate", d.check_load.rate,
                  "recording ops per second in total; 0 = closed loop (--check)")
      ->capture_default_str();
  sub->add_option("--check-keys", d.check_load.history_keys, "keys the recording clients share")
      ->capture_default_str();
}

}  // namespace

void RegisterDrill(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<DrillCmd>();
  o->drill.load.rate = 2000;
  CLI::App* sub = app.add_subcommand(
      "drill",
      "run a failover drill under load: kill | pause | partition | replace\n"
      "  kill       SIGKILL the master, time the takeover, restart it empty, time its reinit\n"
      "  pause      SIGSTOP the master past the detection timeout, SIGCONT: it must step down\n"
      "  partition  cut the master off the bus, time the takeover, heal: it must step down\n"
      "  replace    SIGKILL a replica, start an empty board in its slot, time its reinit\n"
      "Every acknowledged write is checked on every board after each round; under ack policy\n"
      "quorum or all a lost write fails the drill. The ack policy is the chassis config's.");
  AddRunDir(sub, &o->run_dir);
  sub->add_option("kind", o->drill.kind, "kill | pause | partition | replace")->required();
  sub->add_option("--rounds,-r", o->drill.rounds, "rounds to run")->capture_default_str();
  sub->add_flag("--json", o->json, "the JSON report on stdout (progress stays on stderr)");
  sub->add_option("--plot", o->plot, "draw the rounds and the role timeline to this PNG");
  sub->add_option("--data-mb", o->drill.data_mb, "preload this much data first (replace)")
      ->capture_default_str();
  sub->add_option("--clients", o->drill.load.clients, "load client threads")->capture_default_str();
  sub->add_option("--rate", o->drill.load.rate, "total writes per second; 0 = closed loop")
      ->capture_default_str();
  sub->add_option("--value-size", o->drill.load.value_size, "bytes per written value")
      ->capture_default_str();
  sub->add_option("--soak-s", o->drill.soak_s,
                  "run rounds back to back for this many seconds instead of --rounds, every "
                  "board's memory (RSS, data bytes, request ids) checked between rounds")
      ->capture_default_str();
  sub->add_option("--timeout-s", o->timeout_s, "bound on each wait inside a round")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));  // * 1000 must stay within an int of ms
  AddCheckOptions(sub, o->drill);
  sub->add_option("--check-read-mode", o->check_read_mode,
                  "read mode of the recorded gets: linearizable | local | ryw (local and ryw "
                  "may be stale: a way to see the checker catch it)")
      ->capture_default_str();
  sub->callback([o, exit_code] { *exit_code = RunDrillCmd(*o); });
}

}  // namespace bp::chassis
