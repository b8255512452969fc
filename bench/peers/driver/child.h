// A child process of the driver (one repmgr_site), spoken to over its stdin
// and stdout with the line protocol of peer_proto.h.
//
// Lifetime contract: the destructor always ends the process (SIGKILL if it
// is still running) and reaps it, so no child outlives its Child object. The
// child also gets PR_SET_PDEATHSIG(SIGKILL), so it dies with the driver even
// if the driver is killed. Note that the death signal follows the *thread*
// that forked: Spawn must be called from a thread that outlives the child
// (the driver only spawns from its main thread).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bp/status.h"

namespace bp::peers {

struct Event {
  std::string name;
  int64_t mono_ns = 0;
  std::map<std::string, std::string> fields;  // key=value words after the stamp
};

struct Reply {
  bool ok = false;
  std::map<std::string, std::string> fields;  // key=value words
  std::vector<int64_t> values;                // numbers after the "|" word
  int64_t Field(const std::string& key, int64_t fallback = -1) const;
};

struct ChildSpec {
  std::string exe;
  std::vector<std::string> args;
  std::vector<std::string> extra_env;  // "NAME=value", appended to the environment
  std::string label;                   // for diagnostics, e.g. "site1"
};

class Child {
 public:
  static Result<std::unique_ptr<Child>> Spawn(const ChildSpec& spec);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& label() const { return label_; }

  // Sends one command line (a newline is added).
  Status Send(const std::string& line);
  // Waits for the next reply to `cmd`, until deadline_ns (CLOCK_MONOTONIC).
  Result<Reply> AwaitReply(const std::string& cmd, int64_t deadline_ns);
  // Sends `line` and waits for the reply to its first word.
  Result<Reply> Call(const std::string& line, int64_t deadline_ns);
  // Waits for the first event `name` stamped at or after since_ns.
  Result<Event> AwaitEvent(const std::string& name, int64_t since_ns, int64_t deadline_ns);
  // The first event `name` stamped at or after since_ns, if it has arrived.
  std::optional<Event> FindEvent(const std::string& name, int64_t since_ns);

  // Sends a signal now (no reaping).
  void Signal(int sig);
  // Closes stdin: an orderly quit for repmgr_site. Does not wait.
  void RequestQuit();
  // RequestQuit(), then waits until
  // deadline_ns; SIGKILLs and reaps if it has not exited. Returns the exit
  // status as from waitpid, or -1 if it had to be killed.
  int Stop(int64_t deadline_ns);
  // SIGKILL + reap; idempotent.
  void Kill();

  // The last lines the child wrote to stderr, for failure reports.
  std::string StderrTail();
  bool exited() const;

 private:
  Child() = default;
  void ReaderLoop();
  void HandleLine(bool from_stderr, const std::string& line);
  bool TryReap(int* status);

  pid_t pid_ = -1;
  std::string label_;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::thread reader_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;                         // guarded by mu_
  std::map<std::string, std::deque<Reply>> replies_;  // guarded by mu_
  std::deque<std::string> stderr_tail_;               // guarded by mu_
  bool eof_ = false;                                  // guarded by mu_
  bool reaped_ = false;                               // guarded by mu_
  int exit_status_ = 0;                               // guarded by mu_
};

}  // namespace bp::peers
