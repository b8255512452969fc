#include "raw_client.h"

#include "bp/clock.h"
#include "bp/request_id.h"

#include <chrono>
#include <cstring>
#include <random>
#include <vector>
#include <zmq.hpp>

#include "bus/kv_op.h"
#include "client_generated.h"

namespace bp::testing {

struct RawClient::Reply {
  bp::Status status;
  std::string value, token, json;
  bool durable = false;
  std::vector<std::pair<std::string, std::string>> pairs;
};

namespace {

std::string Bytes(const flatbuffers::Vector<uint8_t>* v) {
  return v ? std::string(reinterpret_cast<const char*>(v->data()), v->size()) : std::string();
}

flatbuffers::Offset<flatbuffers::Vector<uint8_t>> Vec(flatbuffers::FlatBufferBuilder& fbb,
                                                      const std::string& s) {
  return fbb.CreateVector(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Finish(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<wire::ClientRequest> r) {
  fbb.Finish(wire::CreateClientFrame(fbb, wire::ClientMsg::ClientRequest, r.Union()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

struct Id {
  uint64_t hi, lo;
};
Id NewId() {
  Id id;
  RawClient::NewRequestId(&id.hi, &id.lo);
  return id;
}

}  // namespace

void RawClient::NewRequestId(uint64_t* hi, uint64_t* lo) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  MakeRequestId(uint64_t(Clock::Real().WallMicros() / 1000), rng(), rng(), hi, lo);
}

RawClient::RawClient(std::string endpoint, RawCurveKeys curve)
    : endpoint_(std::move(endpoint)), curve_(std::move(curve)), ctx_(std::make_unique<zmq::context_t>(1)) {
  Reconnect();
}

RawClient::~RawClient() {
  sock_.reset();
  ctx_.reset();
}

void RawClient::Reconnect() {
  sock_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::dealer);
  sock_->set(zmq::sockopt::linger, 0);
  if (!curve_.server_public.empty()) {
    sock_->set(zmq::sockopt::curve_serverkey, curve_.server_public);
    sock_->set(zmq::sockopt::curve_publickey, curve_.client_public);
    sock_->set(zmq::sockopt::curve_secretkey, curve_.client_secret);
  }
  sock_->connect(endpoint_);
}

Result<RawClient::Reply> RawClient::Call(const std::string& frame, uint64_t seq, int timeout_ms) {
  sock_->send(zmq::buffer(frame), zmq::send_flags::none);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      Reconnect();  // drop any late reply with the socket
      return bp::Status::Timeout("no reply from " + endpoint_);
    }
    zmq::pollitem_t item{sock_->handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, left);
    if (!(item.revents & ZMQ_POLLIN)) continue;
    zmq::message_t msg;
    if (!sock_->recv(msg, zmq::recv_flags::dontwait)) continue;
    // Aligned copy: FlatBuffers reads fields in place.
    std::vector<uint64_t> buf((msg.size() + 7) / 8);
    std::memcpy(buf.data(), msg.data(), msg.size());
    const auto* data = reinterpret_cast<const uint8_t*>(buf.data());
    flatbuffers::Verifier v(data, msg.size());
    if (!wire::VerifyClientFrameBuffer(v)) return bp::Status::Internal("malformed reply");
    const auto* r = wire::GetClientFrame(data)->msg_as_ClientReply();
    if (!r || (r->seq() != seq && seq != 0)) continue;  // an event or a stale reply
    Reply out;
    out.status = bp::Status(static_cast<bp::Status::Code>(r->code()),
                            r->message() ? r->message()->str() : "");
    out.value = Bytes(r->value());
    out.token = Bytes(r->token());
    out.json = r->status_json() ? r->status_json()->str() : "";
    out.durable = r->durable();
    if (r->pairs()) {
      for (const wire::KvOp* op : *r->pairs()) out.pairs.emplace_back(Bytes(op->key()), Bytes(op->value()));
    }
    return out;
  }
}

Result<std::string> RawClient::Get(const std::string& key, int mode, const std::string& token,
                                   int timeout_ms) {
  flatbuffers::FlatBufferBuilder fbb;
  uint64_t seq = ++seq_;
  auto k = Vec(fbb, key);
  auto t = Vec(fbb, token);
  auto req = wire::CreateClientRequest(fbb, 1, wire::ClientOp::Get, seq, k,
                                       static_cast<wire::ReadMode>(mode), t, uint32_t(timeout_ms));
  auto r = Call(Finish(fbb, req), seq, timeout_ms + 500);
  if (!r.ok()) return r.status();
  if (!r->status.ok()) return r->status;
  return r->value;
}

RawWrite RawClient::Batch(const std::vector<std::pair<std::string, std::string>>& puts,
                          int timeout_ms) {
  flatbuffers::FlatBufferBuilder fbb;
  uint64_t seq = ++seq_;
  auto o = bus::EncodeKvPuts(fbb, puts);
  const Id id = NewId();
  auto req = wire::CreateClientRequest(fbb, 1, wire::ClientOp::Write, seq, 0, wire::ReadMode::Local, 0,
                                       uint32_t(timeout_ms), id.hi, id.lo, o);
  RawWrite w;
  auto r = Call(Finish(fbb, req), seq, timeout_ms);
  if (!r.ok()) {
    w.status = r.status();
    return w;
  }
  w.status = r->status;
  w.durable = r->durable;
  w.token = r->token;
  return w;
}

RawWrite RawClient::Put(const std::string& key, const std::string& value, uint64_t id_hi,
                        uint64_t id_lo, int timeout_ms) {
  flatbuffers::FlatBufferBuilder fbb;
  uint64_t seq = ++seq_;
  auto o = bus::EncodeKvPuts(fbb, {{key, value}});
  const Id id = id_hi ? Id{id_hi, id_lo} : NewId();
  auto req = wire::CreateClientRequest(fbb, 1, wire::ClientOp::Write, seq, 0, wire::ReadMode::Local, 0,
                                       uint32_t(timeout_ms), id.hi, id.lo, o);
  RawWrite w;
  auto r = Call(Finish(fbb, req), seq, timeout_ms);
  if (!r.ok()) {
    w.status = r.status();
    return w;
  }
  w.status = r->status;
  w.durable = r->durable;
  w.token = r->token;
  return w;
}

RawWrite RawClient::Delete(const std::string& key, int timeout_ms) {
  flatbuffers::FlatBufferBuilder fbb;
  uint64_t seq = ++seq_;
  auto o = fbb.CreateVector(std::vector{bus::EncodeKvOp(fbb, false, key, {})});
  const Id id = NewId();
  auto req = wire::CreateClientRequest(fbb, 1, wire::ClientOp::Write, seq, 0, wire::ReadMode::Local, 0,
                                       uint32_t(timeout_ms), id.hi, id.lo, o);
  RawWrite w;
  auto r = Call(Finish(fbb, req), seq, timeout_ms);
  w.status = r.ok() ? r->status : r.status();
  return w;
}

Result<std::vector<std::pair<std::string, std::string>>> RawClient::Scan(const std::string& start,
                                                                         const std::string& end,
                                                                         uint32_t limit,
                                                                         int timeout_ms) {
  flatbuffers::FlatBufferBuilder fbb;
  uint64_t seq = ++seq_;
  auto k = Vec(fbb, start);
  auto e = Vec(fbb, end);
  wire::ClientRequestBuilder b(fbb);
  b.add_version(1);
  b.add_op(wire::ClientOp::Scan);
  b.add_seq(seq);
  b.add_key(k);
  b.add_scan_end(e);
  b.add_limit(limit);
  auto r = Call(Finish(fbb, b.Finish()), seq, timeout_ms);
  if (!r.ok()) return r.status();
  if (!r->status.ok()) return r->status;
  return r->pairs;
}

Result<nlohmann::json> RawClient::Status(int timeout_ms) {
  flatbuffers::FlatBufferBuilder fbb;
  uint64_t seq = ++seq_;
  auto req = wire::CreateClientRequest(fbb, 1, wire::ClientOp::Status, seq);
  auto r = Call(Finish(fbb, req), seq, timeout_ms);
  if (!r.ok()) return r.status();
  return nlohmann::json::parse(r->json);
}

Result<nlohmann::json> RawClient::Admin(const nlohmann::json& cmd, int timeout_ms) {
  flatbuffers::FlatBufferBuilder fbb;
  uint64_t seq = ++seq_;
  auto k = Vec(fbb, cmd.dump());
  auto req = wire::CreateClientRequest(fbb, 1, wire::ClientOp::Admin, seq, k);
  auto r = Call(Finish(fbb, req), seq, timeout_ms);
  if (!r.ok()) return r.status();
  return nlohmann::json::parse(r->json);
}

Result<std::string> RawClient::SendRaw(const std::string& bytes, int timeout_ms) {
  auto r = Call(bytes, 0, timeout_ms);
  if (!r.ok()) return r.status();
  if (!r->status.ok()) return r->status;
  return r->value;
}

}  // namespace bp::testing
