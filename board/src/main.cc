// board: one board process of a chassis.
//
//   board --config chassis.toml --slot 2 [--home DIR] [--verbose]
//
// Starts as a replica, finds or elects a master, serves the firmware shim on
// its client endpoint, logs role changes, and stops cleanly on SIGTERM or
// SIGINT. After an environment panic it exits with status 70: a supervisor
// (the chassis tool) restarts it empty, and it rejoins by internal init.
//
// One board per slot: the board holds an exclusive lock on the slot's lock
// file for its whole life (libzmq unlinks an existing ipc socket file
// before binding, so without it a second board in a slot would silently
// take over the first one's endpoints). A second board exits with status 3
// naming the running pid. A board whose cache cannot hold the data the
// master reports refuses to join (its re-init would panic) and exits with
// status 78 naming cache_mb.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "board/client_server.h"
#include "board/config.h"
#include "board/engine.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

constexpr int kExitSlotTaken = 3;
// This board's cache cannot hold the chassis' data (EX_CONFIG): it refused
// to join rather than panic in its re-init.
constexpr int kExitCacheTooSmall = 78;

// The slot's lock file: next to its ipc:// bus socket, else (tcp://, an
// abstract ipc name) in $TMPDIR or /tmp, named after the chassis and slot.
std::string SlotLockPath(const bp::board::ChassisConfig& c, const bp::board::SlotConfig& self) {
  const std::string& ep = self.endpoint;
  if (ep.rfind("ipc://", 0) == 0 && ep.size() > 6 && ep[6] != '@') return ep.substr(6) + ".lock";
  const char* tmp = getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/bp-chassis" + std::to_string(c.chassis_id) +
         "-slot" + std::to_string(self.slot) + ".lock";
}

// Takes the slot's lock for the life of the process (the descriptor is
// never closed; the kernel drops the lock when the process exits, however
// it exits). Returns 0, or the exit status after printing why.
int LockSlot(const bp::board::ChassisConfig& c, const bp::board::SlotConfig& self) {
  const std::string path = SlotLockPath(c, self);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "board: cannot open the slot lock file %s: %s; check that its directory exists "
                 "and is writable\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, size_t(n)) : std::string("unknown");
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    std::fprintf(stderr,
                 "board: slot %d is already running as pid %s (it holds %s); stop that board first "
                 "(kill %s), or start this one with another --slot\n",
                 self.slot, pid.c_str(), path.c_str(), pid.c_str());
    close(fd);
    return kExitSlotTaken;
  }
  std::string mine = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, mine.data(), mine.size(), 0) != ssize_t(mine.size())) {
    std::fprintf(stderr, "board: warning: cannot write the pid into %s\n", path.c_str());
  }
  return 0;  // fd stays open: the lock lasts as long as the process
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"board: one board process of a backplane chassis"};
  std::string config_path, home;
  int slot = 0;
  bool verbose = false;
  app.add_option("--config,-c", config_path, "chassis configuration (TOML)")->required();
  app.add_option("--slot,-s", slot, "this board's slot id")->required();
  app.add_option("--home", home, "an existing empty directory for the environment (default: temp)");
  app.add_flag("--verbose,-v", verbose, "Berkeley DB replication verbose messages");
  CLI11_PARSE(app, argc, argv);

  auto config = bp::board::LoadChassisConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "board: bad configuration: %s\n", config.status().message().c_str());
    return 2;
  }
  const bp::board::SlotConfig* self = config->Find(slot);
  if (!self) {
    std::fprintf(stderr, "board: slot %d is not in %s; use one of its [[board]] slots\n", slot,
                 config_path.c_str());
    return 2;
  }
  if (self->client_endpoint.empty()) {
    std::fprintf(stderr, "board: slot %d has no client_endpoint in %s; add one\n", slot,
                 config_path.c_str());
    return 2;
  }
  if (int code = LockSlot(*config, *self); code != 0) return code;
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  bp::board::EngineOptions eo;
  eo.config = *config;
  eo.self_slot = slot;
  eo.home = home;
  eo.verbose = verbose;
  auto engine = bp::board::Engine::Start(eo);
  if (!engine.ok()) {
    std::fprintf(stderr, "board %d: cannot start: %s\n", slot, engine.status().ToString().c_str());
    return 1;
  }
  auto server = bp::board::ClientServer::Start(engine->get(), self->client_endpoint, nullptr);
  if (!server.ok()) {
    std::fprintf(stderr, "board %d: %s\n", slot, server.status().ToString().c_str());
    (*engine)->Stop();
    return 1;
  }
  std::fprintf(stderr, "[board %d] serving clients on %s\n", slot, self->client_endpoint.c_str());
  int code = 0;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if ((*engine)->panicked()) {
      std::fprintf(stderr, "[board %d] environment panic: exiting so the board restarts empty\n", slot);
      code = 70;
      break;
    }
    if ((*engine)->unfit()) {
      std::fprintf(stderr, "[board %d] refusing to join: %s\n", slot,
                   (*engine)->UnfitReason().c_str());
      code = kExitCacheTooSmall;
      break;
    }
  }
  if (code == 70 || code == kExitCacheTooSmall) {
    // Panicked: the environment is unusable and closing it could hang. Too
    // small: the board holds nothing yet, and its re-init may be under way
    // inside Berkeley DB (stopping would wait for it).
    std::fflush(stderr);
    _exit(code);
  }
  std::fprintf(stderr, "[board %d] stopping\n", slot);
  (*engine)->StepDownForShutdown();  // a master hands over before the bus stops
  (*server)->Stop();
  (*engine)->Stop();
  return code;
}
