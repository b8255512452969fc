#include "codec.h"

#include <cstring>

#include "bus/frames.h"  // kProtocolVersion: one number shared with the boards
#include "bus/kv_op.h"
#include "client_generated.h"
#include "errors.h"

namespace fw {
namespace {

namespace wire = bp::wire;

std::string Finish(flatbuffers::FlatBufferBuilder& fbb,
                   flatbuffers::Offset<wire::ClientRequest> r) {
  fbb.Finish(wire::CreateClientFrame(fbb, wire::ClientMsg::ClientRequest, r.Union()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

flatbuffers::Offset<flatbuffers::Vector<uint8_t>> Bytes(flatbuffers::FlatBufferBuilder& fbb,
                                                        std::string_view s) {
  return fbb.CreateVector(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Str(const flatbuffers::Vector<uint8_t>* v) {
  return v ? std::string(reinterpret_cast<const char*>(v->data()), v->size()) : std::string();
}

std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// A request carrying only op + seq (+ key): status, admin, subscribe.
std::string Simple(uint64_t seq, wire::ClientOp op, std::string_view key = {}) {
  flatbuffers::FlatBufferBuilder fbb(64 + key.size());
  auto k = key.empty() ? 0 : Bytes(fbb, key);
  wire::ClientRequestBuilder b(fbb);
  b.add_version(bp::bus::kProtocolVersion);
  b.add_op(op);
  b.add_seq(seq);
  if (!key.empty()) b.add_key(k);
  return Finish(fbb, b.Finish());
}

}  // namespace

std::string EncodeGet(uint64_t seq, std::string_view key, fw_read_mode_t mode,
                      std::string_view token, uint32_t board_timeout_ms) {
  flatbuffers::FlatBufferBuilder fbb(64 + key.size() + token.size());
  auto k = Bytes(fbb, key);
  auto t = token.empty() ? 0 : Bytes(fbb, token);
  wire::ClientRequestBuilder b(fbb);
  b.add_version(bp::bus::kProtocolVersion);
  b.add_op(wire::ClientOp::Get);
  b.add_seq(seq);
  b.add_key(k);
  b.add_mode(static_cast<wire::ReadMode>(RawEnum(mode)));
  if (!token.empty()) b.add_token(t);
  b.add_timeout_ms(board_timeout_ms);
  return Finish(fbb, b.Finish());
}

std::string EncodeWrite(uint64_t seq, fw_request_id_t id, const fw_op_t* ops, size_t n) {
  size_t bytes = 64;
  for (size_t i = 0; i < n; ++i) bytes += ops[i].klen + ops[i].vlen + 32;
  flatbuffers::FlatBufferBuilder fbb(bytes);
  std::vector<flatbuffers::Offset<wire::KvOp>> kv;
  kv.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const fw_op_t& op = ops[i];
    bool put = RawEnum(op.kind) == FW_OP_PUT;  // checked by CheckOps
    kv.push_back(bp::bus::EncodeKvOp(fbb, put, std::string_view(op.key, op.klen),
                                     put ? std::string_view(op.val ? op.val : "", op.vlen)
                                         : std::string_view()));
  }
  auto vec = fbb.CreateVector(kv);
  wire::ClientRequestBuilder b(fbb);
  b.add_version(bp::bus::kProtocolVersion);
  b.add_op(wire::ClientOp::Write);
  b.add_seq(seq);
  b.add_request_id_hi(id.hi);
  b.add_request_id_lo(id.lo);
  b.add_ops(vec);
  return Finish(fbb, b.Finish());
}

std::string EncodeStatus(uint64_t seq) { return Simple(seq, wire::ClientOp::Status); }

std::string EncodeAdmin(uint64_t seq, std::string_view json_cmd) {
  return Simple(seq, wire::ClientOp::Admin, json_cmd);
}

std::string EncodeSubscribe(uint64_t seq, bool subscribe) {
  return Simple(seq, subscribe ? wire::ClientOp::Subscribe : wire::ClientOp::Unsubscribe);
}

std::optional<Incoming> Decode(const void* data, size_t size) {
  // zmq hands out frames at any address (small ones inline in the message,
  // large ones inside its receive buffer); FlatBuffers reads scalars in
  // place and needs the buffer aligned like the builder's (8 bytes).
  std::vector<uint64_t> aligned;
  auto* p = static_cast<const uint8_t*>(data);
  if (reinterpret_cast<uintptr_t>(p) % alignof(uint64_t) != 0) {
    aligned.resize(size / sizeof(uint64_t) + 1);
    std::memcpy(aligned.data(), p, size);
    p = reinterpret_cast<const uint8_t*>(aligned.data());
  }
  // Values reach 1 MiB; the limits are the verifier's depth and table count.
  flatbuffers::Verifier v(p, size, 64, 1000000);
  if (!wire::VerifyClientFrameBuffer(v)) return std::nullopt;
  const wire::ClientFrame* f = wire::GetClientFrame(p);
  Incoming in;
  if (const wire::ClientReply* r = f->msg_as_ClientReply()) {
    in.reply = Reply{r->seq(),     r->code(),       Str(r->message()),    Str(r->value()),
                     r->durable(), Str(r->token()), Str(r->status_json()),
                     r->served_by(), r->served_gen(), r->served_us()};
    return in;
  }
  if (const wire::RoleEvent* e = f->msg_as_RoleEvent()) {
    in.event = RoleEventMsg{e->kind(), int(e->role()), e->master(), e->gen()};
    return in;
  }
  return std::nullopt;
}

}  // namespace fw
