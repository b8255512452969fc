// Where the engine applies the frame checks (frame_checks.h) before it acts
// on a frame: replication messages before rep_process_message, acks before
// the ack tracker, heartbeats before the peer table and the demotion rule,
// forwarded writes before the write pool. Bus receive thread (and the rep
// worker for acks with leases); every refusal is counted (FrameGuard).
#include <db.h>

#include <algorithm>
#include <cstdio>

#include "board/decode.h"
#include "board/engine.h"

namespace bp::board {
namespace {

bus::Lsn Unpack(uint64_t packed) { return {uint32_t(packed >> 32), uint32_t(packed)}; }
uint64_t Pack(bus::Lsn l) { return uint64_t(l.file) << 32 | l.offset; }

}  // namespace

void Engine::LogRefusal(Refusal r, int sender, const std::string& detail) {
  guard_.Count(r);
  const uint64_t n = guard_.count(r);
  if (n != 1 && n % 1000 != 0) return;
  Log(std::string("refused a frame from slot ") + std::to_string(sender) + " (" + RefusalName(r) +
      ", " + std::to_string(n) + " so far; status \"refused\"): " + detail);
}

bool Engine::AckPlausible(int sender, uint32_t gen, bus::Lsn lsn) {
  // The bound: past every record this master sent (transport.cc), or its
  // log end as the ticker last read it (rep_stat), whichever is further. No
  // Berkeley DB call here: this is the bus thread, and an API call may wait
  // out a replication lockout.
  const uint64_t ticker_end = Pack(liveness_.next_lsn());
  const RoleView v = roles_.View();
  AckCheckState s{v.role == Role::kMaster, v.gen,
                  Unpack(std::max(durability_.written_end(), ticker_end))};
  const Refusal r = CheckAck(gen, lsn, s);
  if (r == Refusal::kNone) return true;
  if (r == Refusal::kAckBeyondLog) {
    LogRefusal(r, sender, "an ack of " + std::to_string(lsn.file) + "/" + std::to_string(lsn.offset) +
                              ", beyond this master's log end " + std::to_string(s.written_end.file) +
                              "/" + std::to_string(s.written_end.offset) + " (forged, or another chassis)");
  } else {
    guard_.Count(r);  // late acks after a role or generation change: normal
  }
  return false;
}

bool Engine::RepFramePlausible(const bus::InFrame& in) {
  const wire::RepMsg* m = in.frame()->body_as_RepMsg();
  const auto* control = m->control();
  std::span<const uint8_t> bytes;
  if (control) bytes = {control->data(), control->size()};
  RepControl parsed;
  Refusal r = CheckRepControl(control != nullptr, bytes, m->rec() ? m->rec()->size() : 0,
                              RepControlSettings{opts_.config.leases}, &parsed);
  if (r == Refusal::kNone && guard_.Disagrees(in.sender())) {
    guard_.Count(Refusal::kConfigMismatch);  // logged once per digest by OnHeartbeatFrame
    return false;
  }
  if (r == Refusal::kNone) return true;
  LogRefusal(r, in.sender(),
             "a replication message Berkeley DB must not see (control of " +
                 std::to_string(bytes.size()) + " bytes, rep version " +
                 std::to_string(parsed.rep_version) + ", log version " +
                 std::to_string(parsed.log_version) + ", type " + std::to_string(parsed.rectype) +
                 ", flags 0x" + [&] {
                   char b[16];
                   std::snprintf(b, sizeof b, "%x", parsed.flags);
                   return std::string(b);
                 }() + (r == Refusal::kLeaseMismatch ? "; a lease message to a board without leases "
                                                       "would panic it: set the same `leases` on every board"
                                                     : "") + ")");
  return false;
}

void Engine::OnHeartbeatFrame(int sender, const wire::Heartbeat& wire_hb, int64_t received_us) {
  const bus::HeartbeatInfo hb = bus::ReadHeartbeat(wire_hb);
  Refusal r = CheckHeartbeat(sender, hb, [&](int s) { return opts_.config.Find(s) != nullptr; });
  if (r != Refusal::kNone) {
    LogRefusal(r, sender, "a heartbeat whose fields contradict each other (role " +
                              std::to_string(int(hb.role)) + ", master " + std::to_string(hb.master) +
                              ", gen " + std::to_string(hb.gen) + ", confirm_gen " +
                              std::to_string(hb.confirm_gen) + ")");
    return;
  }
  std::string line;
  if (!guard_.OnPeerDigest(sender, hb, received_us, &line)) {
    guard_.Count(Refusal::kConfigMismatch);
    if (!line.empty()) Log(line);
    return;  // not counted alive: it takes no part in acks, elections, routing
  }
  peers_.OnHeartbeat(sender, hb, received_us);
  // A master that hears a master of a newer generation steps down at once
  // (after a healed partition) instead of waiting for DUPMASTER, but only
  // when a majority backs the claim: one heartbeat (forged, or from a board
  // that lost its way) must not demote a master. Otherwise Berkeley DB's
  // DUPMASTER decides, on the newer master's own replication traffic.
  const RoleView v = roles_.View();
  if (hb.role == wire::Role::Master && v.role == Role::kMaster && hb.gen > v.gen) {
    const int64_t window = int64_t(opts_.config.heartbeat_timeout_ms) * 1000 / 2;
    const int backers = peers_.FollowersOf(sender, hb.gen, received_us, window);
    if (NewerMasterCorroborated(backers, opts_.config.Majority())) {
      roles_.RequestDemote("a master of a newer generation is alive");
    } else {
      LogRefusal(Refusal::kHeartbeatUncorroborated, sender,
                 "a master heartbeat of generation " + std::to_string(hb.gen) + " (this master: " +
                     std::to_string(v.gen) + ") that no majority backs: not stepping down on it");
    }
  }
}

bool Engine::ForwardedWritePlausible(const bus::InFrame& in) {
  const wire::AppRequest* req = in.frame()->body_as_AppRequest();
  const ForwardedWriteShape w = ForwardedWriteShapeOf(in.sender(), *req);  // decode.h (fuzzed)
  ForwardedWriteState s;
  s.self_slot = opts_.self_slot;
  s.max_frame_payload = MaxWriteFrameBytes();
  s.max_key_bytes = opts_.config.max_key_bytes;
  s.max_value_bytes = opts_.config.max_value_bytes;
  // Only a master applies: elsewhere Write answers NotMaster and the
  // origin resends at once, so a non-master does not check who follows it.
  s.sender_follows_me = roles_.role() != Role::kMaster;
  for (const PeerView& p : peers_.Snapshot(clock_.NowMicros())) {
    if (p.slot == w.sender && p.alive && p.hb.role == wire::Role::Client &&
        p.hb.master == opts_.self_slot) {
      s.sender_follows_me = true;
    }
  }
  Refusal r = CheckForwardedWrite(w, s);
  if (r == Refusal::kNone) return true;
  if (r == Refusal::kWriteNotFollower && w.sender != opts_.self_slot) {
    // A replica that just learnt of this master forwards before its next
    // heartbeat says it follows: a retryable refusal (it resends at its next
    // tick), never an apply. A forged sender's copy goes to the real board,
    // which knows no such request and ignores it.
    guard_.Count(r);
    WriteResult res;
    res.status = Status::Busy("board " + std::to_string(opts_.self_slot) + " does not see slot " +
                              std::to_string(w.sender) + " following it yet; retry");
    service_.ReplyTo(w.sender, RequestId{req->request_id_hi(), req->request_id_lo()}, res);
    return false;
  }
  LogRefusal(r, w.sender, "a forwarded write (origin " + std::to_string(w.origin) + ", " +
                              std::to_string(w.ops) + " ops, " + std::to_string(w.payload_bytes) +
                              " bytes) that no replica of this chassis sends");
  return false;
}

}  // namespace bp::board
