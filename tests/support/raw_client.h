// RawClient: the board's client protocol (bus/schema/client.fbs) spoken
// directly, without the firmware shim: tests of the board use it so they do
// not depend on the shim, and the shim's own tests compare against it.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bp/status.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace bp::testing {

struct RawWrite {
  Status status;
  bool durable = false;
  std::string token;
};

// CURVE client keys (Z85) for a tcp:// client endpoint of a curve chassis;
// all empty: no CURVE.
struct RawCurveKeys {
  std::string server_public, client_public, client_secret;
};

class RawClient {
 public:
  explicit RawClient(std::string endpoint, RawCurveKeys curve = {});
  ~RawClient();

  // A fresh request id (bp/request_id.h: issue time + random bits).
  static void NewRequestId(uint64_t* hi, uint64_t* lo);

  Result<std::string> Get(const std::string& key, int mode = 0, const std::string& token = "",
                          int timeout_ms = 2000);
  // A put (or a delete when `value` is null) with a fresh or given request id.
  RawWrite Put(const std::string& key, const std::string& value, uint64_t id_hi = 0,
               uint64_t id_lo = 0, int timeout_ms = 3000);
  RawWrite Delete(const std::string& key, int timeout_ms = 3000);
  RawWrite Batch(const std::vector<std::pair<std::string, std::string>>& puts, int timeout_ms = 3000);
  // Every pair with key in [start, end) ("" end: to the last key), up to `limit`.
  Result<std::vector<std::pair<std::string, std::string>>> Scan(const std::string& start = "",
                                                                const std::string& end = "",
                                                                uint32_t limit = 1000000,
                                                                int timeout_ms = 5000);
  Result<nlohmann::json> Status(int timeout_ms = 2000);
  Result<nlohmann::json> Admin(const nlohmann::json& cmd, int timeout_ms = 2000);
  // Sends raw bytes as one request frame; returns the raw reply.
  Result<std::string> SendRaw(const std::string& bytes, int timeout_ms = 2000);

 private:
  struct Reply;
  Result<Reply> Call(const std::string& frame, uint64_t seq, int timeout_ms);
  void Reconnect();
  std::string endpoint_;
  RawCurveKeys curve_;
  std::unique_ptr<zmq::context_t> ctx_;
  std::unique_ptr<zmq::socket_t> sock_;
  uint64_t seq_ = 0;
};

}  // namespace bp::testing
