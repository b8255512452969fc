#include "board.h"

#include <cstddef>
#include <cstring>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "errors.h"
#include "subscription.h"

// The ABI of fw_options_t (header: "Structs are only extended within their
// reserved space"): 1.3's CURVE keys sit where reserved_u32[7] was.
#if UINTPTR_MAX == 0xffffffffffffffffu
static_assert(sizeof(fw_options_t) == 64, "fw_options_t changed size (ABI break)");
static_assert(offsetof(fw_options_t, request_timeout_ms) == 8 &&
              offsetof(fw_options_t, lazy_connect) == 32, "fw_options_t 1.2 fields moved");
static_assert(offsetof(fw_options_t, reserved_u32) == 36 &&
              offsetof(fw_options_t, server_public_key) == 40 &&
              offsetof(fw_options_t, client_public_key) == 48 &&
              offsetof(fw_options_t, client_secret_key) == 56, "fw_options_t 1.3 fields moved");
#else
static_assert(sizeof(fw_options_t) == 4 + 7 * 4 + 7 * 4, "fw_options_t changed size (ABI break)");
#endif

namespace fw {
namespace {

// One optional CURVE key field: NULL -> empty; otherwise 40 Z85 characters.
fw_err_t ReadKey(const char* field, const char* in, std::string* out) {
  if (in == nullptr) return FW_OK;
  std::string key(in, strnlen(in, 41));
  uint8_t raw[32];
  if (key.size() != 40 || zmq_z85_decode(raw, key.c_str()) == nullptr) {
    return Fail(FW_ERR_INVALID_ARG, std::string("options.") + field +
                                        " is not a Z85 CURVE key (40 characters of the Z85 "
                                        "alphabet); copy it from chassis.toml or the key file");
  }
  *out = std::move(key);
  return FW_OK;
}

fw_err_t ResolveCurve(const fw_options_t* in, Options* out) {
  fw_err_t e;
  if ((e = ReadKey("server_public_key", in->server_public_key, &out->server_public_key)) ||
      (e = ReadKey("client_public_key", in->client_public_key, &out->client_public_key)) ||
      (e = ReadKey("client_secret_key", in->client_secret_key, &out->client_secret_key))) {
    return e;
  }
  if (out->server_public_key.empty()) {
    if (out->client_public_key.empty() && out->client_secret_key.empty()) return FW_OK;
    return Fail(FW_ERR_INVALID_ARG,
                "options.server_public_key is NULL but a client key is set: give the board's "
                "public_key (chassis.toml) too, or no CURVE key at all");
  }
  if (out->client_secret_key.empty()) {
    return Fail(FW_ERR_INVALID_ARG,
                "options.client_secret_key is NULL: CURVE needs the client's key pair (its "
                "public key listed in client_public_keys of chassis.toml)");
  }
  char derived[41];
  if (zmq_curve_public(derived, out->client_secret_key.c_str()) != 0) {
    return Fail(FW_ERR_INVALID_ARG, "options.client_secret_key: this libzmq has no CURVE support");
  }
  if (out->client_public_key.empty()) {
    out->client_public_key = derived;
  } else if (out->client_public_key != derived) {
    return Fail(FW_ERR_INVALID_ARG,
                "options.client_public_key does not belong to options.client_secret_key; give "
                "the pair from one key file (or NULL to derive it)");
  }
  return FW_OK;
}

}  // namespace

void ApplyCurve(const Options& opts, zmq::socket_t& socket) {
  if (opts.server_public_key.empty()) return;
  socket.set(zmq::sockopt::curve_serverkey, opts.server_public_key);
  socket.set(zmq::sockopt::curve_publickey, opts.client_public_key);
  socket.set(zmq::sockopt::curve_secretkey, opts.client_secret_key);
}

void DefaultOptions(fw_options_t* opts) {
  *opts = fw_options_t{};
  Options d;
  opts->request_timeout_ms = d.request_timeout_ms;
  opts->connect_timeout_ms = d.connect_timeout_ms;
  opts->write_retries = d.write_retries;
  opts->retry_backoff_ms = d.retry_backoff_ms;
  opts->max_key_bytes = d.max_key_bytes;
  opts->max_value_bytes = d.max_value_bytes;
}

fw_err_t ResolveOptions(const fw_options_t* in, Options* out) {
  if (in == nullptr)
    return Fail(FW_ERR_INVALID_ARG, "options are NULL: fill them with fw_options_init");
  if (in->endpoint == nullptr || in->endpoint[0] == '\0') {
    return Fail(FW_ERR_INVALID_ARG,
                "options.endpoint is empty: give the board's client endpoint "
                "(client_endpoint of its slot in chassis.toml, e.g. ipc:///run/bp/slot1.client)");
  }
  out->endpoint = in->endpoint;
  // Zero means "default", so a zero-initialised struct is usable.
  auto pick = [](uint32_t v, uint32_t d) { return v ? v : d; };
  out->request_timeout_ms = pick(in->request_timeout_ms, out->request_timeout_ms);
  out->connect_timeout_ms = pick(in->connect_timeout_ms, out->connect_timeout_ms);
  out->write_retries = in->write_retries;
  out->retry_backoff_ms = pick(in->retry_backoff_ms, out->retry_backoff_ms);
  out->max_key_bytes = pick(in->max_key_bytes, out->max_key_bytes);
  out->max_value_bytes = pick(in->max_value_bytes, out->max_value_bytes);
  out->lazy_connect = in->lazy_connect != 0;
  return ResolveCurve(in, out);
}

}  // namespace fw

fw_board::fw_board(fw::Options options) : opts_(std::move(options)) {}

fw_board::~fw_board() { Shutdown(); }

fw_err_t fw_board::Open() {
  ctx_ = std::make_unique<zmq::context_t>(1);
  try {
    channel_ = std::make_unique<fw::Channel>(*ctx_, opts_);
  } catch (const zmq::error_t& e) {
    return fw::Fail(FW_ERR_INVALID_ARG, "cannot connect to endpoint '" + opts_.endpoint + "': " +
                                            e.what() + " (use ipc://PATH or tcp://HOST:PORT)");
  }
  if (opts_.lazy_connect) return FW_OK;
  std::string json;
  return StatusJson(&json);  // proves a board answers
}

void fw_board::Shutdown() {
  closed_ = true;
  std::unique_ptr<fw::Subscription> sub;
  {
    std::lock_guard<std::mutex> l(sub_mu_);
    sub = std::move(sub_);
  }
  sub.reset();  // joins the event thread; its callback may still take sub_mu_
  std::lock_guard<std::mutex> l(mu_);  // waits for a call in flight
  channel_.reset();
  ctx_.reset();  // every socket of the context is closed by now
}

std::string fw_board::Where(const char* what) const {
  return std::string(what) + " at " + opts_.endpoint + ": ";
}

fw_err_t fw_board::NoBoard(const char* what) const {
  return fw::Fail(FW_ERR_BOARD_DOWN,
                  Where(what) + "no board answering (not connected within " +
                      std::to_string(opts_.connect_timeout_ms) +
                      " ms); is the board process running? (check the endpoint against "
                      "client_endpoint in chassis.toml)");
}

fw_err_t fw_board::CheckKey(const char* key, size_t klen) const {
  if (key == nullptr) return fw::Fail(FW_ERR_INVALID_ARG, "key is NULL");
  if (klen == 0) return fw::Fail(FW_ERR_INVALID_ARG, "empty key: keys must be 1 byte or more");
  if (klen > opts_.max_key_bytes) {
    return fw::Fail(FW_ERR_TOO_LARGE,
                    "key of " + std::to_string(klen) + " bytes exceeds max_key_bytes = " +
                        std::to_string(opts_.max_key_bytes) + "; shorten the key");
  }
  return FW_OK;
}

fw_err_t fw_board::CheckOps(const fw_op_t* ops, size_t n) const {
  if (ops == nullptr) return fw::Fail(FW_ERR_INVALID_ARG, "ops is NULL");
  if (n == 0) return fw::Fail(FW_ERR_INVALID_ARG, "empty batch: give at least one op");
  for (size_t i = 0; i < n; ++i) {
    const fw_op_t& op = ops[i];
    int kind = fw::RawEnum(op.kind);
    if (kind != FW_OP_PUT && kind != FW_OP_DELETE) {
      return fw::Fail(FW_ERR_INVALID_ARG,
                      "op " + std::to_string(i) + ": kind must be FW_OP_PUT or FW_OP_DELETE");
    }
    fw_err_t e = CheckKey(op.key, op.klen);
    if (e != FW_OK) return fw::Fail(e, "op " + std::to_string(i) + ": " + fw::LastError());
    if (kind == FW_OP_PUT && op.val == nullptr && op.vlen > 0) {
      return fw::Fail(FW_ERR_INVALID_ARG, "op " + std::to_string(i) + ": value is NULL");
    }
    if (kind == FW_OP_PUT && op.vlen > opts_.max_value_bytes) {
      return fw::Fail(FW_ERR_TOO_LARGE,
                      "op " + std::to_string(i) + ": value of " + std::to_string(op.vlen) +
                          " bytes exceeds max_value_bytes = " +
                          std::to_string(opts_.max_value_bytes) + "; split the value");
    }
  }
  return FW_OK;
}

// Sends one request and maps the transport outcome; the caller maps the
// board's code. Requires mu_.
fw_err_t fw_board::Simple(const char* what, const std::string& request, uint64_t seq,
                          fw::Reply* reply) {
  fw::CallResult r = channel_->Call(request, seq, opts_.request_timeout_ms);
  switch (r.kind) {
    case fw::CallResult::Kind::kNotSent:
      return NoBoard(what);
    case fw::CallResult::Kind::kNoReply:
      return fw::Fail(FW_ERR_TIMEOUT, Where(what) + "no reply within " +
                                          std::to_string(opts_.request_timeout_ms) +
                                          " ms (board overloaded or stopped?); retry");
    case fw::CallResult::Kind::kBadFrame:
      return fw::Fail(FW_ERR_PROTOCOL, Where(what) +
                                           "the board sent a frame this shim cannot read; "
                                           "are the shim and the board the same version?");
    case fw::CallResult::Kind::kReply:
      break;
  }
  *reply = std::move(r.reply);
  if (reply->code == fw::kBoardOk) return FW_OK;
  return fw::Fail(fw::FromBoardCode(reply->code), Where(what) + reply->message);
}

fw_err_t fw_board::Get(std::string_view key, fw_read_mode_t mode, std::string* value,
                       fw_read_info_t* info) {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return fw::Fail(FW_ERR_CLOSED, "handle is closing");
  uint64_t seq = next_seq_++;
  // The board's own wait (read-your-writes) ends before ours, so a slow
  // apply comes back as the board's explanation rather than our timeout.
  uint32_t board_wait_ms = opts_.request_timeout_ms * 3 / 4;
  std::string_view token = mode == FW_READ_YOUR_WRITES ? std::string_view(token_) : "";
  fw::Reply reply;
  fw_err_t e = Simple("get", fw::EncodeGet(seq, key, mode, token, board_wait_ms), seq, &reply);
  if (info && (e == FW_OK || e == FW_ERR_NOT_FOUND)) {
    info->served_by = reply.served_by;
    info->served_gen = reply.served_gen;
    info->served_mono_us = int64_t(reply.served_us);
  }
  if (e != FW_OK) return e;
  *value = std::move(reply.value);
  return fw::Succeed();
}

fw_err_t fw_board::StatusJson(std::string* json) {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return fw::Fail(FW_ERR_CLOSED, "handle is closing");
  uint64_t seq = next_seq_++;
  fw::Reply reply;
  fw_err_t e = Simple("status", fw::EncodeStatus(seq), seq, &reply);
  if (e != FW_OK) return e;
  *json = std::move(reply.status_json);
  return fw::Succeed();
}

fw_err_t fw_board::Admin(std::string_view cmd, std::string* json) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return fw::Fail(FW_ERR_CLOSED, "handle is closing");
    uint64_t seq = next_seq_++;
    fw::Reply reply;
    fw_err_t e = Simple("admin", fw::EncodeAdmin(seq, cmd), seq, &reply);
    if (e != FW_OK) return e;
    *json = std::move(reply.status_json);
  }
  // The board answers a rejected command with {"ok":false,"error":...}.
  nlohmann::json j = nlohmann::json::parse(*json, nullptr, false);
  if (j.is_object() && j.contains("ok") && j["ok"] == false) {
    std::string why = j.value("error", std::string("rejected"));
    return fw::Fail(FW_ERR_INVALID_ARG, Where("admin") + why);
  }
  return fw::Succeed();
}

fw_err_t fw_board::Subscribe(fw_event_cb cb, void* arg, int* fd) {
  std::lock_guard<std::mutex> l(sub_mu_);
  if (closed_) return fw::Fail(FW_ERR_CLOSED, "handle is closing");
  if (sub_) {
    return fw::Fail(FW_ERR_INVALID_ARG,
                    "this handle is already subscribed; fw_unsubscribe first or use its fd");
  }
  std::unique_ptr<fw::Subscription> s;
  fw_err_t e = fw::Subscription::Start(*ctx_, opts_, cb, arg, &s);
  if (e != FW_OK) return e;
  if (fd) *fd = s->fd();
  sub_ = std::move(s);
  return fw::Succeed();
}

fw_err_t fw_board::Unsubscribe() {
  std::unique_ptr<fw::Subscription> s;
  {
    std::lock_guard<std::mutex> l(sub_mu_);
    if (!sub_) return fw::Fail(FW_ERR_INVALID_ARG, "this handle has no subscription");
    if (sub_->OnEventThread()) {
      return fw::Fail(FW_ERR_INVALID_ARG,
                      "fw_unsubscribe/fw_close called from the event callback; call it from "
                      "another thread");
    }
    s = std::move(sub_);
  }
  s.reset();  // joins the event thread outside sub_mu_
  return fw::Succeed();
}

bool fw_board::OnEventThread() {
  std::lock_guard<std::mutex> l(sub_mu_);
  return sub_ && sub_->OnEventThread();
}

fw_err_t fw_board::NextEvent(fw_event_t* out) {
  std::lock_guard<std::mutex> l(sub_mu_);
  if (!sub_) return fw::Fail(FW_ERR_INVALID_ARG, "no subscription: call fw_subscribe first");
  if (!sub_->Next(out)) return fw::Fail(FW_ERR_AGAIN, "no event pending");
  return fw::Succeed();
}
