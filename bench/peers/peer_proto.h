// The line protocol between repmgr_bench (the driver) and repmgr_site (one
// Berkeley DB Replication Manager site per process), plus the clock both use.
//
// Driver -> site, one command per stdin line:
//   ack NONE|ONE|QUORUM|ALL      repmgr_set_ack_policy at run time. Diagnostic only: in
//                                5.3.28 it made later QUORUM commits stop waiting for acks,
//                                so the driver fixes the policy per group with --ack.
//   lat <n> <warmup>             single-writer commits; reply carries n latencies in ns
//   tput <writers> <warm_ms> <meas_ms>   concurrent writers; reply carries latencies in ns
//   load <records> <per_txn> [<value_bytes> <ckpt_mib> seq|scrambled]
//                                bulk load in transactions of <per_txn> puts (16 B keys,
//                                100 B values unless given), a forced checkpoint after
//                                every <ckpt_mib> MiB of data (0: none); reply has
//                                elapsed_ns, ret, checkpoints
//   ckpt                         txn_checkpoint(0, 0, DB_FORCE)
//   stat                         rep/repmgr/db statistics
//   sock                         census of this process's TCP sockets and TCP_NODELAY
//   quit                         orderly close (EOF on stdin means the same)
//
// Site -> driver, one line each:
//   EV <NAME> <mono_ns> [key=value ...]     an event, stamped when it happened
//   R <cmd> ok|err [key=value ...] [| v1 v2 ...]   the reply to <cmd>
//
// Both processes stamp with CLOCK_MONOTONIC, which is system-wide, so the
// driver can subtract a site's event time from its own kill time.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bp::peers {

// CLOCK_MONOTONIC in nanoseconds (the anchors were taken with the same clock).
inline int64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Splits on single spaces, dropping empty words.
inline std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    if (end > pos) words.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
  return words;
}

}  // namespace bp::peers
