// The clock seam. Everything that measures time or waits for a deadline asks
// a Clock, so drills and tests can reason about time. Monotonic time (for
// timeouts and latencies) is kept apart from wall time (for logs/reports).
//
// Waits go through the clock too (SleepFor, WaitUntil): a test clock
// (ManualClock) then decides when a deadline has passed. Berkeley DB reads
// clock_gettime itself for its own timeouts; those are outside this seam.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

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
  // Blocks the calling thread for `d` of this clock's time.
  virtual void SleepFor(Micros d) const = 0;
  // Waits on `cv` (with `lock` held, as std::condition_variable does) until
  // `done()` holds or this clock reaches `deadline_us` (a NowMicros value).
  // Returns done(). Spurious wake-ups are absorbed.
  virtual bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         int64_t deadline_us, const std::function<bool()>& done) const = 0;
  // WaitUntil with a relative timeout.
  bool WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Micros timeout,
               const std::function<bool()>& done) const {
    return WaitUntil(cv, lock, NowMicros() + timeout.count(), done);
  }

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
  void SleepFor(Micros d) const override { std::this_thread::sleep_for(d); }
  bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 int64_t deadline_us, const std::function<bool()>& done) const override {
    // NowMicros is steady_clock's epoch: the deadline converts exactly.
    const std::chrono::steady_clock::time_point deadline{Micros(deadline_us)};
    return cv.wait_until(lock, deadline, done);
  }
};

inline const Clock& Clock::Real() {
  static const RealClock clock;
  return clock;
}

// A clock that moves only when told (unit tests of timers and timeouts).
// Waits block until Advance() carries the clock past their deadline or
// their condition holds; waiters re-check every millisecond of real time,
// so a condition variable notified without the clock moving still wakes
// them. Any thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_us = 1'000'000) : now_us_(start_us) {}
  int64_t NowMicros() const override { return now_us_.load(); }
  int64_t WallMicros() const override { return now_us_.load(); }
  void Advance(Micros d) { now_us_.fetch_add(d.count()); }
  void SleepFor(Micros d) const override {
    const int64_t until = NowMicros() + d.count();
    while (NowMicros() < until) std::this_thread::sleep_for(Millis(1));
  }
  bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 int64_t deadline_us, const std::function<bool()>& done) const override {
    while (!done()) {
      if (NowMicros() >= deadline_us) return false;
      cv.wait_for(lock, Millis(1));
    }
    return true;
  }

 private:
  std::atomic<int64_t> now_us_;
};

}  // namespace bp
