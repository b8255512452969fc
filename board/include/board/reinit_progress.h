// Re-init progress: which phase an empty board's internal init is in, how
// much it received of how much, the recent rate and the time left.
//
// ComputeReinitProgress is a pure function of samples (taken by the ticker
// from rep_stat) and of what the peers report (the master's database size in
// its heartbeat, its next LSN), so it is unit-tested without processes.
// ReinitTracker keeps the samples (thread-safe).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace bp::board {

enum class ReinitPhase { kRequesting, kPages, kLogs, kDone };
const char* ReinitPhaseName(ReinitPhase p);

// One observation of the joining board (the ticker, at most every
// ReinitTracker::kSampleEveryUs).
struct ReinitSample {
  int64_t t_us = 0;
  ReinitPhase phase = ReinitPhase::kRequesting;
  int64_t pages = 0;        // pages in place: pages of the files already done + st_next_pg
  int64_t log_pos = 0;      // own next LSN as a byte position (file * file bytes + offset)
  int64_t stored = 0;       // st_pg_records since this init began (diagnostic, see Observe)
};

struct ReinitInputs {
  bool in_sync = false;      // startup complete (or master): phase "done" whatever the samples say
  int64_t page_size = 0;     // bytes per page of the databases (peers' heartbeats; 0 unknown)
  int64_t total_pages = 0;   // pages of every database the serving side holds (0 unknown)
  int64_t log_lag_bytes = -1;  // master's next LSN - ours (-1 unknown)
};

struct ReinitProgress {
  ReinitPhase phase = ReinitPhase::kDone;
  int64_t pages_received = 0;     // monotone; at most total_pages when that is known
  int64_t bytes_received = 0;     // pages_received * page_size
  int64_t pages_stored = 0;       // Berkeley DB's st_pg_records since the init began
  int64_t total_pages = 0;        // 0: unknown
  int64_t total_bytes = 0;        // 0: unknown
  double rate_bytes_per_s = -1;   // over the recent window; -1 unknown
  int64_t eta_ms = -1;            // -1 unknown (shown as null)
  double percent = -1;            // of total_bytes; -1 unknown
};

// Window of samples the rate is computed over, and the least span it needs.
constexpr int64_t kReinitRateWindowUs = 2'000'000;
constexpr int64_t kReinitRateMinSpanUs = 40'000;

// `window` is in time order; its last sample is the current state. The rate
// is taken over the samples of the current phase within kReinitRateWindowUs
// of the last one: page bytes/s while pages arrive, log bytes/s while the
// log is caught up. eta_ms = what is left / that rate ("pages": pages not yet
// received; "logs": the master's next LSN minus ours); 0 once done.
ReinitProgress ComputeReinitProgress(const std::deque<ReinitSample>& window, const ReinitInputs& in);
nlohmann::json ReinitProgressJson(const ReinitProgress& p);
std::string ReinitProgressText(const ReinitProgress& p);  // one line, for StatusText

class ReinitTracker {
 public:
  static constexpr int64_t kSampleEveryUs = 20'000;
  // The ticker's view, from rep_stat: `pg_records` is the cumulative
  // st_pg_records, `next_pg` st_next_pg (the next page number expected of the
  // file being copied: every page below it is in place).
  //
  // Pages received are counted from next_pg, not from st_pg_records: the
  // latter counts each page stored by every attempt (rep_backup.c
  // __rep_page: duplicates within one attempt are st_pg_duplicated, but an
  // init that starts over, a new UPDATE, stores and counts every page again)
  // and so can exceed the database. next_pg only grows within a file; when it
  // drops, a file is done (or the init started over) and what it reached is
  // added to the pages of the files done. Call it on every tick: a file
  // switch between two calls loses the pages of that interval at most.
  void Observe(int64_t now_us, bool startup_complete, bool in_pages, int64_t pg_records,
               int64_t next_pg, int64_t log_pos);
  ReinitProgress Current(const ReinitInputs& in) const;

 private:
  mutable std::mutex mu_;
  std::deque<ReinitSample> samples_;
  bool was_complete_ = false;
  bool observed_ = false;
  int64_t base_pages_ = 0;  // st_pg_records when this init began
  int64_t files_done_pages_ = 0;  // pages of the files finished in this init
  int64_t last_next_pg_ = 0;      // st_next_pg at the previous call
};

}  // namespace bp::board
