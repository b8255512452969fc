#include "errors.h"

#include <new>

namespace fw {
namespace {

// Per thread, so threads sharing a handle never read each other's message.
thread_local std::string t_last_error;

}  // namespace

fw_err_t Fail(fw_err_t code, std::string_view message) {
  try {
    t_last_error.assign(message);
  } catch (...) {
    t_last_error.clear();  // out of memory: the code alone must do
  }
  return code;
}

fw_err_t Succeed() {
  t_last_error.clear();
  return FW_OK;
}

const char* LastError() { return t_last_error.c_str(); }

fw_err_t FromBoardCode(int code) {
  switch (code) {
    case kBoardOk:
      return FW_OK;
    case kBoardNotFound:
      return FW_ERR_NOT_FOUND;
    case kBoardInvalidArgument:
      return FW_ERR_INVALID_ARG;
    case kBoardTooLarge:
      return FW_ERR_TOO_LARGE;
    case kBoardBusy:
      return FW_ERR_BUSY;
    case kBoardUnavailable:
      return FW_ERR_UNAVAILABLE;
    case kBoardNotMaster:
      return FW_ERR_NOT_MASTER;
    case kBoardTimeout:
      return FW_ERR_TIMEOUT;
    // "Not in a state for this call": retrying as is will not help.
    case kBoardFailedPrecondition:
      return FW_ERR_INVALID_ARG;
    case kBoardInternal:
      return FW_ERR_INTERNAL;
    case kBoardExpired:
      return FW_ERR_ID_EXPIRED;
    case kBoardFull:
      return FW_ERR_FULL;
    default:
      return FW_ERR_PROTOCOL;
  }
}

bool IsRetryableBoardCode(int code) {
  return code == kBoardBusy || code == kBoardUnavailable || code == kBoardNotMaster ||
         code == kBoardTimeout;
}

}  // namespace fw
