// repmgr_bench: the peer baseline. Measures Berkeley DB 5.3's own Replication
// Manager (3 repmgr_site processes over TCP on 127.0.0.1, fully in memory) so
// that our benchmarks can print their figures beside it, from the same run on
// the same machine. Reference figures: /work/shared/reference/repmgr-anchors.md.
//
//   repmgr_bench [--quick] [--init_records=N] [--failover_rounds=N]
//                [--site_exe=PATH] [--preload_lib=PATH] [--benchmark_* flags]
//
// BP_BENCH_QUICK=1 in the environment means --quick (tiny counts, CI smoke).
// Every measurement exists in two variants: "as_shipped" (no BULK, Nagle on)
// and "best" (DB_REP_CONF_BULK + TCP_NODELAY forced by libnodelay_preload.so).
#include <benchmark/benchmark.h>
#include <db.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "driver/bench_plan.h"
#include "driver/cleanup.h"
#include "driver/group.h"
#include "driver/report.h"
#include "driver/scenarios.h"

namespace bp::peers {
namespace {

Plan g_plan;
Paths g_paths;
// The running benchmark's name: State::name() only exists from Google
// Benchmark 1.8 on, and Debian 12 ships 1.7.1.
std::string g_name;

// Keeps one group alive across consecutive benchmarks that want the same
// configuration (group start-up costs about a second of master discovery).
class GroupCache {
 public:
  Result<Group*> Acquire(const GroupOptions& options) {
    if (group_ != nullptr && group_->options() == options) return group_.get();
    Reset();
    auto group = Group::Start(options, g_paths);
    if (!group.ok()) return group.status();
    group_ = std::move(*group);
    return group_.get();
  }
  // Stops every site (clients first); a failed measurement calls it so the
  // next benchmark starts from a fresh group.
  void Reset() {
    if (group_ == nullptr) return;
    if (int unclean = group_->Stop(); unclean != 0) {
      std::fprintf(stderr, "repmgr_bench: %d site(s) did not exit cleanly with an empty home\n",
                   unclean);
    }
    group_.reset();
  }

 private:
  std::unique_ptr<Group> group_;
};
GroupCache g_groups;

void Fail(benchmark::State& state, const Status& status, Group* group) {
  std::string message = status.ToString();
  if (group != nullptr) message += "\n" + group->Diagnostics();
  std::fprintf(stderr, "repmgr_bench: %s: %s\n", g_name.c_str(), message.c_str());
  g_groups.Reset();
  state.SkipWithError(status.ToString().c_str());
}

GroupOptions BaseOptions(Variant v) {
  GroupOptions o;
  o.variant = v;
  o.cache_mb = g_plan.cache_mb;
  return o;
}

// Proves the transport variant: as shipped no socket has TCP_NODELAY; in
// "best" every TCP socket of the master has it (the LD_PRELOAD shim works).
Status CheckTransport(benchmark::State& state, Group& group) {
  auto census = CensusSockets(group);
  if (!census.ok()) return census.status();
  state.counters["tcp_sockets"] = census->tcp;
  state.counters["nodelay_sockets"] = census->nodelay;
  const bool best = group.options().variant == Variant::kBest;
  if (census->tcp == 0) return Status::Internal("master has no TCP sockets");
  if (best && census->nodelay != census->tcp) {
    return Status::Internal("TCP_NODELAY not in effect: LD_PRELOAD shim not applied");
  }
  if (!best && census->nodelay != 0) return Status::Internal("as_shipped socket has TCP_NODELAY");
  return Status::Ok();
}

void SetLatencyCounters(benchmark::State& state, const CommitRun& run) {
  const Summary s = Summarize(run.latency_ns);
  state.counters["p50_us"] = s.p50_us;
  state.counters["p99_us"] = s.p99_us;
  state.counters["p999_us"] = s.p999_us;
  state.counters["mean_us"] = s.mean_us;
  state.counters["max_us"] = s.max_us;
  state.counters["commits_per_s"] =
      run.elapsed_ns > 0 ? static_cast<double>(s.count) * 1e9 / static_cast<double>(run.elapsed_ns)
                         : 0;
  state.counters["perm_failed"] = static_cast<double>(run.perm_failed);
  state.counters["failures"] = static_cast<double>(run.failures);
  RecordSummary(g_name, s, run);
}

// (a) One writer on the master; each Google Benchmark iteration is one
// measured transaction, whose time is fed in as manual time.
void BM_CommitLatency(benchmark::State& state, Variant v, std::string ack) {
  GroupOptions options = BaseOptions(v);
  options.ack = ack;  // one group per policy: see MeasureCommitLatency
  auto group = g_groups.Acquire(options);
  if (!group.ok()) return Fail(state, group.status(), nullptr);
  if (Status s = CheckTransport(state, **group); !s.ok()) return Fail(state, s, *group);
  const LatencyPlan plan = g_plan.Latency(v, ack);
  auto run = MeasureCommitLatency(**group, plan.count, plan.warmup);
  if (!run.ok()) return Fail(state, run.status(), *group);
  size_t i = 0;
  for (auto _ : state) state.SetIterationTime(static_cast<double>(run->latency_ns[i++]) / 1e9);
  SetLatencyCounters(state, *run);
}

// (b) QUORUM, concurrent writers for a fixed window: one iteration whose
// manual time is the window; the figures are counters.
void BM_Throughput(benchmark::State& state, Variant v, int writers) {
  auto group = g_groups.Acquire(BaseOptions(v));  // QUORUM: reuses the last latency group
  if (!group.ok()) return Fail(state, group.status(), nullptr);
  auto run = MeasureThroughput(**group, writers, g_plan.tput_warm_ms, g_plan.tput_meas_ms);
  if (!run.ok()) return Fail(state, run.status(), *group);
  for (auto _ : state) state.SetIterationTime(static_cast<double>(run->elapsed_ns) / 1e9);
  SetLatencyCounters(state, *run);
}

void SetFailoverCounters(benchmark::State& state, const std::vector<FailoverRound>& rounds) {
  std::vector<double> detect, master, commit, synced, rejoin;
  for (const auto& r : rounds) {
    if (r.detect_ms >= 0) detect.push_back(r.detect_ms);
    master.push_back(r.master_ms);
    commit.push_back(r.first_commit_ms);
    if (r.other_synced_ms >= 0) synced.push_back(r.other_synced_ms);
    rejoin.push_back(r.rejoin_ms);
  }
  state.counters["detect_ms"] = Median(detect);
  state.counters["rep_master_ms"] = Median(master);
  state.counters["first_commit_ms"] = Median(commit);
  state.counters["first_commit_min_ms"] = *std::min_element(commit.begin(), commit.end());
  state.counters["first_commit_max_ms"] = *std::max_element(commit.begin(), commit.end());
  state.counters["other_synced_ms"] = Median(synced);
  state.counters["rejoin_ms"] = Median(rejoin);
  state.counters["rounds"] = static_cast<double>(rounds.size());
  RecordFailover(g_name, commit, Median(master), Median(detect));
}

// (c) SIGKILL of the master with tuned timeouts; each iteration is a round
// whose manual time is kill -> first acknowledged commit on the new master.
void BM_Failover(benchmark::State& state, Variant v) {
  GroupOptions options = BaseOptions(v);
  options.tuned = true;
  auto group = g_groups.Acquire(options);
  if (!group.ok()) return Fail(state, group.status(), nullptr);
  std::vector<FailoverRound> rounds;
  for (auto _ : state) {
    auto round = MeasureFailoverRound(**group, g_plan.FailoverPreload(v), g_plan.failover_idle_ms);
    if (!round.ok()) {
      Fail(state, round.status(), *group);
      break;
    }
    state.SetIterationTime(round->first_commit_ms / 1e3);
    std::fprintf(stderr, "  %s round %zu: REP_MASTER %.1f, first commit %.1f ms\n", g_name.c_str(),
                 rounds.size() + 1, round->master_ms, round->first_commit_ms);
    rounds.push_back(*round);
  }
  if (!rounds.empty()) SetFailoverCounters(state, rounds);
}

void SetInitCounters(benchmark::State& state, const std::vector<InitRun>& runs) {
  std::vector<double> newmaster, copy, startup, copy_rate, overall_rate, data_rate;
  for (const auto& r : runs) {
    newmaster.push_back(r.newmaster_ms);
    copy.push_back(r.copy_ms);
    startup.push_back(r.startup_ms);
    copy_rate.push_back(r.copy_ms > 0 ? r.mib / (r.copy_ms / 1e3) : 0);
    overall_rate.push_back(r.startup_ms > 0 ? r.mib / (r.startup_ms / 1e3) : 0);
    data_rate.push_back(r.startup_ms > 0 ? r.data_mib / (r.startup_ms / 1e3) : 0);
  }
  state.counters["newmaster_ms"] = Median(newmaster);
  state.counters["copy_ms"] = Median(copy);
  state.counters["startupdone_ms"] = Median(startup);
  state.counters["startupdone_min_ms"] = *std::min_element(startup.begin(), startup.end());
  state.counters["startupdone_max_ms"] = *std::max_element(startup.begin(), startup.end());
  state.counters["copy_MiB_per_s"] = Median(copy_rate);
  state.counters["overall_MiB_per_s"] = Median(overall_rate);
  state.counters["pages"] = static_cast<double>(runs.back().pages);
  state.counters["MiB"] = runs.back().mib;
  state.counters["log_records"] = static_cast<double>(runs.back().log_records);
  state.counters["page_bytes"] = static_cast<double>(runs.back().page_bytes);
  // Data (keys + values) per second from repmgr_start to STARTUPDONE: the
  // figure reinit_bench's MB_per_s is (data MiB, start -> in sync).
  state.counters["data_MiB"] = runs.back().data_mib;
  state.counters["data_MiB_per_s"] = Median(data_rate);
  RecordInit(g_name, Median(startup), Median(copy), Median(copy_rate), Median(overall_rate),
             runs.back().pages, runs.back().mib);
}

// (d) A brand-new 4th site joins a loaded group: every iteration starts one
// empty site; manual time is its repmgr_start -> STARTUPDONE. `mib` > 0:
// reinit_bench's data sizes and record shape, cache and deadline scaled.
void BM_InternalInit(benchmark::State& state, Variant v, int mib) {
  GroupOptions options = BaseOptions(v);
  options.listed_sites = 4;  // DB_LEGACY: a late joiner must be listed from the start
  options.started_sites = 3;
  InitLoad load;
  double join_deadline_s = 60;
  if (mib > 0) {
    options.cache_mb = g_plan.InitCacheMb(mib);
    load.value_bytes = g_plan.init_value_bytes;
    load.records = (int64_t{mib} << 20) / (16 + load.value_bytes);
    load.sequential = true;
    load.ckpt_mib = g_plan.init_ckpt_mib;
    join_deadline_s = g_plan.InitJoinDeadlineS(mib);
  } else {
    load.records = g_plan.init_records;
  }
  auto group = g_groups.Acquire(options);
  if (!group.ok()) return Fail(state, group.status(), nullptr);
  if ((*group)->loaded != load.Spec()) {
    if (!(*group)->loaded.empty()) {  // another load is there: start from an empty group
      g_groups.Reset();
      group = g_groups.Acquire(options);
      if (!group.ok()) return Fail(state, group.status(), nullptr);
    }
    if (Status s = LoadForInit(**group, load); !s.ok()) return Fail(state, s, *group);
  }
  std::vector<InitRun> runs;
  for (auto _ : state) {
    auto run = MeasureInternalInit(**group, /*index=*/3, join_deadline_s);
    if (!run.ok()) {
      Fail(state, run.status(), *group);
      break;
    }
    state.SetIterationTime(run->startup_ms / 1e3);
    std::fprintf(stderr, "  %s rep %zu: NEWMASTER %.1f, INIT_DONE %.1f, STARTUPDONE %.1f ms\n",
                 g_name.c_str(), runs.size() + 1, run->newmaster_ms,
                 run->newmaster_ms + run->copy_ms, run->startup_ms);
    runs.push_back(*run);
  }
  if (!runs.empty()) SetInitCounters(state, runs);
}

// Registers fn under `name`, making the name visible to it through g_name.
template <typename Fn, typename... Args>
benchmark::internal::Benchmark* Register(const std::string& name, Fn fn, Args... args) {
  return benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    g_name = name;
    fn(state, args...);
  });
}

void RegisterVariant(Variant v) {
  const std::string vn = VariantName(v);
  // QUORUM last, so that the throughput runs reuse its group.
  for (const char* ack : {"NONE", "ONE", "ALL", "QUORUM"}) {
    Register("repmgr/commit_latency/" + vn + "/ack:" + ack, BM_CommitLatency, v, std::string(ack))
        ->Iterations(g_plan.Latency(v, ack).count)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  for (int writers : {1, 4, 16}) {
    Register("repmgr/throughput/" + vn + "/QUORUM/writers:" + std::to_string(writers),
             BM_Throughput, v, writers)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  Register("repmgr/failover_sigkill/" + vn + "/tuned", BM_Failover, v)
      ->Iterations(g_plan.failover_rounds)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  Register("repmgr/internal_init/" + vn + "/records:" + std::to_string(g_plan.init_records),
           BM_InternalInit, v, 0)
      ->Iterations(g_plan.init_reps)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  for (int mib : g_plan.init_mib) {
    Register("repmgr/internal_init/" + vn + "/MiB:" + std::to_string(mib), BM_InternalInit, v, mib)
        ->Iterations(g_plan.InitMibReps(mib))
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

bool CheckFile(const std::string& path, int mode, const char* what) {
  if (access(path.c_str(), mode) == 0) return true;
  std::fprintf(stderr, "repmgr_bench: %s not found at %s (%s)\n", what, path.c_str(),
               std::strerror(errno));
  return false;
}

void AddContext() {
  benchmark::AddCustomContext("repmgr.mode", g_plan.quick ? "quick" : "full");
  benchmark::AddCustomContext("repmgr.bdb_version", DB_VERSION_STRING);
  benchmark::AddCustomContext("repmgr.config",
                              "3 sites on 127.0.0.1, in-memory env/log/rep files, cache " +
                                  std::to_string(g_plan.cache_mb) +
                                  " MiB (internal_init/MiB:N: 2N+256), DB_LEGACY membership, 16 B keys / 100 B "
                                  "values (internal_init/MiB:N: " +
                                  std::to_string(g_plan.init_value_bytes) +
                                  " B values, ascending keys, checkpoint every " +
                                  std::to_string(g_plan.init_ckpt_mib) + " MiB)");
}

}  // namespace
}  // namespace bp::peers

int main(int argc, char** argv) {
  using namespace bp::peers;
  InstallCleanupHandlers();
  if (!ParsePlanFlags(&argc, argv, &g_plan, &g_paths)) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  if (!CheckFile(g_paths.site_exe, X_OK, "repmgr_site") ||
      !CheckFile(g_paths.preload_lib, R_OK, "libnodelay_preload.so")) {
    return 2;
  }
  const char* tmp = std::getenv("TMPDIR");
  g_paths.temp_root = MakeTempDir(tmp != nullptr ? tmp : "/tmp", "bp-repmgr-");
  if (g_paths.temp_root.empty()) return 2;
  RegisterVariant(Variant::kAsShipped);
  RegisterVariant(Variant::kBest);
  AddContext();
  benchmark::RunSpecifiedBenchmarks();
  g_groups.Reset();
  benchmark::Shutdown();
  PrintAnchorComparison(stderr);
  RemoveTempDir(g_paths.temp_root);
  return 0;
}
