// The write workloads a repmgr site runs on behalf of the driver, measured
// inside the master process: 16-byte keys, 100-byte values (the bulk load
// for internal init takes any value size), one record per transaction unless
// said otherwise (anchors §4 "records", "transactions").
#pragma once

#include <db.h>

#include <cstdint>
#include <vector>

namespace bp::peers {

// A process-wide fresh key id; ids map to scrambled, disjoint keys.
uint64_t NextKeyId();

// txn_begin + put + commit(0) of one record, retrying a bounded number of
// times on DB_LOCK_DEADLOCK (the transaction is aborted first). Returns the
// last BDB return code (0 on success).
int CommitOneRecord(DB_ENV* env, DB* db, uint64_t key_id);

struct LatencyRun {
  std::vector<int64_t> latency_ns;  // one per measured transaction
  int64_t elapsed_ns = 0;           // measured window
  int64_t failures = 0;             // transactions that did not commit
};

// One writer: `warmup` unmeasured transactions, then `count` measured ones.
LatencyRun RunLatency(DB_ENV* env, DB* db, int count, int warmup);

// `writers` threads commit for warm_ms, then for meas_ms; only transactions
// that end inside the measured window are counted.
LatencyRun RunThroughput(DB_ENV* env, DB* db, int writers, int warm_ms, int meas_ms);

struct LoadSpec {
  int64_t records = 0;
  int per_txn = 1'000;
  int value_bytes = 100;        // 16-byte keys, values of this size (>= 16)
  bool sequential = false;      // ascending keys (as our reinit_bench), else scrambled
  int64_t ckpt_every_bytes = 0;  // txn_checkpoint(0,0,DB_FORCE) after each such amount of data; 0 never
};
struct LoadResult {
  int ret = 0;  // 0 or the first failing BDB return code
  int checkpoints = 0;
};
// Loads spec.records records in transactions of spec.per_txn puts. The
// in-memory log (64 MiB) is reclaimed only behind checkpoints, and the
// 1-second checkpoint thread falls behind a bulk load, so a big load
// checkpoints itself every ckpt_every_bytes of data.
LoadResult RunLoad(DB_ENV* env, DB* db, const LoadSpec& spec);

struct SocketCensus {
  int tcp = 0;      // IPv4/IPv6 stream sockets open in this process
  int nodelay = 0;  // of which TCP_NODELAY is set
};
SocketCensus CountTcpSockets();

}  // namespace bp::peers
