// The four repmgr measurements of the peer baseline, each against a running
// Group, each bounded by deadlines. Latencies are taken inside the master
// process (txn_begin + put + commit), events are stamped by the sites
// themselves with CLOCK_MONOTONIC, as in the anchors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bp/status.h"
#include "driver/group.h"

namespace bp::peers {

struct Summary {
  size_t count = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0, mean_us = 0, min_us = 0, max_us = 0;
};
// Nearest-rank percentiles of nanosecond samples, in microseconds.
Summary Summarize(std::vector<int64_t> samples_ns);
// The median of doubles (0 if empty).
double Median(std::vector<double> values);

struct CommitRun {
  std::vector<int64_t> latency_ns;
  int64_t elapsed_ns = 0;
  int64_t perm_failed = 0;  // DB_EVENT_REP_PERM_FAILED during the window
  int64_t failures = 0;     // transactions that returned an error
};

// (a) One writer on the master, under the group's ack policy. The policy is
// fixed when the group starts: in 5.3.28, changing it at run time with
// repmgr_set_ack_policy (on every site, as the docs ask) made later QUORUM
// commits return without waiting for any ack.
Result<CommitRun> MeasureCommitLatency(Group& group, int count, int warmup);
// (b) `writers` threads on the master, under the group's ack policy.
Result<CommitRun> MeasureThroughput(Group& group, int writers, int warm_ms, int meas_ms);

struct FailoverRound {
  double detect_ms = -1;        // first MASTER_FAILURE on a survivor (-1: not seen)
  double master_ms = 0;         // DB_EVENT_REP_MASTER on the winner
  double first_commit_ms = 0;   // winner opened the db and committed one record
  double other_synced_ms = -1;  // STARTUPDONE on the other survivor (-1: not seen)
  double rejoin_ms = 0;         // restarted victim: spawn -> STARTUPDONE
};
// (c) Commits `preload` transactions, idles, SIGKILLs the master, times the
// failover, then restarts the victim as a client and waits until it is in sync.
Result<FailoverRound> MeasureFailoverRound(Group& group, int preload, int idle_ms);

struct InitRun {
  double newmaster_ms = 0;  // repmgr_start -> NEWMASTER
  double copy_ms = 0;       // NEWMASTER -> INIT_DONE (the page copy)
  double startup_ms = 0;    // repmgr_start -> STARTUPDONE
  int64_t pages = 0;        // st_pg_records on the new site
  int64_t log_records = 0;  // st_log_records on the new site
  double mib = 0;           // pages * page size
  double data_mib = 0;      // keys + values loaded on the master
  int64_t page_bytes = 0;   // the database's page size (bt_pagesize)
};

// What the master loads before an internal init: 16-byte keys and
// value_bytes values, in transactions of 1,000, a forced checkpoint after
// every ckpt_mib MiB of data (0: only the final one).
struct InitLoad {
  int64_t records = 0;
  int value_bytes = 100;
  bool sequential = false;  // ascending keys (as reinit_bench) instead of scrambled
  int ckpt_mib = 0;
  std::string Spec() const;   // the load command's arguments; identifies the load
  double DataMiB() const;     // records * (16 + value_bytes) in MiB
};
// (d) Loads, then forces a checkpoint (it bounds the log replayed after the pages).
Status LoadForInit(Group& group, const InitLoad& load);
// (d) Starts brand-new site `index` (empty environment), times its internal
// init until STARTUPDONE or join_deadline_s, then closes it again.
Result<InitRun> MeasureInternalInit(Group& group, int index, double join_deadline_s);

struct SocketCensus {
  int tcp = 0;
  int nodelay = 0;
};
// How many of the master's TCP sockets have TCP_NODELAY set.
Result<SocketCensus> CensusSockets(Group& group);

}  // namespace bp::peers
