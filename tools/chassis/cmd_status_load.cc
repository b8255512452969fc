// `chassis status` and `chassis load`.
#include <chrono>
#include <iostream>
#include <thread>

#include "chassis.h"
#include "commands.h"
#include "load_gen.h"
#include "status_view.h"

namespace bp::chassis {
namespace {

int RunStatus(const std::string& run_dir, bool json, bool raw) {
  auto c = Chassis::Open(RunDir(run_dir));
  if (!c.ok()) return Fail(c.status().message());
  auto views = (*c)->Snapshot();
  nlohmann::json rows = StatusRows(views);
  if (raw) {
    nlohmann::json all = nlohmann::json::object();
    for (const auto& [slot, v] : views) all[std::to_string(slot)] = v.status;
    std::cout << all.dump(2) << "\n";
  } else if (json) {
    std::cout << rows.dump(2) << "\n";
  } else {
    std::cout << StatusTable(rows);
  }
  if ((*c)->config().security == board::SecurityMode::kNone) {
    std::cerr << "WARNING: this chassis runs security = \"none\": any process that reaches a "
                 "bus endpoint can speak for any board; see README \"Security\"\n";
  }
  for (const auto& r : rows) {
    if (!r["alive"].get<bool>() || !r["answered"].get<bool>()) return 1;
  }
  return 0;
}

struct LoadCmd {
  std::string run_dir = DefaultRunDir();
  LoadOptions load;
  double duration_s = 5;
  std::string read_mode = "local";
  bool json = false;
};

Result<fw_read_mode_t> ParseReadMode(const std::string& m) {
  if (m == "local") return FW_READ_LOCAL;
  if (m == "ryw" || m == "read_your_writes") return FW_READ_YOUR_WRITES;
  if (m == "linearizable") return FW_READ_LINEARIZABLE;
  return Status::InvalidArgument("unknown --read-mode '" + m +
                                 "'; use local, ryw (read your writes) or linearizable");
}

nlohmann::json TotalsJson(const LoadCmd& o, const LoadTotals& t) {
  double secs = t.elapsed_s > 0 ? t.elapsed_s : 1;
  return {{"clients", o.load.clients},
          {"rate", o.load.rate},
          {"duration_s", t.elapsed_s},
          {"read_mode", o.read_mode},
          {"through", "firmware_shim"},
          {"ops_per_s", double(t.durable + t.not_durable + t.reads) / secs},
          {"writes_per_s", double(t.durable) / secs},
          {"reads_per_s", double(t.reads - t.read_errors) / secs},
          {"writes_durable", t.durable},
          {"writes_not_durable", t.not_durable},
          {"writes_unknown", t.unknown},
          {"writes_failed", t.failed},
          {"reads", t.reads},
          {"read_errors", t.read_errors},
          {"read_not_found", t.read_not_found},
          {"write_latency_us", SummaryJson(t.write_latency_us, 0)},
          {"read_latency_us", SummaryJson(t.read_latency_us, 0)},
          {"errors", t.errors}};
}

void PrintTotals(const nlohmann::json& j) {
  std::printf("load: %d clients via firmware_shim for %.1f s (%s reads)\n", j["clients"].get<int>(),
              j["duration_s"].get<double>(), j["read_mode"].get<std::string>().c_str());
  std::printf("  throughput %.0f ops/s: %.0f durable writes/s, %.0f reads/s\n",
              j["ops_per_s"].get<double>(), j["writes_per_s"].get<double>(),
              j["reads_per_s"].get<double>());
  for (const char* k : {"write_latency_us", "read_latency_us"}) {
    const auto& s = j[k];
    if (s["count"].get<size_t>() == 0) continue;
    std::printf("  %-6s latency p50 %.0f us  p99 %.0f us  max %.0f us\n",
                k[0] == 'w' ? "write" : "read", s["p50"].get<double>(), s["p99"].get<double>(),
                s["max"].get<double>());
  }
  for (const auto& [name, n] : j["errors"].items()) {
    std::printf("  errors: %s x%llu\n", name.c_str(), (unsigned long long)n.get<uint64_t>());
  }
}

int RunLoad(LoadCmd o) {
  auto mode = ParseReadMode(o.read_mode);
  if (!mode.ok()) return Fail(mode.status().message(), 2);
  if (o.load.clients < 1 || o.duration_s <= 0 || o.load.read_ratio < 0 || o.load.read_ratio > 1) {
    return Fail("need --clients >= 1, --duration-s > 0 and 0 <= --read-ratio <= 1", 2);
  }
  o.load.read_mode = *mode;
  auto c = Chassis::Open(RunDir(o.run_dir));
  if (!c.ok()) return Fail(c.status().message());
  std::vector<std::string> endpoints;
  for (int s : (*c)->slots()) endpoints.push_back((*c)->client_endpoint(s));
  LoadGen gen(endpoints, o.load);
  gen.Start();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));  // the run itself
  gen.Stop();
  nlohmann::json j = TotalsJson(o, gen.Totals());
  if (o.json)
    std::cout << j.dump(2) << "\n";
  else
    PrintTotals(j);
  return 0;
}

}  // namespace

void RegisterStatus(CLI::App& app, int* exit_code) {
  auto run_dir = std::make_shared<std::string>(DefaultRunDir());
  auto json = std::make_shared<bool>(false);
  auto raw = std::make_shared<bool>(false);
  CLI::App* sub =
      app.add_subcommand("status", "one row per board: role, master, sync, lag, health");
  AddRunDir(sub, run_dir.get());
  sub->add_flag("--json", *json, "JSON rows for scripts");
  sub->add_flag("--raw", *raw, "every board's full status document (events, peers, bus)");
  sub->callback([run_dir, json, raw, exit_code] { *exit_code = RunStatus(*run_dir, *json, *raw); });
}

void RegisterLoad(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<LoadCmd>();
  o->load.read_ratio = 0.5;  // a mixed workload by default
  CLI::App* sub = app.add_subcommand("load", "generate load through the firmware shim");
  AddRunDir(sub, &o->run_dir);
  sub->add_option("--clients", o->load.clients, "client threads (spread over the boards)")
      ->capture_default_str();
  sub->add_option("--rate", o->load.rate, "total operations per second; 0 = closed loop")
      ->capture_default_str();
  sub->add_option("--duration-s", o->duration_s, "how long to run")->capture_default_str();
  sub->add_option("--key-space", o->load.key_space, "distinct keys")->capture_default_str();
  sub->add_option("--value-size", o->load.value_size, "bytes per value")->capture_default_str();
  sub->add_option("--read-ratio", o->load.read_ratio, "fraction of reads (0..1)")
      ->capture_default_str();
  sub->add_option("--read-mode", o->read_mode, "local | ryw | linearizable")->capture_default_str();
  sub->add_flag("--json", o->json, "JSON result on stdout");
  sub->callback([o, exit_code] { *exit_code = RunLoad(*o); });
}

}  // namespace bp::chassis
