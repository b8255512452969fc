// Board processes that outlive the tool: `chassis up` returns while its
// boards keep running, and a later `chassis drill` or `chassis down` finds
// them by pid in the run directory. So boards are daemonized (double fork +
// setsid: no controlling terminal, not our children, reaped by init) and
// identified by pid *and* start time, since a pid alone may be recycled.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bp/status.h"

namespace bp::chassis {

struct SpawnSpec {
  std::string exe;
  std::vector<std::string> args;  // without argv[0]
  std::string log_path;           // stdout and stderr, appended
};

struct Spawned {
  pid_t pid = 0;
  uint64_t start_ticks = 0;
};

// Starts `spec` as a daemon. Fails (with the reason) if the exec failed.
Result<Spawned> SpawnDaemon(const SpawnSpec& spec);

// Start time of `pid` in clock ticks since boot; 0 if there is no such process.
uint64_t StartTicks(pid_t pid);

// True while the process runs (a zombie or a recycled pid is not alive).
bool IsAlive(pid_t pid, uint64_t start_ticks);

// Waits until the process is gone; false on timeout.
bool WaitGone(pid_t pid, uint64_t start_ticks, int timeout_ms);

// SIGTERM, then SIGKILL after `timeout_ms`. Returns true if it exited on
// SIGTERM, false if it had to be killed. (A stopped process gets SIGCONT so
// it can act on SIGTERM.)
bool StopProcess(pid_t pid, uint64_t start_ticks, int timeout_ms);

// Sends `sig` if the process is still ours; false if it was gone.
bool Signal(pid_t pid, uint64_t start_ticks, int sig);

// The board executable: `override` if given, else `board` next to this
// executable, else `board` on PATH. Errors name the fix (--board-exe).
Result<std::string> FindBoardExe(const std::string& override_path);

// The directory of the running executable.
std::string SelfDir();

}  // namespace bp::chassis
