#include "local_chassis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "bp/seed.h"
#include "bus/curve.h"

#ifndef BP_BOARD_EXE
#define BP_BOARD_EXE "board"
#endif

namespace bp::testing {

LocalChassis::LocalChassis(ChassisOptions options) : opts_(std::move(options)) {
  char tmpl[] = "/tmp/bp-chassis-XXXXXX";
  dir_ = mkdtemp(tmpl);
  uint64_t chassis_id = (uint64_t(getpid()) << 16) ^ uint64_t(rand() & 0xffff);
  // Security curve, as `chassis up` runs it: a key file per slot under dir_.
  auto made = board::MakeLocalChassis(opts_.boards, dir_, chassis_id ? chassis_id : 1,
                                      /*write_keys=*/true);
  if (!made.ok()) {
    std::fprintf(stderr, "LocalChassis: %s\n", made.status().ToString().c_str());
    std::abort();
  }
  config_ = std::move(made).value();
  config_.ack_policy = opts_.ack_policy;
  if (opts_.tcp_client_endpoints) UseTcpClientEndpoints();
  if (opts_.tweak) opts_.tweak(config_);
  std::ofstream(config_path()) << board::ToToml(config_);
  // BP_BOARD_EXE in the environment overrides the build's board (for
  // example to run the suite against a sanitizer build of the board).
  const char* env_exe = getenv("BP_BOARD_EXE");
  if (opts_.board_exe.empty()) opts_.board_exe = env_exe && *env_exe ? env_exe : BP_BOARD_EXE;
  const char* env_seed = getenv("BP_TEST_SEED");
  seed_ = opts_.seed != 0 ? opts_.seed
                          : env_seed && *env_seed ? std::strtoull(env_seed, nullptr, 0) : FreshSeed();
  std::fprintf(stderr, "LocalChassis: seed %llu (replay: BP_TEST_SEED=%llu)\n",
               static_cast<unsigned long long>(seed_), static_cast<unsigned long long>(seed_));
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

std::string LocalChassis::public_key(int slot) const {
  const board::SlotConfig* s = config_.Find(slot);
  return s ? s->public_key : std::string();
}

std::map<std::string, std::string> LocalChassis::Contents(int slot) {
  auto r = client(slot).Scan();
  std::map<std::string, std::string> m;
  if (r.ok()) {
    for (auto& [k, v] : r.value()) m[k] = v;
  }
  return m;
}

bool LocalChassis::WaitForValue(int slot, const std::string& key, const std::string& value,
                                int timeout_ms) {
  return WaitUntil(
      [&] {
        auto v = client(slot).Get(key);
        return v.ok() && v.value() == value;
      },
      timeout_ms);
}

std::string LocalChassis::Logs(int slot) const {
  std::ifstream in(log_path(slot));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void LocalChassis::RewriteConfig(const board::ChassisConfig& config) {
  config_ = config;
  std::string tmp = config_path() + ".tmp";
  std::ofstream(tmp) << board::ToToml(config_);
  std::filesystem::rename(tmp, config_path());
}

bp::Status LocalChassis::StartAll() {
  for (const auto& b : config_.boards) BP_RETURN_IF_ERROR(Start(b.slot));
  return bp::Status::Ok();
}

bp::Status LocalChassis::Start(int slot) { return StartWithPath(slot, config_path()); }

bp::Status LocalChassis::StartWithConfig(int slot,
                                         const std::function<void(board::ChassisConfig&)>& edit) {
  board::ChassisConfig own = config_;
  edit(own);
  const std::string path = dir_ + "/chassis-slot" + std::to_string(slot) + ".toml";
  std::ofstream(path) << board::ToToml(own);
  return StartWithPath(slot, path);
}

bp::Status LocalChassis::StartWithPath(int slot, const std::string& cfg) {
  if (Running(slot)) return bp::Status::FailedPrecondition("slot " + std::to_string(slot) + " is running");
  std::string log = log_path(slot), slot_s = std::to_string(slot);
  // Each start of a slot has its own stream (a restarted board must not
  // repeat its predecessor's request ids), still fixed by the chassis seed.
  const std::string seed_s =
      std::to_string(DeriveSeed(seed_, (uint64_t(slot) << 32) | uint64_t(starts_[slot])));
  const std::string netns = opts_.netns ? opts_.netns(slot) : std::string();
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return bp::Status::Internal("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    setpgid(0, 0);
    if (!netns.empty()) {
      int nfd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (nfd < 0 || setns(nfd, CLONE_NEWNET) != 0) _exit(126);
      close(nfd);
    }
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execl(opts_.board_exe.c_str(), "board", "--config", cfg.c_str(), "--slot", slot_s.c_str(),
          "--seed", seed_s.c_str(), static_cast<char*>(nullptr));
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

// tcp:// client endpoints on free loopback ports (a port is free when it
// is picked; nothing else on the test machine races for it in practice),
// and a client key pair for this chassis' own calls.
void LocalChassis::UseTcpClientEndpoints() {
  for (auto& b : config_.boards) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::abort();  // no loopback: the test cannot run at all
    }
    close(fd);
    b.client_endpoint = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  auto keys = bus::GenerateCurveKeyPair();
  if (!keys.ok()) std::abort();
  admin_keys_.client_public = keys->public_z85;
  admin_keys_.client_secret = keys->secret_z85;
  config_.client_public_keys.push_back(keys->public_z85);
}

RawClient& LocalChassis::client(int slot) {
  auto& c = clients_[slot];
  if (c) return *c;
  RawCurveKeys curve;
  const board::SlotConfig* s = config_.Find(slot);
  if (s && s->client_endpoint.rfind("tcp://", 0) == 0 &&
      config_.security == board::SecurityMode::kCurve) {
    curve = admin_keys_;
    curve.server_public = s->public_key;
  }
  c = std::make_unique<RawClient>(client_endpoint(slot), curve);
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
