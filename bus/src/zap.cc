// The ZAP handler of one ZeroMQ context (see bus/zap.h).
#include "bus/zap.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <zmq.hpp>

#include "bus/curve.h"

namespace bp::bus {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kZapVersion = "1.0";
// RFC 27 request: version, request id, domain, address, identity,
// mechanism, then the mechanism's credentials (CURVE: one 32-byte key).
constexpr size_t kVersionFrame = 0;
constexpr size_t kRequestIdFrame = 1;
constexpr size_t kDomainFrame = 2;
constexpr size_t kMechanismFrame = 5;
constexpr size_t kCredentialsFrame = 6;
// A request has 6 frames plus credentials; more is not a ZAP request.
constexpr size_t kMaxRequestFrames = 16;

}  // namespace

Result<std::unique_ptr<ZapAuthenticator>> ZapAuthenticator::Start(zmq::context_t& context) {
  std::unique_ptr<ZapAuthenticator> zap(new ZapAuthenticator());
  try {
    zap->socket_ = std::make_unique<zmq::socket_t>(context, zmq::socket_type::rep);
    zap->socket_->set(zmq::sockopt::linger, 0);
    zap->socket_->bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    if (e.num() == EADDRINUSE) {
      return Status::FailedPrecondition(
          "ZAP handler: this ZeroMQ context already has one (inproc://zeromq.zap.01 is bound); "
          "share that ZapAuthenticator instead of starting a second");
    }
    return Status::Unavailable(std::string("ZAP handler: cannot bind ") + kZapEndpoint + ": " +
                               e.what());
  }
  zap->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (zap->wake_fd_ < 0) return Status::Internal("ZAP handler: eventfd failed");
  ZapAuthenticator* self = zap.get();
  zap->thread_ = std::thread([self] { self->Serve(); });
  return zap;
}

ZapAuthenticator::~ZapAuthenticator() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void ZapAuthenticator::Stop() {
  if (stop_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void ZapAuthenticator::Serve() {
  zmq::pollitem_t items[] = {{socket_->handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
  while (!stop_.load(std::memory_order_acquire)) {
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(-1));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      break;  // ETERM: the context is going away
    }
    if (items[0].revents & ZMQ_POLLIN) ServeOne();
  }
  socket_->close();
}

// Reads one request (all its frames) and always answers it: a REP socket
// must reply before it can receive again.
void ZapAuthenticator::ServeOne() {
  std::vector<std::string> request;
  try {
    zmq::message_t part;
    do {
      if (!socket_->recv(part, zmq::recv_flags::dontwait)) return;
      if (request.size() < kMaxRequestFrames) request.push_back(part.to_string());
    } while (part.more());
  } catch (const zmq::error_t&) {
    return;
  }
  Decision d = Decide(request);
  std::string request_id = request.size() > kRequestIdFrame ? request[kRequestIdFrame] : "";
  const bool malformed = request.size() <= kMechanismFrame || request[kVersionFrame] != kZapVersion;
  const char* code = d.ok ? "200" : malformed ? "500" : "400";
  try {
    socket_->send(zmq::buffer(std::string_view(kZapVersion)), zmq::send_flags::sndmore);
    socket_->send(zmq::buffer(request_id), zmq::send_flags::sndmore);
    socket_->send(zmq::buffer(std::string_view(code)), zmq::send_flags::sndmore);
    socket_->send(zmq::buffer(d.ok ? std::string("OK") : d.reason), zmq::send_flags::sndmore);
    socket_->send(zmq::buffer(d.user_id), zmq::send_flags::sndmore);
    socket_->send(zmq::message_t(), zmq::send_flags::none);  // metadata: none
  } catch (const zmq::error_t&) {
    // The context is terminating; the handshake fails either way.
  }
}

ZapAuthenticator::Decision ZapAuthenticator::Decide(const std::vector<std::string>& request) {
  Decision d;
  RefusedKey refused;
  std::lock_guard lock(mu_);
  if (request.size() <= kMechanismFrame || request[kVersionFrame] != kZapVersion) {
    d.reason = "malformed ZAP request";
  } else {
    refused.domain = request[kDomainFrame];
    refused.mechanism = request[kMechanismFrame];
    auto domain = domains_.find(refused.domain);
    const bool curve_key = refused.mechanism == "CURVE" && request.size() > kCredentialsFrame &&
                           request[kCredentialsFrame].size() == kCurveKeyBytes;
    if (curve_key) refused.public_z85 = CurveKeyToZ85(request[kCredentialsFrame]);
    if (refused.mechanism != "CURVE") {
      d.reason = "mechanism " + refused.mechanism + " not allowed (CURVE only)";
    } else if (!curve_key) {
      d.reason = "CURVE request without a 32-byte client key";
    } else if (domain == domains_.end()) {
      d.reason = "unknown ZAP domain '" + refused.domain + "'";
    } else if (auto it = domain->second.user_by_key.find(request[kCredentialsFrame]);
               it == domain->second.user_by_key.end()) {
      d.reason = "unknown key";
    } else {
      d.ok = true;
      d.user_id = it->second;
    }
    if (domain != domains_.end()) ++(d.ok ? domain->second.accepted : domain->second.refused);
  }
  if (d.ok) {
    ++accepted_;
    return d;
  }
  ++refused_;
  refused.reason = d.reason;
  last_refused_.push_back(std::move(refused));
  if (last_refused_.size() > kRefusedKept) last_refused_.pop_front();
  return d;
}

Status ZapAuthenticator::SetDomain(const std::string& domain,
                                   const std::map<std::string, std::string>& keys) {
  if (keys.size() > kMaxKeysPerDomain) {
    return Status::TooLarge("ZAP domain '" + domain + "': " + std::to_string(keys.size()) +
                            " keys, more than " + std::to_string(kMaxKeysPerDomain));
  }
  std::map<std::string, std::string> table;
  for (const auto& [key, user] : keys) {
    Result<std::string> binary = CurveKeyAnyToBinary(key);
    if (!binary.ok()) return binary.status().WithContext("ZAP domain '" + domain + "'");
    if (user.empty()) {
      return Status::InvalidArgument("ZAP domain '" + domain + "': key " +
                                     CurveKeyToZ85(binary.value()) + " has an empty user id");
    }
    table[binary.value()] = user;
  }
  std::lock_guard lock(mu_);
  domains_[domain].user_by_key = std::move(table);
  return Status::Ok();
}

Status ZapAuthenticator::SetKey(const std::string& domain, const std::string& key,
                                const std::string& user_id) {
  Result<std::string> binary = CurveKeyAnyToBinary(key);
  if (!binary.ok()) return binary.status().WithContext("ZAP domain '" + domain + "'");
  if (user_id.empty()) {
    return Status::InvalidArgument("ZAP domain '" + domain + "': empty user id");
  }
  std::lock_guard lock(mu_);
  Domain& d = domains_[domain];
  if (d.user_by_key.size() >= kMaxKeysPerDomain && d.user_by_key.count(binary.value()) == 0) {
    return Status::TooLarge("ZAP domain '" + domain + "' is full (" +
                            std::to_string(kMaxKeysPerDomain) + " keys)");
  }
  d.user_by_key[binary.value()] = user_id;
  return Status::Ok();
}

void ZapAuthenticator::RemoveUser(const std::string& domain, const std::string& user_id) {
  std::lock_guard lock(mu_);
  auto d = domains_.find(domain);
  if (d == domains_.end()) return;
  std::erase_if(d->second.user_by_key, [&](const auto& kv) { return kv.second == user_id; });
}

ZapAuthenticator::Stats ZapAuthenticator::GetStats() const {
  std::lock_guard lock(mu_);
  Stats s;
  s.accepted = accepted_;
  s.refused = refused_;
  for (const auto& [name, d] : domains_) {
    s.domains.push_back({name, d.user_by_key.size(), d.accepted, d.refused});
  }
  s.last_refused.assign(last_refused_.begin(), last_refused_.end());
  return s;
}

}  // namespace bp::bus
