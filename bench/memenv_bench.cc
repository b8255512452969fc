// memenv latency: Get, Put and a 10-op ApplyBatch on one in-memory
// environment, single-threaded. Google Benchmark reports means only, so each
// iteration is timed with steady_clock and p50/p99 are added as counters.
//
//   memenv_bench --benchmark_min_time=0.05   (smoke run, a couple of seconds)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "memenv/env.h"

namespace bp::memenv {
namespace {

constexpr int kKeys = 10000;
constexpr size_t kValueBytes = 100;

std::string BenchKey(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "key%08d", i);
  return buf;
}

// One environment for the whole run, preloaded so that Get always hits.
Table* SharedTable() {
  static Env* env = [] {
    EnvOptions o;
    o.cache_bytes = 64u << 20;
    o.log_buffer_bytes = 16u << 20;
    Result<std::unique_ptr<Env>> opened = Env::Open(o);
    if (!opened.ok()) {
      std::fprintf(stderr, "memenv_bench: %s\n", opened.status().ToString().c_str());
      std::exit(1);
    }
    return std::move(opened).value().release();  // lives until exit
  }();
  static Table* table = [] {
    Table* t = env->OpenTable("bench", true).value();
    std::vector<BatchOp> ops;
    for (int i = 0; i < kKeys; ++i) {
      ops.push_back({BatchOp::Kind::kPut, BenchKey(i), std::string(kValueBytes, 'v')});
      if (ops.size() == 1000) {
        if (!t->ApplyBatch(ops).ok()) std::abort();
        ops.clear();
      }
    }
    return t;
  }();
  return table;
}

// Runs `op` once per iteration, timing each call, and reports percentiles.
template <typename Op>
void RunTimed(benchmark::State& state, Op op) {
  std::vector<double> us;
  us.reserve(1 << 16);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, kKeys - 1);
  for (auto _ : state) {
    const int key = pick(rng);
    const auto start = std::chrono::steady_clock::now();
    const Status s = op(key);
    const auto end = std::chrono::steady_clock::now();
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<size_t>(q * (us.size() - 1))]; };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
}

void BM_Get(benchmark::State& state) {
  Table* t = SharedTable();
  RunTimed(state, [&](int key) { return t->Get(BenchKey(key)).status(); });
}

void BM_Put(benchmark::State& state) {
  Table* t = SharedTable();
  const std::string value(kValueBytes, 'p');
  RunTimed(state, [&](int key) { return t->Put(BenchKey(key), value); });
}

void BM_ApplyBatch10(benchmark::State& state) {
  Table* t = SharedTable();
  const std::string value(kValueBytes, 'b');
  std::vector<BatchOp> ops(10);
  RunTimed(state, [&](int key) {
    for (int i = 0; i < 10; ++i) {
      ops[i] = {BatchOp::Kind::kPut, BenchKey((key + i * 997) % kKeys), value};
    }
    return t->ApplyBatch(ops);
  });
}

BENCHMARK(BM_Get);
BENCHMARK(BM_Put);
BENCHMARK(BM_ApplyBatch10);

}  // namespace
}  // namespace bp::memenv

BENCHMARK_MAIN();
