#include "board/client_server.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <vector>
#include <zmq.hpp>

#include "client_generated.h"

namespace bp::board {

struct ClientServer::Sockets {
  explicit Sockets(zmq::context_t& ctx) : router(ctx, zmq::socket_type::router) {}
  zmq::socket_t router;
};

namespace {

std::string Bytes(const flatbuffers::Vector<uint8_t>* v) {
  return v ? std::string(reinterpret_cast<const char*>(v->data()), v->size()) : std::string();
}

std::string Finish(flatbuffers::FlatBufferBuilder& fbb, wire::ClientMsg type,
                   flatbuffers::Offset<void> msg) {
  fbb.Finish(wire::CreateClientFrame(fbb, type, msg));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string Reply(uint64_t seq, const Status& st, const std::string& value = "", bool durable = false,
                  const std::string& token = "", const std::string& json = "",
                  const ServedInfo& served = {}) {
  flatbuffers::FlatBufferBuilder fbb(128 + value.size() + json.size());
  auto msg = fbb.CreateString(st.message());
  auto val = fbb.CreateVector(reinterpret_cast<const uint8_t*>(value.data()), value.size());
  auto tok = fbb.CreateVector(reinterpret_cast<const uint8_t*>(token.data()), token.size());
  auto js = fbb.CreateString(json);
  auto r = wire::CreateClientReply(fbb, bus::kProtocolVersion, seq, int(st.code()), msg, val,
                                   durable, tok, js, 0, served.slot, served.gen,
                                   uint64_t(served.mono_us));
  return Finish(fbb, wire::ClientMsg::ClientReply, r.Union());
}

std::string ScanReply(uint64_t seq, const std::vector<std::pair<std::string, std::string>>& kvs) {
  flatbuffers::FlatBufferBuilder fbb(256);
  std::vector<flatbuffers::Offset<wire::KvOp>> ops;
  for (const auto& [k, v] : kvs) {
    auto kk = fbb.CreateVector(reinterpret_cast<const uint8_t*>(k.data()), k.size());
    auto vv = fbb.CreateVector(reinterpret_cast<const uint8_t*>(v.data()), v.size());
    ops.push_back(wire::CreateKvOp(fbb, wire::OpKind::Put, kk, vv));
  }
  auto pairs = fbb.CreateVector(ops);
  wire::ClientReplyBuilder b(fbb);
  b.add_version(bus::kProtocolVersion);
  b.add_seq(seq);
  b.add_code(0);
  b.add_pairs(pairs);
  return Finish(fbb, wire::ClientMsg::ClientReply, b.Finish().Union());
}

}  // namespace

ClientServer::ClientServer(Engine* engine, std::shared_ptr<zmq::context_t> context)
    : engine_(engine), ctx_(std::move(context)) {}

Result<std::unique_ptr<ClientServer>> ClientServer::Start(Engine* engine, const std::string& endpoint,
                                                          std::shared_ptr<zmq::context_t> context) {
  if (!context) context = std::make_shared<zmq::context_t>(1);
  std::unique_ptr<ClientServer> s(new ClientServer(engine, std::move(context)));
  BP_RETURN_IF_ERROR(s->Bind(endpoint));
  std::weak_ptr<std::atomic<bool>> alive = s->alive_;
  ClientServer* raw = s.get();
  engine->events().Subscribe([alive, raw](const BoardEvent& e) {
    auto a = alive.lock();
    if (a && a->load()) raw->OnEvent(e);
  });
  s->waiters_.Start(8);
  s->thread_ = std::thread([raw] { raw->Loop(); });
  return s;
}

Status ClientServer::Bind(const std::string& endpoint) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Status::Internal("eventfd failed");
  try {
    sockets_ = std::make_unique<Sockets>(*ctx_);
    sockets_->router.set(zmq::sockopt::linger, 0);
    sockets_->router.set(zmq::sockopt::router_mandatory, 0);
    sockets_->router.set(zmq::sockopt::sndhwm, 100000);
    sockets_->router.set(zmq::sockopt::rcvhwm, 100000);
    sockets_->router.bind(endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot bind client endpoint '" + endpoint + "': " + e.what() +
                                   " (is another board using it? is the directory there?)");
  }
  return Status::Ok();
}

ClientServer::~ClientServer() { Stop(); }

void ClientServer::Stop() {
  if (stop_.exchange(true)) return;
  alive_->store(false);
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  waiters_.Stop();
  sockets_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

void ClientServer::Enqueue(std::string identity, std::string payload) {
  {
    std::lock_guard<std::mutex> l(out_mu_);
    outbox_.emplace_back(std::move(identity), std::move(payload));
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void ClientServer::DrainOutbox() {
  uint64_t n;
  while (read(wake_fd_, &n, sizeof n) > 0) {
  }
  std::deque<std::pair<std::string, std::string>> out;
  {
    std::lock_guard<std::mutex> l(out_mu_);
    out.swap(outbox_);
  }
  for (auto& [id, payload] : out) {
    try {
      sockets_->router.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      sockets_->router.send(zmq::buffer(payload), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
      // The client went away: nothing to deliver to.
    }
  }
}

void ClientServer::Loop() {
  zmq::pollitem_t items[] = {{sockets_->router.handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
  while (!stop_.load()) {
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(100));
    } catch (const zmq::error_t&) {
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) DrainOutbox();
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    for (int i = 0; i < 64; ++i) {  // a burst, then look at the outbox again
      zmq::message_t id, body;
      auto r = sockets_->router.recv(id, zmq::recv_flags::dontwait);
      if (!r) break;
      if (!id.more() || !sockets_->router.recv(body, zmq::recv_flags::none)) continue;
      while (body.more()) {  // extra frames: not our protocol; drain them
        zmq::message_t extra;
        (void)sockets_->router.recv(extra, zmq::recv_flags::none);
      }
      ++requests_;
      // FlatBuffers reads 4- and 8-byte fields in place; ZeroMQ may hand
      // over a message at any address, so copy a misaligned one.
      if (reinterpret_cast<uintptr_t>(body.data()) % 8 != 0) {
        std::vector<uint64_t> aligned((body.size() + 7) / 8);
        std::memcpy(aligned.data(), body.data(), body.size());
        Handle(id.to_string(), reinterpret_cast<const uint8_t*>(aligned.data()), body.size());
        continue;
      }
      Handle(id.to_string(), static_cast<const uint8_t*>(body.data()), body.size());
    }
  }
}

void ClientServer::Handle(const std::string& identity, const uint8_t* data, size_t size) {
  flatbuffers::Verifier v(data, size, 64, 100000);
  if (!wire::VerifyClientFrameBuffer(v)) {
    ++malformed_;
    Enqueue(identity, Reply(0, Status::InvalidArgument("malformed request frame (not a ClientFrame)")));
    return;
  }
  const auto* req = wire::GetClientFrame(data)->msg_as_ClientRequest();
  if (!req) {
    ++malformed_;
    Enqueue(identity, Reply(0, Status::InvalidArgument("expected a ClientRequest")));
    return;
  }
  uint64_t seq = req->seq();
  if (req->version() != bus::kProtocolVersion) {
    Enqueue(identity, Reply(seq, Status::InvalidArgument(
                                     "client protocol version " + std::to_string(req->version()) +
                                     " is not supported by this board (" +
                                     std::to_string(bus::kProtocolVersion) + "); upgrade the shim")));
    return;
  }
  switch (req->op()) {
    case wire::ClientOp::Get: {
      std::string key = Bytes(req->key()), token = Bytes(req->token());
      auto mode = static_cast<ReadMode>(req->mode());
      uint32_t timeout = req->timeout_ms() ? req->timeout_ms() : 1000;
      timeout = std::min(timeout, engine_->config().max_read_timeout_ms);  // README: clamped
      // Reads that may wait run on the waiter pool, never on this thread
      // (admin commands such as "heal" must still be answered): txn_applied
      // (read-your-writes), the ack wait of a LINEARIZABLE read, and with
      // leases any read on a master (Berkeley DB's lease check retries for
      // up to 2x the lease timeout, at least 1.5 s, when the lease lapsed).
      bool may_wait = (mode == ReadMode::kReadYourWrites && !token.empty()) ||
                      mode == ReadMode::kLinearizable || engine_->config().leases;
      auto serve = [this, identity, seq, key, token, timeout, mode] {
        // Set only when a LINEARIZABLE read was answered (a value or not
        // found) by a confirmed master.
        ServedInfo served;
        auto r = engine_->Get(key, mode, token, timeout, &served);
        Enqueue(identity, r.ok() ? Reply(seq, Status::Ok(), r.value(), false, "", "", served)
                                 : Reply(seq, r.status(), "", false, "", "", served));
      };
      if (may_wait) {
        waiters_.Submit(std::move(serve));
      } else {
        serve();
      }
      return;
    }
    case wire::ClientOp::Write: {
      std::vector<memenv::BatchOp> ops;
      if (req->ops()) {
        for (const wire::KvOp* op : *req->ops()) {
          memenv::BatchOp b;
          b.kind = op->kind() == wire::OpKind::Put ? memenv::BatchOp::Kind::kPut
                                                   : memenv::BatchOp::Kind::kDelete;
          b.key = Bytes(op->key());
          b.value = Bytes(op->value());
          ops.push_back(std::move(b));
        }
      }
      RequestId id{req->request_id_hi(), req->request_id_lo()};
      engine_->SubmitWrite(std::move(ops), id, [this, identity, seq, alive = alive_](WriteResult r) {
        if (alive->load()) Enqueue(identity, Reply(seq, r.status, "", r.durable, r.token));
      });
      return;
    }
    case wire::ClientOp::Status:
      Enqueue(identity, Reply(seq, Status::Ok(), "", false, "", engine_->StatusJson().dump()));
      return;
    case wire::ClientOp::Admin: {
      nlohmann::json cmd = nlohmann::json::parse(Bytes(req->key()), nullptr, false);
      if (cmd.is_discarded()) {
        Enqueue(identity, Reply(seq, Status::InvalidArgument("admin command is not valid JSON")));
        return;
      }
      Enqueue(identity, Reply(seq, Status::Ok(), "", false, "", engine_->Admin(cmd).dump()));
      return;
    }
    case wire::ClientOp::Scan: {
      uint32_t limit = req->limit() ? req->limit() : 1000;
      auto r = engine_->Scan(Bytes(req->key()), Bytes(req->scan_end()), limit);
      if (!r.ok()) {
        Enqueue(identity, Reply(seq, r.status()));
        return;
      }
      Enqueue(identity, ScanReply(seq, r.value()));
      return;
    }
    case wire::ClientOp::Subscribe:
    case wire::ClientOp::Unsubscribe: {
      std::lock_guard<std::mutex> l(subs_mu_);
      if (req->op() == wire::ClientOp::Subscribe) subscribers_.insert(identity);
      else subscribers_.erase(identity);
      Enqueue(identity, Reply(seq, Status::Ok()));
      return;
    }
    default:
      Enqueue(identity, Reply(seq, Status::InvalidArgument("unsupported client operation")));
      return;
  }
}

// Role-related events are pushed to subscribers as RoleEvent frames.
void ClientServer::OnEvent(const BoardEvent& e) {
  switch (e.kind) {
    case EventKind::kBecameClient:
    case EventKind::kBecameMaster:
    case EventKind::kNewMaster:
    case EventKind::kStartupDone:
    case EventKind::kElectionStarted:
    case EventKind::kPeerDown:
    case EventKind::kPeerUp:
    case EventKind::kPermFailed:
      break;
    default:
      return;
  }
  std::set<std::string> subs;
  {
    std::lock_guard<std::mutex> l(subs_mu_);
    subs = subscribers_;
  }
  if (subs.empty()) return;
  Role r = engine_->role();
  flatbuffers::FlatBufferBuilder fbb(64);
  auto ev = wire::CreateRoleEvent(fbb, bus::kProtocolVersion, int(e.kind),
                                  r == Role::kMaster ? wire::Role::Master
                                  : r == Role::kClient ? wire::Role::Client
                                                       : wire::Role::Unknown,
                                  engine_->master(), engine_->generation());
  std::string payload = Finish(fbb, wire::ClientMsg::RoleEvent, ev.Union());
  for (const auto& id : subs) Enqueue(id, payload);
}

}  // namespace bp::board
