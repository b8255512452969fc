// board: one board process of a chassis.
//
//   board --config chassis.toml --slot 2 [--home DIR] [--verbose]
//
// Starts as a replica, finds or elects a master, serves the firmware shim on
// its client endpoint, logs role changes, and stops cleanly on SIGTERM or
// SIGINT. After an environment panic it exits with status 70: a supervisor
// (the chassis tool) restarts it empty, and it rejoins by internal init.
//
// Metrics: with a metrics_endpoint in its [[board]], the board serves
// Prometheus text at http://<metrics_endpoint>/metrics (README "Metrics";
// board/metrics_server.h). The port is bound before the engine starts: a
// taken port is an exit with status 1 naming the key.
//
// One board per slot: the board holds an exclusive lock on the slot's lock
// file for its whole life (libzmq unlinks an existing ipc socket file
// before binding, so without it a second board in a slot would silently
// take over the first one's endpoints). A second board exits with status 3
// naming the running pid. A board whose cache cannot hold the data the
// master reports refuses to join (its re-init would panic) and exits with
// status 78 naming cache_mb.
//
// Security (README "Security"): with security curve the board reads its
// slot's secret_key_file at start. A key file readable or writable by group
// or other (or a symbolic link, or not a regular file) is refused with exit
// status 77 and the fix (chmod 600); a missing, malformed or mismatched key
// file is a configuration error (status 2). SIGHUP re-reads the peers'
// public keys from the configuration file (key rotation, as the admin
// command reload_keys does).
//
//   board --keygen PATH [--force]   writes a new key file (mode 0600) and
//                                   prints its public key
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
#include <memory>
#include <string>
#include <thread>

#include "board/client_server.h"
#include "board/config.h"
#include "board/engine.h"
#include "board/metrics_server.h"

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_reload_keys = 0;
void OnSignal(int) { g_stop = 1; }
void OnHangup(int) { g_reload_keys = 1; }

constexpr int kExitSlotTaken = 3;
// This board's cache cannot hold the chassis' data (EX_CONFIG): it refused
// to join rather than panic in its re-init.
constexpr int kExitCacheTooSmall = 78;
// The secret key file can be read or written by others (EX_NOPERM).
constexpr int kExitKeyFileExposed = 77;
constexpr int kExitBadConfig = 2;

// board --keygen PATH: a new key pair in a 0600 file; prints the public key
// as the configuration line to paste into the slot's [[board]].
int KeyGen(const std::string& path, bool force) {
  auto pair = bp::bus::GenerateCurveKeyPair();
  if (!pair.ok()) {
    std::fprintf(stderr, "board: %s\n", pair.status().message().c_str());
    return 1;
  }
  bp::Status s = bp::bus::WriteSecretKeyFile(path, pair.value(), force);
  if (!s.ok()) {
    std::fprintf(stderr, "board: %s%s\n", s.message().c_str(),
                 s.code() == bp::Status::Code::kFailedPrecondition ? " (--force replaces it)" : "");
    return 1;
  }
  std::printf("public_key = \"%s\"\nsecret_key_file = \"%s\"\n", pair->public_z85.c_str(),
              path.c_str());
  return 0;
}

// security curve: this slot's key pair, or the exit status after saying why.
int LoadKeys(const bp::board::ChassisConfig& c, int slot, bp::bus::CurveKeyPair* keys) {
  if (c.security != bp::board::SecurityMode::kCurve) {
    std::fprintf(stderr, "[board %d] WARNING: security none: the bus accepts frames from any "
                 "process that can reach it (README \"Security\")\n", slot);
    return 0;
  }
  auto loaded = bp::board::LoadSlotKeys(c, slot);
  if (loaded.ok()) {
    *keys = std::move(loaded).value();
    return 0;
  }
  std::fprintf(stderr, "board: %s\n", loaded.status().message().c_str());
  return loaded.status().code() == bp::Status::Code::kFailedPrecondition ? kExitKeyFileExposed
                                                                         : kExitBadConfig;
}

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

// The slot's metrics_endpoint, bound before the engine starts so that a
// taken port stops the board before it joins. Null without one. Returns 0,
// or the exit status after printing why.
int BindMetrics(const bp::board::SlotConfig& self, std::unique_ptr<bp::board::MetricsServer>* out) {
  if (self.metrics_endpoint.empty()) return 0;
  auto m = bp::board::MetricsServer::Bind(self.metrics_endpoint, self.slot);
  if (!m.ok()) {
    std::fprintf(stderr, "board: %s\n", m.status().message().c_str());
    return 1;
  }
  *out = std::move(m).value();
  return 0;
}

// A tcp:// client endpoint of a curve chassis is a CURVE server with the
// board's own key pair (the secret_key_file of its bus identity).
bp::board::ClientCurveOptions ClientCurve(const bp::board::ChassisConfig& c,
                                          const bp::board::SlotConfig& self,
                                          const bp::bus::CurveKeyPair& keys) {
  bp::board::ClientCurveOptions o;
  o.curve = c.security == bp::board::SecurityMode::kCurve &&
            self.client_endpoint.rfind("tcp://", 0) == 0;
  if (o.curve) o.server_keys = keys;
  return o;
}

struct Args {
  std::string config_path, home, keygen;
  int slot = 0;
  bool slot_given = false;
  uint64_t seed = 0;
  bool verbose = false, force = false;
};

// Parses the command line; returns -1 to go on, else the exit status.
int ParseArgs(int argc, char** argv, Args* a) {
  CLI::App app{"board: one board process of a backplane chassis"};
  auto* config_opt = app.add_option("--config,-c", a->config_path, "chassis configuration (TOML)");
  auto* slot_opt = app.add_option("--slot,-s", a->slot, "this board's slot id");
  app.add_option("--home", a->home, "an existing empty directory for the environment (default: temp)");
  app.add_flag("--verbose,-v", a->verbose, "Berkeley DB replication verbose messages");
  app.add_option("--seed", a->seed,
                 "seed of this board's randomness (election jitter, request ids, loss "
                 "emulation, backoff); default: a fresh one, logged and in status \"seed\"");
  auto* keygen_opt = app.add_option("--keygen", a->keygen,
                                    "write a new CURVE key file (mode 0600) and print its public key");
  app.add_flag("--force", a->force, "with --keygen: replace an existing key file");
  keygen_opt->excludes(config_opt)->excludes(slot_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  a->slot_given = slot_opt->count() > 0;
  return -1;
}

// Reads the configuration and checks this slot can run from it; returns 0
// or the exit status after printing why.
int LoadConfig(const Args& a, bp::board::ChassisConfig* out) {
  auto config = bp::board::LoadChassisConfig(a.config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "board: bad configuration: %s\n", config.status().message().c_str());
    return kExitBadConfig;
  }
  const bp::board::SlotConfig* self = config->Find(a.slot);
  if (!self) {
    std::fprintf(stderr, "board: slot %d is not in %s; use one of its [[board]] slots\n", a.slot,
                 a.config_path.c_str());
    return 2;
  }
  if (self->client_endpoint.empty()) {
    std::fprintf(stderr, "board: slot %d has no client_endpoint in %s; add one\n", a.slot,
                 a.config_path.c_str());
    return 2;
  }
  *out = std::move(config).value();
  return 0;
}

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  struct sigaction hup = {};
  hup.sa_handler = OnHangup;
  sigaction(SIGHUP, &hup, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// The main thread until SIGTERM: key reloads on SIGHUP, and the exits a
// board cannot recover from in place. Returns the exit status.
int ServeUntilStopped(bp::board::Engine& engine, int slot) {
  while (!g_stop) {
    bp::Clock::Real().SleepFor(bp::Millis(20));
    if (g_reload_keys) {
      g_reload_keys = 0;
      auto changed = engine.ReloadPeerKeys();
      std::fprintf(stderr, "[board %d] SIGHUP: reload_keys: %s (%zu keys changed)\n", slot,
                   changed.ok() ? "ok" : changed.status().ToString().c_str(),
                   changed.ok() ? changed->size() : size_t(0));
    }
    if (engine.panicked()) {
      std::fprintf(stderr, "[board %d] environment panic: exiting so the board restarts empty\n", slot);
      return 70;
    }
    if (engine.unfit()) {
      std::fprintf(stderr, "[board %d] refusing to join: %s\n", slot, engine.UnfitReason().c_str());
      return kExitCacheTooSmall;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (int code = ParseArgs(argc, argv, &args); code >= 0) return code;
  if (!args.keygen.empty()) return KeyGen(args.keygen, args.force);
  if (args.config_path.empty() || !args.slot_given) {
    std::fprintf(stderr, "board: --config and --slot are required (or --keygen PATH)\n");
    return kExitBadConfig;
  }
  bp::board::ChassisConfig config;
  if (int code = LoadConfig(args, &config); code != 0) return code;
  const int slot = args.slot;
  const bp::board::SlotConfig& self = *config.Find(slot);
  bp::bus::CurveKeyPair keys;
  if (int code = LoadKeys(config, slot, &keys); code != 0) return code;
  if (int code = LockSlot(config, self); code != 0) return code;
  std::unique_ptr<bp::board::MetricsServer> metrics;
  if (int code = BindMetrics(self, &metrics); code != 0) return code;
  InstallSignalHandlers();

  bp::board::EngineOptions eo;
  eo.config = config;
  eo.self_slot = slot;
  eo.home = args.home;
  eo.verbose = args.verbose;
  eo.seed = args.seed;
  eo.keys = keys;
  eo.config_path = args.config_path;
  auto engine = bp::board::Engine::Start(eo);
  if (!engine.ok()) {
    std::fprintf(stderr, "board %d: cannot start: %s\n", slot, engine.status().ToString().c_str());
    return 1;
  }
  auto server = bp::board::ClientServer::Start(engine->get(), self.client_endpoint, nullptr,
                                               ClientCurve(config, self, keys));
  if (!server.ok()) {
    std::fprintf(stderr, "board %d: %s\n", slot, server.status().ToString().c_str());
    (*engine)->Stop();
    return 1;
  }
  std::fprintf(stderr, "[board %d] serving clients on %s\n", slot, self.client_endpoint.c_str());
  if (metrics) {
    metrics->Serve([client = server->get()] { return client->StatusJson(); });
    std::fprintf(stderr, "[board %d] serving metrics on http://%s/metrics\n", slot,
                 self.metrics_endpoint.c_str());
  }
  const int code = ServeUntilStopped(**engine, slot);
  if (code == 70 || code == kExitCacheTooSmall) {
    // Panicked: the environment is unusable and closing it could hang. Too
    // small: the board holds nothing yet, and its re-init may be under way
    // inside Berkeley DB (stopping would wait for it).
    std::fflush(stderr);
    _exit(code);
  }
  std::fprintf(stderr, "[board %d] stopping\n", slot);
  (*engine)->StepDownForShutdown();  // a master hands over before the bus stops
  if (metrics) metrics->Stop();      // its scrapes read the client endpoint and the engine
  (*server)->Stop();
  (*engine)->Stop();
  return code;
}
