// RunDir: where one chassis keeps its run state, so separate invocations
// (`chassis up`, later `chassis drill`, later `chassis down`) find it:
//
//   <run dir>/chassis.toml      the chassis configuration every board reads
//   <run dir>/pids.json         board processes: slot, pid, start time, starts
//   <run dir>/logs/boardN.log   each board's stdout and stderr
//   <run dir>/home/slotN        each board's environment directory
//   <run dir>/slotN.bus|client  ipc sockets (generated configurations only)
//
// Several chassis run side by side in different run directories.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "board/config.h"
#include "bp/status.h"

namespace bp::chassis {

// One board process as recorded in pids.json. The start time (clock ticks
// since boot, /proc/PID/stat) tells a recycled pid from our board.
struct BoardProc {
  int slot = 0;
  pid_t pid = 0;
  uint64_t start_ticks = 0;
  int starts = 0;  // how often the slot was started (restarts included)
};

struct RunState {
  std::string board_exe;
  std::vector<BoardProc> boards;

  BoardProc* Find(int slot);
};

class RunDir {
 public:
  // `path` may be relative; it is made absolute (ipc endpoints need that).
  explicit RunDir(const std::string& path);

  const std::string& path() const { return path_; }
  std::string config_path() const { return path_ + "/chassis.toml"; }
  std::string pids_path() const { return path_ + "/pids.json"; }
  std::string log_path(int slot) const;
  std::string home_path(int slot) const;

  // Creates the directory and its logs/ and home/ subdirectories.
  Status Create() const;
  bool HasState() const;
  Result<RunState> LoadState() const;
  // Written to a temporary file and renamed, so a reader never sees half.
  Status SaveState(const RunState& state) const;
  void RemoveState() const;
  Result<board::ChassisConfig> LoadConfig() const;
  Status SaveConfig(const board::ChassisConfig& config) const;
  // An empty environment directory for a (re)started board.
  Status ResetHome(int slot) const;
  void RemoveHomes() const;

 private:
  std::string path_;
};

// The default run directory: ./chassis-run.
std::string DefaultRunDir();

}  // namespace bp::chassis
