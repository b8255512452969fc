// Firmware shim latency against a local 3-board chassis of real `board`
// processes (started here through LocalChassis, killed and reaped at exit).
//
// Each benchmark times every iteration itself (manual time) and reports
// p50_us / p99_us: firmware cares about the tail, not the mean.
//
//   shim_bench --benchmark_min_time=0.05     # a smoke run
#include <benchmark/benchmark.h>

#include <cstring>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "firmware_shim/fw_shim.h"
#include "local_chassis.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Bench {
  std::unique_ptr<bp::testing::LocalChassis> chassis;
  int master = -1, replica = -1;
  fw_board_t* on_master = nullptr;
  fw_board_t* on_replica = nullptr;
};
Bench* g = nullptr;
// A second 3-board chassis with master leases on (leases = true), started
// the first time a leases variant runs.
Bench* g_leases = nullptr;

fw_board_t* OpenShim(const std::string& endpoint) {
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = endpoint.c_str();
  fw_board_t* h = nullptr;
  if (fw_open(&o, &h) != FW_OK) std::fprintf(stderr, "fw_open: %s\n", fw_last_error());
  return h;
}

bool StartChassis(Bench*& b, bool leases) {
  b = new Bench;
  bp::testing::ChassisOptions opts;
  opts.board_exe = BP_BOARD_EXE;
  opts.tweak = [leases](bp::board::ChassisConfig& c) {
    c.leases = leases;
    // Latency runs must not fail over or give up on acks when the 2 cores
    // are busy (other benchmarks, hypervisor steal): failure detection is
    // measured by the drills. The LINEARIZABLE confirmation window is half
    // the heartbeat timeout.
    c.heartbeat_timeout_ms = 1000;
    c.ack_timeout_ms = 1000;
  };
  b->chassis = std::make_unique<bp::testing::LocalChassis>(opts);
  if (!b->chassis->StartAll().ok()) return false;
  b->master = b->chassis->WaitForMaster(20000);
  if (b->master < 0) return false;
  b->replica = b->master == 1 ? 2 : 1;
  b->on_master = OpenShim(b->chassis->client_endpoint(b->master));
  b->on_replica = OpenShim(b->chassis->client_endpoint(b->replica));
  return b->on_master && b->on_replica;
}

bool StartChassis() { return StartChassis(g, false); }

void StopChassis(Bench*& b) {
  if (!b) return;
  if (b->on_master) fw_close(b->on_master);
  if (b->on_replica) fw_close(b->on_replica);
  b->chassis.reset();  // SIGKILLs and reaps every board
  delete b;
  b = nullptr;
}

void StopChassis() {
  StopChassis(g);
  StopChassis(g_leases);
}

// The leases chassis, started on first use; nullptr (and the benchmark
// skipped with the reason) if it does not come up.
Bench* Leased(benchmark::State& state) {
  static bool tried = false;
  if (!tried) {
    tried = true;
    if (!StartChassis(g_leases, true)) StopChassis(g_leases);
  }
  if (!g_leases) state.SkipWithError("the 3-board chassis with leases did not come up");
  return g_leases;
}

// Per-iteration samples -> manual time + percentile counters.
class Samples {
 public:
  void Add(benchmark::State& state, Clock::duration d) {
    double s = std::chrono::duration<double>(d).count();
    state.SetIterationTime(s);
    us_.push_back(s * 1e6);
  }
  void Report(benchmark::State& state) {
    if (us_.empty()) return;
    std::sort(us_.begin(), us_.end());
    auto at = [&](double q) { return us_[std::min(us_.size() - 1, size_t(q * us_.size()))]; };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
  }

 private:
  std::vector<double> us_;
};

fw_board_t* Target(const benchmark::State& state) {
  return state.range(0) == 0 ? g->on_master : g->on_replica;
}

void Put(benchmark::State& state, fw_board_t* h, const std::string& key) {
  fw_err_t e = fw_put(h, key.data(), key.size(), "value-0123456789", 16, nullptr);
  if (e != FW_OK) state.SkipWithError(fw_last_error());
}

// range(0): 0 = on the master, 1 = on a replica.
// Times fw_get of `key` in `mode` at `h`, one sample per iteration.
void TimeGets(benchmark::State& state, fw_board_t* h, const char* key, fw_read_mode_t mode) {
  Samples s;
  for (auto _ : state) {
    char* v = nullptr;
    auto t0 = Clock::now();
    fw_err_t e = fw_get(h, key, strlen(key), mode, &v, nullptr);
    s.Add(state, Clock::now() - t0);
    fw_free(v);
    if (e != FW_OK) state.SkipWithError(fw_last_error());
  }
  s.Report(state);
}

void BM_LocalGet(benchmark::State& state) {
  fw_board_t* h = Target(state);
  Put(state, g->on_master, "bench-get");
  // The replica serves locally: wait until the key reached it.
  bp::testing::LocalChassis::WaitUntil(
      [&] {
        char* v = nullptr;
        bool ok = fw_get(h, "bench-get", 9, FW_READ_LOCAL, &v, nullptr) == FW_OK;
        fw_free(v);
        return ok;
      },
      5000);
  TimeGets(state, h, "bench-get", FW_READ_LOCAL);
}
BENCHMARK(BM_LocalGet)->ArgName("replica")->Arg(0)->Arg(1)->UseManualTime();

// range(0): 0 = put on the master, 1 = forwarded from a replica.
void BM_Put(benchmark::State& state) {
  fw_board_t* h = Target(state);
  Samples s;
  int64_t i = 0;
  for (auto _ : state) {
    std::string key = "bench-put-" + std::to_string(i++ % 1000);
    auto t0 = Clock::now();
    fw_err_t e = fw_put(h, key.data(), key.size(), "value-0123456789", 16, nullptr);
    s.Add(state, Clock::now() - t0);
    if (e != FW_OK) state.SkipWithError(fw_last_error());
  }
  s.Report(state);
}
BENCHMARK(BM_Put)->ArgName("forwarded")->Arg(0)->Arg(1)->UseManualTime();

// READ_YOUR_WRITES on a replica right after its own forwarded put: the
// get waits until the put is applied there. Only the get is timed.
void BM_ReadYourWritesAfterForwardedPut(benchmark::State& state) {
  fw_board_t* h = g->on_replica;
  Samples s;
  int64_t i = 0;
  for (auto _ : state) {
    std::string key = "bench-ryw-" + std::to_string(i++ % 1000);
    fw_err_t e = fw_put(h, key.data(), key.size(), "value-0123456789", 16, nullptr);
    char* v = nullptr;
    auto t0 = Clock::now();
    if (e == FW_OK) e = fw_get(h, key.data(), key.size(), FW_READ_YOUR_WRITES, &v, nullptr);
    s.Add(state, Clock::now() - t0);
    fw_free(v);
    if (e != FW_OK) state.SkipWithError(fw_last_error());
  }
  s.Report(state);
}
BENCHMARK(BM_ReadYourWritesAfterForwardedPut)->UseManualTime();

// range(0): 0 = the chassis without leases, 1 = with master leases (the
// master's DB->get also checks its lease).
void BM_LinearizableGet(benchmark::State& state) {
  Bench* b = state.range(0) ? Leased(state) : g;
  if (!b) return;
  Put(state, b->on_master, "bench-lin");
  TimeGets(state, b->on_master, "bench-lin", FW_READ_LINEARIZABLE);
}
BENCHMARK(BM_LinearizableGet)->ArgName("leases")->Arg(0)->Arg(1)->UseManualTime();

// LOCAL get on the master of the leases chassis: Berkeley DB checks the
// lease on every read on a master, whatever the read mode.
void BM_LocalGetOnLeasedMaster(benchmark::State& state) {
  Bench* b = Leased(state);
  if (!b) return;
  Put(state, b->on_master, "bench-get");
  TimeGets(state, b->on_master, "bench-get", FW_READ_LOCAL);
}
BENCHMARK(BM_LocalGetOnLeasedMaster)->UseManualTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!StartChassis()) {
    std::fprintf(stderr, "shim_bench: could not start a 3-board chassis with a master\n");
    StopChassis();
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  StopChassis();
  return 0;
}
