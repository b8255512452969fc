// BoardLink: the tool's connection to one board's client endpoint, through
// the firmware shim (the same path firmware takes), for status, admin
// commands and verification reads. Opened lazily, so a board that is down
// or restarting is an error on each call rather than on construction.
// Not thread-safe: one link per thread.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "bp/status.h"
#include "firmware_shim/fw_shim.h"

namespace bp::chassis {

class BoardLink {
 public:
  BoardLink(std::string endpoint, uint32_t timeout_ms);
  ~BoardLink();
  BoardLink(const BoardLink&) = delete;
  BoardLink& operator=(const BoardLink&) = delete;

  // The board's status document.
  Result<nlohmann::json> GetStatus();
  // An admin command; the board's answer (error if it said ok:false).
  Result<nlohmann::json> Admin(const nlohmann::json& command);
  // A LOCAL read: the value, NotFound, or another error.
  Result<std::string> GetLocal(const std::string& key);

 private:
  Result<fw_board_t*> Handle();
  void Drop();
  std::string endpoint_;
  uint32_t timeout_ms_;
  fw_board_t* handle_ = nullptr;
};

// fw_err_t + fw_last_error as a Status (for messages).
bp::Status ShimError(fw_err_t code, const std::string& what);

}  // namespace bp::chassis
