#include "board/client_server.h"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>
#include <zmq.hpp>

#include "board/client_security.h"
#include "bus/kv_op.h"
#include "bus/zap.h"
#include "board/decode.h"
#include "client_generated.h"

namespace bp::board {

struct ClientServer::Sockets {
  explicit Sockets(zmq::context_t& ctx) : router(ctx, zmq::socket_type::router) {}
  zmq::socket_t router;
  // tcp:// with CURVE: the router's handshake events (server thread).
  std::unique_ptr<zmq::socket_t> monitor;
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
  auto pairs = bus::EncodeKvPuts(fbb, kvs);
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
                                                          std::shared_ptr<zmq::context_t> context,
                                                          ClientCurveOptions curve) {
  if (!context) context = std::make_shared<zmq::context_t>(1);
  std::unique_ptr<ClientServer> s(new ClientServer(engine, std::move(context)));
  s->curve_ = std::move(curve);
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
    if (!IpcSocketPath(endpoint).empty()) return BindIpc(endpoint);
    if (endpoint.rfind("tcp://", 0) == 0) BP_RETURN_IF_ERROR(SecureTcp(endpoint));
    else security_ = {{"endpoint", endpoint}, {"transport", endpoint.substr(0, endpoint.find(':'))}};
    sockets_->router.bind(endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot bind client endpoint '" + endpoint + "': " + e.what() +
                                   " (is another board using it? is the directory there?)");
  }
  return Status::Ok();
}

// The socket file is created owner-only and only then given its group and
// mode: a connection the kernel accepted stays open after a later chmod, so
// binding under the usual umask (0755 or, with umask 0, 0777) and tightening
// afterwards would leave a window in which others could connect for good.
// libzmq binds an ipc:// endpoint in the calling thread, so a umask of 0077
// around the bind applies to the file. umask is process-wide: a file another
// board thread creates in these microseconds gets fewer group/other bits,
// never more, and keeps its owner bits (nothing becomes unusable).
Status ClientServer::BindIpc(const std::string& endpoint) {
  auto access = ResolveIpcSocketAccess(engine_->config(), endpoint);
  if (!access.ok()) return access.status();
  mode_t old = umask(0077);
  try {
    sockets_->router.bind(endpoint);
  } catch (...) {
    umask(old);
    throw;
  }
  umask(old);
  BP_RETURN_IF_ERROR(ApplyIpcSocketAccess(*access));
  security_ = {{"endpoint", endpoint},
               {"transport", "ipc"},
               {"curve", false},
               {"socket_file", access->path},
               {"socket_group", access->group},
               {"socket_mode", SocketModeString(access->mode)},
               {"keys", {"client_socket_group", "client_socket_mode"}}};
  return Status::Ok();
}

// ipc:// keeps relying on the file mode (BindIpc): it is local and
// group-restricted, and the kernel checks every connect. tcp:// is reachable
// from the network: with security = "curve" only client_public_keys complete
// the handshake; a refused one is counted by the ZAP handler (status).
Status ClientServer::SecureTcp(const std::string& endpoint) {
  const ChassisConfig& c = engine_->config();
  security_ = {{"endpoint", endpoint}, {"transport", "tcp"}, {"curve", curve_.curve}};
  if (!curve_.curve) {
    security_["warning"] = "security = \"none\": the tcp:// client endpoint accepts any client "
                           "that reaches it over the network";
    return Status::Ok();
  }
  auto zap = bus::ZapAuthenticator::Start(*ctx_);
  if (!zap.ok()) return zap.status().WithContext("client endpoint " + endpoint);
  zap_ = std::move(*zap);
  std::map<std::string, std::string> users;
  for (size_t i = 0; i < c.client_public_keys.size(); ++i) {
    users[c.client_public_keys[i]] = "client_public_keys[" + std::to_string(i) + "]";
  }
  BP_RETURN_IF_ERROR(zap_->SetDomain(kClientZapDomain, users));
  sockets_->router.set(zmq::sockopt::curve_server, 1);
  sockets_->router.set(zmq::sockopt::curve_secretkey, curve_.server_keys.secret_z85);
  sockets_->router.set(zmq::sockopt::zap_domain, kClientZapDomain);
  // ZAP sees only clients that speak CURVE; the monitor also counts those
  // that offer no key at all (a mechanism mismatch).
  const std::string mon = "inproc://bp-client-monitor-" + std::to_string(uintptr_t(this));
  if (zmq_socket_monitor(sockets_->router.handle(), mon.c_str(),
                         ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
    return Status::Internal(std::string("client endpoint: zmq_socket_monitor failed: ") +
                            zmq_strerror(zmq_errno()));
  }
  sockets_->monitor = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pair);
  sockets_->monitor->set(zmq::sockopt::linger, 0);
  sockets_->monitor->connect(mon);
  security_["server_public_key"] = curve_.server_keys.public_z85;
  security_["keys"] = {"client_public_keys"};
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
  if (sockets_ && sockets_->monitor) zmq_socket_monitor(sockets_->router.handle(), nullptr, 0);
  sockets_.reset();
  if (zap_) zap_->Stop();  // before the context closes (bus/zap.h)
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

// Server thread: counts one handshake event of the router's monitor.
void ClientServer::OnMonitorEvent() {
  zmq::message_t head, addr;
  if (!sockets_->monitor->recv(head, zmq::recv_flags::dontwait)) return;
  if (head.more()) (void)sockets_->monitor->recv(addr, zmq::recv_flags::none);
  if (head.size() < sizeof(uint16_t)) return;
  uint16_t event;
  std::memcpy(&event, head.data(), sizeof event);
  switch (event) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
      ++handshakes_ok_;
      return;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:  // ZAP: a key not in client_public_keys
      ++handshakes_refused_key_;
      return;
    default:  // no CURVE offered, a wrong server key, a broken or abandoned handshake
      ++handshakes_refused_other_;
      return;
  }
}

void ClientServer::Loop() {
  zmq::pollitem_t items[] = {{sockets_->router.handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, wake_fd_, ZMQ_POLLIN, 0},
                             {sockets_->monitor ? sockets_->monitor->handle() : nullptr, -1,
                              ZMQ_POLLIN, 0}};
  const int n_items = sockets_->monitor ? 3 : 2;
  while (!stop_.load()) {
    try {
      zmq::poll(items, n_items, std::chrono::milliseconds(100));
    } catch (const zmq::error_t&) {
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) DrainOutbox();
    if (n_items == 3 && (items[2].revents & ZMQ_POLLIN)) {
      for (int i = 0; i < 64; ++i) OnMonitorEvent();
    }
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
  ClientRequestCheck check = CheckClientRequest(data, size);
  if (check.malformed) ++malformed_;
  if (!check.req) {
    Enqueue(identity, Reply(check.seq, check.error));
    return;
  }
  const wire::ClientRequest* req = check.req;
  const uint64_t seq = check.seq;
  switch (req->op()) {
    case wire::ClientOp::Get:
      HandleGet(identity, seq, req);
      return;
    case wire::ClientOp::Write: {
      std::vector<memenv::BatchOp> ops = DecodeKvOps(req->ops());
      RequestId id{req->request_id_hi(), req->request_id_lo()};
      const auto begin = std::chrono::steady_clock::now();
      engine_->service().SubmitWrite(std::move(ops), id, [this, identity, seq, alive = alive_, begin,
                                                          latency = write_latency_](WriteResult r) {
        if (r.status.ok()) {
          latency->Record(std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - begin).count());
        }
        if (alive->load()) Enqueue(identity, Reply(seq, r.status, "", r.durable, r.token));
      });
      return;
    }
    case wire::ClientOp::Status:
      Enqueue(identity, Reply(seq, Status::Ok(), "", false, "", StatusJson().dump()));
      return;
    case wire::ClientOp::Admin: {
      nlohmann::json cmd = ParseAdminCommand(*req);
      if (cmd.is_discarded()) {
        Enqueue(identity, Reply(seq, Status::InvalidArgument("admin command is not valid JSON")));
        return;
      }
      nlohmann::json out = AdminCommandName(cmd) == "status" ? StatusJson() : engine_->Admin(cmd);
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
    auto r = engine_->service().Get(key, mode, token, timeout, &served);
    Enqueue(identity, r.ok() ? Reply(seq, Status::Ok(), r.value(), false, "", "", served)
                             : Reply(seq, r.status(), "", false, "", "", served));
  };
  if (may_wait) return Offload(waiters_, "waiting reads", identity, seq, std::move(serve));
  // A board that is not in sync refuses without touching Berkeley DB.
  if (!engine_->service().LocalReadsServable()) {
    Enqueue(identity, Reply(seq, engine_->service().NotInSync()));
    return;
  }
  // A replica may be thrown into internal init at any moment (and then a
  // read waits in Berkeley DB's lockout): its reads never run here.
  if (engine_->role() != Role::kMaster) return Offload(readers_, "replica reads", identity, seq, std::move(serve));
  serve();
}

void ClientServer::HandleScan(const std::string& identity, uint64_t seq, const wire::ClientRequest* req) {
  if (!engine_->service().LocalReadsServable()) {
    Enqueue(identity, Reply(seq, engine_->service().NotInSync()));
    return;
  }
  uint32_t limit = req->limit() ? req->limit() : 1000;
  auto scan = [this, identity, seq, start = Bytes(req->key()), end = Bytes(req->scan_end()), limit] {
    auto r = engine_->service().Scan(start, end, limit);
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
  j["client_security"] = SecurityJson();
  j["client_writes"] = {{"latency", write_latency_->Json()}};
  return j;
}

// The "client_security" part of status: how the endpoint is protected.
// Refusals are counted by the ZAP handler: unknown keys, and clients that
// offer no CURVE at all.
nlohmann::json ClientServer::SecurityJson() const {
  nlohmann::json j = security_;
  if (!zap_) return j;
  bus::ZapAuthenticator::Stats st = zap_->GetStats();
  j["authorized_keys"] = engine_->config().client_public_keys.size();
  // Clients that did not get in: a key not in client_public_keys (refused
  // by ZAP), no CURVE at all, or a broken handshake.
  j["refused"] = handshakes_refused_key_.load() + handshakes_refused_other_.load();
  j["zap"] = {{"accepted", st.accepted}, {"refused", st.refused}};
  nlohmann::json last = nlohmann::json::array();
  for (const auto& r : st.last_refused) {
    last.push_back({{"public_key", r.public_z85}, {"mechanism", r.mechanism}, {"reason", r.reason}});
  }
  j["last_refused"] = last;
  // The router's own view of every handshake (monitor events).
  j["handshakes"] = {{"succeeded", handshakes_ok_.load()},
                     {"refused_key", handshakes_refused_key_.load()},
                     {"refused_handshake", handshakes_refused_other_.load()}};
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
  // The presented role: an unconfirmed master is Unknown to firmware.
  Role r = engine_->role();
  if (std::string_view(engine_->PresentedRole()) == "unconfirmed") r = Role::kStarting;
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
