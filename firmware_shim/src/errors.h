// Error reporting inside the shim: the thread's last error message, the
// mapping from the board's Status codes, and the guard that keeps every
// exception on this side of the C boundary.
#pragma once

#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "firmware_shim/fw_shim.h"

namespace fw {

// Records `message` as this thread's last error and returns `code`, so
// callers can write `return Fail(FW_ERR_X, "...")`.
fw_err_t Fail(fw_err_t code, std::string_view message);
// Clears the thread's last error (a successful call).
fw_err_t Succeed();
const char* LastError();

// The board's bp::Status::Code numbers (the `code` field of ClientReply).
enum BoardCode : int {
  kBoardOk = 0,
  kBoardNotFound = 1,
  kBoardInvalidArgument = 2,
  kBoardTooLarge = 3,
  kBoardBusy = 4,
  kBoardUnavailable = 5,
  kBoardNotMaster = 6,
  kBoardTimeout = 7,
  kBoardFailedPrecondition = 8,
  kBoardInternal = 9,
  kBoardExpired = 10,
  kBoardFull = 11,
};
// The fw_err_t for a board code as a read/status/admin answer (a board
// Timeout means "nothing happened in time", not an unknown write).
fw_err_t FromBoardCode(int code);
// True for the board codes a write is retried on.
bool IsRetryableBoardCode(int code);

// The integer a C caller stored in an enum-typed argument. C allows any int
// there, but in C++ loading an enum outside its declared range is undefined
// (UBSan flags it), so enums crossing the boundary are read as raw ints.
template <typename E>
int RawEnum(const E& e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

// Runs `fn` (returning fw_err_t) and turns any exception into an error code
// with a message: nothing may unwind into C callers.
template <typename Fn>
fw_err_t Guard(const char* what, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Fail(FW_ERR_NO_MEMORY, std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return Fail(FW_ERR_INTERNAL, std::string(what) + ": unexpected exception: " + e.what());
  } catch (...) {
    return Fail(FW_ERR_INTERNAL, std::string(what) + ": unexpected exception");
  }
}

}  // namespace fw
