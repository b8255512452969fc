// LogBudget: reservations of log volume across all writers (log_budget.h).
#include "log_budget.h"

#include <algorithm>

#include "format.h"

namespace bp::memenv {

LogBudget::LogBudget(uint64_t share_bytes, std::chrono::milliseconds wait,
                     std::function<uint64_t()> log_end)
    : share_bytes_(share_bytes), wait_(wait), log_end_(std::move(log_end)) {
  stats_.share_bytes = share_bytes;
}

uint64_t LogBudget::ProjectedLocked(uint64_t except) const {
  if (holders_.empty()) return 0;
  uint64_t oldest = UINT64_MAX, remaining = 0;
  for (const auto& [id, h] : holders_) {
    oldest = std::min(oldest, h.start);
    if (id != except && h.reserved > h.used) remaining += h.reserved - h.used;
  }
  const uint64_t end = log_end_();
  const uint64_t span = end > oldest ? end - oldest : 0;
  return span + remaining;
}

bool LogBudget::Fits(uint64_t extra, uint64_t except) const {
  return holders_.empty() || ProjectedLocked(except) + extra <= share_bytes_;
}

uint64_t LogBudget::AddLocked(uint64_t bytes) {
  const uint64_t id = next_id_++;
  holders_[id] = Holder{log_end_(), bytes, 0};
  in_flight_ += bytes;
  stats_.in_flight_max_bytes = std::max(stats_.in_flight_max_bytes, in_flight_);
  return id;
}

Result<uint64_t> LogBudget::Admit(uint64_t bytes) {
  std::unique_lock<std::mutex> lock(mu_);
  if (waiters_.empty() && Fits(bytes, 0)) return AddLocked(bytes);
  ++stats_.waits;
  const uint64_t ticket = next_id_++;
  waiters_.push_back(ticket);
  const auto deadline = std::chrono::steady_clock::now() + wait_;
  bool admitted = false;
  while (true) {
    admitted = waiters_.front() == ticket && Fits(bytes, 0);
    if (admitted || cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
  }
  if (!admitted) admitted = waiters_.front() == ticket && Fits(bytes, 0);
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), ticket));
  cv_.notify_all();  // the next waiter may be at the front now
  if (admitted) return AddLocked(bytes);
  ++stats_.refused;
  return Status::Busy(
      "write refused: the log ring is busy (" + std::to_string(holders_.size()) +
      " transactions in flight span or may still write " + FormatBytes(ProjectedLocked(0)) +
      " of log; this one needs " + FormatBytes(bytes) + " more and together they may span at most " +
      FormatBytes(share_bytes_) + ", half the log ring; waited " + std::to_string(wait_.count()) +
      " ms). Retry, write smaller batches, or raise log_buffer_mb (memenv log_buffer_bytes)");
}

uint64_t LogBudget::TryAdmit(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!waiters_.empty() || !Fits(bytes, 0)) return 0;
  return AddLocked(bytes);
}

bool LogBudget::TryGrow(uint64_t id, uint64_t used_bytes, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = holders_.find(id);
  if (it == holders_.end()) return false;
  Holder& h = it->second;
  h.used = std::min(used_bytes, h.reserved);
  if (bytes <= h.reserved) return true;
  const bool sole = holders_.size() == 1;
  const uint64_t mine = bytes - h.used;
  if (!sole && !Fits(mine, id)) return false;
  in_flight_ += bytes - h.reserved;
  h.reserved = bytes;
  stats_.in_flight_max_bytes = std::max(stats_.in_flight_max_bytes, in_flight_);
  return true;
}

void LogBudget::Release(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = holders_.find(id);
    if (it == holders_.end()) return;
    in_flight_ -= it->second.reserved;
    holders_.erase(it);
  }
  cv_.notify_all();
}

void LogBudget::NoteRerun() {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.reruns;
}

LogBudgetStats LogBudget::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  LogBudgetStats st = stats_;
  st.in_flight_bytes = in_flight_;
  return st;
}

}  // namespace bp::memenv
