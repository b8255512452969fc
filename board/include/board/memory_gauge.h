// MemoryGauge: this board's cache use, and the master's admission of writes
// under a high-water mark of the smallest cache in the chassis.
//
// Everything lives in RAM: an in-memory database cannot evict, so a board
// whose cache fills panics ("unable to allocate space from the buffer
// cache") and loses its copy. So memory is admitted, not exhausted: every
// board measures the bytes its tables hold (pages allocated minus pages on
// the free list, memenv::Env::OpenTablePages) and its cache size, and sends
// both in its heartbeat; the master takes the largest data figure and the
// smallest cache of the live, in-sync boards and refuses a write that would grow the
// data past cache_high_water_pct of that cache (Status::Full, naming
// cache_mb). Deletes and overwrites that do not grow a value pass; writes
// resume once the data shrinks. Between two measurements the bytes of every
// admitted put are added, so a burst cannot run past the mark unseen.
//
// Threads: Measure runs on the gauge thread (gauges.cc), UpdateChassis on the
// ticker; Fits, Admitted and Refusal on writer threads; Stats on any thread.
// Figures are atomics; the per-table figures for status are guarded by mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "board/peers.h"
#include "bp/status.h"
#include "memenv/env.h"

namespace bp::board {

class MemoryGauge {
 public:
  MemoryGauge(int self_slot, uint32_t cache_mb, uint32_t high_water_pct);

  // Ticker: this board's cache and table figures (memp_stat, free lists).
  void Measure(memenv::Env& env);
  // Ticker, on the master: the chassis' largest data and smallest cache,
  // from the live peers' heartbeats and this board's own figures.
  void UpdateChassis(const std::vector<PeerView>& peers);

  // This board's figures, for its heartbeat (0 until measured).
  uint64_t cache_bytes() const { return cache_bytes_.load(); }
  uint64_t data_bytes() const { return data_bytes_.load(); }

  // Writers: whether adding `bytes` keeps the chassis under the mark.
  bool Fits(uint64_t bytes) const;
  void Admitted(uint64_t bytes) { growth_ += bytes; }
  // The error for a write that would grow the data past the mark.
  Status Refusal();

  nlohmann::json Stats() const;

 private:
  const int self_slot_;
  const uint64_t configured_cache_bytes_;
  const uint32_t high_water_pct_;
  std::atomic<uint64_t> cache_bytes_{0}, cache_pages_{0}, cache_dirty_pages_{0};
  std::atomic<uint32_t> page_size_{0};
  std::atomic<uint64_t> data_bytes_{0};
  // Bytes of puts admitted since the last Measure (an upper bound: an
  // overwrite counts as growth until measured).
  std::atomic<uint64_t> growth_{0};
  // Chassis view (master): the mark, the data it is compared with, and the
  // boards that set them.
  std::atomic<uint64_t> limit_bytes_{0}, chassis_data_bytes_{0};
  std::atomic<int> smallest_cache_slot_{0}, largest_data_slot_{0};
  std::atomic<uint64_t> smallest_cache_bytes_{0};
  std::atomic<uint64_t> refused_{0};
  mutable std::mutex mu_;
  std::vector<memenv::Env::TablePages> tables_;  // guarded by mu_
};

}  // namespace bp::board
