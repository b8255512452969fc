// board: one board process of a chassis.
//
//   board --config chassis.toml --slot 2 [--home DIR] [--verbose]
//
// Starts as a replica, finds or elects a master, serves the firmware shim on
// its client endpoint, logs role changes, and stops cleanly on SIGTERM or
// SIGINT. After an environment panic it exits with status 70: a supervisor
// (the chassis tool) restarts it empty, and it rejoins by internal init.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "board/client_server.h"
#include "board/config.h"
#include "board/engine.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

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
  }
  if (code == 70) {
    std::fflush(stderr);
    _exit(code);  // the environment is unusable; closing it could hang
  }
  std::fprintf(stderr, "[board %d] stopping\n", slot);
  (*engine)->StepDownForShutdown();  // a master hands over before the bus stops
  (*server)->Stop();
  (*engine)->Stop();
  return code;
}
