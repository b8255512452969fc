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
};

class LocalChassis {
 public:
  explicit LocalChassis(ChassisOptions options = {});
  ~LocalChassis();  // SIGKILLs and reaps every board, removes the directory
  LocalChassis(const LocalChassis&) = delete;
  LocalChassis& operator=(const LocalChassis&) = delete;

  bp::Status StartAll();
  bp::Status Start(int slot);                 // a new, empty board process in `slot`
  void Kill(int slot, int sig = 9);       // sends `sig`; SIGKILL also reaps
  bool Stop(int slot, int timeout_ms = 5000);  // SIGTERM, wait for a clean exit
  // The wait status (waitpid) of the last Stop of `slot`, -1 if none.
  int ExitStatus(int slot) const;
  bool Running(int slot);
  pid_t pid(int slot) const;

  // The slot that every running board agrees is master (and which says so
  // itself), with every running board in sync, or -1 after `timeout_ms`.
  int WaitForMaster(int timeout_ms, int not_slot = -1);
  // Polls `pred` every few ms until true or the deadline.
  static bool WaitUntil(const std::function<bool()>& pred, int timeout_ms);

  // Client calls to one board (raw protocol, not the shim).
  RawClient& client(int slot);
  nlohmann::json Status(int slot);
  nlohmann::json Admin(int slot, const nlohmann::json& cmd);

  const board::ChassisConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }
  std::string config_path() const { return dir_ + "/chassis.toml"; }
  std::string log_path(int slot) const;
  std::string client_endpoint(int slot) const;
  std::string Logs(int slot) const;  // the board's stderr so far

 private:
  ChassisOptions opts_;
  std::string dir_;
  board::ChassisConfig config_;
  std::map<int, pid_t> pids_;
  std::map<int, int> starts_;
  std::map<int, int> exit_status_;
  std::map<int, std::unique_ptr<RawClient>> clients_;
};

}  // namespace bp::testing
