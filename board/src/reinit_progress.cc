// Re-init progress (see board/reinit_progress.h) and the engine's two ends of
// it: the database size a master / in-sync board puts in its heartbeat, and
// the "reinit_progress" object of the status.
#include "board/reinit_progress.h"

#include <db.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "board/engine.h"
#include "board/lag.h"

namespace bp::board {

const char* ReinitPhaseName(ReinitPhase p) {
  switch (p) {
    case ReinitPhase::kRequesting: return "requesting";
    case ReinitPhase::kPages: return "pages";
    case ReinitPhase::kLogs: return "logs";
    case ReinitPhase::kDone: return "done";
  }
  return "?";
}

ReinitProgress ComputeReinitProgress(const std::deque<ReinitSample>& window, const ReinitInputs& in) {
  ReinitProgress p;
  p.phase = in.in_sync ? ReinitPhase::kDone : ReinitPhase::kRequesting;
  p.total_pages = std::max<int64_t>(in.total_pages, 0);
  p.total_bytes = in.page_size > 0 ? p.total_pages * in.page_size : 0;
  if (window.empty()) {
    if (in.in_sync) p.eta_ms = 0;
    return p;
  }
  const ReinitSample& last = window.back();
  if (!in.in_sync) p.phase = last.phase;
  // Bounded by the total: an init that started over may count a file twice,
  // and a database that shrank between two heartbeats reads low for a while.
  p.pages_received = p.total_pages > 0 ? std::min(last.pages, p.total_pages) : last.pages;
  p.pages_stored = last.stored;
  if (p.phase == ReinitPhase::kDone && p.total_pages > 0) p.pages_received = p.total_pages;
  p.bytes_received = in.page_size > 0 ? p.pages_received * in.page_size : 0;
  if (p.total_pages > 0) {
    p.percent = 100.0 * double(p.pages_received) / double(p.total_pages);
  }
  if (p.phase == ReinitPhase::kDone) {
    p.eta_ms = 0;
    return p;
  }
  if (p.phase == ReinitPhase::kRequesting) return p;
  // The earliest sample of the current phase within the window.
  const ReinitSample* first = &last;
  for (auto it = window.rbegin(); it != window.rend(); ++it) {
    if (it->phase != last.phase || last.t_us - it->t_us > kReinitRateWindowUs) break;
    first = &*it;
  }
  const int64_t span_us = last.t_us - first->t_us;
  if (span_us < kReinitRateMinSpanUs) return p;
  const double span_s = double(span_us) / 1e6;
  if (p.phase == ReinitPhase::kPages) {
    const double pages_per_s = double(std::max<int64_t>(last.pages - first->pages, 0)) / span_s;
    if (in.page_size > 0) p.rate_bytes_per_s = pages_per_s * double(in.page_size);
    if (p.total_pages > 0 && pages_per_s > 0) {
      const double left = double(std::max<int64_t>(p.total_pages - p.pages_received, 0));
      p.eta_ms = int64_t(std::llround(left / pages_per_s * 1000.0));
    }
  } else {  // kLogs
    const double bytes_per_s = double(std::max<int64_t>(last.log_pos - first->log_pos, 0)) / span_s;
    p.rate_bytes_per_s = bytes_per_s;
    if (in.log_lag_bytes == 0) {
      p.eta_ms = 0;
    } else if (in.log_lag_bytes > 0 && bytes_per_s > 0) {
      p.eta_ms = int64_t(std::llround(double(in.log_lag_bytes) / bytes_per_s * 1000.0));
    }
  }
  return p;
}

nlohmann::json ReinitProgressJson(const ReinitProgress& p) {
  auto or_null = [](auto v, bool known) { return known ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"phase", ReinitPhaseName(p.phase)},
          {"pages_received", p.pages_received},
          {"bytes_received", p.bytes_received},
          {"pages_stored", p.pages_stored},
          {"total_pages", or_null(p.total_pages, p.total_pages > 0)},
          {"total_bytes", or_null(p.total_bytes, p.total_bytes > 0)},
          {"percent", or_null(std::round(p.percent * 10) / 10, p.percent >= 0)},
          {"rate_bytes_per_s", or_null(std::llround(p.rate_bytes_per_s), p.rate_bytes_per_s >= 0)},
          {"eta_ms", or_null(p.eta_ms, p.eta_ms >= 0)}};
}

std::string ReinitProgressText(const ReinitProgress& p) {
  std::ostringstream o;
  o << "  re-init " << ReinitPhaseName(p.phase) << ": " << (p.bytes_received >> 20) << " MiB";
  if (p.total_bytes > 0) o << " of " << (p.total_bytes >> 20) << " MiB";
  if (p.rate_bytes_per_s >= 0) o << " at " << int64_t(p.rate_bytes_per_s / (1 << 20)) << " MiB/s";
  if (p.eta_ms >= 0) o << ", eta " << p.eta_ms << " ms";
  o << "\n";
  return o.str();
}

void ReinitTracker::Observe(int64_t now_us, bool startup_complete, bool in_pages, int64_t pg_records,
                            int64_t next_pg, int64_t log_pos) {
  std::lock_guard<std::mutex> l(mu_);
  if (!startup_complete && observed_ && was_complete_) {
    // A new init of a board that was in sync: count from here.
    samples_.clear();
    base_pages_ = pg_records;
    files_done_pages_ = 0;
    last_next_pg_ = 0;
  }
  observed_ = true;
  was_complete_ = startup_complete;
  next_pg = std::max<int64_t>(next_pg, 0);
  if (!startup_complete) {
    if (next_pg < last_next_pg_) files_done_pages_ += last_next_pg_;  // a file is done
    last_next_pg_ = next_pg;
  }
  ReinitSample s;
  s.t_us = now_us;
  s.pages = files_done_pages_ + last_next_pg_;
  s.stored = std::max<int64_t>(pg_records - base_pages_, 0);
  s.log_pos = log_pos;
  s.phase = startup_complete ? ReinitPhase::kDone
            : in_pages       ? ReinitPhase::kPages
            : s.pages > 0    ? ReinitPhase::kLogs
                             : ReinitPhase::kRequesting;
  if (!samples_.empty() && samples_.back().phase == s.phase) {
    if (s.phase == ReinitPhase::kDone) return;  // nothing moves once in sync
    if (now_us - samples_.back().t_us < kSampleEveryUs) return;
  }
  samples_.push_back(s);
  while (samples_.size() > 2 && now_us - samples_.front().t_us > kReinitRateWindowUs + kSampleEveryUs) {
    samples_.pop_front();
  }
}

ReinitProgress ReinitTracker::Current(const ReinitInputs& in) const {
  std::lock_guard<std::mutex> l(mu_);
  return ComputeReinitProgress(samples_, in);
}

// ---- the engine's ends ----

// The size an internal init copies: every database of the environment (the
// data table and the request table), each as its last page number + 1 times
// its own page size. (The cache's memp_stat page count and page size are not
// it: st_pagesize is the cache's default, not the databases'.) Published as
// pages of the largest table's page size, which the tables share.
void Engine::RefreshDbSize() {
  const bool serving = roles_.role() == Role::kMaster || (startup_done() && !liveness_.reinit());
  if (!serving) {
    liveness_.ClearDbSize();
    return;
  }
  const std::vector<memenv::Env::TablePages> tables = env_->OpenTablePages();
  if (tables.empty()) return;  // none open yet, or one being opened: next time
  int64_t bytes = 0, largest = -1;
  uint32_t page_size = 0;
  for (const auto& t : tables) {
    bytes += int64_t(t.pages) * int64_t(t.page_size);
    if (int64_t(t.pages) > largest) {
      largest = int64_t(t.pages);
      page_size = t.page_size;
    }
  }
  if (page_size == 0) return;
  liveness_.SetDbSize(uint64_t((bytes + page_size - 1) / page_size), page_size);
}

nlohmann::json Engine::ReinitProgressJson() { return board::ReinitProgressJson(ReinitProgressNow()); }

ReinitProgress Engine::ReinitProgressNow() {
  int64_t now = clock_.NowMicros();
  ReinitInputs in;
  in.in_sync = roles_.role() == Role::kMaster || startup_done();
  const int64_t file_bytes = int64_t(env_->options().EffectiveLogFileBytes());
  const int master = roles_.master();
  bool from_master = false;
  for (const PeerView& p : peers_.Snapshot(now)) {
    if (!p.alive) continue;
    if (p.slot == master) {
      const bus::Lsn mine = liveness_.next_lsn();
      const bus::Lsn theirs = p.hb.next_lsn;
      in.log_lag_bytes = LagBytes(theirs, mine, file_bytes);
    }
    // The master's size wins; without it, the largest an in-sync peer reports.
    if (p.hb.db_pages == 0 || (from_master && p.slot != master)) continue;
    if (p.slot == master || int64_t(p.hb.db_pages) > in.total_pages) {
      in.total_pages = int64_t(p.hb.db_pages);
      in.page_size = p.hb.page_size;
      from_master = p.slot == master;
    }
  }
  return reinit_tracker_.Current(in);
}

}  // namespace bp::board
