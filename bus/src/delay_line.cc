// The delay line (see delay_line.h).
#include "delay_line.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "link.h"

namespace bp::bus {
namespace {

// Upper bound on one wait, so an injected clock that does not follow the
// steady clock is still re-read regularly.
constexpr int64_t kMaxWaitUs = 10'000;

}  // namespace

DelayLine::PushResult DelayLine::Push(int64_t due_us, std::shared_ptr<Link> link, OutFrame frame) {
  std::lock_guard lock(mu_);
  if (stopped_) return PushResult::kStopped;
  const size_t size = frame.size();
  if (!queue_.empty() &&
      (queue_.size() >= max_frames_ || size > max_bytes_ || bytes_ > max_bytes_ - size)) {
    // Logged the first time and every 1000th after (the board's log is
    // stderr); counted per link and in BusCounters either way.
    if (refused_++ % 1000 == 0) {
      std::fprintf(stderr,
                   "bus: emulated link delay line full (%zu frames, %zu MiB; [chassis] "
                   "delay_line_frames = %zu, delay_line_mb = %zu): dropped a delayed frame (%llu so "
                   "far); lower the link delay or the rate, or raise the limits\n",
                   queue_.size(), bytes_ >> 20, max_frames_, max_bytes_ >> 20,
                   static_cast<unsigned long long>(refused_));
    }
    return PushResult::kFull;
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  bool new_head = queue_.empty() || due_us < queue_.top().due_us;
  queue_.push(Item{due_us, next_seq_++, std::move(link), std::move(frame)});
  bytes_ += size;
  peak_ = std::max(peak_, queue_.size());
  if (new_head) cv_.notify_one();
  return PushResult::kQueued;
}

DelayLine::Stats DelayLine::GetStats() const {
  std::lock_guard lock(mu_);
  return Stats{queue_.size(), bytes_, peak_, refused_};
}

void DelayLine::Stop() {
  std::priority_queue<Item, std::vector<Item>, Later> left;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    std::swap(left, queue_);
    bytes_ = 0;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  for (; !left.empty(); left.pop()) left.top().link->DropDelayed();
}

void DelayLine::Run() {
  Item item;
  while (PopDue(&item)) {
    // Sent outside mu_: the link takes its own mutex, and senders hold that
    // one while pushing here.
    item.link->SendDelayed(item.frame);
    item = Item{};
  }
}

// Blocks until the earliest frame is due (returns it) or the line stops.
bool DelayLine::PopDue(Item* out) {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    int64_t wait_us = queue_.top().due_us - clock_->NowMicros();
    if (wait_us <= 0) {
      *out = queue_.top();
      queue_.pop();
      bytes_ -= out->frame.size();
      return true;
    }
    cv_.wait_for(lock, std::chrono::microseconds(std::min(wait_us, kMaxWaitUs)));
  }
  return false;
}

}  // namespace bp::bus
