// Checks of every frame a board receives, before it acts on one: pure
// functions of the frame's fields and this board's settings and state (no
// I/O, no locks, no Berkeley DB calls), so they are unit-tested and fuzzed
// on their own (tests/board/frame_checks_test.cc; tests/fuzz).
//
// Who calls them: Engine::OnFrame on the bus receive thread (messages.cc),
// and the rep worker for acks queued behind lease grants. A refused frame
// is dropped and counted per reason (FrameGuard, status "refused"); none of
// these checks is ever the only defence against a forged sender: that is
// the bus's authentication. They make sure that no single frame can panic
// Berkeley DB, corrupt the ack tracker, or demote a master.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "bus/frames.h"

namespace bp::board {

// Why a frame was refused. Names (RefusalName) are the keys of status
// "refused"; append new reasons before kCount.
enum class Refusal : uint8_t {
  kNone = 0,
  // RepMsg (CheckRepControl)
  kControlMissing,   // no control at all
  kControlShort,     // shorter than this version's marshalled control (36 bytes)
  kRepVersion,       // another replication protocol version
  kLogVersion,       // another log version
  kRecType,          // not a message type of this version
  kLeaseMismatch,    // a lease message to a board without leases (Berkeley DB panics)
  kRecordShort,      // a log record message whose record cannot hold a record type
  // Ack (CheckAck)
  kAckNotMaster,     // this board is not master (late, after a demotion)
  kAckOtherGeneration,
  kAckBeyondLog,     // an LSN this master has not written
  // Heartbeat (CheckHeartbeat, and the demotion rule)
  kHeartbeatInconsistent,
  kHeartbeatUncorroborated,  // a newer master's claim no majority backs: not acted on
  // Forwarded write (CheckForwardedWrite)
  kWriteOriginMismatch,
  kWriteEmpty,
  kWriteTooLarge,
  kWriteNotFollower,
  // Configuration digest (config_digest.h)
  kConfigMismatch,
  kCount
};
constexpr size_t kRefusalCount = size_t(Refusal::kCount);
const char* RefusalName(Refusal r);

// ---- RepMsg ----

// Berkeley DB 5.3's replication control (src/dbinc_auto/rep_automsg.h,
// __rep_control_args), as marshalled: nine 32-bit fields in network order.
struct RepControl {
  uint32_t rep_version = 0;
  uint32_t log_version = 0;
  uint32_t lsn_file = 0;
  uint32_t lsn_offset = 0;
  uint32_t rectype = 0;
  uint32_t gen = 0;
  uint32_t msg_sec = 0;
  uint32_t msg_nsec = 0;
  uint32_t flags = 0;
};
constexpr size_t kRepControlBytes = 36;    // __REP_CONTROL_SIZE
constexpr uint32_t kRepVersion53 = 7;      // DB_REPVERSION_53
constexpr uint32_t kLogVersion53 = 19;     // DB_LOGVERSION_53
constexpr uint32_t kRepMaxMsg = 31;        // REP_MAX_MSG (REP_VOTE2)
constexpr uint32_t kRepLeaseGrant = 10;    // REP_LEASE_GRANT
constexpr uint32_t kRepLog = 11, kRepLogMore = 12;
constexpr uint32_t kRepCtlLease = 0x10;    // REPCTL_LEASE

// Decodes the first kRepControlBytes of `control`; false when shorter.
bool ParseRepControl(std::span<const uint8_t> control, RepControl* out);
// The inverse (__rep_control_marshal's layout: nine big-endian words).
std::vector<uint8_t> EncodeRepControl(const RepControl& c);
constexpr uint32_t kRepRerequest = 23;     // REP_REREQUEST
// The control of a REP_REREQUEST at generation `gen`: what a peer that
// cannot serve a request answers, and Berkeley DB then asks again at the
// master for what it waits for (rep_record.c, __rep_resend_req).
std::vector<uint8_t> RerequestControl(uint32_t gen);

struct RepControlSettings {
  bool leases = false;  // this board runs master leases (DB_REP_CONF_LEASE)
};

// Whether rep_process_message may see this control (and a record of
// `rec_size` bytes). `has_control`: the frame carries the field at all.
// Refused: a control Berkeley DB would read past (shorter than 36 bytes; it
// reads the version before checking the size), another rep version (older
// ones are read as unchecked structs of another layout) or log version,
// an unknown message type, and REPCTL_LEASE / REP_LEASE_GRANT on a board
// without leases ("Inconsistent lease configuration": Berkeley DB panics
// the environment). The reverse (a lease board hearing a board without
// leases) is no panic in 5.3 (rep_record.c tolerates it); the
// configuration digest keeps such a board out instead.
Refusal CheckRepControl(bool has_control, std::span<const uint8_t> control, size_t rec_size,
                        const RepControlSettings& settings, RepControl* parsed = nullptr);

// ---- Ack ----

struct AckCheckState {
  bool is_master = false;
  uint32_t gen = 0;       // this master's generation
  bus::Lsn written_end;   // the end of this master's log (next LSN to write)
};
// An ack counts only on a master, at its generation, for an LSN it wrote
// (below its log end).
Refusal CheckAck(uint32_t ack_gen, bus::Lsn ack_lsn, const AckCheckState& state);

// The LSN of the last log record in a REP_BULK_LOG buffer (records of
// __rep_bulk_args: 4-byte length, 8-byte LSN, the record's 4-byte size
// again, the record; network order),
// or `first` when it holds none. A bulk message names its first record's
// LSN; the master's written end must cover the last one (transport.cc).
constexpr uint32_t kRepBulkLog = 4;  // REP_BULK_LOG
bus::Lsn LastLsnOfBulk(std::span<const uint8_t> rec, bus::Lsn first);

// ---- Heartbeat ----

// Fields that contradict each other: a master that follows another board,
// a client that names itself master, a master's confirmation of another
// generation, a master slot that is not configured, an unknown role. `configured(slot)`
// says whether a slot is in the chassis.
template <typename IsConfigured>
Refusal CheckHeartbeat(int sender, const bus::HeartbeatInfo& hb, IsConfigured configured) {
  if (hb.master > 0 && !configured(hb.master)) return Refusal::kHeartbeatInconsistent;
  if (hb.master < -1) return Refusal::kHeartbeatInconsistent;
  if (hb.role == wire::Role::Master) {
    if (hb.master != sender || hb.confirm_gen != hb.gen) {
      return Refusal::kHeartbeatInconsistent;
    }
  } else if (hb.role == wire::Role::Client) {
    if (hb.master == sender) return Refusal::kHeartbeatInconsistent;
  } else if (hb.role != wire::Role::Unknown) {
    return Refusal::kHeartbeatInconsistent;
  }
  return Refusal::kNone;
}

// A master hearing a master of a newer generation steps down on the
// heartbeat alone only when a majority of electable boards backs the claim
// (`backers`: the claimant and the peers whose fresh heartbeats follow it at
// that generation); otherwise Berkeley DB's own DUPMASTER decides, from the
// newer master's replication traffic (its rep_flush arrives within
// flush_interval_ms).
inline bool NewerMasterCorroborated(int backers, int majority) { return backers >= majority; }

// ---- Forwarded write (AppRequest) ----

struct ForwardedWriteState {
  int self_slot = 0;
  bool sender_follows_me = false;  // its last heartbeat: a client following this master
  uint64_t max_frame_payload = 0;  // MaxWriteFrameBytes()
  uint32_t max_key_bytes = 0, max_value_bytes = 0;
};
struct ForwardedWriteShape {
  int sender = 0;
  int origin = 0;
  size_t ops = 0;
  uint64_t largest_key = 0, largest_value = 0;
  uint64_t payload_bytes = 0;  // keys and values together
};
// Refused: an origin other than the frame's sender (the reply would go to
// another board), no ops, keys / values / the whole write beyond the limits
// (a real replica checks them before it forwards), a sender that does not
// follow this master.
Refusal CheckForwardedWrite(const ForwardedWriteShape& w, const ForwardedWriteState& s);

}  // namespace bp::board
