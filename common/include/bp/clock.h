// The clock seam. Everything that measures time or waits for a deadline asks
// a Clock, so drills and tests can reason about time. Monotonic time (for
// timeouts and latencies) is kept apart from wall time (for logs/reports).
#pragma once

#include <chrono>
#include <cstdint>

namespace bp {

using Micros = std::chrono::microseconds;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time since an arbitrary epoch, in microseconds.
  virtual int64_t NowMicros() const = 0;
  // Wall-clock time since the Unix epoch, in microseconds (reports only).
  virtual int64_t WallMicros() const = 0;

  // The process-wide real clock.
  static const Clock& Real();
};

class RealClock final : public Clock {
 public:
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<Micros>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t WallMicros() const override {
    return std::chrono::duration_cast<Micros>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

inline const Clock& Clock::Real() {
  static const RealClock clock;
  return clock;
}

}  // namespace bp
