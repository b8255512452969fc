// `chassis soak`: writes at the highest sustainable rate (or --rate) over a
// fixed key space for --duration-s after a --warmup-s, samples every board
// once a second, checks every write, and writes soak.json (the report, with
// every sample), soak_samples.csv and soak.png into the run directory (or
// --out). Prints a summary (the JSON report on stdout with --json); exit
// status 1 with the reasons when a pass criterion fails.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include "chassis.h"
#include "commands.h"
#include "report.h"
#include "soak.h"

namespace bp::chassis {
namespace {

struct SoakCmd {
  std::string run_dir = DefaultRunDir();
  std::string out_dir;  // default: the run directory
  SoakOptions soak;
  int timeout_s = 30;
  bool json = false;
  bool plot = true;
};

// Set by SIGINT / SIGTERM during the run: the soak stops at its next
// sample and still checks the writes and writes its report.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void OnSignal(int) { g_interrupted.store(true); }

void CatchInterrupts() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void Progress(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

Status CheckArguments(const SoakCmd& o) {
  if (o.soak.duration_s <= 0) {
    return Status::InvalidArgument(
        "--duration-s must be > 0 (seconds measured after the "
        "warm-up); e.g. --duration-s 1800");
  }
  if (o.soak.warmup_s < 0) return Status::InvalidArgument("--warmup-s must be >= 0");
  if (o.soak.criteria.rss_drift_pct < 0) {
    return Status::InvalidArgument("--rss-drift-pct must be >= 0 (percent)");
  }
  if (o.timeout_s < 1) return Status::InvalidArgument("--timeout-s must be at least 1");
  SoakLoadOptions lo = o.soak.load;
  lo.key_prefix = SoakKeyPrefix(std::time(nullptr));  // as RunSoak names the keys
  return SoakLoad::Check(lo);
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return Status::Internal("cannot write " + path);
  return Status::Ok();
}

// soak.json, soak_samples.csv, soak.png: the paths written go into the report.
Status WriteOutputs(const std::string& dir, const SoakResult& r, nlohmann::json& report,
                    bool plot) {
  const std::string json_path = dir + "/soak.json", csv_path = dir + "/soak_samples.csv",
                    png_path = dir + "/soak.png";
  report["files"] = {{"report", json_path}, {"samples_csv", csv_path}};
  if (plot) report["files"]["plot"] = png_path;
  BP_RETURN_IF_ERROR(WriteFile(csv_path, SamplesCsv(r.samples)));
  BP_RETURN_IF_ERROR(WriteFile(json_path, report.dump(2)));
  if (!plot) return Status::Ok();
  Status st = RunPlotScript("plot_soak.py", json_path, png_path);
  // No matplotlib is not a soak failure: the report and the CSV are there.
  if (!st.ok()) Fail(st.message());
  return Status::Ok();
}

int RunSoakCmd(SoakCmd o) {
  Status st = CheckArguments(o);
  if (!st.ok()) return Fail(st.message(), 2);
  auto c = Chassis::Open(RunDir(o.run_dir));
  if (!c.ok()) return Fail(c.status().message());
  o.soak.timeout_ms = o.timeout_s * 1000;
  o.soak.progress = Progress;
  o.soak.interrupted = &g_interrupted;
  const std::string out_dir = o.out_dir.empty() ? (*c)->dir().path() : o.out_dir;
  mkdir(out_dir.c_str(), 0755);
  o.soak.live_csv_path = out_dir + "/soak_samples.csv";
  CatchInterrupts();
  auto r = RunSoak(**c, o.soak);
  if (!r.ok()) return Fail(r.status().message());
  nlohmann::json report = SoakReportJson(**c, o.soak, *r);
  st = WriteOutputs(out_dir, *r, report, o.plot);
  if (!st.ok()) Fail(st.message());
  if (o.json) {
    std::cout << report.dump(2) << "\n";
    std::cerr << SoakSummary(report);
  } else {
    std::cout << SoakSummary(report);
  }
  if (report.contains("files")) {
    std::fprintf(stderr, "report: %s, samples: %s\n",
                 report["files"]["report"].get<std::string>().c_str(),
                 report["files"]["samples_csv"].get<std::string>().c_str());
  }
  if (report["ok"].get<bool>()) return 0;
  std::string reasons;
  for (const auto& f : report["failures"])
    reasons += (reasons.empty() ? "" : "; ") + f.get<std::string>();
  return Fail("soak FAILED: " + reasons);
}

}  // namespace

void RegisterSoak(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<SoakCmd>();
  CLI::App* sub = app.add_subcommand(
      "soak",
      "write over a fixed key space for a long time and prove memory stays flat\n"
      "Writes at the highest sustainable rate (closed loop, or --rate) with the chassis' ack\n"
      "policy, samples every board once a second (RSS, status memory, request ids, log,\n"
      "elections, panics, role) and checks every acknowledged write during the run and on\n"
      "every board at the end. Pass: no write lost or applied twice, no panic, no election or\n"
      "failover, each board's RSS after the warm-up within --rss-drift-pct, request ids\n"
      "within the window. Writes soak.json, soak_samples.csv and soak.png to the run dir.");
  AddRunDir(sub, &o->run_dir);
  SoakLoadOptions& l = o->soak.load;
  sub->add_option("--duration-s", o->soak.duration_s, "measured seconds, after the warm-up")
      ->capture_default_str();
  sub->add_option("--warmup-s", o->soak.warmup_s, "seconds of load before RSS is judged")
      ->capture_default_str();
  sub->add_option("--clients", l.clients, "writer threads (spread over the boards)")
      ->capture_default_str();
  sub->add_option("--rate", l.rate, "total writes per second; 0 = as fast as acked")
      ->capture_default_str();
  sub->add_option("--key-space", l.key_space, "distinct keys, split among the clients")
      ->capture_default_str();
  sub->add_option("--value-size", l.value_size, "bytes per value")->capture_default_str();
  sub->add_option("--rss-drift-pct", o->soak.criteria.rss_drift_pct,
                  "largest RSS growth of a board after the warm-up that passes (percent)")
      ->capture_default_str();
  sub->add_option("--live-check-keys", o->soak.live_check_keys,
                  "keys read back from the master each second while writing (0 = none)")
      ->capture_default_str();
  sub->add_option("--out", o->out_dir,
                  "directory for soak.json, soak_samples.csv, soak.png "
                  "(default: the run directory)");
  sub->add_option("--timeout-s", o->timeout_s, "bound on the waits for a healthy chassis")
      ->capture_default_str();
  sub->add_flag("--json", o->json, "the JSON report on stdout (progress stays on stderr)");
  sub->add_flag("!--no-plot", o->plot, "do not draw soak.png");
  sub->callback([o, exit_code] { *exit_code = RunSoakCmd(*o); });
}

}  // namespace bp::chassis
