// Commit latency and throughput of the replicated store.
//
// The master is an Engine inside this process (slot 1, the highest
// priority, so it wins the first election), measured where the commit
// happens, like repmgr's master in its harness; the other boards are real
// `board` processes over ipc://. Keys 16 bytes, values 100 bytes.
//
//   BM_Commit/<policy>/<boards>      single writer: p50 / p99 / p99.9
//   BM_Throughput/<writers>          QUORUM, 3 boards: commits/s and p99
//   BM_CommitSecurity/<curve>        QUORUM, 3 boards, single writer, with
//                                    security none (0) and curve (1)
//   BM_ThroughputSecurity/<curve>/16 QUORUM, 3 boards, 16 writers, likewise
// Every other row runs the generated chassis' default, security curve.
#include <benchmark/benchmark.h>
#include <db.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>
#include <tuple>

#include "board/engine.h"
#include "local_chassis.h"
#include "support/latency.h"

namespace bp::bench {
namespace {

using board::AckPolicy;

// Page-lock requests on the master that had to wait (a writer queued behind
// another transaction's locks).
uint64_t LockWaits(board::Engine& e) {
  DB_ENV* env = e.env().raw();
  DB_LOCK_STAT* st = nullptr;
  if (env->lock_stat(env, &st, 0) != 0 || !st) return 0;
  uint64_t waits = st->st_lock_wait;
  free(st);
  return waits;
}

// A chassis whose slot 1 is this process's engine.
struct Fixture {
  std::unique_ptr<testing::LocalChassis> chassis;
  std::unique_ptr<board::Engine> master;
};

Fixture* Get(AckPolicy policy, int boards, bool curve = true) {
  static std::map<std::tuple<int, int, bool>, std::unique_ptr<Fixture>> cache;
  auto key = std::make_tuple(int(policy), boards, curve);
  auto& f = cache[key];
  if (f) return f.get();
  // One chassis at a time: tear the others down (2 cores).
  cache.clear();
  auto& fresh = cache[key];
  fresh = std::make_unique<Fixture>();
  testing::ChassisOptions o;
  o.boards = boards;
  o.ack_policy = policy;
  o.tweak = [curve](board::ChassisConfig& c) {
    if (!curve) c.security = board::SecurityMode::kNone;
    c.boards[0].priority = 1000;
    // Latency runs must not fail over when the 2 cores are busy (compilers,
    // other benchmarks): failure detection is measured by the drills.
    c.heartbeat_timeout_ms = 1000;
    c.cache_mb = 256;
    c.log_buffer_mb = 32;
    if (getenv("BP_BENCH_NOBULK")) c.bulk = false;
  };
  fresh->chassis = std::make_unique<testing::LocalChassis>(o);
  board::EngineOptions eo;
  eo.config = fresh->chassis->config();
  eo.self_slot = 1;
  eo.log = [](const std::string&) {};
  auto e = board::Engine::Start(eo);
  if (!e.ok()) {
    std::fprintf(stderr, "engine: %s\n", e.status().ToString().c_str());
    return nullptr;
  }
  fresh->master = std::move(e).value();
  for (int s = 2; s <= boards; ++s) (void)fresh->chassis->Start(s);
  // The in-process engine has the highest priority, but a board process
  // that started first may have been elected before it was heard. Then the
  // process master is restarted (empty): with equal logs the next election
  // goes to the highest priority.
  bool ready = false;
  for (int attempt = 0; attempt < 4 && !ready; ++attempt) {
    int m = -1;
    testing::LocalChassis::WaitUntil(
        [&] {
          if (fresh->master->role() == board::Role::kMaster) return true;
          for (int s = 2; s <= boards; ++s) {
            if (fresh->chassis->Status(s)["role"] == "master") m = s;
          }
          return m > 1;
        },
        30000);
    if (m > 1 && fresh->master->role() != board::Role::kMaster) {
      fresh->chassis->Kill(m);
      (void)fresh->chassis->Start(m);
    }
    ready = testing::LocalChassis::WaitUntil(
        [&] {
          if (fresh->master->role() != board::Role::kMaster) return false;
          for (int s = 2; s <= boards; ++s) {
            auto st = fresh->chassis->Status(s);
            if (st.is_null() || st["startup_complete"] != true) return false;
          }
          return true;
        },
        10000);
  }
  if (!ready) {
    std::fprintf(stderr, "chassis did not become ready: master role %s\n",
                 board::RoleName(fresh->master->role()));
    for (int s = 2; s <= boards; ++s) std::fprintf(stderr, "%s\n", fresh->chassis->Status(s).dump().c_str());
    return nullptr;
  }
  return fresh.get();
}

std::vector<memenv::BatchOp> OnePut(uint64_t i) {
  char key[17];
  std::snprintf(key, sizeof key, "k%015llu", static_cast<unsigned long long>(i % 100000));
  return {{memenv::BatchOp::Kind::kPut, std::string(key, 16), std::string(100, 'v')}};
}

void CommitLoop(benchmark::State& state, Fixture* f);
void ThroughputLoop(benchmark::State& state, Fixture* f, int writers, int64_t run_ms);

void BM_Commit(benchmark::State& state) {
  auto policy = static_cast<AckPolicy>(state.range(0));
  Fixture* f = Get(policy, int(state.range(1)));
  if (!f) {
    state.SkipWithError("chassis not ready");
    return;
  }
  CommitLoop(state, f);
  state.SetLabel(std::string(board::AckPolicyName(policy)) + "/" + std::to_string(state.range(1)) + " boards");
}

void BM_CommitSecurity(benchmark::State& state) {
  const bool curve = state.range(0) != 0;
  Fixture* f = Get(AckPolicy::kQuorum, 3, curve);
  if (!f) {
    state.SkipWithError("chassis not ready");
    return;
  }
  CommitLoop(state, f);
  state.SetLabel(std::string("quorum/3 boards, security ") + (curve ? "curve" : "none"));
}

void CommitLoop(benchmark::State& state, Fixture* f) {
  LatencyRecorder lat;
  uint64_t i = 0, not_durable = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    board::WriteResult r = f->master->service().Write(OnePut(i++), {});
    lat.Add(std::chrono::steady_clock::now() - t0);
    if (!r.status.ok()) {
      state.SkipWithError(r.status.ToString().c_str());
      break;
    }
    not_durable += r.durable ? 0 : 1;
  }
  lat.Report(state);
  state.counters["not_durable"] = double(not_durable);
}

void BM_Throughput(benchmark::State& state) {
  Fixture* f = Get(AckPolicy::kQuorum, 3);
  if (!f) {
    state.SkipWithError("chassis not ready");
    return;
  }
  ThroughputLoop(state, f, int(state.range(0)), state.range(1));
  state.SetLabel("quorum/3 boards, " + std::to_string(state.range(0)) + " writers");
}

void BM_ThroughputSecurity(benchmark::State& state) {
  const bool curve = state.range(0) != 0;
  Fixture* f = Get(AckPolicy::kQuorum, 3, curve);
  if (!f) {
    state.SkipWithError("chassis not ready");
    return;
  }
  ThroughputLoop(state, f, int(state.range(1)), state.range(2));
  state.SetLabel("quorum/3 boards, " + std::to_string(state.range(1)) + " writers, security " +
                 (curve ? "curve" : "none"));
}

void ThroughputLoop(benchmark::State& state, Fixture* f, int writers, int64_t run_ms) {
  for (auto _ : state) {
    std::atomic<bool> stop{false};
    std::vector<LatencyRecorder> lats(static_cast<size_t>(writers));
    std::atomic<uint64_t> commits{0}, failures{0};
    std::vector<std::thread> threads;
    const uint64_t waits0 = LockWaits(*f->master);
    auto t0 = std::chrono::steady_clock::now();
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        for (uint64_t i = uint64_t(w) << 40; !stop.load(); ++i) {
          auto s = std::chrono::steady_clock::now();
          board::WriteResult r = f->master->service().Write(OnePut(i), {});
          lats[size_t(w)].Add(std::chrono::steady_clock::now() - s);
          if (r.status.ok()) {
            ++commits;
          } else if (failures.fetch_add(1) == 0) {
            std::fprintf(stderr, "first failure: %s\n", r.status.ToString().c_str());
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
    stop = true;
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.counters["commits_per_s"] = double(commits.load()) / secs;
    state.counters["failures"] = double(failures.load());
    state.counters["lock_waits_per_commit"] =
        double(LockWaits(*f->master) - waits0) / double(std::max<uint64_t>(1, commits.load()));
    // Pool every writer's samples for the percentiles.
    LatencyRecorder all;
    for (auto& l : lats) all.Merge(l);
    state.SetIterationTime(secs);
    all.Report(state);
  }
}

void CommitArgs(benchmark::internal::Benchmark* b) {
  for (int boards : {3, 5}) {
    for (AckPolicy p : {AckPolicy::kNone, AckPolicy::kOne, AckPolicy::kQuorum, AckPolicy::kAll}) {
      b->Args({int(p), boards});
    }
  }
}

BENCHMARK(BM_Commit)->Apply(CommitArgs)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Throughput)
    ->Args({1, 2000})
    ->Args({4, 2000})
    ->Args({16, 2000})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
// CURVE's cost, none and curve side by side in one run.
BENCHMARK(BM_CommitSecurity)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ThroughputSecurity)
    ->Args({0, 16, 2000})
    ->Args({1, 16, 2000})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bp::bench

BENCHMARK_MAIN();
