#include "rogue_sender.h"

#include "raw_client.h"

#include <arpa/inet.h>

#include <cstring>
#include <zmq.hpp>

#include "bus/kv_op.h"

namespace bp::testing {

RogueSender::RogueSender(RogueOptions options) : options_(std::move(options)) {
  ctx_ = std::make_unique<zmq::context_t>(1);
  push_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::push);
  push_->set(zmq::sockopt::linger, 2000);  // what was sent still goes out after the destructor
  push_->set(zmq::sockopt::sndtimeo, options_.send_timeout_ms);
  if (!options_.curve_server_public.empty()) {
    push_->set(zmq::sockopt::curve_serverkey, options_.curve_server_public);
    push_->set(zmq::sockopt::curve_publickey, options_.curve_public);
    push_->set(zmq::sockopt::curve_secretkey, options_.curve_secret);
  }
  push_->connect(options_.endpoint);
}

RogueSender::~RogueSender() {
  push_.reset();
  ctx_.reset();
}

bool RogueSender::SendBytes(const void* data, size_t size) {
  zmq::message_t msg(data, size);
  try {
    return push_->send(msg, zmq::send_flags::none).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

bus::OutFrame RogueSender::Ack(int sender, uint32_t gen, bus::Lsn lsn) const {
  return bus::BuildAck(Header(sender), gen, lsn);
}

bus::OutFrame RogueSender::Heartbeat(int sender, const bus::HeartbeatInfo& hb) const {
  return bus::BuildHeartbeat(Header(sender), hb);
}

bus::OutFrame RogueSender::AppRequest(
    int sender, int origin, const std::vector<std::pair<std::string, std::string>>& puts) const {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto ops = bus::EncodeKvPuts(fbb, puts);
  uint64_t hi = 0, lo = 0;
  RawClient::NewRequestId(&hi, &lo);  // a well-formed id, as a shim would make
  auto req = wire::CreateAppRequest(fbb, hi, lo, origin, ops, 1000000);
  return bus::FinishFrame(fbb, Header(sender), wire::Body::AppRequest, req.Union());
}

bus::OutFrame RogueSender::RepMsg(int sender, const std::vector<uint8_t>* control,
                                  const std::vector<uint8_t>& rec, uint32_t gen) const {
  flatbuffers::FlatBufferBuilder fbb(256 + rec.size());
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> control_off;
  if (control) control_off = fbb.CreateVector(control->data(), control->size());
  auto rec_off = fbb.CreateVector(rec.data(), rec.size());
  auto body = wire::CreateRepMsg(fbb, control_off, rec_off, 0, 0, 0, gen);
  return bus::FinishFrame(fbb, Header(sender), wire::Body::RepMsg, body.Union());
}

std::vector<uint8_t> RogueSender::Control(uint32_t rep_version, uint32_t log_version,
                                          uint32_t rectype, uint32_t gen, uint32_t flags,
                                          bus::Lsn lsn) {
  const uint32_t fields[9] = {rep_version, log_version, lsn.file, lsn.offset, rectype, gen, 0, 0, flags};
  std::vector<uint8_t> out(sizeof fields);
  for (int i = 0; i < 9; ++i) {
    uint32_t be = htonl(fields[i]);
    std::memcpy(out.data() + 4 * i, &be, 4);
  }
  return out;
}

}  // namespace bp::testing
