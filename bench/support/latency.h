// Per-iteration latency samples -> p50 / p99 / p99.9 Google Benchmark
// counters (Google Benchmark itself reports only means).
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace bp::bench {

class LatencyRecorder {
 public:
  void Reserve(size_t n) { samples_.reserve(n); }
  void Add(std::chrono::nanoseconds d) { samples_.push_back(d.count()); }
  void Merge(const LatencyRecorder& o) { samples_.insert(samples_.end(), o.samples_.begin(), o.samples_.end()); }
  // Sets p50_us, p99_us, p999_us, max_us on `state`.
  void Report(benchmark::State& state) {
    if (samples_.empty()) return;
    std::sort(samples_.begin(), samples_.end());
    auto at = [&](double q) {
      size_t i = std::min(samples_.size() - 1, size_t(q * double(samples_.size())));
      return double(samples_[i]) / 1000.0;
    };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
    state.counters["p999_us"] = at(0.999);
    state.counters["max_us"] = double(samples_.back()) / 1000.0;
    state.counters["samples"] = double(samples_.size());
  }

 private:
  std::vector<int64_t> samples_;
};

}  // namespace bp::bench
