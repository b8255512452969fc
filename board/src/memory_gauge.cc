// Cache use and memory admission (memory_gauge.h).
#include "board/memory_gauge.h"

#include <algorithm>
#include <cstdio>

namespace bp::board {
namespace {

std::string Mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(1 << 20));
  return buf;
}

}  // namespace

MemoryGauge::MemoryGauge(int self_slot, uint32_t cache_mb, uint32_t high_water_pct)
    : self_slot_(self_slot),
      configured_cache_bytes_(uint64_t(cache_mb) << 20),
      high_water_pct_(high_water_pct) {
  // Until the first measurement and the first heartbeats, the mark is this
  // board's own configured cache.
  limit_bytes_ = configured_cache_bytes_ * high_water_pct_ / 100;
  smallest_cache_slot_ = self_slot_;
  smallest_cache_bytes_ = configured_cache_bytes_;
  largest_data_slot_ = self_slot_;
}

void MemoryGauge::Measure(memenv::Env& env) {
  Result<memenv::Env::CacheUse> cache = env.Cache();
  if (cache.ok()) {
    cache_bytes_ = cache->cache_bytes;
    cache_pages_ = cache->pages;
    cache_dirty_pages_ = cache->dirty_pages;
    page_size_ = cache->page_size;
  }
  std::vector<memenv::Env::TablePages> tables = env.OpenTablePages();
  if (tables.empty()) return;  // one is being (re)opened: next time
  uint64_t data = 0;
  for (const auto& t : tables) {
    data += (t.pages - std::min(t.free_pages, t.pages)) * t.page_size;
  }
  data_bytes_ = data;
  growth_ = 0;
  std::lock_guard<std::mutex> l(mu_);
  tables_ = std::move(tables);
}

void MemoryGauge::UpdateChassis(const std::vector<PeerView>& peers) {
  uint64_t own_cache = cache_bytes_.load() ? cache_bytes_.load() : configured_cache_bytes_;
  uint64_t smallest = own_cache, largest = data_bytes_.load();
  int smallest_slot = self_slot_, largest_slot = self_slot_;
  for (const PeerView& p : peers) {
    // A board not in sync yet is not counted: it checks itself whether its
    // cache holds the data, and refuses to join if not (Engine::
    // CheckCacheHoldsChassisData); counting it would stop every write while
    // a board with a small cache starts.
    if (!p.alive || !p.hb.startup_done) continue;
    if (p.hb.cache_bytes != 0 && p.hb.cache_bytes < smallest) {
      smallest = p.hb.cache_bytes;
      smallest_slot = p.slot;
    }
    if (p.hb.data_bytes > largest) {
      largest = p.hb.data_bytes;
      largest_slot = p.slot;
    }
  }
  smallest_cache_bytes_ = smallest;
  smallest_cache_slot_ = smallest_slot;
  largest_data_slot_ = largest_slot;
  chassis_data_bytes_ = largest;
  limit_bytes_ = smallest * high_water_pct_ / 100;
}

bool MemoryGauge::Fits(uint64_t bytes) const {
  const uint64_t used = std::max(chassis_data_bytes_.load(), data_bytes_.load()) + growth_.load();
  return used + bytes <= limit_bytes_.load();
}

Status MemoryGauge::Refusal() {
  ++refused_;
  const uint64_t used = std::max(chassis_data_bytes_.load(), data_bytes_.load()) + growth_.load();
  return Status::Full(
      "write refused: it would grow the chassis' data (" + Mib(used) + " on slot " +
      std::to_string(largest_data_slot_.load()) + ") past the high-water mark of " +
      Mib(limit_bytes_.load()) + " (cache_high_water_pct = " + std::to_string(high_water_pct_) +
      " % of the smallest cache, " + Mib(smallest_cache_bytes_.load()) + " on slot " +
      std::to_string(smallest_cache_slot_.load()) +
      ", set by its cache_mb); deletes and overwrites that do not grow a value still pass: delete data, or raise "
      "cache_mb on every board (restarting them one at a time)");
}

nlohmann::json MemoryGauge::Stats() const {
  const uint64_t cache = cache_bytes_.load();
  nlohmann::json tables = nlohmann::json::object();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& t : tables_) {
      const uint64_t live = t.pages - std::min(t.free_pages, t.pages);
      tables[t.name] = {{"pages", t.pages}, {"free_pages", t.free_pages}, {"bytes", live * t.page_size}};
    }
  }
  const uint64_t data = data_bytes_.load();
  return {{"cache_bytes", cache},
          {"cache_pages", cache_pages_.load()},
          {"cache_dirty_pages", cache_dirty_pages_.load()},
          {"page_size", page_size_.load()},
          {"data_bytes", data},
          {"data_pct", cache ? double(data) * 100.0 / double(cache) : 0.0},
          {"tables", tables},
          {"high_water_pct", high_water_pct_},
          {"limit_bytes", limit_bytes_.load()},
          {"chassis_data_bytes", chassis_data_bytes_.load()},
          {"smallest_cache_slot", smallest_cache_slot_.load()},
          {"refused_writes", refused_.load()}};
}

}  // namespace bp::board
