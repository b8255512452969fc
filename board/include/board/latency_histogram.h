// LatencyHistogram: counts durations into fixed buckets, for a Prometheus
// histogram (metrics.h renders its Json()).
//
// Record is lock-free (relaxed atomics) and called on whatever thread
// finishes the timed operation: today the client endpoint's write
// completion (ClientServer, on an engine thread). Json is called by the
// status builders on any thread; it may see a count and a sum a few
// records apart, which Prometheus tolerates (each series is monotonic).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace bp::board {

class LatencyHistogram {
 public:
  // Upper bounds in microseconds, from 100 us to 10 s; +Inf is implicit.
  static constexpr std::array<int64_t, 16> kBoundsUs = {
      100,    250,    500,     1000,    2500,    5000,    10000,   25000,
      50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

  void Record(int64_t micros);
  // {"le_us": [bounds], "counts": [per bucket, not cumulative; one more
  //  than the bounds: the last is above the largest], "count", "sum_us"}
  nlohmann::json Json() const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

}  // namespace bp::board
