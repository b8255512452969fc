// Re-initialisation of a replaced board from its peers.
//
//   BM_Reinit/<MiB>   3 boards; one replica is killed, the master is loaded
//                     with <MiB> of data (16-byte keys, 512-byte values, in
//                     2 MiB batches: load time is measured and excluded),
//                     then the replica is restarted empty and the manual
//                     time is its start -> in sync (startup_complete, not
//                     re-initialising, as polled on its status).
//
// Counters: MiB (data: keys + values), seconds, MB_per_s (data MiB per
// second, start -> in sync), db_MiB and db_MB_per_s (database pages received,
// as the board's reinit_progress counts them), page_s (the board's own
// reinit_started -> init_done events), load_s; the master's QUORUM commit
// latency from one writer through the client endpoint, idle (before the
// restart) and during the re-init: p50/p99 of each and p99_ratio
// (during / idle); eta_first_ms and eta_error_ms (the first time-left
// estimate the board showed and how far the real end was from it).
//
// Run: reinit_bench --benchmark_filter='BM_Reinit/(100|1024)$'
// (the 8 MiB size is the smoke-test size).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "local_chassis.h"

namespace bp::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kKeyBytes = 16;
constexpr size_t kValueBytes = 512;
constexpr size_t kBatchBytes = 2 << 20;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string Key(const char* prefix, int64_t i) {
  char b[40];
  std::snprintf(b, sizeof b, "%s%015lld", prefix, static_cast<long long>(i));  // 1-char prefix: 16 bytes
  return b;
}

// Nearest-rank percentile of microsecond samples.
double Pct(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t i = size_t(std::ceil(q * double(v.size())));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

int64_t EventAt(const nlohmann::json& st, const std::string& kind) {
  if (st.is_null() || !st.contains("events")) return -1;
  for (const auto& e : st["events"]) {
    if (e.value("kind", "") == kind) return e["mono_us"].get<int64_t>();
  }
  return -1;
}

bool InSync(testing::LocalChassis& c, int slot) {
  auto st = c.Status(slot);
  return !st.is_null() && st.value("role", "") == "replica" && st.value("startup_complete", false) &&
         !st.value("reinit", true);
}

// One QUORUM writer on the master (16-byte key, 100-byte value per put),
// each latency stamped with its start time.
class Writer {
 public:
  explicit Writer(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  // Runs `count` puts (count < 0: until Stop()).
  void Run(int64_t count) {
    testing::RawClient client(endpoint_);
    const std::string value(100, 'q');
    for (int64_t i = 0; count < 0 ? !stop_.load() : i < count; ++i) {
      auto t0 = Clock::now();
      testing::RawWrite w = client.Put(Key("q", seq_++), value);
      double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      std::lock_guard<std::mutex> l(mu_);
      if (!w.status.ok()) ++failed_;
      else if (!w.durable) ++not_durable_;
      samples_.push_back({t0, us});
    }
  }
  void Start() {
    stop_ = false;
    thread_ = std::thread([this] { Run(-1); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~Writer() { Stop(); }
  // Latencies of the puts started in [from, to).
  std::vector<double> Between(Clock::time_point from, Clock::time_point to) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<double> out;
    for (auto& [t, us] : samples_) {
      if (t >= from && t < to) out.push_back(us);
    }
    return out;
  }
  int64_t failed_ = 0, not_durable_ = 0;

 private:
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  int64_t seq_ = 0;
  std::vector<std::pair<Clock::time_point, double>> samples_;
};

testing::ChassisOptions ReinitChassis(int64_t mib) {
  testing::ChassisOptions o;
  o.boards = 3;
  o.ack_policy = board::AckPolicy::kQuorum;
  o.tweak = [mib](board::ChassisConfig& c) {
    // No failover when the 2 cores are saturated by the init.
    c.heartbeat_timeout_ms = 1000;
    // In-memory databases cannot be evicted: pages of twice the data, plus
    // the log ring and the init's own bookkeeping.
    c.log_buffer_mb = 64;
    c.cache_mb = int(std::max<int64_t>(256, 3 * mib + 256));
  };
  return o;
}

// The data the re-initialised board must receive: `mib` MiB of records
// written through the master in batches (not measured).
struct Loaded {
  Status status;
  double seconds = 0;
  double data_mib = 0;
};
Loaded LoadData(testing::LocalChassis& c, int master, int64_t mib) {
  Loaded out;
  auto t_load = Clock::now();
  const int64_t records = (mib << 20) / int64_t(kKeyBytes + kValueBytes);
  const int64_t per_batch = int64_t(kBatchBytes / (kKeyBytes + kValueBytes));
  testing::RawClient& cl = c.client(master);
  std::string value(kValueBytes, 'v');
  for (int64_t i = 0; i < records; i += per_batch) {
    std::vector<std::pair<std::string, std::string>> puts;
    for (int64_t j = i; j < std::min(records, i + per_batch); ++j) {
      std::string k = Key("d", j);
      std::copy(k.begin(), k.end(), value.begin());
      puts.emplace_back(std::move(k), value);
    }
    testing::RawWrite w = cl.Batch(puts, 60000);
    if (!w.status.ok()) {
      out.status = w.status.WithContext("load");
      return out;
    }
  }
  out.seconds = Since(t_load);
  out.data_mib = double(records * int64_t(kKeyBytes + kValueBytes)) / double(1 << 20);
  std::fprintf(stderr, "  BM_Reinit/%lld: loaded %.1f MiB (%lld records) in %.1f s\n",
               static_cast<long long>(mib), out.data_mib, static_cast<long long>(records),
               out.seconds);
  return out;
}

// One restart of the empty board: how long until it is in sync, and the
// first time-left estimate its progress showed (to judge that estimate).
struct Restart {
  bool synced = false;
  double seconds = 0;
  int64_t eta_first_ms = -1;
  double eta_seen_s = 0;
  Clock::time_point t0, t1;
};
Restart RestartAndWaitInSync(testing::LocalChassis& c, int r, int64_t mib) {
  Restart out;
  out.t0 = Clock::now();
  if (!c.Start(r).ok()) return out;
  const int budget_ms = int(120000 + mib * 600);  // generous: 1 GiB -> ~12 min
  out.synced = testing::LocalChassis::WaitUntil([&] {
    auto st = c.Status(r);
    if (out.eta_first_ms < 0 && !st.is_null() && st.contains("reinit_progress")) {
      const auto& p = st["reinit_progress"];
      if (p["eta_ms"].is_number() && p.value("phase", "") == "pages" && p["bytes_received"] > 0) {
        out.eta_first_ms = p["eta_ms"].get<int64_t>();
        out.eta_seen_s = Since(out.t0);
      }
    }
    return InSync(c, r);
  }, budget_ms);
  out.t1 = Clock::now();
  out.seconds = Since(out.t0);
  return out;
}

void ReportReinit(benchmark::State& state, testing::LocalChassis& c, int r, int64_t mib,
                  const Loaded& load, const Restart& run, const std::vector<double>& idle,
                  const std::vector<double>& during, const Writer& writer) {
  auto st = c.Status(r);
  const auto& p = st["reinit_progress"];
  const int64_t started = EventAt(st, "reinit_started"), done = EventAt(st, "init_done");
  const double db_mib = double(p.value("bytes_received", int64_t(0))) / double(1 << 20);
  const double idle_p99 = Pct(idle, 0.99), during_p99 = Pct(during, 0.99);
  const double seconds = run.seconds;
  state.counters["MiB"] = load.data_mib;
  state.counters["seconds"] = seconds;
  state.counters["MB_per_s"] = load.data_mib / seconds;
  state.counters["db_MiB"] = db_mib;
  state.counters["db_MB_per_s"] = db_mib / seconds;
  state.counters["page_s"] = started >= 0 && done >= started ? double(done - started) / 1e6 : -1;
  state.counters["load_s"] = load.seconds;
  state.counters["idle_p50_us"] = Pct(idle, 0.50);
  state.counters["idle_p99_us"] = idle_p99;
  state.counters["during_p50_us"] = Pct(during, 0.50);
  state.counters["during_p99_us"] = during_p99;
  state.counters["p99_ratio"] = idle_p99 > 0 ? during_p99 / idle_p99 : -1;
  state.counters["during_writes"] = double(during.size());
  state.counters["not_durable"] = double(writer.not_durable_);
  state.counters["failed"] = double(writer.failed_);
  state.counters["eta_first_ms"] = double(run.eta_first_ms);
  state.counters["eta_error_ms"] =
      run.eta_first_ms >= 0 ? (seconds - run.eta_seen_s) * 1000 - double(run.eta_first_ms) : 0;
  std::fprintf(stderr,
               "  BM_Reinit/%lld: start -> in sync %.2f s (%.1f MiB/s data, %.1f MiB pages); QUORUM p99 "
               "idle %.0f us, during %.0f us (x%.2f, %zu writes)\n",
               static_cast<long long>(mib), seconds, load.data_mib / seconds, db_mib, idle_p99,
               during_p99, idle_p99 > 0 ? during_p99 / idle_p99 : -1, during.size());
}

// A replica is killed, `mib` MiB are written, and it restarts empty: the
// time until it is in sync again (internal init), and QUORUM write latency
// on the master before and during the init.
void BM_Reinit(benchmark::State& state) {
  const int64_t mib = state.range(0);
  testing::LocalChassis c(ReinitChassis(mib));
  if (!c.StartAll().ok()) return state.SkipWithError("chassis did not start");
  const int m = c.WaitForMaster(30000);
  if (m <= 0) {
    for (int s = 1; s <= 3; ++s) std::fprintf(stderr, "board %d:\n%s\n", s, c.Logs(s).c_str());
    return state.SkipWithError("no master");
  }
  const int r = m == 3 ? 2 : 3;
  c.Kill(r);
  const Loaded load = LoadData(c, m, mib);
  if (!load.status.ok()) return state.SkipWithError(load.status.ToString().c_str());

  // Idle latency: the master with its other replica caught up after the
  // load, nothing else going on (300 unmeasured puts first).
  const int other = 6 - m - r;
  testing::LocalChassis::WaitUntil([&] { return InSync(c, other); }, 60000);
  Writer writer(c.client_endpoint(m));
  writer.Run(300);
  auto t_idle = Clock::now();
  writer.Run(3000);
  std::vector<double> idle = writer.Between(t_idle, Clock::now());

  for (auto _ : state) {
    writer.Start();
    const Restart run = RestartAndWaitInSync(c, r, mib);
    writer.Stop();
    if (!run.synced) {
      state.SkipWithError("the restarted board did not start or get in sync in time");
      break;
    }
    state.SetIterationTime(run.seconds);
    ReportReinit(state, c, r, mib, load, run, idle, writer.Between(run.t0, run.t1), writer);
  }
}

BENCHMARK(BM_Reinit)->Arg(8)->Arg(100)->Arg(1024)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bp::bench

BENCHMARK_MAIN();
