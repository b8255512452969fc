#include "board_link.h"

namespace bp::chassis {

bp::Status ShimError(fw_err_t code, const std::string& what) {
  std::string m = what + ": " + fw_strerror(code) + " (" + fw_last_error() + ")";
  switch (code) {
    case FW_ERR_NOT_FOUND:
      return bp::Status::NotFound(m);
    case FW_ERR_TIMEOUT:
      return bp::Status::Timeout(m);
    case FW_ERR_BOARD_DOWN:
    case FW_ERR_UNAVAILABLE:
      return bp::Status::Unavailable(m);
    default:
      return bp::Status::Internal(m);
  }
}

BoardLink::BoardLink(std::string endpoint, uint32_t timeout_ms)
    : endpoint_(std::move(endpoint)), timeout_ms_(timeout_ms) {}

BoardLink::~BoardLink() { Drop(); }

void BoardLink::Drop() {
  if (handle_) fw_close(handle_);
  handle_ = nullptr;
}

Result<fw_board_t*> BoardLink::Handle() {
  if (handle_) return handle_;
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = endpoint_.c_str();
  o.request_timeout_ms = timeout_ms_;
  o.connect_timeout_ms = timeout_ms_;
  o.lazy_connect = 1;  // a board that is down fails the call, not the open
  fw_err_t e = fw_open(&o, &handle_);
  if (e != FW_OK) {
    handle_ = nullptr;
    return ShimError(e, "open " + endpoint_);
  }
  return handle_;
}

Result<nlohmann::json> BoardLink::GetStatus() {
  auto h = Handle();
  if (!h.ok()) return h.status();
  char* out = nullptr;
  fw_err_t e = fw_status_json(*h, &out);
  if (e != FW_OK) {
    // A late reply to a timed-out request would confuse nothing (the shim
    // matches sequence numbers), but a fresh handle reconnects faster to a
    // restarted board.
    Drop();
    return ShimError(e, "status of " + endpoint_);
  }
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  fw_free(out);
  if (j.is_discarded()) return bp::Status::Internal("unreadable status from " + endpoint_);
  return j;
}

Result<nlohmann::json> BoardLink::Admin(const nlohmann::json& command) {
  auto h = Handle();
  if (!h.ok()) return h.status();
  char* out = nullptr;
  fw_err_t e = fw_admin(*h, command.dump().c_str(), &out);
  if (e != FW_OK) return ShimError(e, "admin " + command.dump() + " at " + endpoint_);
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  fw_free(out);
  return j;
}

Result<std::string> BoardLink::GetLocal(const std::string& key) {
  auto h = Handle();
  if (!h.ok()) return h.status();
  char* val = nullptr;
  size_t len = 0;
  fw_err_t e = fw_get(*h, key.data(), key.size(), FW_READ_LOCAL, &val, &len);
  if (e != FW_OK) return ShimError(e, "get " + key);
  std::string v(val, len);
  fw_free(val);
  return v;
}

}  // namespace bp::chassis
