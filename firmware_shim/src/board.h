// fw_board: one open handle. It owns a zmq context, the request channel
// (behind a mutex: calls on a handle serialize), the commit token of its
// last write, and an optional role-event subscription.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "channel.h"
#include "firmware_shim/fw_shim.h"

namespace zmq {
class context_t;
class socket_t;
}

namespace fw {

class Subscription;

// fw_options_t with the defaults applied and the endpoint owned.
struct Options {
  std::string endpoint;
  uint32_t request_timeout_ms = 2000;
  uint32_t connect_timeout_ms = 500;
  uint32_t write_retries = 8;
  uint32_t retry_backoff_ms = 4;  // a backplane fails over in milliseconds
  uint32_t max_key_bytes = 1024;
  uint32_t max_value_bytes = 1u << 20;
  bool lazy_connect = false;
  // CURVE keys (Z85), all empty: no CURVE. Checked by ResolveOptions.
  std::string server_public_key, client_public_key, client_secret_key;
};

// Sets the CURVE client options of `socket` when `opts` has keys.
void ApplyCurve(const Options& opts, zmq::socket_t& socket);

void DefaultOptions(fw_options_t* opts);
// Validates and copies; on error records the message and returns the code.
fw_err_t ResolveOptions(const fw_options_t* in, Options* out);

}  // namespace fw

struct fw_board {
 public:
  explicit fw_board(fw::Options options);
  ~fw_board();

  // Creates the context and channel; checks the board answers unless lazy.
  fw_err_t Open();
  // Stops the subscription and closes the sockets. Idempotent.
  void Shutdown();

  fw_err_t Get(std::string_view key, fw_read_mode_t mode, std::string* value,
               fw_read_info_t* info = nullptr);
  fw_err_t Write(const fw_op_t* ops, size_t n, fw_request_id_t id, fw_write_result_t* result);
  fw_err_t StatusJson(std::string* json);
  fw_err_t Admin(std::string_view cmd, std::string* json);

  fw_err_t Subscribe(fw_event_cb cb, void* arg, int* fd);
  fw_err_t Unsubscribe();
  fw_err_t NextEvent(fw_event_t* out);

  const fw::Options& options() const { return opts_; }
  // True on the subscription's event thread (inside the callback).
  bool OnEventThread();
  // Checks a key (and value) against the limits; records the error.
  fw_err_t CheckKey(const char* key, size_t klen) const;
  fw_err_t CheckOps(const fw_op_t* ops, size_t n) const;

 private:
  // One request/reply on the channel; `what` names the call in messages.
  fw_err_t Simple(const char* what, const std::string& request, uint64_t seq, fw::Reply* reply);
  fw_err_t WriteAttempt(const fw_op_t* ops, size_t n, fw_request_id_t id, uint64_t first_seq,
                        bool* maybe_applied, bool* retry, fw_write_result_t* result);
  fw_err_t NoBoard(const char* what) const;
  std::string Where(const char* what) const;

  const fw::Options opts_;
  std::atomic<bool> closed_{false};  // set first by Shutdown: no new work starts
  std::unique_ptr<zmq::context_t> ctx_;
  std::mutex mu_;  // guards everything below: one request at a time
  std::unique_ptr<fw::Channel> channel_;
  uint64_t next_seq_ = 1;
  std::string token_;  // commit token of this handle's last applied write
  std::mutex sub_mu_;  // guards sub_ (separate: fw_next_event must not wait on a write)
  std::unique_ptr<fw::Subscription> sub_;
};
