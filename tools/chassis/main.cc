// chassis: runs a chassis of board processes on this machine, puts load on
// it through the firmware shim, and runs failover drills against it.
//
//   chassis up [--boards N | --config FILE]   start boards, wait for a master
//   chassis status [--json]                   one row per board
//   chassis load [--clients --rate ...]       workload: throughput, latency
//   chassis drill KIND [--rounds N --json --plot F.png]
//   chassis soak [--duration-s S --warmup-s S ...]  memory flat, writes exact
//   chassis down                              stop every board
//   chassis keygen --slot N | --all           new CURVE keys into the configuration
//   chassis reload-keys                       boards re-read their peers' keys
//
// Run state lives in --run-dir (default ./chassis-run), so separate
// invocations find the same chassis and several can run side by side.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.h"

namespace bp::chassis {

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "chassis: error: %s\n", message.c_str());
  return code;
}

void AddRunDir(CLI::App* sub, std::string* run_dir) {
  sub->add_option("--run-dir,-d", *run_dir,
                  "run directory holding the chassis state (config, pids, logs, sockets)")
      ->capture_default_str();
}

}  // namespace bp::chassis

int main(int argc, char** argv) {
  // A board that dies while we write to its socket must not kill the tool.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"chassis: run a chassis of board processes, load it, and drill failovers"};
  app.require_subcommand(1);
  int exit_code = 0;
  bp::chassis::RegisterUp(app, &exit_code);
  bp::chassis::RegisterDown(app, &exit_code);
  bp::chassis::RegisterStatus(app, &exit_code);
  bp::chassis::RegisterLoad(app, &exit_code);
  bp::chassis::RegisterDrill(app, &exit_code);
  bp::chassis::RegisterSoak(app, &exit_code);
  bp::chassis::RegisterKeys(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
