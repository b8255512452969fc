// The pure frame checks (frame_checks.h). The Berkeley DB facts behind them
// are from the 5.3.28 source: src/dbinc/rep.h (message types, REPCTL_*,
// DB_REPVERSION), src/dbinc_auto/rep_automsg.h (the control layout) and
// src/rep/rep_record.c (__rep_process_message_int: what it reads before
// checking, and where it panics).
#include "board/frame_checks.h"

#include <db.h>

#include <algorithm>

namespace bp::board {

static_assert(DB_VERSION_MAJOR == 5 && DB_VERSION_MINOR == 3,
              "frame_checks.h encodes Berkeley DB 5.3's replication control; re-check it");

const char* RefusalName(Refusal r) {
  switch (r) {
    case Refusal::kNone: return "none";
    case Refusal::kControlMissing: return "control_missing";
    case Refusal::kControlShort: return "control_short";
    case Refusal::kRepVersion: return "rep_version";
    case Refusal::kLogVersion: return "log_version";
    case Refusal::kRecType: return "rectype";
    case Refusal::kLeaseMismatch: return "lease_mismatch";
    case Refusal::kRecordShort: return "record_short";
    case Refusal::kAckNotMaster: return "ack_not_master";
    case Refusal::kAckOtherGeneration: return "ack_other_generation";
    case Refusal::kAckBeyondLog: return "ack_beyond_log";
    case Refusal::kHeartbeatInconsistent: return "heartbeat_inconsistent";
    case Refusal::kHeartbeatUncorroborated: return "heartbeat_uncorroborated";
    case Refusal::kWriteOriginMismatch: return "write_origin_mismatch";
    case Refusal::kWriteEmpty: return "write_empty";
    case Refusal::kWriteTooLarge: return "write_too_large";
    case Refusal::kWriteNotFollower: return "write_not_follower";
    case Refusal::kConfigMismatch: return "config_mismatch";
    case Refusal::kCount: break;
  }
  return "unknown";
}

namespace {
uint32_t BigEndian32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
}  // namespace

bool ParseRepControl(std::span<const uint8_t> control, RepControl* out) {
  if (control.size() < kRepControlBytes) return false;
  const uint8_t* p = control.data();
  uint32_t* fields[] = {&out->rep_version, &out->log_version, &out->lsn_file,
                        &out->lsn_offset,  &out->rectype,     &out->gen,
                        &out->msg_sec,     &out->msg_nsec,    &out->flags};
  for (uint32_t* f : fields) {
    *f = BigEndian32(p);
    p += 4;
  }
  return true;
}

std::vector<uint8_t> EncodeRepControl(const RepControl& c) {
  std::vector<uint8_t> out;
  out.reserve(kRepControlBytes);
  for (uint32_t v : {c.rep_version, c.log_version, c.lsn_file, c.lsn_offset, c.rectype, c.gen,
                     c.msg_sec, c.msg_nsec, c.flags}) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
  }
  return out;
}

std::vector<uint8_t> RerequestControl(uint32_t gen) {
  RepControl c;
  c.rep_version = kRepVersion53;
  c.log_version = kLogVersion53;
  c.rectype = kRepRerequest;
  c.gen = gen;
  return EncodeRepControl(c);
}

Refusal CheckRepControl(bool has_control, std::span<const uint8_t> control, size_t rec_size,
                        const RepControlSettings& settings, RepControl* parsed) {
  if (!has_control) return Refusal::kControlMissing;
  RepControl c;
  if (!ParseRepControl(control, &c)) return Refusal::kControlShort;
  if (parsed) *parsed = c;
  // Every board of a chassis runs this build: only this version's layout.
  if (c.rep_version != kRepVersion53) return Refusal::kRepVersion;
  if (c.log_version != kLogVersion53) return Refusal::kLogVersion;
  if (c.rectype == 0 || c.rectype > kRepMaxMsg) return Refusal::kRecType;
  if (!settings.leases && ((c.flags & kRepCtlLease) || c.rectype == kRepLeaseGrant)) {
    return Refusal::kLeaseMismatch;
  }
  // A log record is read for its record type (4 bytes) before any check
  // (__rep_apply). REP_VERIFY may carry none (rep_verify.c compares sizes).
  if ((c.rectype == kRepLog || c.rectype == kRepLogMore) && rec_size < 4) {
    return Refusal::kRecordShort;
  }
  return Refusal::kNone;
}

bus::Lsn LastLsnOfBulk(std::span<const uint8_t> rec, bus::Lsn first) {
  // __rep_bulk_args as __rep_bulk_marshal writes it: len, lsn.file,
  // lsn.offset and the DBT's own size (== len), then the record.
  constexpr size_t kHeader = 16;
  bus::Lsn last = first;
  size_t p = 0;
  while (rec.size() - p >= kHeader) {
    const uint32_t len = BigEndian32(rec.data() + p);
    if (BigEndian32(rec.data() + p + 12) != len) break;  // not a record header
    last = {BigEndian32(rec.data() + p + 4), BigEndian32(rec.data() + p + 8)};
    if (len > rec.size() - p - kHeader) break;
    p += kHeader + size_t(len);
  }
  return std::max(first, last);
}

Refusal CheckAck(uint32_t ack_gen, bus::Lsn ack_lsn, const AckCheckState& state) {
  if (!state.is_master) return Refusal::kAckNotMaster;
  if (ack_gen != state.gen) return Refusal::kAckOtherGeneration;
  // A record's LSN is below the log end; the end itself is not written yet.
  if (!(ack_lsn < state.written_end)) return Refusal::kAckBeyondLog;
  return Refusal::kNone;
}

Refusal CheckForwardedWrite(const ForwardedWriteShape& w, const ForwardedWriteState& s) {
  if (w.origin != w.sender) return Refusal::kWriteOriginMismatch;
  if (w.ops == 0) return Refusal::kWriteEmpty;
  if (w.largest_key > s.max_key_bytes || w.largest_value > s.max_value_bytes ||
      w.payload_bytes > s.max_frame_payload) {
    return Refusal::kWriteTooLarge;
  }
  if (w.sender == s.self_slot || !s.sender_follows_me) return Refusal::kWriteNotFollower;
  return Refusal::kNone;
}

}  // namespace bp::board
