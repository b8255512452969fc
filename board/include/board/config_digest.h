// The configuration digest: the settings that must agree chassis-wide,
// hashed, carried in every heartbeat (Heartbeat.config_digest and
// .config_digest_groups, bus/schema/frames.fbs).
//
// A board whose digest differs from a peer's does not process that peer's
// replication messages, is not counted alive by it, and calls no election
// while a master of another configuration is alive (FrameGuard,
// frame_guard.h): a board restarted with `leases` flipped stays out and says
// why, instead of panicking the others ("Inconsistent lease configuration").
//
// Groups (each its own sub-digest, so a log line can say which differs):
//   slots        every slot's id, endpoint and electability
//   ack_policy   ack_policy, two_board_mode, preferred_slot
//   leases       leases, lease_timeout_ms
//   security     the bus security mode: ChassisDigestSecurity (a hook for
//                the `security` key once it exists; "" until then)
// Not in it (per-board, or harmless to differ during a rolling change):
// priorities, timeouts, sizes, queue bounds, bulk, client endpoints.
//
// Pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "board/config.h"

namespace bp::board {

enum class DigestGroup : uint8_t { kSlots = 0, kAckPolicy, kLeases, kSecurity, kCount };
constexpr size_t kDigestGroups = size_t(DigestGroup::kCount);
const char* DigestGroupName(DigestGroup g);

struct ChassisDigestValue {
  uint64_t total = 0;  // over every group; never 0 (0 = "not reported" on the wire)
  std::array<uint64_t, kDigestGroups> groups{};
};

// The one place that says what must agree. Extend a group's text (or add a
// group before kCount) when a new chassis-wide setting appears.
ChassisDigestValue ChassisDigest(const ChassisConfig& config);

// The security group's canonical text: the lead extends this with the
// `security` mode (and whatever of the key configuration must agree) when
// the CURVE branch is merged. Empty until then.
std::string ChassisDigestSecurity(const ChassisConfig& config);

// The names of the groups whose sub-digests differ ("leases, slots"), or
// "unknown" when the peer sent no groups.
std::string DifferingGroups(const ChassisDigestValue& mine, const uint64_t* theirs, size_t count);

// 16 hex digits.
std::string DigestHex(uint64_t digest);

}  // namespace bp::board
