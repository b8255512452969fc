// The exported C functions: argument checks, handle lookup, and the
// exception guard. Everything else lives in fw_board and its helpers.
#include <sys/random.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "board.h"
#include "bp/clock.h"
#include "bp/request_id.h"
#include "errors.h"
#include "firmware_shim/fw_shim.h"
#include "registry.h"
#include "status_parse.h"

namespace {

using fw::Fail;
using fw::Guard;

// Looks the handle up and runs fn(board) under the exception guard.
template <typename Fn>
fw_err_t WithHandle(const char* what, fw_board_t* h, Fn&& fn) noexcept {
  return Guard(what, [&]() -> fw_err_t {
    fw_err_t err = FW_ERR_BAD_HANDLE;
    std::shared_ptr<fw_board> b = fw::FindHandle(h, &err);
    if (!b) return Fail(err, std::string(what) + ": " + fw::LastError());
    return fn(*b);
  });
}

// A malloc'd, NUL-terminated copy (the C side frees it with fw_free).
fw_err_t MallocCopy(const std::string& s, char** out, size_t* len) {
  char* p = static_cast<char*>(malloc(s.size() + 1));
  if (p == nullptr) return Fail(FW_ERR_NO_MEMORY, "out of memory copying the reply");
  memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  *out = p;
  if (len) *len = s.size();
  return FW_OK;
}

fw_err_t NewId(fw_request_id_t* id) {
  // getrandom, not a seeded PRNG: ids must stay unique across processes,
  // forks and restarts. The issue time in the id lets the master keep ids
  // for a bounded window only (bp/request_id.h).
  uint64_t buf[2] = {0, 0};
  if (getrandom(buf, sizeof buf, 0) != sizeof buf) {
    return Fail(FW_ERR_INTERNAL, std::string("getrandom failed: ") + strerror(errno));
  }
  const uint64_t wall_ms = uint64_t(bp::Clock::Real().WallMicros() / 1000);
  bp::MakeRequestId(wall_ms, buf[0], buf[1], &id->hi, &id->lo);
  return FW_OK;
}

fw_err_t DoWrite(const char* what, fw_board_t* h, const fw_request_id_t* given, const fw_op_t* ops,
                 size_t n, fw_write_result_t* result) {
  fw_write_result_t local{};
  fw_write_result_t* res = result ? result : &local;
  *res = fw_write_result_t{};
  return WithHandle(what, h, [&](fw_board& b) -> fw_err_t {
    fw_err_t e = b.CheckOps(ops, n);
    if (e != FW_OK) return Fail(e, std::string(what) + ": " + fw::LastError());
    fw_request_id_t id;
    if (given) {
      if (given->hi == 0 && given->lo == 0) {
        return Fail(FW_ERR_INVALID_ARG, std::string(what) +
                                            ": request id is zero; use the id of the write you "
                                            "retry, or fw_new_request_id");
      }
      id = *given;
    } else if ((e = NewId(&id)) != FW_OK) {
      return e;
    }
    res->request_id = id;
    return b.Write(ops, n, id, res);
  });
}

}  // namespace

extern "C" {

FW_EXPORT int fw_version(int* major, int* minor, int* patch) {
  if (major) *major = FW_SHIM_VERSION_MAJOR;
  if (minor) *minor = FW_SHIM_VERSION_MINOR;
  if (patch) *patch = FW_SHIM_VERSION_PATCH;
  return FW_SHIM_VERSION;
}

FW_EXPORT const char* fw_strerror(fw_err_t code) {
  switch (fw::RawEnum(code)) {
    case FW_OK:
      return "ok";
    case FW_ERR_INVALID_ARG:
      return "invalid argument";
    case FW_ERR_NOT_FOUND:
      return "key not found";
    case FW_ERR_TOO_LARGE:
      return "key, value or batch too large";
    case FW_ERR_UNAVAILABLE:
      return "service unavailable (no master or re-initialising); retry later";
    case FW_ERR_NOT_MASTER:
      return "this board is not the master";
    case FW_ERR_TIMEOUT:
      return "timed out; nothing was changed";
    case FW_ERR_UNKNOWN_OUTCOME:
      return "write outcome unknown: it may or may not be applied; retry with the same request id";
    case FW_ERR_NOT_DURABLE:
      return "write applied on the master but not durably replicated";
    case FW_ERR_CLOSED:
      return "handle is closed";
    case FW_ERR_BAD_HANDLE:
      return "not a valid handle";
    case FW_ERR_BOARD_DOWN:
      return "no board answering; is the board process running?";
    case FW_ERR_BUSY:
      return "board busy; retry";
    case FW_ERR_AGAIN:
      return "nothing pending";
    case FW_ERR_PROTOCOL:
      return "protocol error (shim and board versions differ?)";
    case FW_ERR_NO_MEMORY:
      return "out of memory";
    case FW_ERR_INTERNAL:
      return "internal error";
    case FW_ERR_ID_EXPIRED:
      return "request id too old to deduplicate: outcome of its first attempt unknown, not applied now";
    case FW_ERR_FULL:
      return "chassis data at its cache high-water mark: delete data or raise cache_mb";
  }
  return "unknown error code";
}

FW_EXPORT const char* fw_last_error(void) { return fw::LastError(); }

FW_EXPORT int fw_err_is_retryable(fw_err_t code) {
  switch (fw::RawEnum(code)) {
    case FW_ERR_UNAVAILABLE:
    case FW_ERR_NOT_MASTER:
    case FW_ERR_TIMEOUT:
    case FW_ERR_UNKNOWN_OUTCOME:
    case FW_ERR_BOARD_DOWN:
    case FW_ERR_BUSY:
      return 1;
    default:
      return 0;
  }
}

FW_EXPORT void fw_free(void* p) { free(p); }

FW_EXPORT void fw_options_init(fw_options_t* opts) {
  if (opts) fw::DefaultOptions(opts);
}

FW_EXPORT fw_err_t fw_open(const fw_options_t* opts, fw_board_t** out) {
  return Guard("fw_open", [&]() -> fw_err_t {
    if (out == nullptr) return Fail(FW_ERR_INVALID_ARG, "fw_open: out is NULL");
    *out = nullptr;
    fw::Options o;
    fw_err_t e = fw::ResolveOptions(opts, &o);
    if (e != FW_OK) return Fail(e, std::string("fw_open: ") + fw::LastError());
    auto b = std::make_shared<fw_board>(std::move(o));
    if ((e = b->Open()) != FW_OK) return e;
    fw_board* raw = b.get();
    fw::RegisterHandle(std::move(b));
    *out = raw;
    return fw::Succeed();
  });
}

FW_EXPORT fw_err_t fw_close(fw_board_t* h) {
  return Guard("fw_close", [&]() -> fw_err_t {
    fw_err_t err = FW_ERR_BAD_HANDLE;
    std::shared_ptr<fw_board> b = fw::FindHandle(h, &err);
    if (!b) return Fail(err, std::string("fw_close: ") + fw::LastError());
    if (b->OnEventThread()) {
      return Fail(FW_ERR_INVALID_ARG,
                  "fw_close: called from the event callback; close from another thread");
    }
    if (!fw::RemoveHandle(h, &err)) return err;  // another thread closed it just now
    b->Shutdown();
    return fw::Succeed();
  });
}

FW_EXPORT fw_err_t fw_get(fw_board_t* h, const char* key, size_t klen, fw_read_mode_t mode,
                          char** val, size_t* vlen) {
  return fw_get_ex(h, key, klen, mode, val, vlen, nullptr);
}

FW_EXPORT fw_err_t fw_get_ex(fw_board_t* h, const char* key, size_t klen, fw_read_mode_t mode,
                             char** val, size_t* vlen, fw_read_info_t* info) {
  if (info) *info = fw_read_info_t{};
  return WithHandle("fw_get", h, [&](fw_board& b) -> fw_err_t {
    if (val == nullptr) return Fail(FW_ERR_INVALID_ARG, "fw_get: val is NULL");
    *val = nullptr;
    if (vlen) *vlen = 0;
    fw_err_t e = b.CheckKey(key, klen);
    if (e != FW_OK) return Fail(e, std::string("fw_get: ") + fw::LastError());
    int m = fw::RawEnum(mode);
    if (m != FW_READ_LOCAL && m != FW_READ_YOUR_WRITES && m != FW_READ_LINEARIZABLE) {
      return Fail(FW_ERR_INVALID_ARG,
                  "fw_get: mode must be FW_READ_LOCAL, "
                  "FW_READ_YOUR_WRITES or FW_READ_LINEARIZABLE");
    }
    std::string value;
    if ((e = b.Get(std::string_view(key, klen), mode, &value, info)) != FW_OK) return e;
    return MallocCopy(value, val, vlen);
  });
}

FW_EXPORT fw_err_t fw_put(fw_board_t* h, const char* key, size_t klen, const char* val, size_t vlen,
                          fw_write_result_t* result) {
  fw_op_t op{FW_OP_PUT, key, klen, val, vlen};
  return DoWrite("fw_put", h, nullptr, &op, 1, result);
}

FW_EXPORT fw_err_t fw_delete(fw_board_t* h, const char* key, size_t klen,
                             fw_write_result_t* result) {
  fw_op_t op{FW_OP_DELETE, key, klen, nullptr, 0};
  return DoWrite("fw_delete", h, nullptr, &op, 1, result);
}

FW_EXPORT fw_err_t fw_batch(fw_board_t* h, const fw_op_t* ops, size_t n,
                            fw_write_result_t* result) {
  return DoWrite("fw_batch", h, nullptr, ops, n, result);
}

FW_EXPORT fw_err_t fw_batch_with_id(fw_board_t* h, const fw_request_id_t* id, const fw_op_t* ops,
                                    size_t n, fw_write_result_t* result) {
  if (id == nullptr) {
    if (result) *result = fw_write_result_t{};
    return Fail(FW_ERR_INVALID_ARG, "fw_batch_with_id: id is NULL");
  }
  return DoWrite("fw_batch_with_id", h, id, ops, n, result);
}

FW_EXPORT fw_err_t fw_new_request_id(fw_request_id_t* id) {
  return Guard("fw_new_request_id", [&]() -> fw_err_t {
    if (id == nullptr) return Fail(FW_ERR_INVALID_ARG, "fw_new_request_id: id is NULL");
    fw_err_t e = NewId(id);
    return e == FW_OK ? fw::Succeed() : e;
  });
}

FW_EXPORT fw_err_t fw_status(fw_board_t* h, fw_status_t* out) {
  return WithHandle("fw_status", h, [&](fw_board& b) -> fw_err_t {
    if (out == nullptr) return Fail(FW_ERR_INVALID_ARG, "fw_status: out is NULL");
    std::string json;
    fw_err_t e = b.StatusJson(&json);
    if (e != FW_OK) return e;
    return fw::ParseStatus(json, out) ? fw::Succeed() : FW_ERR_PROTOCOL;
  });
}

FW_EXPORT fw_err_t fw_status_json(fw_board_t* h, char** json) {
  return WithHandle("fw_status_json", h, [&](fw_board& b) -> fw_err_t {
    if (json == nullptr) return Fail(FW_ERR_INVALID_ARG, "fw_status_json: json is NULL");
    *json = nullptr;
    std::string s;
    fw_err_t e = b.StatusJson(&s);
    if (e != FW_OK) return e;
    return MallocCopy(s, json, nullptr);
  });
}

FW_EXPORT fw_err_t fw_admin(fw_board_t* h, const char* json_cmd, char** json_out) {
  return WithHandle("fw_admin", h, [&](fw_board& b) -> fw_err_t {
    if (json_out == nullptr) return Fail(FW_ERR_INVALID_ARG, "fw_admin: json_out is NULL");
    *json_out = nullptr;
    if (json_cmd == nullptr || json_cmd[0] == '\0') {
      return Fail(FW_ERR_INVALID_ARG, "fw_admin: command is empty; e.g. {\"cmd\":\"status\"}");
    }
    std::string s;
    fw_err_t e = b.Admin(json_cmd, &s);
    if (e != FW_OK) return e;
    return MallocCopy(s, json_out, nullptr);
  });
}

FW_EXPORT fw_err_t fw_subscribe(fw_board_t* h, fw_event_cb cb, void* arg, int* fd) {
  return WithHandle("fw_subscribe", h, [&](fw_board& b) -> fw_err_t {
    return b.Subscribe(cb, arg, fd);  // *fd untouched on failure: it may hold a live fd
  });
}

FW_EXPORT fw_err_t fw_next_event(fw_board_t* h, fw_event_t* out) {
  return WithHandle("fw_next_event", h, [&](fw_board& b) -> fw_err_t {
    if (out == nullptr) return Fail(FW_ERR_INVALID_ARG, "fw_next_event: out is NULL");
    return b.NextEvent(out);
  });
}

FW_EXPORT fw_err_t fw_unsubscribe(fw_board_t* h) {
  return WithHandle("fw_unsubscribe", h, [&](fw_board& b) { return b.Unsubscribe(); });
}

}  // extern "C"
