// How much each measurement does, in full and in quick mode, and the
// driver's own command-line flags (stripped before Google Benchmark sees argv).
#pragma once

#include <cstdint>
#include <algorithm>
#include <string>
#include <vector>

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
  // (d') internal init at reinit_bench's sizes: init_mib MiB of data, 16 B
  // keys + init_value_bytes values with ascending keys (as reinit_bench
  // loads), a checkpoint every init_ckpt_mib MiB during the load (the 64 MiB
  // in-memory log is reclaimed only behind checkpoints). Cache and join
  // deadline grow with the size.
  std::vector<int> init_mib = {100, 1024};
  int init_value_bytes = 512;
  int init_ckpt_mib = 16;
  int InitMibReps(int mib) const { return quick ? 1 : mib >= 512 ? 1 : 3; }
  // The btree of ascending 528-byte records is ~1.1x the data; the joining
  // site holds a full copy as well. 2x + 256 MiB leaves room for both.
  int InitCacheMb(int mib) const { return std::max(cache_mb, 2 * mib + 256); }
  // 60 s (as for 18 MiB) plus 0.25 s per MiB, i.e. no slower than 4 MiB/s.
  double InitJoinDeadlineS(int mib) const { return 60.0 + 0.25 * mib; }

  LatencyPlan Latency(Variant v, const std::string& ack) const;
  int FailoverPreload(Variant v) const;
  void MakeQuick();
};

// Parses and removes --quick, --init_records=N, --init_mib=N (one size
// instead of 100 and 1024), --failover_rounds=N,
// --cache_mb=N, --site_exe=PATH, --preload_lib=PATH; BP_BENCH_QUICK=1 also
// selects quick mode. Returns false (after printing why) on a bad value.
bool ParsePlanFlags(int* argc, char** argv, Plan* plan, Paths* paths);

}  // namespace bp::peers
