// Summary statistics of a sample (milliseconds in drill reports,
// microseconds in load latencies): min, p50, p99, max, mean, count.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

namespace bp::chassis {

struct Summary {
  size_t count = 0;
  double min = 0, p50 = 0, p99 = 0, max = 0, mean = 0;
};

// Percentiles by the nearest-rank method (p99 of 10 samples is the max).
Summary Summarize(std::vector<double> values);

// {"min","p50","p99","max","mean","count"}; null values when empty, so a
// missing measurement is visible rather than a zero.
nlohmann::json SummaryJson(const Summary& s, int decimals = 2);

double Round(double v, int decimals);

}  // namespace bp::chassis
