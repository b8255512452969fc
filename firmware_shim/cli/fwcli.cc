// fwcli: the firmware shim's API from a shell. Built only on fw_shim.h, so
// it doubles as a check that the public header is enough to use the shim
// (bus/curve.h only reads a CURVE key file, with its mode check).
//
//   fwcli --endpoint ipc:///run/bp/slot1.client get KEY [--mode local|ryw|linearizable]
//   fwcli -e ENDPOINT put KEY VALUE | delete KEY | batch FILE
//   fwcli -e ENDPOINT status [--json] | admin JSON | watch [--count N] [--seconds S]
//   fwcli -e tcp://HOST:PORT --server-key Z85 --client-key-file FILE ...  (CURVE)
//
// Exit status: 0 on success, 1 on an error (printed with its cause), 2 on
// bad usage.
#include <poll.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bus/curve.h"
#include "firmware_shim/fw_shim.h"

namespace {

volatile sig_atomic_t g_interrupted = 0;
void OnSigint(int) { g_interrupted = 1; }

int Report(fw_err_t e) {
  if (e == FW_OK) return 0;
  std::fprintf(stderr, "fwcli: error %d (%s): %s\n", int(e), fw_strerror(e), fw_last_error());
  return 1;
}

const char* RoleName(fw_role_t r) {
  return r == FW_ROLE_MASTER ? "master" : r == FW_ROLE_REPLICA ? "replica" : "unknown";
}

const char* EventName(int kind) {
  switch (kind) {
    case FW_EVENT_BECAME_REPLICA:
      return "became_replica";
    case FW_EVENT_BECAME_MASTER:
      return "became_master";
    case FW_EVENT_NEW_MASTER:
      return "new_master";
    case FW_EVENT_STARTUP_DONE:
      return "startup_done";
    case FW_EVENT_PERM_FAILED:
      return "perm_failed";
    case FW_EVENT_ELECTION_STARTED:
      return "election_started";
    case FW_EVENT_PEER_UP:
      return "peer_up";
    case FW_EVENT_PEER_DOWN:
      return "peer_down";
    case FW_EVENT_BOARD_LINK_DOWN:
      return "board_link_down";
    case FW_EVENT_BOARD_LINK_UP:
      return "board_link_up";
    default:
      return "event";
  }
}

int WriteOutcome(fw_err_t e, const fw_write_result_t& r) {
  if (e == FW_OK) {
    std::printf("ok\n");
    return 0;
  }
  if (e == FW_ERR_UNKNOWN_OUTCOME || e == FW_ERR_NOT_DURABLE) {
    std::fprintf(stderr, "fwcli: request id %016llx%016llx\n",
                 static_cast<unsigned long long>(r.request_id.hi),
                 static_cast<unsigned long long>(r.request_id.lo));
  }
  return Report(e);
}

int CmdGet(fw_board_t* h, const std::string& key, const std::string& mode_name) {
  fw_read_mode_t mode = mode_name == "ryw"            ? FW_READ_YOUR_WRITES
                        : mode_name == "linearizable" ? FW_READ_LINEARIZABLE
                                                      : FW_READ_LOCAL;
  char* val = nullptr;
  size_t vlen = 0;
  fw_err_t e = fw_get(h, key.data(), key.size(), mode, &val, &vlen);
  if (e != FW_OK) return Report(e);
  std::fwrite(val, 1, vlen, stdout);
  std::printf("\n");
  fw_free(val);
  return 0;
}

// Batch file: one op per line, "put KEY VALUE" (VALUE = rest of the line)
// or "delete KEY"; blank lines and lines starting with # are skipped.
int CmdBatch(fw_board_t* h, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "fwcli: cannot read batch file %s\n", path.c_str());
    return 1;
  }
  std::vector<std::string> keys, vals;
  std::vector<fw_op_kind_t> kinds;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string verb, key, val;
    ls >> verb >> key;
    std::getline(ls >> std::ws, val);
    if ((verb != "put" && verb != "delete") || key.empty()) {
      std::fprintf(stderr, "fwcli: %s:%d: expected 'put KEY VALUE' or 'delete KEY'\n", path.c_str(),
                   n);
      return 2;
    }
    kinds.push_back(verb == "put" ? FW_OP_PUT : FW_OP_DELETE);
    keys.push_back(key);
    vals.push_back(val);
  }
  std::vector<fw_op_t> ops(keys.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i] = fw_op_t{kinds[i], keys[i].data(), keys[i].size(), vals[i].data(), vals[i].size()};
  }
  fw_write_result_t r;
  return WriteOutcome(fw_batch(h, ops.data(), ops.size(), &r), r);
}

int CmdStatus(fw_board_t* h, bool json) {
  if (json) {
    char* s = nullptr;
    fw_err_t e = fw_status_json(h, &s);
    if (e != FW_OK) return Report(e);
    std::printf("%s\n", s);
    fw_free(s);
    return 0;
  }
  fw_status_t st;
  fw_err_t e = fw_status(h, &st);
  if (e != FW_OK) return Report(e);
  std::printf("slot %d  role %s  master %d  generation %u  in sync %s  reinit %s\n", st.slot,
              RoleName(st.role), st.master, st.generation, st.startup_complete ? "yes" : "no",
              st.reinit ? "yes" : "no");
  std::printf("peers %d (%d alive)", st.peers, st.peers_alive);
  if (st.max_lag_bytes >= 0)
    std::printf("  max lag %lld B", static_cast<long long>(st.max_lag_bytes));
  std::printf("\n");
  return 0;
}

int CmdAdmin(fw_board_t* h, const std::string& cmd) {
  char* out = nullptr;
  fw_err_t e = fw_admin(h, cmd.c_str(), &out);
  if (e != FW_OK) return Report(e);
  std::printf("%s\n", out);
  fw_free(out);
  return 0;
}

// Prints events until Ctrl-C, `count` events (0: no limit) or `seconds`.
int CmdWatch(fw_board_t* h, int count, double seconds) {
  int fd = -1;
  fw_err_t e = fw_subscribe(h, nullptr, nullptr, &fd);
  if (e != FW_OK) return Report(e);
  struct sigaction sa = {};
  sa.sa_handler = OnSigint;
  sigaction(SIGINT, &sa, nullptr);
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int seen = 0;
  while (!g_interrupted && (count == 0 || seen < count)) {
    if (seconds > 0 && std::chrono::steady_clock::now() >= end) break;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;  // timeout or EINTR: re-check the limits
    fw_event_t ev;
    while ((count == 0 || seen < count) && fw_next_event(h, &ev) == FW_OK) {
      std::printf("%s role=%s master=%d generation=%u\n", EventName(ev.kind), RoleName(ev.role),
                  ev.master, ev.generation);
      std::fflush(stdout);
      ++seen;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fwcli: talk to a board through the firmware shim"};
  app.require_subcommand(1);
  std::string endpoint, key, value, mode = "local", file, json_cmd;
  uint32_t timeout_ms = 0;
  bool status_json = false;
  int count = 0;
  double seconds = 0;
  app.add_option("--endpoint,-e", endpoint, "the board's client endpoint (ipc://...)")
      ->required()
      ->envname("FW_ENDPOINT");
  app.add_option("--timeout-ms", timeout_ms, "request timeout (default: the shim's)");
  std::string server_key, client_key_file;
  app.add_option("--server-key", server_key,
                 "CURVE: the board's public key (its public_key in chassis.toml)")
      ->envname("FW_SERVER_KEY");
  app.add_option("--client-key-file", client_key_file,
                 "CURVE: this client's key file (mode 0600; its public key listed in "
                 "client_public_keys)")
      ->envname("FW_CLIENT_KEY_FILE");
  auto* get = app.add_subcommand("get", "read a key");
  get->add_option("KEY", key)->required();
  get->add_option("--mode", mode, "local|ryw|linearizable")
      ->check(CLI::IsMember({"local", "ryw", "linearizable"}));
  auto* put = app.add_subcommand("put", "write a key");
  put->add_option("KEY", key)->required();
  put->add_option("VALUE", value)->required();
  auto* del = app.add_subcommand("delete", "delete a key");
  del->add_option("KEY", key)->required();
  auto* batch = app.add_subcommand("batch", "apply a file of 'put K V' / 'delete K' atomically");
  batch->add_option("FILE", file)->required();
  auto* status = app.add_subcommand("status", "the board's role and replication state");
  status->add_flag("--json", status_json, "the full status document");
  auto* watch = app.add_subcommand("watch", "print role events");
  watch->add_option("--count", count, "stop after N events");
  watch->add_option("--seconds", seconds, "stop after S seconds");
  auto* admin = app.add_subcommand("admin", "run an admin command, e.g. '{\"cmd\":\"heal\"}'");
  admin->add_option("JSON", json_cmd)->required();
  CLI11_PARSE(app, argc, argv);

  fw_options_t opts;
  fw_options_init(&opts);
  opts.endpoint = endpoint.c_str();
  if (timeout_ms) opts.request_timeout_ms = timeout_ms;
  bp::bus::CurveKeyPair client_keys;
  if (!client_key_file.empty()) {
    auto read = bp::bus::ReadSecretKeyFile(client_key_file);
    if (!read.ok()) {
      std::fprintf(stderr, "fwcli: --client-key-file: %s\n", read.status().message().c_str());
      return 2;
    }
    client_keys = *read;
    opts.client_public_key = client_keys.public_z85.c_str();
    opts.client_secret_key = client_keys.secret_z85.c_str();
  }
  if (!server_key.empty()) opts.server_public_key = server_key.c_str();
  fw_board_t* h = nullptr;
  fw_err_t e = fw_open(&opts, &h);
  if (e != FW_OK) return Report(e);
  int rc = 0;
  fw_write_result_t r;
  if (get->parsed()) rc = CmdGet(h, key, mode);
  if (put->parsed()) {
    rc = WriteOutcome(fw_put(h, key.data(), key.size(), value.data(), value.size(), &r), r);
  }
  if (del->parsed()) rc = WriteOutcome(fw_delete(h, key.data(), key.size(), &r), r);
  if (batch->parsed()) rc = CmdBatch(h, file);
  if (status->parsed()) rc = CmdStatus(h, status_json);
  if (admin->parsed()) rc = CmdAdmin(h, json_cmd);
  if (watch->parsed()) rc = CmdWatch(h, count, seconds);
  fw_close(h);
  return rc;
}
