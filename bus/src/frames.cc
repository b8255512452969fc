// Builders and the receive-side check for bus/schema/frames.fbs.
//
// Each builder sizes its FlatBufferBuilder for the whole frame up front and
// hands the builder's own allocation to the OutFrame (Release): one
// allocation, no growth copies, no copy out. A reused thread_local builder
// would save that allocation only at the price of copying the finished bytes
// out (the OutFrame must own them), which costs more for large RepMsgs.
#include "bus/frames.h"

#include <algorithm>
#include <memory>
#include <utility>

namespace bp::bus {
namespace {

// Room for the Frame header table, the union and vtables of a body.
constexpr size_t kFrameOverheadBytes = 128;
// Deepest legal nesting is Frame > AppRequest > [KvOp] > KvOp > [ubyte].
constexpr flatbuffers::uoffset_t kMaxDepth = 16;
// An AppRequest carries one table per KvOp; bounds the verifier's work.
constexpr flatbuffers::uoffset_t kMaxTables = 1'000'000;

OutFrame Release(flatbuffers::FlatBufferBuilder& fbb) {
  return OutFrame(std::make_shared<const flatbuffers::DetachedBuffer>(fbb.Release()));
}

flatbuffers::Offset<flatbuffers::Vector<uint8_t>> Bytes(flatbuffers::FlatBufferBuilder& fbb,
                                                        std::span<const uint8_t> bytes) {
  return fbb.CreateVector(bytes.data(), bytes.size());
}

}  // namespace

OutFrame FinishFrame(flatbuffers::FlatBufferBuilder& fbb, const FrameHeader& h,
                     wire::Body body_type, flatbuffers::Offset<void> body) {
  auto frame = wire::CreateFrame(fbb, kProtocolVersion, h.chassis_id, h.sender, body_type, body);
  wire::FinishFrameBuffer(fbb, frame);
  return Release(fbb);
}

OutFrame BuildRepMsg(const FrameHeader& h, std::span<const uint8_t> control,
                     std::span<const uint8_t> rec, Lsn lsn, uint32_t flags, uint32_t gen) {
  flatbuffers::FlatBufferBuilder fbb(control.size() + rec.size() + kFrameOverheadBytes);
  auto control_off = Bytes(fbb, control);
  auto rec_off = Bytes(fbb, rec);
  auto body = wire::CreateRepMsg(fbb, control_off, rec_off, lsn.file, lsn.offset, flags, gen);
  return FinishFrame(fbb, h, wire::Body::RepMsg, body.Union());
}

OutFrame BuildAck(const FrameHeader& h, uint32_t gen, Lsn lsn) {
  flatbuffers::FlatBufferBuilder fbb(kFrameOverheadBytes);
  auto body = wire::CreateAck(fbb, gen, lsn.file, lsn.offset);
  return FinishFrame(fbb, h, wire::Body::Ack, body.Union());
}

OutFrame BuildHeartbeat(const FrameHeader& h, const HeartbeatInfo& info) {
  const size_t ngroups = std::min(info.config_digest_group_count, info.config_digest_groups.size());
  flatbuffers::FlatBufferBuilder fbb(kFrameOverheadBytes + 8 * ngroups);
  auto groups = ngroups == 0 ? flatbuffers::Offset<flatbuffers::Vector<uint64_t>>()
                             : fbb.CreateVector(info.config_digest_groups.data(), ngroups);
  auto body =
      wire::CreateHeartbeat(fbb, info.role, info.gen, info.master, info.startup_done, info.reinit,
                            info.electable, info.priority, info.next_lsn.file, info.next_lsn.offset,
                            info.seq, info.lease_valid, info.confirm_gen, info.db_pages,
                            info.page_size, info.cache_bytes, info.data_bytes, info.config_digest,
                            groups);
  return FinishFrame(fbb, h, wire::Body::Heartbeat, body.Union());
}

HeartbeatInfo ReadHeartbeat(const wire::Heartbeat& hb) {
  HeartbeatInfo info;
  info.role = hb.role();
  info.gen = hb.gen();
  info.master = hb.master();
  info.startup_done = hb.startup_done();
  info.reinit = hb.reinit();
  info.electable = hb.electable();
  info.priority = hb.priority();
  info.next_lsn = Lsn{hb.next_lsn_file(), hb.next_lsn_offset()};
  info.seq = hb.seq();
  info.lease_valid = hb.lease_valid();
  info.confirm_gen = hb.confirm_gen();
  info.db_pages = hb.db_pages();
  info.page_size = hb.page_size();
  info.cache_bytes = hb.cache_bytes();
  info.data_bytes = hb.data_bytes();
  info.config_digest = hb.config_digest();
  if (const auto* g = hb.config_digest_groups()) {
    info.config_digest_group_count = std::min<size_t>(g->size(), info.config_digest_groups.size());
    for (size_t i = 0; i < info.config_digest_group_count; ++i) info.config_digest_groups[i] = g->Get(i);
  }
  return info;
}

const wire::Frame* CheckFrame(const uint8_t* data, size_t size, uint64_t chassis_id, Reject* why) {
  Reject ignored;
  Reject& reason = why != nullptr ? *why : ignored;
  reason = Reject::kMalformed;
  // The Verifier asserts on sizes beyond the FlatBuffers limit: reject first.
  if (data == nullptr || size < sizeof(flatbuffers::uoffset_t) ||
      size >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return nullptr;
  }
  flatbuffers::Verifier::Options opts;
  opts.max_depth = kMaxDepth;
  opts.max_tables = kMaxTables;
  flatbuffers::Verifier verifier(data, size, opts);
  if (!wire::VerifyFrameBuffer(verifier)) return nullptr;
  const wire::Frame* frame = wire::GetFrame(data);
  // Version first: a newer board's body may be one this build does not know.
  if (frame->version() != kProtocolVersion) {
    reason = Reject::kWrongVersion;
    return nullptr;
  }
  // A frame without a body carries nothing a handler could act on.
  if (frame->body_type() == wire::Body::NONE || frame->body() == nullptr) return nullptr;
  // FlatBuffers 2.0.8's verifier checks a vector's 4-byte length field is
  // aligned, not that 8-byte elements are: a forged heartbeat can place
  // config_digest_groups at 4 mod 8, and reading it is a misaligned load
  // (UBSan; found by fuzz_bus_frame). A builder always aligns it: refuse.
  if (const wire::Heartbeat* hb = frame->body_as_Heartbeat()) {
    const auto* groups = hb->config_digest_groups();
    if (groups && (groups->Data() - data) % alignof(uint64_t) != 0) return nullptr;
  }
  if (frame->chassis() != chassis_id) {
    reason = Reject::kWrongChassis;
    return nullptr;
  }
  reason = Reject::kNone;
  return frame;
}

}  // namespace bp::bus
