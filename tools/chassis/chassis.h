// Chassis: one running chassis as the tool sees it: its run directory, its
// configuration, its board processes (pids.json) and a shim link to each
// board. Every wait polls a condition under a deadline: no fixed sleeps.
// Single-threaded: the drill's load threads use their own shim handles.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "board/config.h"
#include "board_link.h"
#include "bp/status.h"
#include "run_dir.h"

namespace bp::chassis {

// One board as seen by a status poll.
struct BoardView {
  int slot = 0;
  pid_t pid = 0;
  bool alive = false;     // the process runs
  bool answered = false;  // it answered a status request
  nlohmann::json status;  // its status document when it answered
  std::string error;      // why not
};

class Chassis {
 public:
  // The chassis running in `dir`. Errors name the fix when there is none.
  static Result<std::unique_ptr<Chassis>> Open(const RunDir& dir);
  // A new chassis (for `up`): nothing runs yet.
  static std::unique_ptr<Chassis> Create(const RunDir& dir, board::ChassisConfig config,
                                         std::string board_exe);

  const board::ChassisConfig& config() const { return config_; }
  const RunDir& dir() const { return dir_; }
  std::vector<int> slots() const;
  std::string client_endpoint(int slot) const;
  pid_t pid(int slot);
  bool Alive(int slot);
  int AliveCount();

  // Starts the board of `slot` with an empty environment and records it.
  Status Start(int slot);
  // Sends `sig`; on SIGKILL also waits until the process is gone.
  Status Kill(int slot, int sig);
  // SIGTERM, then SIGKILL after `timeout_ms`; true if it exited on SIGTERM.
  bool Stop(int slot, int timeout_ms);

  // Status polls wait at most 300 ms per board (a paused board never answers).
  Result<nlohmann::json> BoardStatus(int slot);
  Result<nlohmann::json> Admin(int slot, const nlohmann::json& command);
  // Every board's view; boards in `skip` are not asked (a paused board
  // would cost a timeout per poll).
  std::map<int, BoardView> Snapshot(const std::set<int>& skip = {});

  // Until one master is agreed on by every running board not in `skip`, all
  // of them in sync (startup complete), and the master is not `not_master`.
  // Returns the master's slot.
  Result<int> WaitSettled(int timeout_ms, const std::set<int>& skip = {}, int not_master = -1);
  // Until every configured board runs and is settled, and the master sees
  // every peer alive with no lag. With `restart_dead`, a board that exited
  // (e.g. after an environment panic) is restarted empty, as a supervisor
  // would; `restarted` collects those slots.
  Result<int> WaitInSync(int timeout_ms, bool restart_dead = false,
                         std::vector<int>* restarted = nullptr);
  // The last `lines` lines of a board's log (for error messages).
  std::string LogTail(int slot, int lines) const;

 private:
  Chassis(const RunDir& dir, board::ChassisConfig config, RunState state);
  BoardLink& Link(int slot);
  std::string Describe(const std::map<int, BoardView>& views, int master) const;
  RunDir dir_;
  board::ChassisConfig config_;
  RunState state_;
  std::map<int, std::unique_ptr<BoardLink>> links_;
};

// A settled master among `views` (ignoring `skip`), or -1.
int AgreedMaster(const std::map<int, BoardView>& views, const std::set<int>& skip);
// Whether the master's status shows every peer alive, in sync, with no lag.
bool MasterSeesAllInSync(const nlohmann::json& master_status);

}  // namespace bp::chassis
