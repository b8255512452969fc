#include "local_chassis.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef BP_BOARD_EXE
#define BP_BOARD_EXE "board"
#endif

namespace bp::testing {

LocalChassis::LocalChassis(ChassisOptions options) : opts_(std::move(options)) {
  char tmpl[] = "/tmp/bp-chassis-XXXXXX";
  dir_ = mkdtemp(tmpl);
  uint64_t chassis_id = (uint64_t(getpid()) << 16) ^ uint64_t(rand() & 0xffff);
  config_ = board::MakeLocalChassis(opts_.boards, dir_, chassis_id ? chassis_id : 1);
  config_.ack_policy = opts_.ack_policy;
  if (opts_.tweak) opts_.tweak(config_);
  std::ofstream(config_path()) << board::ToToml(config_);
  // BP_BOARD_EXE in the environment overrides the build's board (for
  // example to run the suite against a sanitizer build of the board).
  const char* env_exe = getenv("BP_BOARD_EXE");
  if (opts_.board_exe.empty()) opts_.board_exe = env_exe && *env_exe ? env_exe : BP_BOARD_EXE;
}

LocalChassis::~LocalChassis() {
  clients_.clear();
  // A traced run (BP_COMMIT_TRACE, board/include/board/commit_trace.h) stops
  // its boards with SIGTERM so that they write their traces out.
  const char* traced = getenv("BP_COMMIT_TRACE");
  for (auto& [slot, pid] : pids_) {
    if (pid <= 0) continue;
    if (traced && *traced) {
      kill(pid, SIGCONT);
      Stop(slot, 2000);
      continue;
    }
    kill(-pid, SIGKILL);  // its process group
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    waitpid(pid, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string LocalChassis::log_path(int slot) const {
  return dir_ + "/board" + std::to_string(slot) + ".log";
}

std::string LocalChassis::client_endpoint(int slot) const {
  const board::SlotConfig* s = config_.Find(slot);
  return s ? s->client_endpoint : std::string();
}

std::string LocalChassis::Logs(int slot) const {
  std::ifstream in(log_path(slot));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bp::Status LocalChassis::StartAll() {
  for (const auto& b : config_.boards) BP_RETURN_IF_ERROR(Start(b.slot));
  return bp::Status::Ok();
}

bp::Status LocalChassis::Start(int slot) {
  if (Running(slot)) return bp::Status::FailedPrecondition("slot " + std::to_string(slot) + " is running");
  std::string cfg = config_path(), log = log_path(slot), slot_s = std::to_string(slot);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return bp::Status::Internal("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    setpgid(0, 0);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execl(opts_.board_exe.c_str(), "board", "--config", cfg.c_str(), "--slot", slot_s.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  pids_[slot] = pid;
  ++starts_[slot];
  clients_.erase(slot);  // a fresh connection for the new process
  return bp::Status::Ok();
}

void LocalChassis::Kill(int slot, int sig) {
  auto it = pids_.find(slot);
  if (it == pids_.end() || it->second <= 0) return;
  kill(it->second, sig);
  if (sig == SIGKILL) {
    waitpid(it->second, nullptr, 0);
    it->second = 0;
    clients_.erase(slot);
  }
}

bool LocalChassis::Stop(int slot, int timeout_ms) {
  auto it = pids_.find(slot);
  if (it == pids_.end() || it->second <= 0) return true;
  pid_t pid = it->second;
  kill(pid, SIGTERM);
  int status = -1;
  bool exited = WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout_ms);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  exit_status_[slot] = status;
  it->second = 0;
  clients_.erase(slot);
  return exited;
}

bool LocalChassis::Running(int slot) {
  auto it = pids_.find(slot);
  if (it == pids_.end() || it->second <= 0) return false;
  int st = 0;
  if (waitpid(it->second, &st, WNOHANG) == it->second) {
    it->second = 0;
    exit_status_[slot] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return false;
  }
  return true;
}

int LocalChassis::ExitStatus(int slot) const {
  auto it = exit_status_.find(slot);
  return it == exit_status_.end() ? -1 : it->second;
}

pid_t LocalChassis::pid(int slot) const {
  auto it = pids_.find(slot);
  return it == pids_.end() ? 0 : it->second;
}

bool LocalChassis::WaitUntil(const std::function<bool()>& pred, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

RawClient& LocalChassis::client(int slot) {
  auto& c = clients_[slot];
  if (!c) c = std::make_unique<RawClient>(client_endpoint(slot));
  return *c;
}

nlohmann::json LocalChassis::Status(int slot) {
  auto r = client(slot).Status(500);
  return r.ok() ? r.value() : nlohmann::json();
}

nlohmann::json LocalChassis::Admin(int slot, const nlohmann::json& cmd) {
  auto r = client(slot).Admin(cmd, 1000);
  return r.ok() ? r.value() : nlohmann::json();
}

int LocalChassis::WaitForMaster(int timeout_ms, int not_slot) {
  int found = -1;
  WaitUntil(
      [&] {
        int master = -1;
        std::vector<int> running;
        for (const auto& b : config_.boards) {
          if (Running(b.slot)) running.push_back(b.slot);
        }
        for (int s : running) {
          auto st = Status(s);
          if (st.is_null()) return false;
          if (st["role"] == "master") {
            if (master != -1 && master != s) return false;  // two claim it: not settled
            master = s;
          }
        }
        if (master < 0 || master == not_slot) return false;
        // Settled: every running board follows it and is in sync (a fresh
        // replica's internal init must be done before it can acknowledge).
        for (int s : running) {
          auto st = Status(s);
          if (st.is_null() || st["master"] != master || st["startup_complete"] != true) return false;
        }
        found = master;
        return true;
      },
      timeout_ms);
  return found;
}

}  // namespace bp::testing
