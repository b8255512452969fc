// Gate: lets many threads in at once, and lets one thread close it and wait
// (bounded) until everyone inside has left. Writer-preferring: once closed,
// newcomers wait outside until it reopens.
//
// The engine keeps two: one in front of rep_process_message, one in front of
// application calls into Berkeley DB (reads and writes). rep_start waits for
// both kinds of threads to leave Berkeley DB, polling in 1-second sleeps
// (bdb-base-api.md §3.6): closing the gates first makes a role change take
// microseconds instead of a second.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "bp/clock.h"

namespace bp::board {

class Gate {
 public:
  explicit Gate(const Clock& clock = Clock::Real()) : clock_(clock) {}
  void Enter() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !closed_; });
    ++inside_;
  }
  void Leave() {
    {
      std::lock_guard<std::mutex> l(mu_);
      --inside_;
    }
    cv_.notify_all();
  }
  // Closes the gate and waits up to `timeout` for the threads inside to
  // leave. Returns whether it emptied.
  bool CloseAndDrain(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    closed_ = true;
    return clock_.WaitFor(cv_, l, timeout, [&] { return inside_ == 0; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = false;
    }
    cv_.notify_all();
  }
  int inside() const {
    std::lock_guard<std::mutex> l(mu_);
    return inside_;
  }

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int inside_ = 0;
  bool closed_ = false;
};

// RAII pass through a gate.
class GatePass {
 public:
  explicit GatePass(Gate& g) : g_(g) { g_.Enter(); }
  ~GatePass() { g_.Leave(); }
  GatePass(const GatePass&) = delete;
  GatePass& operator=(const GatePass&) = delete;

 private:
  Gate& g_;
};

}  // namespace bp::board
