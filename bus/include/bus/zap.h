// ZapAuthenticator: the ZAP handler (ZeroMQ RFC 27) of one ZeroMQ context.
//
// libzmq asks the handler bound at inproc://zeromq.zap.01 of a socket's own
// context whether a peer completing a security handshake may connect. This
// class binds that endpoint (so: at most one per context) and answers on its
// own thread. Per ZAP domain it holds a table public key -> user id; it
// accepts (200, with the user id) only mechanism CURVE with a client key in
// the table of the socket's domain, and refuses (400) everything else: other
// mechanisms, unknown domains, unknown keys, malformed requests. The user id
// becomes the "User-Id" property of every message received on that
// connection (zmq_msg_gets), which is how the bus binds a connection to a slot.
//
// Every decision is counted, per domain, and the last kRefusedKept refused
// keys are kept (with their domain and reason) for status.
//
// Who calls it: the bus (one authenticator per bus context); the client
// endpoint may share it with its own domain. Threads: the serving thread is
// private; every public method may be called from any thread (tables and
// figures are under mu_). Stop (or the destructor) must run before the
// context is closed.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bp/status.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace bp::bus {

class ZapAuthenticator {
 public:
  static constexpr size_t kRefusedKept = 16;
  // Bound of one domain's table; SetDomain refuses a bigger one.
  static constexpr size_t kMaxKeysPerDomain = 4096;

  struct RefusedKey {
    std::string domain;
    std::string public_z85;  // empty when the mechanism carried no key
    std::string mechanism;   // "CURVE", "NULL", "PLAIN", ...
    std::string reason;      // "unknown key", "mechanism not allowed", ...
  };
  struct DomainStats {
    std::string domain;
    size_t keys = 0;
    uint64_t accepted = 0;
    uint64_t refused = 0;
  };
  struct Stats {
    uint64_t accepted = 0;
    uint64_t refused = 0;               // every refusal, any domain (also unknown ones)
    std::vector<DomainStats> domains;   // configured domains, by name
    std::vector<RefusedKey> last_refused;  // oldest first, at most kRefusedKept
  };

  // Binds inproc://zeromq.zap.01 in `context` and starts serving.
  // FailedPrecondition when the context already has a ZAP handler.
  static Result<std::unique_ptr<ZapAuthenticator>> Start(zmq::context_t& context);
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  // Stops the thread and closes the socket; later handshakes fail (libzmq
  // refuses CURVE peers while no handler answers). Idempotent.
  void Stop();

  // Replaces the whole table of `domain` (keys as Z85 or 32 raw bytes).
  // InvalidArgument names a bad key or an empty user id; nothing changes then.
  Status SetDomain(const std::string& domain, const std::map<std::string, std::string>& keys);
  // Adds or replaces one key of `domain` (creating the domain).
  Status SetKey(const std::string& domain, const std::string& key, const std::string& user_id);
  // Removes every key mapped to `user_id` in `domain` (a rotated slot's old key).
  void RemoveUser(const std::string& domain, const std::string& user_id);

  Stats GetStats() const;

 private:
  struct Domain {
    std::map<std::string, std::string> user_by_key;  // 32-byte key -> user id
    uint64_t accepted = 0;
    uint64_t refused = 0;
  };
  struct Decision {
    bool ok = false;
    std::string user_id;
    std::string reason;
  };

  ZapAuthenticator() = default;
  void Serve();
  void ServeOne();
  Decision Decide(const std::vector<std::string>& request);

  std::unique_ptr<zmq::socket_t> socket_;  // the serving thread's after Start
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable std::mutex mu_;
  std::map<std::string, Domain> domains_;  // guarded by mu_
  uint64_t accepted_ = 0;                  // guarded by mu_
  uint64_t refused_ = 0;                   // guarded by mu_
  std::deque<RefusedKey> last_refused_;    // guarded by mu_
};

}  // namespace bp::bus
