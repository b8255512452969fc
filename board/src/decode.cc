// Pure decoding of bus frame bodies and client requests (board/decode.h).
#include "board/decode.h"

#include <algorithm>

#include "bus/frames.h"  // kProtocolVersion

namespace bp::board {

std::string FieldBytes(const flatbuffers::Vector<uint8_t>* v) {
  return v ? std::string(reinterpret_cast<const char*>(v->data()), v->size()) : std::string();
}

std::vector<memenv::BatchOp> DecodeKvOps(
    const flatbuffers::Vector<flatbuffers::Offset<wire::KvOp>>* ops) {
  std::vector<memenv::BatchOp> out;
  if (ops == nullptr) return out;
  out.reserve(ops->size());
  for (const wire::KvOp* op : *ops) {
    memenv::BatchOp b;
    b.kind = op->kind() == wire::OpKind::Put ? memenv::BatchOp::Kind::kPut
                                             : memenv::BatchOp::Kind::kDelete;
    b.key = FieldBytes(op->key());
    b.value = FieldBytes(op->value());
    out.push_back(std::move(b));
  }
  return out;
}

ForwardedWriteShape ForwardedWriteShapeOf(int sender, const wire::AppRequest& req) {
  ForwardedWriteShape w;
  w.sender = sender;
  w.origin = req.origin();
  if (req.ops()) {
    w.ops = req.ops()->size();
    for (const wire::KvOp* op : *req.ops()) {
      const uint64_t k = op->key() ? op->key()->size() : 0, v = op->value() ? op->value()->size() : 0;
      w.largest_key = std::max(w.largest_key, k);
      w.largest_value = std::max(w.largest_value, v);
      w.payload_bytes += k + v;
    }
  }
  return w;
}

AppReplyFields DecodeAppReply(const wire::AppReply& reply) {
  AppReplyFields f;
  f.id_hi = reply.request_id_hi();
  f.id_lo = reply.request_id_lo();
  f.status = Status(static_cast<Status::Code>(reply.code()), reply.message() ? reply.message()->str() : "");
  f.durable = reply.durable();
  f.duplicate = reply.duplicate();
  f.token = FieldBytes(reply.commit_token());
  return f;
}

ClientRequestCheck CheckClientRequest(const uint8_t* data, size_t size) {
  ClientRequestCheck c;
  // Depth 64 and 100,000 tables bound the verifier's work on a request of
  // up to MaxClientRequestBytes.
  flatbuffers::Verifier v(data, size, 64, 100000);
  if (data == nullptr || size >= FLATBUFFERS_MAX_BUFFER_SIZE || !wire::VerifyClientFrameBuffer(v)) {
    c.malformed = true;
    c.error = Status::InvalidArgument("malformed request frame (not a ClientFrame)");
    return c;
  }
  const auto* req = wire::GetClientFrame(data)->msg_as_ClientRequest();
  if (!req) {
    c.malformed = true;
    c.error = Status::InvalidArgument("expected a ClientRequest");
    return c;
  }
  c.seq = req->seq();
  if (req->version() != bus::kProtocolVersion) {
    c.error = Status::InvalidArgument("client protocol version " + std::to_string(req->version()) +
                                      " is not supported by this board (" +
                                      std::to_string(bus::kProtocolVersion) + "); upgrade the shim");
    return c;
  }
  c.req = req;
  return c;
}

nlohmann::json ParseAdminCommand(const wire::ClientRequest& req) {
  return nlohmann::json::parse(FieldBytes(req.key()), nullptr, /*allow_exceptions=*/false);
}

std::string AdminCommandName(const nlohmann::json& cmd) {
  if (!cmd.is_object()) return "";
  auto it = cmd.find("cmd");
  if (it == cmd.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace bp::board
