#include "board/client_server.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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
  s->readers_.Start(4);
  s->thread_ = std::thread([raw] { raw->Loop(); });
  return s;
}

Status ClientServer::Bind(const std::string& endpoint) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Status::Internal("eventfd failed");
  try {
    sockets_ = std::make_unique<Sockets>(*ctx_);
    sockets_->router.set(zmq::sockopt::linger, 0);
    // Mandatory: a reply to a client that is gone fails (EHOSTUNREACH), so
    // dead subscribers are found and pruned; a full pipe fails (EAGAIN) and
    // is counted instead of dropped silently.
    sockets_->router.set(zmq::sockopt::router_mandatory, 1);
    sockets_->router.set(zmq::sockopt::sndhwm, kClientPipeHwm);
    sockets_->router.set(zmq::sockopt::rcvhwm, 100000);
    // A bigger message cannot be a legal request: ZeroMQ drops the
    // connection instead of buffering it.
    sockets_->router.set(zmq::sockopt::maxmsgsize, int64_t(MaxClientRequestBytes(engine_->config())));
    sockets_->router.set(zmq::sockopt::heartbeat_ivl, kHeartbeatIvlMs);
    sockets_->router.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
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
  readers_.Stop();
  sockets_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

bool ClientServer::Enqueue(std::string identity, std::string payload) {
  const ChassisConfig& c = engine_->config();
  const size_t max_items = c.client_send_queue_limit, max_bytes = size_t(c.client_send_queue_mb) << 20;
  const size_t bytes = identity.size() + payload.size();
  {
    std::lock_guard<std::mutex> l(out_mu_);
    if (!outbox_.empty() &&
        (outbox_.size() >= max_items || bytes > max_bytes || outbox_bytes_ > max_bytes - bytes)) {
      if (outbox_refused_++ % 1000 == 0) {
        std::fprintf(stderr,
                     "[board %d] client send queue full (%zu replies, %zu MiB; client_send_queue_limit "
                     "= %zu, client_send_queue_mb = %zu): dropped a reply (%llu so far); the "
                     "endpoint's thread is behind: raise the limits or slow the clients\n",
                     engine_->self_slot(), outbox_.size(), outbox_bytes_ >> 20, max_items,
                     max_bytes >> 20, static_cast<unsigned long long>(outbox_refused_));
      }
      return false;
    }
    outbox_bytes_ += bytes;
    outbox_.emplace_back(std::move(identity), std::move(payload));
    outbox_peak_ = std::max(outbox_peak_, outbox_.size());
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  return true;
}

void ClientServer::DrainOutbox() {
  uint64_t n;
  while (read(wake_fd_, &n, sizeof n) > 0) {
  }
  std::deque<std::pair<std::string, std::string>> out;
  {
    std::lock_guard<std::mutex> l(out_mu_);
    out.swap(outbox_);
    outbox_bytes_ = 0;
  }
  for (auto& [id, payload] : out) SendOne(id, payload);
}

// Server thread. A client that is gone is pruned from the subscribers.
void ClientServer::SendOne(const std::string& id, const std::string& payload) {
  try {
    if (!sockets_->router.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      ++send_pipe_full_;  // kClientPipeHwm replies already wait for this client
      return;
    }
    (void)sockets_->router.send(zmq::buffer(payload), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) return;  // ETERM at shutdown
    ++send_unreachable_;
    std::lock_guard<std::mutex> l(subs_mu_);
    if (subscribers_.erase(id)) ++subs_pruned_;
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
    case wire::ClientOp::Get:
      HandleGet(identity, seq, req);
      return;
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
      Enqueue(identity, Reply(seq, Status::Ok(), "", false, "", StatusJson().dump()));
      return;
    case wire::ClientOp::Admin: {
      nlohmann::json cmd = nlohmann::json::parse(Bytes(req->key()), nullptr, false);
      if (cmd.is_discarded()) {
        Enqueue(identity, Reply(seq, Status::InvalidArgument("admin command is not valid JSON")));
        return;
      }
      nlohmann::json out = cmd.is_object() && cmd.value("cmd", "") == "status" ? StatusJson() : engine_->Admin(cmd);
      Enqueue(identity, Reply(seq, Status::Ok(), "", false, "", out.dump()));
      return;
    }
    case wire::ClientOp::Scan:
      HandleScan(identity, seq, req);
      return;
    case wire::ClientOp::Subscribe:
    case wire::ClientOp::Unsubscribe:
      HandleSubscribe(identity, seq, req->op() == wire::ClientOp::Subscribe);
      return;
    default:
      Enqueue(identity, Reply(seq, Status::InvalidArgument("unsupported client operation")));
      return;
  }
}

void ClientServer::Offload(ThreadPool& pool, const char* what, const std::string& identity, uint64_t seq,
                           std::function<void()> read) {
  if (pool.Submit(std::move(read))) return;
  Enqueue(identity, Reply(seq, Status::Busy(std::string("board ") + std::to_string(engine_->self_slot()) +
                                            " has " + std::to_string(kReadQueueLimit) + " " + what +
                                            " waiting (a fixed bound); retry with backoff")));
}

void ClientServer::HandleGet(const std::string& identity, uint64_t seq, const wire::ClientRequest* req) {
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
  if (may_wait) return Offload(waiters_, "waiting reads", identity, seq, std::move(serve));
  // A board that is not in sync refuses without touching Berkeley DB.
  if (!engine_->LocalReadsServable()) {
    Enqueue(identity, Reply(seq, engine_->NotInSync()));
    return;
  }
  // A replica may be thrown into internal init at any moment (and then a
  // read waits in Berkeley DB's lockout): its reads never run here.
  if (engine_->role() != Role::kMaster) return Offload(readers_, "replica reads", identity, seq, std::move(serve));
  serve();
}

void ClientServer::HandleScan(const std::string& identity, uint64_t seq, const wire::ClientRequest* req) {
  if (!engine_->LocalReadsServable()) {
    Enqueue(identity, Reply(seq, engine_->NotInSync()));
    return;
  }
  uint32_t limit = req->limit() ? req->limit() : 1000;
  auto scan = [this, identity, seq, start = Bytes(req->key()), end = Bytes(req->scan_end()), limit] {
    auto r = engine_->Scan(start, end, limit);
    Enqueue(identity, r.ok() ? ScanReply(seq, r.value()) : Reply(seq, r.status()));
  };
  if (engine_->role() != Role::kMaster) return Offload(readers_, "replica reads", identity, seq, std::move(scan));
  scan();
}

void ClientServer::HandleSubscribe(const std::string& identity, uint64_t seq, bool subscribe) {
  const size_t max = engine_->config().max_subscribers;
  Status st = Status::Ok();
  {
    std::lock_guard<std::mutex> l(subs_mu_);
    if (!subscribe) {
      subscribers_.erase(identity);
    } else if (subscribers_.size() >= max && !subscribers_.count(identity)) {
      ++subs_refused_;
      st = Status::Busy("board " + std::to_string(engine_->self_slot()) + " has " +
                        std::to_string(subscribers_.size()) + " subscribers (max_subscribers = " +
                        std::to_string(max) + "); close unused subscriptions or raise max_subscribers");
    } else {
      subscribers_.insert(identity);
    }
  }
  Enqueue(identity, Reply(seq, st));
}

nlohmann::json ClientServer::StatusJson() {
  nlohmann::json j = engine_->StatusJson();
  const ChassisConfig& c = engine_->config();
  QueueStats out;
  {
    std::lock_guard<std::mutex> l(out_mu_);
    out = QueueStats{outbox_.size(), outbox_bytes_, outbox_peak_,
                     {c.client_send_queue_limit, size_t(c.client_send_queue_mb) << 20}, outbox_refused_};
  }
  nlohmann::json send = QueueJson(out, {"client_send_queue_limit", "client_send_queue_mb"});
  send["pipe_limit"] = kClientPipeHwm;
  send["pipe_full"] = send_pipe_full_.load();
  send["unreachable"] = send_unreachable_.load();
  send["max_request_bytes"] = MaxClientRequestBytes(c);
  j["queues"]["client_send"] = send;
  {
    std::lock_guard<std::mutex> l(subs_mu_);
    j["queues"]["subscribers"] = {{"depth", subscribers_.size()},
                                  {"limit", c.max_subscribers},
                                  {"refused", subs_refused_},
                                  {"pruned", subs_pruned_},
                                  {"keys", {"max_subscribers"}}};
  }
  j["queues"]["replica_reads"] = QueueJson(readers_.Stats(), {});  // fixed: kReadQueueLimit
  j["queues"]["waiting_reads"] = QueueJson(waiters_.Stats(), {});
  return j;
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
