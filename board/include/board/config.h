// The chassis configuration: one TOML file describes every slot of the
// chassis and the replication policy all boards share. Every board of a
// chassis reads the same file and its own slot id.
//
//   [chassis]
//   id = 7                       # frames of another chassis are dropped
//   ack_policy = "quorum"        # none|one|one_peer|quorum|all_available|all
//   ...                          # timeouts and sizes: see ChassisConfig
//   [[board]]
//   slot = 1                     # the Berkeley DB environment id (>= 1)
//   endpoint = "ipc:///run/bp/slot1.bus"        # the bus endpoint
//   client_endpoint = "ipc:///run/bp/slot1.client"  # firmware_shim + admin
//   priority = 100               # election tie-breaker among up-to-date boards
//   electable = true             # false: replica only, never master, no vote
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bp/status.h"

namespace bp::board {

enum class AckPolicy { kNone, kOne, kOnePeer, kQuorum, kAllAvailable, kAll };
const char* AckPolicyName(AckPolicy p);
Result<AckPolicy> ParseAckPolicy(const std::string& s);

// How a chassis with exactly two electable boards behaves when one dies.
enum class TwoBoardMode { kStrict, kFailover, kPreferred };
const char* TwoBoardModeName(TwoBoardMode m);

struct SlotConfig {
  int slot = 0;
  std::string endpoint;
  std::string client_endpoint;
  uint32_t priority = 100;
  bool electable = true;
  int line = 0;  // where it was declared, for error messages
};

struct ChassisConfig {
  uint64_t chassis_id = 1;
  AckPolicy ack_policy = AckPolicy::kQuorum;
  TwoBoardMode two_board_mode = TwoBoardMode::kStrict;
  int preferred_slot = 0;  // kPreferred only

  // Failure detection and elections (backplane defaults: milliseconds).
  uint32_t ack_timeout_ms = 200;          // PERM send waits this long for acks
  uint32_t heartbeat_interval_ms = 10;    // every board broadcasts a heartbeat
  uint32_t heartbeat_timeout_ms = 60;     // master silent this long -> election
  // DB_REP_ELECTION_TIMEOUT. Berkeley DB polls the end of each election
  // phase every timeout/10, so a loser learns the winner up to that late
  // and acknowledges the new master only after: 50 ms keeps it at 5 ms.
  uint32_t election_timeout_ms = 50;
  uint32_t startup_wait_ms = 100;         // no master heard after start -> election
  uint32_t flush_interval_ms = 50;        // master rep_flush (lets idle clients re-request)

  // Replication request pacing (rep_set_request) and reply size (rep_set_limit).
  uint32_t rep_request_min_ms = 4;
  uint32_t rep_request_max_ms = 128;
  uint32_t rep_limit_kb = 1024;
  bool bulk = true;                       // DB_REP_CONF_BULK

  // Master leases (DB_REP_CONF_LEASE). Off by default.
  bool leases = false;
  uint32_t lease_timeout_ms = 100;

  // memenv sizing, per board.
  uint32_t cache_mb = 256;
  uint32_t log_buffer_mb = 16;

  // Limits on what a client may write.
  uint32_t max_key_bytes = 1024;
  uint32_t max_value_bytes = 1u << 20;

  // Threads serving writes (local and forwarded) on the master.
  uint32_t write_threads = 16;
  // Forwarded writes: how long a replica waits for the master, and how many
  // times it retries at a (new) master.
  uint32_t forward_timeout_ms = 1000;
  uint32_t forward_retries = 5;

  // Longest a transaction waits for room in the master's log budget (the
  // log volume all writers in flight may span: half the ring) before it is
  // refused with Busy (memenv EnvOptions.log_wait_ms).
  uint32_t log_wait_ms = 1000;
  // Longest a read waits (read-your-writes, LINEARIZABLE), whatever the
  // client asks: a longer client timeout is clamped to this, so a waiter
  // thread is never pinned for long.
  uint32_t max_read_timeout_ms = 10000;

  std::vector<SlotConfig> boards;

  const SlotConfig* Find(int slot) const;
  int ElectableCount() const;
  int Majority() const { return ElectableCount() / 2 + 1; }

  // Checks the whole configuration; errors name the line and the fix.
  Status Validate() const;
};

// The allowed range of every numeric [chassis] key (README "Configuration"):
// parsing and Validate() refuse a value outside it with a message naming
// the key, the value and the range.
struct UintKeyRange {
  const char* key;
  uint32_t ChassisConfig::*field;
  uint32_t min;
  uint32_t max;
  const char* why;  // what the bound protects
};
const std::vector<UintKeyRange>& ChassisUintKeys();

// The largest bus frame (bus::kMaxFrameBytes) less the envelope, and the
// bound on a write's encoded size as a forwarded AppRequest: a write that
// does not fit one frame would break the replica's link to the master, so
// it is refused up front (board/src/write_limits.cc). Called by
// Engine::CheckWrite on any thread.
uint64_t MaxWriteFrameBytes();
uint64_t EncodedWriteBytes(uint64_t payload_bytes, uint64_t op_count);
Status CheckWriteFitsFrame(uint64_t payload_bytes, uint64_t op_count, const ChassisConfig& c);

// Parses a chassis configuration file. Errors name the file, the line and
// the fix.
Result<ChassisConfig> LoadChassisConfig(const std::string& path);
Result<ChassisConfig> ParseChassisConfig(const std::string& text, const std::string& source_name);

// Writes a configuration for N boards under `run_dir` with ipc:// endpoints
// (the chassis tool's default).
ChassisConfig MakeLocalChassis(int boards, const std::string& run_dir, uint64_t chassis_id);
std::string ToToml(const ChassisConfig& config);

}  // namespace bp::board
