// Emulated link latency: frames wait here until due, then leave through
// their link. One thread serves every link of a bus, started on first use
// (buses without delay faults never pay for it).
//
// Order: a link stamps its frames with non-decreasing due times, and frames
// due at the same time leave in arrival order, so a link never reorders.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "bp/clock.h"
#include "bus/frames.h"

namespace bp::bus {

class Link;

class DelayLine {
 public:
  struct Stats {
    size_t depth = 0, bytes = 0, peak = 0;
    uint64_t refused = 0;
  };
  enum class PushResult { kQueued, kFull, kStopped };

  // At most `max_frames` frames and `max_bytes` bytes wait at once (an empty
  // line takes any one frame); beyond, Push refuses and counts.
  DelayLine(const Clock* clock, size_t max_frames, size_t max_bytes)
      : clock_(clock), max_frames_(max_frames), max_bytes_(max_bytes) {}
  ~DelayLine() { Stop(); }
  DelayLine(const DelayLine&) = delete;
  DelayLine& operator=(const DelayLine&) = delete;

  // Queues `frame` for `link` until `due_us` (Clock::NowMicros); kFull when
  // the line holds its bound, kStopped once stopped. May be called with the
  // link's mutex held.
  PushResult Push(int64_t due_us, std::shared_ptr<Link> link, OutFrame frame);
  Stats GetStats() const;
  // Joins the thread; frames still waiting are dropped (counted by their link).
  void Stop();

 private:
  struct Item {
    int64_t due_us;
    uint64_t seq;
    std::shared_ptr<Link> link;
    OutFrame frame;
  };
  struct Later {
    bool operator()(const Item& a, const Item& b) const {
      return a.due_us != b.due_us ? a.due_us > b.due_us : a.seq > b.seq;
    }
  };

  void Run();
  bool PopDue(Item* out);

  const Clock* const clock_;
  const size_t max_frames_, max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, Later> queue_;  // guarded by mu_
  uint64_t next_seq_ = 0;                                      // guarded by mu_
  bool stopped_ = false;                                       // guarded by mu_
  size_t bytes_ = 0, peak_ = 0;                                // guarded by mu_
  uint64_t refused_ = 0;                                       // guarded by mu_
  std::thread thread_;                                         // started under mu_
};

}  // namespace bp::bus
