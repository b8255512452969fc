// Bounded blocking queue and thread pool used by the engine's threads.
//
// Every queue has a limit on the items it holds and on their bytes; an item
// that does not fit is refused at once (the caller drops or refuses it) and
// counted, so a producer faster than the consumer cannot grow memory
// without bound. An empty queue always takes one item, however large, so a
// legal item is never refused forever.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace bp::board {

struct QueueLimits {
  size_t max_items = std::numeric_limits<size_t>::max();
  size_t max_bytes = std::numeric_limits<size_t>::max();
};

// A snapshot for status: what is queued now, the limits, what was refused.
struct QueueStats {
  size_t depth = 0;
  size_t bytes = 0;
  size_t peak_depth = 0;  // highest depth seen
  QueueLimits limits;
  uint64_t refused = 0;
};

template <typename T>
class WorkQueue {
 public:
  WorkQueue() = default;
  explicit WorkQueue(QueueLimits limits) : limits_(limits) {}

  // Appends `item` (`bytes` of it count toward max_bytes) and returns true;
  // returns false when the queue is full (counted in `refused`) or closed
  // (not counted). A refused item is destroyed.
  bool Push(T item, size_t bytes = 0) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (closed_) return false;
      const bool over_bytes = bytes > limits_.max_bytes || bytes_ > limits_.max_bytes - bytes;
      if (!items_.empty() && (items_.size() >= limits_.max_items || over_bytes)) {
        ++refused_;
        return false;
      }
      items_.emplace_back(std::move(item), bytes);
      bytes_ += bytes;
      peak_ = std::max(peak_, items_.size());
    }
    cv_.notify_one();
    return true;
  }
  // Blocks until an item arrives or Close(); items queued before Close()
  // are still handed out, then nullopt.
  std::optional<T> Pop() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front().first);
    bytes_ -= items_.front().second;
    items_.pop_front();
    return item;
  }
  void Close() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  size_t size() const {
    std::lock_guard<std::mutex> l(mu_);
    return items_.size();
  }
  QueueStats Stats() const {
    std::lock_guard<std::mutex> l(mu_);
    return QueueStats{items_.size(), bytes_, peak_, limits_, refused_};
  }

 private:
  const QueueLimits limits_{};  // {}: clang needs it for the defaulted constructor
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<T, size_t>> items_;  // guarded by mu_, with each item's bytes
  size_t bytes_ = 0;                        // guarded by mu_
  size_t peak_ = 0;                         // guarded by mu_
  uint64_t refused_ = 0;                    // guarded by mu_
  bool closed_ = false;                     // guarded by mu_
};

// Worker threads over a bounded task queue: `max_items` bounds the tasks
// waiting for a thread (not the ones running).
class ThreadPool {
 public:
  ThreadPool() = default;
  explicit ThreadPool(QueueLimits limits) : tasks_(limits) {}
  ~ThreadPool() { Stop(); }
  void Start(size_t threads) {
    for (size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        while (auto task = tasks_.Pop()) (*task)();
      });
    }
  }
  // False when the queue is full (counted) or the pool stopped: the task
  // was not queued and never runs; the caller refuses the work.
  [[nodiscard]] bool Submit(std::function<void()> task, size_t bytes = 0) {
    return tasks_.Push(std::move(task), bytes);
  }
  void Stop() {
    tasks_.Close();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }
  QueueStats Stats() const { return tasks_.Stats(); }

 private:
  WorkQueue<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
};

}  // namespace bp::board
