// Commit-path tracing, for latency profiles of the replicated commit.
//
// Off unless the environment variable BP_COMMIT_TRACE names a file prefix.
// When on, every board records, per commit, the instants at which the commit
// crossed each stage (times on CLOCK_MONOTONIC, which every process on the
// machine shares, so the boards' records line up), and writes them at exit to
// <prefix>.<slot>.tsv. bench/commit_profile.py joins the files by LSN into a
// per-stage breakdown (p50/p99 of each hop).
//
//   master (per commit)   begin: writer enters Engine::Write
//                         send:  the transport got the commit's PERMANENT record
//                         sent:  the frame is handed to ZeroMQ
//                         woke:  the writer returns from the ack wait
//   master (per ack)      the ack frame reached the receive thread
//   replica (per frame)   recv:  the frame reached the receive thread
//                         pop:   the rep worker took it off the queue
//                         done:  rep_process_message returned (and the ack,
//                                for ISPERM, was handed to ZeroMQ)
//
// The cost when off is one predictable branch per stage.
#pragma once

#include <cstdint>

namespace bp::board::trace {

bool Enabled();
int64_t NowMicros();  // CLOCK_MONOTONIC

// Packs an LSN into one ordered integer.
inline uint64_t Pack(uint32_t file, uint32_t offset) { return (uint64_t(file) << 32) | offset; }

void Commit(uint64_t lsn, int64_t begin_us, int64_t send_us, int64_t sent_us, int64_t woke_us);
void Ack(int from_slot, uint64_t lsn, int64_t recv_us);
void Apply(uint64_t frame_lsn, uint64_t perm_lsn, int64_t recv_us, int64_t pop_us, int64_t done_us);

// Writes what was recorded to <prefix>.<slot>.tsv (no-op when off).
void Dump(int slot);

}  // namespace bp::board::trace
