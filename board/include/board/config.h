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
//   public_key = "<40 Z85 chars>"     # the slot's CURVE key (security curve)
//   secret_key_file = "/run/bp/slot1.key"  # read by this slot's board only (mode 0600)
//   metrics_endpoint = "127.0.0.1:9464"    # Prometheus scrape endpoint (HTTP);
//                                          # absent or "" = none (README "Metrics")
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bp/status.h"
#include "bus/curve.h"

namespace bp::board {

enum class AckPolicy { kNone, kOne, kOnePeer, kQuorum, kAllAvailable, kAll };
const char* AckPolicyName(AckPolicy p);
Result<AckPolicy> ParseAckPolicy(const std::string& s);

// How a chassis with exactly two electable boards behaves when one dies.
enum class TwoBoardMode { kStrict, kFailover, kPreferred };
const char* TwoBoardModeName(TwoBoardMode m);

// [chassis] security: "curve" (the default, also when the key is absent:
// every board then needs a public_key) or "none" (no authentication on the
// bus; chosen explicitly, shown as a warning in status).
enum class SecurityMode { kNone, kCurve };
const char* SecurityModeName(SecurityMode m);

struct SlotConfig {
  int slot = 0;
  std::string endpoint;
  std::string client_endpoint;
  uint32_t priority = 100;
  bool electable = true;
  int line = 0;  // where it was declared, for error messages
  std::string public_key;       // Z85 CURVE public key (security curve)
  std::string secret_key_file;  // this slot's key file; only its own board reads it
  // HOST:PORT where this slot's board serves Prometheus metrics over HTTP
  // ("" = no endpoint). Checked by ParseMetricsEndpoint.
  std::string metrics_endpoint;
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

  // Exactly-once writes: how long the master remembers a write's request
  // id, the longest time a client keeps retrying one write (the firmware
  // shim's defaults: 9 attempts of 2 s plus backoff, under 20 s), and the
  // share of the cache the id table may use (the oldest ids go first when a
  // burst would keep more). See board/include/board/request_ids.h.
  uint32_t request_retention_s = 300;
  uint32_t client_retry_horizon_ms = 20000;
  uint32_t request_budget_pct = 10;
  // Memory admission: the master refuses writes that would grow the data
  // past this share of the smallest cache in the chassis.
  uint32_t cache_high_water_pct = 85;

  // The longest a retry of one write can still arrive at a master after
  // the write was first sent: the client's horizon plus a replica's
  // forwarding. request_retention_s must be at least twice this.
  uint64_t RetryHorizonMs() const {
    return uint64_t(client_retry_horizon_ms) + forward_timeout_ms + ack_timeout_ms;
  }
  // A chassis with one electable board and replicas has no failover: the
  // master's loss stops writes, and QUORUM needs no ack at all. Refused
  // unless the user accepts that here (a lone board needs no key).
  bool allow_no_failover = false;
  // Bounds of the board's queues (issue 12). Beyond each, the newcomer is
  // refused at once and counted in status "queues".
  // Replication messages waiting for the rep worker, by count and bytes
  // (bulk frames are up to rep_limit_kb): beyond, a message is dropped and
  // Berkeley DB re-requests it.
  uint32_t rep_queue_frames = 100000;
  uint32_t rep_queue_mb = 64;
  // Log and page requests of catching-up boards waiting for the serve worker.
  uint32_t serve_queue_frames = 10000;
  uint32_t serve_queue_mb = 64;
  // Writes waiting for a write thread, by count and by bytes of keys and
  // values: beyond either, a write is refused (Busy).
  uint32_t write_queue_limit = 4096;
  uint32_t write_queue_mb = 256;
  // Replies and events waiting for the client endpoint's thread.
  uint32_t client_send_queue_limit = 100000;
  uint32_t client_send_queue_mb = 256;
  // Role-event subscribers held by the client endpoint.
  uint32_t max_subscribers = 1024;
  // Frames held back by an emulated link delay (drills), per board.
  uint32_t delay_line_frames = 100000;
  uint32_t delay_line_mb = 256;
  // tcp:// bus links: a connection that hears nothing for this long
  // (ZeroMQ's ZMTP heartbeats) or whose sent data stays unacknowledged this
  // long (TCP_USER_TIMEOUT) is closed and dialled again, and a connect
  // attempt is abandoned after it: a board pulled without closing its
  // sockets is let go, and found again within about this long of its return.
  uint32_t dead_link_ms = 500;
  // Longest a transaction waits for room in the master's log budget (the
  // log volume all writers in flight may span: half the ring) before it is
  // refused with Busy (memenv EnvOptions.log_wait_ms).
  uint32_t log_wait_ms = 1000;
  // Longest a read waits (read-your-writes, LINEARIZABLE), whatever the
  // client asks: a longer client timeout is clamped to this, so a waiter
  // thread is never pinned for long.
  uint32_t max_read_timeout_ms = 10000;

  // Bus authentication (README "Security").
  SecurityMode security = SecurityMode::kCurve;

  std::vector<SlotConfig> boards;

  // Access to the client endpoints (README "Client endpoint security").
  // ipc://: the socket file's group (empty: the board's primary group) and
  // mode (no access for others). tcp:// with CURVE: the Z85 public keys of
  // the firmware clients allowed to connect.
  std::string client_socket_group;
  uint32_t client_socket_mode = 0660;
  std::vector<std::string> client_public_keys;

  const SlotConfig* Find(int slot) const;
  int ElectableCount() const;
  int Majority() const { return ElectableCount() / 2 + 1; }

  // Checks the whole configuration; errors name the line and the fix.
  Status Validate() const;
  // The request-id and memory admission keys (part of Validate).
  Status ValidateMemoryKeys() const;
  Status ValidateQueueBounds() const;  // part of Validate
  Status ValidateSecurity() const;     // part of Validate
  Status ValidateBoards() const;       // part of Validate: slots, endpoints, priorities
  Status ValidateElectorate() const;   // part of Validate: electable boards, preferred slot
  Status ValidateTimersAndSizes() const;  // part of Validate
  Status ValidateClientSecurity() const;  // part of Validate (client_security.cc)
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

// Where a board serves metrics ([[board]] metrics_endpoint): host (an IPv4
// literal, a host name, or an IPv6 literal without its brackets) and TCP
// port.
struct MetricsAddress {
  std::string host;
  int port = 0;
};
// "HOST:PORT" or "[IPV6]:PORT", port 1 to 65535; "" is valid and means no
// endpoint (port 0). Errors name the key and show the expected form.
// Pure; any thread.
Result<MetricsAddress> ParseMetricsEndpoint(const std::string& value);

// Parses a chassis configuration file. Errors name the file, the line and
// the fix.
// `validate` = false skips Validate (chassis keygen fills in the keys a
// security curve configuration is refused without).
Result<ChassisConfig> LoadChassisConfig(const std::string& path, bool validate = true);
Result<ChassisConfig> ParseChassisConfig(const std::string& text, const std::string& source_name,
                                         bool validate = true);

// Writes a configuration for N boards under `run_dir` with ipc:// endpoints
// (the chassis tool's default). With `write_keys` (what `chassis up` and
// tests/support/local_chassis use) the chassis runs security curve: a fresh
// key pair per slot, its secret key file <run_dir>/slot<N>.key written with
// mode 0600 (run_dir must exist), public_key / secret_key_file filled in.
// Without, security none (a configuration to look at, not to run).
ChassisConfig MakeLocalChassis(int boards, const std::string& run_dir, uint64_t chassis_id);
Result<ChassisConfig> MakeLocalChassis(int boards, const std::string& run_dir,
                                       uint64_t chassis_id, bool write_keys);
// Gives slot `slot` of `c` a fresh key pair: writes `key_file` (mode 0600;
// replaces an existing file only with `replace`) and sets the slot's
// public_key and secret_key_file. NotFound for a slot not in `c`.
Status GenerateSlotKey(ChassisConfig* c, int slot, const std::string& key_file, bool replace);
// The key pair of `self_slot` for the bus: reads its secret_key_file and
// checks that its public key is the one configured. Errors name the slot,
// the file and the fix; a file readable by group/other is FailedPrecondition.
Result<bus::CurveKeyPair> LoadSlotKeys(const ChassisConfig& c, int self_slot);
std::string ToToml(const ChassisConfig& config);

// The largest request the client endpoint accepts (ZMQ_MAXMSGSIZE): twice
// the log buffer (at least 16 MiB) plus 1 MiB of framing, 8x the largest
// legal write batch (log_buffer_mb / 4 of estimated log), so a batch a
// little too big still gets its clear TooLarge error; ZeroMQ cuts the
// connection of a client that sends more (it then sees a timeout).
uint64_t MaxClientRequestBytes(const ChassisConfig& config);

// client_socket_mode as written in TOML ("0660"), and back.
Result<uint32_t> ParseSocketMode(const std::string& octal);
std::string SocketModeString(uint32_t mode);

}  // namespace bp::board
