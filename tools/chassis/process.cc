#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace bp::chassis {
namespace {

namespace fs = std::filesystem;

// /proc/PID/stat: "pid (comm) state ppid ... starttime(22) ...". comm may hold
// spaces or parentheses, so parse after the last ')'.
bool ReadStat(pid_t pid, char* state, uint64_t* start_ticks) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  rest >> *state;
  for (int i = 4; i <= 22 && rest >> field; ++i) {
    if (i == 22) *start_ticks = std::stoull(field);
  }
  return true;
}

// In the grandchild: redirect output, exec. Never returns. The tool may have
// threads (load generator, ZeroMQ), so between fork and exec only
// async-signal-safe calls: everything is prepared before the fork.
[[noreturn]] void ExecDaemon(const char* log_path, char* const* argv, int report_fd) {
  int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  // Dispositions and the mask survive exec: give the board default ones.
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(argv[0], argv);
  int err = errno;
  (void)!write(report_fd, &err, sizeof err);  // CLOEXEC pipe: only reached on failure
  _exit(127);
}

// The middle child: new session, fork the daemon, report its pid, exit.
[[noreturn]] void MiddleChild(const char* log_path, char* const* argv, int pid_fd, int exec_fd) {
  setsid();
  pid_t pid = fork();
  if (pid == 0) ExecDaemon(log_path, argv, exec_fd);
  (void)!write(pid_fd, &pid, sizeof pid);
  _exit(pid > 0 ? 0 : 1);
}

}  // namespace

Result<Spawned> SpawnDaemon(const SpawnSpec& spec) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(spec.exe.c_str()));
  for (const auto& a : spec.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int pid_pipe[2], exec_pipe[2];
  if (pipe2(pid_pipe, O_CLOEXEC) != 0) return Status::Internal("pipe failed");
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) return Status::Internal("pipe failed");
  pid_t middle = fork();
  if (middle < 0) return Status::Internal(std::string("fork failed: ") + std::strerror(errno));
  if (middle == 0) MiddleChild(spec.log_path.c_str(), argv.data(), pid_pipe[1], exec_pipe[1]);
  close(pid_pipe[1]);
  close(exec_pipe[1]);
  waitpid(middle, nullptr, 0);
  pid_t pid = 0;
  ssize_t n = read(pid_pipe[0], &pid, sizeof pid);
  close(pid_pipe[0]);
  int exec_errno = 0;
  // Blocks until the exec happened (EOF) or failed (an errno).
  ssize_t e = read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  close(exec_pipe[0]);
  if (n != sizeof pid || pid <= 0) return Status::Internal("fork of the board process failed");
  if (e == sizeof exec_errno) {
    return Status::InvalidArgument("cannot run " + spec.exe + ": " + std::strerror(exec_errno) +
                                   " (pass the board binary with --board-exe)");
  }
  return Spawned{pid, StartTicks(pid)};
}

uint64_t StartTicks(pid_t pid) {
  char state = 0;
  uint64_t ticks = 0;
  return ReadStat(pid, &state, &ticks) ? ticks : 0;
}

bool IsAlive(pid_t pid, uint64_t start_ticks) {
  if (pid <= 0) return false;
  char state = 0;
  uint64_t ticks = 0;
  if (!ReadStat(pid, &state, &ticks)) return false;
  if (state == 'Z' || state == 'X') return false;  // dead, not yet reaped
  return start_ticks == 0 || ticks == start_ticks;
}

bool WaitGone(pid_t pid, uint64_t start_ticks, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (IsAlive(pid, start_ticks)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

bool Signal(pid_t pid, uint64_t start_ticks, int sig) {
  if (!IsAlive(pid, start_ticks)) return false;
  return kill(pid, sig) == 0;
}

bool StopProcess(pid_t pid, uint64_t start_ticks, int timeout_ms) {
  if (!Signal(pid, start_ticks, SIGTERM)) return true;
  Signal(pid, start_ticks, SIGCONT);  // a paused board cannot act on SIGTERM
  if (WaitGone(pid, start_ticks, timeout_ms)) return true;
  Signal(pid, start_ticks, SIGKILL);
  WaitGone(pid, start_ticks, 5000);
  return false;
}

std::string SelfDir() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : self.parent_path().string();
}

Result<std::string> FindBoardExe(const std::string& override_path) {
  auto runnable = [](const std::string& p) { return access(p.c_str(), X_OK) == 0; };
  if (!override_path.empty()) {
    if (runnable(override_path)) return fs::absolute(override_path).string();
    return Status::InvalidArgument("--board-exe " + override_path +
                                   " is not an executable file; give the path of `board`");
  }
  std::string next_to_us = SelfDir() + "/board";
  if (runnable(next_to_us)) return next_to_us;
  const char* path_env = getenv("PATH");
  std::istringstream dirs(path_env ? path_env : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && runnable(dir + "/board")) return dir + "/board";
  }
  return Status::NotFound("no board executable next to chassis (" + next_to_us +
                          ") or on PATH; build the `board` target or pass --board-exe PATH");
}

}  // namespace bp::chassis
