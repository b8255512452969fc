// Status and Result<T>: the one error model inside the product.
//
// A Status is OK (cheap: no allocation) or a code plus a message that names
// the cause and, where there is one, the fix. Foreign error models (Berkeley
// DB return codes, zmq::error_t, TOML parse errors) are translated into
// Status at exactly one place per library (memenv/src/db_error.cc, bus/...).
//
// Retry semantics per code (callers rely on these):
//   kNotFound          the key/object does not exist. Not an error to retry.
//   kInvalidArgument   the request itself is wrong (bad key, bad config). Never retry.
//   kTooLarge          a value/batch exceeds a configured limit. Never retry as is.
//   kBusy              transient contention (deadlock retries exhausted). Retry.
//   kUnavailable       no master / lockout / lease lost / board re-initialising. Retry later.
//   kNotMaster         this board cannot take the write; forward or retry at the master.
//   kTimeout           no answer in time; the outcome may be unknown (check by request id).
//   kFailedPrecondition the system is not in a state for this call (closed handle...).
//   kInternal          a bug or an environment panic. Do not retry on this board.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace bp {

class [[nodiscard]] Status {
 public:
  enum class Code : int {
    kOk = 0,
    kNotFound = 1,
    kInvalidArgument = 2,
    kTooLarge = 3,
    kBusy = 4,
    kUnavailable = 5,
    kNotMaster = 6,
    kTimeout = 7,
    kFailedPrecondition = 8,
    kInternal = 9,
    // A write's request id is too old to deduplicate: its outcome is unknown
    // and it was not applied again (board/include/board/request_ids.h).
    kExpired = 10,
    // The chassis' data reached the cache high-water mark: writes that grow
    // it are refused until data is deleted (memory admission).
    kFull = 11,
  };

  Status() noexcept = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string_view m) { return Status(Code::kNotFound, m); }
  static Status InvalidArgument(std::string_view m) { return Status(Code::kInvalidArgument, m); }
  static Status TooLarge(std::string_view m) { return Status(Code::kTooLarge, m); }
  static Status Busy(std::string_view m) { return Status(Code::kBusy, m); }
  static Status Unavailable(std::string_view m) { return Status(Code::kUnavailable, m); }
  static Status NotMaster(std::string_view m) { return Status(Code::kNotMaster, m); }
  static Status Timeout(std::string_view m) { return Status(Code::kTimeout, m); }
  static Status FailedPrecondition(std::string_view m) { return Status(Code::kFailedPrecondition, m); }
  static Status Internal(std::string_view m) { return Status(Code::kInternal, m); }
  static Status Expired(std::string_view m) { return Status(Code::kExpired, m); }
  static Status Full(std::string_view m) { return Status(Code::kFull, m); }

  Status(Code code, std::string_view message)
      : code_(code), message_(code == Code::kOk ? nullptr : std::make_shared<std::string>(message)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsRetryable() const {
    return code_ == Code::kBusy || code_ == Code::kUnavailable || code_ == Code::kNotMaster ||
           code_ == Code::kTimeout;
  }
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }
  std::string ToString() const {
    return ok() ? std::string("OK") : std::string(CodeName(code_)) + ": " + message();
  }
  // Returns a copy with "context: " put before the message.
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(code_, std::string(context) + ": " + message());
  }

  static const char* CodeName(Code c) {
    switch (c) {
      case Code::kOk: return "OK";
      case Code::kNotFound: return "NotFound";
      case Code::kInvalidArgument: return "InvalidArgument";
      case Code::kTooLarge: return "TooLarge";
      case Code::kBusy: return "Busy";
      case Code::kUnavailable: return "Unavailable";
      case Code::kNotMaster: return "NotMaster";
      case Code::kTimeout: return "Timeout";
      case Code::kFailedPrecondition: return "FailedPrecondition";
      case Code::kInternal: return "Internal";
      case Code::kExpired: return "Expired";
      case Code::kFull: return "Full";
    }
    return "Unknown";
  }

 private:
  Code code_ = Code::kOk;
  std::shared_ptr<const std::string> message_;  // shared: Status copies stay cheap
};

// Result<T>: a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}    // NOLINT: implicit by design
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace bp

// Propagates a non-OK Status to the caller.
#define BP_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::bp::Status bp_status_ = (expr);     \
    if (!bp_status_.ok()) return bp_status_; \
  } while (0)
