// Runs the `chassis` binary the way an operator would and captures what it
// printed, for tests of the command line. Also a temporary run directory
// that, whatever happens in the test, ends with no board process left.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace bp::chassis_test {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `chassis <args>` and waits for it.
CliResult RunChassis(const std::vector<std::string>& args);

// A fresh, short temporary directory (ipc paths must stay under 107 bytes).
// The destructor runs `chassis down`, SIGKILLs any pid still recorded in
// pids.json as a last resort, and removes the directory.
class TempRunDir {
 public:
  TempRunDir();
  ~TempRunDir();
  const std::string& path() const { return path_; }
  // Pids recorded in <dir>/pids.json (empty if none).
  std::vector<pid_t> RecordedPids() const;

 private:
  std::string path_;
};

// True while `pid` runs (a zombie does not count).
bool ProcessAlive(pid_t pid);

}  // namespace bp::chassis_test
