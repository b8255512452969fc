// LatencyHistogram (latency_histogram.h).
#include "board/latency_histogram.h"

#include <algorithm>

namespace bp::board {

void LatencyHistogram::Record(int64_t micros) {
  const int64_t us = std::max<int64_t>(micros, 0);
  const auto it = std::lower_bound(kBoundsUs.begin(), kBoundsUs.end(), us);
  counts_[size_t(it - kBoundsUs.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(uint64_t(us), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

nlohmann::json LatencyHistogram::Json() const {
  nlohmann::json counts = nlohmann::json::array();
  for (const auto& c : counts_) counts.push_back(c.load(std::memory_order_relaxed));
  return {{"le_us", kBoundsUs},
          {"counts", counts},
          {"count", count_.load(std::memory_order_relaxed)},
          {"sum_us", sum_us_.load(std::memory_order_relaxed)}};
}

}  // namespace bp::board
