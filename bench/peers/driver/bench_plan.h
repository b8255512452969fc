// How much each measurement does, in full and in quick mode, and the
// driver's own command-line flags (stripped before Google Benchmark sees argv).
#pragma once

#include <cstdint>
#include <string>

#include "driver/group.h"

namespace bp::peers {

struct LatencyPlan {
  int count = 0;   // measured transactions (= benchmark iterations)
  int warmup = 0;  // unmeasured transactions before them
};

struct Plan {
  bool quick = false;
  int cache_mb = 512;
  // (a) commit latency. As shipped, an acknowledged commit waits ~44 ms for
  // Nagle + delayed ACK, so those runs are kept short.
  int lat_count = 20'000, lat_warmup = 2'000;
  int lat_count_nagle = 50, lat_warmup_nagle = 5;
  // (b) throughput window.
  int tput_warm_ms = 1'000, tput_meas_ms = 5'000;
  // (c) failover: rounds, transactions committed before each kill, idle time.
  int failover_rounds = 5, failover_preload = 1'000, failover_preload_nagle = 20;
  int failover_idle_ms = 1'000;
  // (d) internal init: ~18 MiB of btree for 100,000 records.
  int64_t init_records = 100'000;
  int init_reps = 3;

  LatencyPlan Latency(Variant v, const std::string& ack) const;
  int FailoverPreload(Variant v) const;
  void MakeQuick();
};

// Parses and removes --quick, --init_records=N, --failover_rounds=N,
// --cache_mb=N, --site_exe=PATH, --preload_lib=PATH; BP_BENCH_QUICK=1 also
// selects quick mode. Returns false (after printing why) on a bad value.
bool ParsePlanFlags(int* argc, char** argv, Plan* plan, Paths* paths);

}  // namespace bp::peers
