#include "stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace bp::chassis {
namespace {

double NearestRank(const std::vector<double>& sorted, double p) {
  size_t rank = size_t(std::ceil(p / 100.0 * double(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace

Summary Summarize(std::vector<double> v) {
  Summary s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.p50 = NearestRank(v, 50);
  s.p99 = NearestRank(v, 99);
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  return s;
}

double Round(double v, int decimals) {
  double f = std::pow(10.0, decimals);
  return std::round(v * f) / f;
}

nlohmann::json SummaryJson(const Summary& s, int decimals) {
  if (s.count == 0) {
    return {{"min", nullptr}, {"p50", nullptr},  {"p99", nullptr},
            {"max", nullptr}, {"mean", nullptr}, {"count", 0}};
  }
  return {{"min", Round(s.min, decimals)},   {"p50", Round(s.p50, decimals)},
          {"p99", Round(s.p99, decimals)},   {"max", Round(s.max, decimals)},
          {"mean", Round(s.mean, decimals)}, {"count", s.count}};
}

}  // namespace bp::chassis
