// libFuzzer target: a bus frame as a board receives it. bus::CheckFrame (the
// FlatBuffers verifier with the bus's depth and table limits, version and
// chassis checks), the bus's sender rule (a configured peer only), then
// every body through what Engine::OnFrame runs before it acts (board/src/
// messages.cc, refusals.cc), all pure: the frame checks of frame_checks.h
// (RepMsg control, ack, heartbeat, forwarded-write plausibility), the
// configuration digest comparison (FrameGuard), and the decoding of
// board/decode.h. Not run here: rep_process_message (Berkeley DB), the ack
// tracker, the peer table and the write path (engine state and threads).
#include <db.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "board/config.h"
#include "board/decode.h"
#include "board/frame_checks.h"
#include "board/frame_guard.h"
#include "bus/frames.h"

namespace {

using namespace bp;
using board::Refusal;

constexpr uint64_t kChassis = 7;  // the seed corpus is built for chassis 7
constexpr int kSelf = 1;          // this board; slots 2 and 3 are its peers
volatile size_t g_sink = 0;

const board::ChassisConfig& Config() {
  static const board::ChassisConfig c = [] {
    board::ChassisConfig cfg = board::MakeLocalChassis(3, "/run/bp", kChassis);
    return cfg;
  }();
  return c;
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// A frame a board built from what it read must read back the same.
void HeartbeatRoundTrip(int sender, const bus::HeartbeatInfo& hb) {
  bus::OutFrame again = bus::BuildHeartbeat({kChassis, sender}, hb);
  const wire::Frame* back = bus::CheckFrame(again.data(), again.size(), kChassis, nullptr);
  Check(back != nullptr);
  bus::HeartbeatInfo hb2 = bus::ReadHeartbeat(*back->body_as_Heartbeat());
  Check(hb2.gen == hb.gen && hb2.seq == hb.seq && hb2.next_lsn == hb.next_lsn && hb2.master == hb.master &&
        hb2.config_digest == hb.config_digest &&
        hb2.config_digest_group_count == hb.config_digest_group_count &&
        hb2.config_digest_groups == hb.config_digest_groups);
}

void OnRepMsg(const wire::RepMsg& m) {
  std::span<const uint8_t> control;
  if (m.control()) control = {m.control()->data(), m.control()->size()};
  const size_t rec = m.rec() ? m.rec()->size() : 0;
  for (bool leases : {false, true}) {
    board::RepControl parsed;
    Refusal r = board::CheckRepControl(m.control() != nullptr, control, rec, {leases}, &parsed);
    if (r != Refusal::kNone) continue;
    // What may reach rep_process_message: a whole control of this version,
    // and no lease message on a board without leases (it would panic).
    Check(control.size() >= board::kRepControlBytes && parsed.rep_version == board::kRepVersion53 &&
          parsed.log_version == board::kLogVersion53);
    Check(leases || (!(parsed.flags & board::kRepCtlLease) && parsed.rectype != board::kRepLeaseGrant));
    if (parsed.rectype == board::kRepBulkLog && m.rec()) {  // the ack bound of a bulk message
      const bus::Lsn first{m.lsn_file(), m.lsn_offset()};
      Check(!(board::LastLsnOfBulk({m.rec()->data(), m.rec()->size()}, first) < first));
    }
  }
  g_sink = g_sink + ((m.flags() & DB_REP_ANYWHERE) != 0) + m.gen() + rec;  // serve or rep queue
}

void OnAck(const wire::Ack& a) {
  const bus::Lsn lsn{a.lsn_file(), a.lsn_offset()};
  const board::AckCheckState master{true, 3, {1, 1 << 20}};
  Refusal r = board::CheckAck(a.gen(), lsn, master);
  if (r == Refusal::kNone) Check(a.gen() == 3 && lsn < master.written_end);  // never beyond the log
  Check(board::CheckAck(a.gen(), lsn, {false, 3, {1, 1 << 20}}) == Refusal::kAckNotMaster);
}

void OnHeartbeat(int sender, const wire::Heartbeat& w, board::FrameGuard& guard) {
  const bus::HeartbeatInfo hb = bus::ReadHeartbeat(w);
  HeartbeatRoundTrip(sender, hb);
  Refusal r = board::CheckHeartbeat(sender, hb, [](int s) { return Config().Find(s) != nullptr; });
  if (r != Refusal::kNone) return;
  // A master heartbeat of generation 0 passes (CI's fuzz run found one): it
  // claims a generation older than any real master's, so it can demote
  // nobody (NewerMasterCorroborated needs a newer one); refusing it would
  // risk dropping a new master's first heartbeats before its gen is read.
  if (hb.role == wire::Role::Master) Check(hb.master == sender);
  std::string line;
  const bool agrees = guard.OnPeerDigest(sender, hb, 1000000, &line);
  Check(agrees != guard.Disagrees(sender) || hb.config_digest == 0);
  g_sink = g_sink + line.size() + guard.OutReason(1000000, 1000000).size();
}

void OnAppRequest(int sender, const wire::AppRequest& req) {
  board::ForwardedWriteShape w = board::ForwardedWriteShapeOf(sender, req);
  board::ForwardedWriteState s;
  s.self_slot = kSelf;
  s.sender_follows_me = true;
  s.max_frame_payload = 16 << 20;
  s.max_key_bytes = Config().max_key_bytes;
  s.max_value_bytes = Config().max_value_bytes;
  if (board::CheckForwardedWrite(w, s) == Refusal::kNone) Check(w.origin == sender && w.ops > 0);
  std::vector<memenv::BatchOp> ops = board::DecodeKvOps(req.ops());
  Check(ops.size() == w.ops);
  size_t bytes = 0;
  for (const auto& op : ops) bytes += op.key.size() + op.value.size();
  Check(bytes == w.payload_bytes);
}

void Dispatch(const wire::Frame& f, board::FrameGuard& guard) {
  const int sender = f.sender();
  switch (f.body_type()) {
    case wire::Body::RepMsg:
      OnRepMsg(*f.body_as_RepMsg());
      break;
    case wire::Body::Ack:
      OnAck(*f.body_as_Ack());
      break;
    case wire::Body::Heartbeat:
      OnHeartbeat(sender, *f.body_as_Heartbeat(), guard);
      break;
    case wire::Body::AppRequest:
      OnAppRequest(sender, *f.body_as_AppRequest());
      break;
    case wire::Body::AppReply: {
      board::AppReplyFields rep = board::DecodeAppReply(*f.body_as_AppReply());
      g_sink = g_sink + rep.status.ToString().size() + rep.token.size();
      break;
    }
    case wire::Body::Join: {
      const wire::Join* j = f.body_as_Join();
      g_sink = g_sink + (j->endpoint() ? j->endpoint()->str().size() : 0) + j->priority();
      break;
    }
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The bus hands CheckFrame 8-byte aligned bytes (InFrame storage).
  std::vector<uint64_t> aligned(size / 8 + 1);
  if (size) std::memcpy(aligned.data(), data, size);
  const auto* bytes = reinterpret_cast<const uint8_t*>(aligned.data());
  bus::Reject why = bus::Reject::kNone;
  const wire::Frame* f = bus::CheckFrame(bytes, size, kChassis, &why);
  if (f == nullptr) {
    Check(why != bus::Reject::kNone);  // a refusal always names its reason
    return 0;
  }
  // The bus delivers frames of configured peers only (unknown_slot otherwise).
  if (f->sender() == kSelf || Config().Find(f->sender()) == nullptr) return 0;
  static board::FrameGuard guard(Config(), kSelf);  // state across inputs, as on a board
  Dispatch(*f, guard);
  return 0;
}
