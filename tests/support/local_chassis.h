// LocalChassis: real board processes on this machine for integration tests
// and drills. Writes a chassis configuration with ipc:// endpoints in a fresh
// temporary directory, starts `board` processes (each in its own process
// group, with PR_SET_PDEATHSIG so none outlives the test), talks to them over
// their client endpoints, and kills and reaps every one in its destructor.
//
// Every wait is bounded (deadline) and polls a condition: no fixed sleeps.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "board/config.h"
#include "bp/status.h"
#include "raw_client.h"

namespace bp::testing {

struct ChassisOptions {
  int boards = 3;
  board::AckPolicy ack_policy = board::AckPolicy::kQuorum;
  // Edits the generated configuration before it is written (timeouts, priorities...).
  std::function<void(board::ChassisConfig&)> tweak;
  std::string board_exe;  // default: BP_BOARD_EXE
  // Client endpoints on tcp://127.0.0.1:<free port> instead of ipc://. With
  // security = "curve" the chassis' own client calls (client(), Status())
  // use a key pair it adds to client_public_keys (before `tweak`).
  bool tcp_client_endpoints = false;
  // The chassis' seed: each start of a board runs with its own --seed
  // derived from it and the slot's start count
  // (election jitter, request ids, loss emulation, backoff). 0 = BP_TEST_SEED
  // from the environment if set, else a fresh one. Printed at construction
  // so that a failing run's seed can be given back through BP_TEST_SEED.
  uint64_t seed = 0;
  // The network namespace each board runs in (a name under /run/netns, as
  // NetnsBackplane makes them); empty function or "" = this process' one.
  std::function<std::string(int slot)> netns;
};

class LocalChassis {
 public:
  explicit LocalChassis(ChassisOptions options = {});
  ~LocalChassis();  // SIGKILLs and reaps every board, removes the directory
  LocalChassis(const LocalChassis&) = delete;
  LocalChassis& operator=(const LocalChassis&) = delete;

  bp::Status StartAll();
  bp::Status Start(int slot);                 // a new, empty board process in `slot`
  // Starts `slot` with its own copy of the configuration, `edit` applied to
  // the chassis' one (a board whose settings differ from the others').
  bp::Status StartWithConfig(int slot, const std::function<void(board::ChassisConfig&)>& edit);
  void Kill(int slot, int sig = 9);       // sends `sig`; SIGKILL also reaps
  bool Stop(int slot, int timeout_ms = 5000);  // SIGTERM, wait for a clean exit
  // The wait status (waitpid) of the last Stop of `slot`, -1 if none.
  int ExitStatus(int slot) const;
  bool Running(int slot);
  pid_t pid(int slot) const;

  // The slot that every running board agrees is master (and which says so
  // itself), with every running board in sync, or -1 after `timeout_ms`.
  int WaitForMaster(int timeout_ms, int not_slot = -1);
  uint64_t seed() const { return seed_; }
  // Polls `pred` every few ms until true or the deadline.
  static bool WaitUntil(const std::function<bool()>& pred, int timeout_ms);

  // Client calls to one board (raw protocol, not the shim).
  RawClient& client(int slot);
  // The board's CURVE public key (its public_key), "" without one.
  std::string public_key(int slot) const;
  nlohmann::json Status(int slot);
  nlohmann::json Admin(int slot, const nlohmann::json& cmd);

  const board::ChassisConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }
  std::string config_path() const { return dir_ + "/chassis.toml"; }
  std::string log_path(int slot) const;
  std::string client_endpoint(int slot) const;
  std::string Logs(int slot) const;  // the board's stderr so far
  // Every key and value `slot` holds (a LOCAL scan; empty when it fails).
  std::map<std::string, std::string> Contents(int slot);
  // Waits until a LOCAL read of `key` at `slot` returns `value`.
  bool WaitForValue(int slot, const std::string& key, const std::string& value, int timeout_ms);
  // Replaces the configuration and rewrites chassis.toml (boards read it at
  // start, and their peers' keys on reload_keys / SIGHUP).
  void RewriteConfig(const board::ChassisConfig& config);

 private:
  void UseTcpClientEndpoints();
  ChassisOptions opts_;
  std::string dir_;
  uint64_t seed_ = 0;
  board::ChassisConfig config_;
  std::map<int, pid_t> pids_;
  std::map<int, int> starts_;
  std::map<int, int> exit_status_;
  std::map<int, std::unique_ptr<RawClient>> clients_;
  RawCurveKeys admin_keys_;  // tcp_client_endpoints: this chassis' own client key pair
  bp::Status StartWithPath(int slot, const std::string& config_path);
};

}  // namespace bp::testing
