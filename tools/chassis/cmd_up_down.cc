// `chassis up` and `chassis down`.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <random>

#include "chassis.h"
#include "commands.h"
#include "process.h"
#include "run_dir.h"
#include "status_view.h"

namespace bp::chassis {
namespace {

struct UpOptions {
  std::string run_dir = DefaultRunDir();
  int boards = 3;
  std::string config_file, ack_policy, board_exe;
  int timeout_s = 30;
  bool leases = false;
  int lease_timeout_ms = 0;  // 0: the configuration's (default 100)
  int cache_mb = 0;          // 0: the configuration's (default 256)
  int log_buffer_mb = 0;     // 0: the configuration's (default 16)
  std::string security = "curve";  // generated chassis: curve (keys under the run dir) or none
};

// Unix socket paths are limited to 107 bytes (sun_path).
Status CheckEndpoints(const board::ChassisConfig& c) {
  for (const auto& b : c.boards) {
    for (const auto& ep : {b.endpoint, b.client_endpoint}) {
      if (ep.rfind("ipc://", 0) == 0 && ep.size() - 6 > 107) {
        return Status::InvalidArgument("endpoint " + ep + " is " + std::to_string(ep.size() - 6) +
                                       " bytes, over the 107-byte Unix socket limit; use a "
                                       "shorter --run-dir");
      }
    }
  }
  return Status::Ok();
}

Result<board::ChassisConfig> MakeConfig(const UpOptions& o, const RunDir& dir) {
  board::ChassisConfig c;
  if (!o.config_file.empty()) {
    auto loaded = board::LoadChassisConfig(o.config_file);
    if (!loaded.ok()) return loaded.status();
    c = *loaded;
  } else {
    if (o.boards < 1) return Status::InvalidArgument("--boards must be at least 1");
    // A random chassis id: frames of another chassis on this machine are dropped.
    uint64_t id = std::random_device{}() | 1;
    if (o.security != "curve" && o.security != "none") {
      return Status::InvalidArgument("--security '" + o.security + "': use curve or none");
    }
    // Security curve: a key file per slot under the run dir (mode 0600).
    auto made = board::MakeLocalChassis(o.boards, dir.path(), id, o.security == "curve");
    if (!made.ok()) return made.status();
    c = std::move(made).value();
  }
  if (!o.ack_policy.empty()) {
    auto p = board::ParseAckPolicy(o.ack_policy);
    if (!p.ok()) return p.status();
    c.ack_policy = *p;
  }
  if (o.lease_timeout_ms != 0 && !o.leases) {
    return Status::InvalidArgument("--lease-timeout-ms needs --leases (master leases are off)");
  }
  if (o.leases) {
    c.leases = true;
    if (o.lease_timeout_ms < 0) {
      return Status::InvalidArgument("--lease-timeout-ms must be positive (milliseconds)");
    }
    if (o.lease_timeout_ms > 0) c.lease_timeout_ms = uint32_t(o.lease_timeout_ms);
  }
  if (o.cache_mb < 0 || o.log_buffer_mb < 0) {
    return Status::InvalidArgument("--cache-mb and --log-buffer-mb must be positive (MiB)");
  }
  if (o.cache_mb > 0) c.cache_mb = uint32_t(o.cache_mb);
  if (o.log_buffer_mb > 0) c.log_buffer_mb = uint32_t(o.log_buffer_mb);
  BP_RETURN_IF_ERROR(c.Validate());
  BP_RETURN_IF_ERROR(CheckEndpoints(c));
  return c;
}

// A run directory with live boards belongs to a running chassis.
Status CheckNotRunning(const RunDir& dir) {
  if (!dir.HasState()) return Status::Ok();
  auto state = dir.LoadState();
  if (state.ok()) {
    for (const auto& b : state->boards) {
      if (IsAlive(b.pid, b.start_ticks)) {
        return Status::FailedPrecondition("a chassis is already running in " + dir.path() +
                                          " (board " + std::to_string(b.slot) + ", pid " +
                                          std::to_string(b.pid) +
                                          "); stop it with `chassis down "
                                          "--run-dir " +
                                          dir.path() + "` or use another --run-dir");
      }
    }
  }
  dir.RemoveState();  // stale: every board is gone
  return Status::Ok();
}

void StopAll(Chassis& c) {
  for (int s : c.slots()) c.Stop(s, 2000);
  c.dir().RemoveState();
}

int StartAndWait(Chassis& c, const UpOptions& o) {
  for (int s : c.slots()) {
    Status st = c.Start(s);
    if (!st.ok()) {
      StopAll(c);
      return Fail("cannot start board " + std::to_string(s) + ": " + st.message());
    }
  }
  auto m = c.WaitInSync(o.timeout_s * 1000);
  if (!m.ok()) {
    std::string tails;
    for (int s : c.slots()) tails += "  " + c.dir().log_path(s) + ":\n" + c.LogTail(s, 5);
    StopAll(c);
    return Fail(m.status().message() + "\nthe boards were stopped; their logs:\n" + tails);
  }
  std::cout << "chassis up in " << c.dir().path() << ": " << c.slots().size()
            << " boards, master slot " << *m << ", ack policy "
            << board::AckPolicyName(c.config().ack_policy)
            << (c.config().leases
                    ? ", master leases on (" + std::to_string(c.config().lease_timeout_ms) + " ms)"
                    : std::string())
            << "\n"
            << StatusTable(StatusRows(c.Snapshot()));
  return 0;
}

int RunUp(const UpOptions& o) {
  RunDir dir(o.run_dir);
  Status st = CheckNotRunning(dir);
  if (st.ok()) st = dir.Create();
  if (!st.ok()) return Fail(st.message());
  auto config = MakeConfig(o, dir);
  if (!config.ok()) return Fail(config.status().message());
  auto exe = FindBoardExe(o.board_exe);
  if (!exe.ok()) return Fail(exe.status().message());
  st = dir.SaveConfig(*config);
  if (!st.ok()) return Fail(st.message());
  auto c = Chassis::Create(dir, *config, *exe);
  return StartAndWait(*c, o);
}

// Every ipc socket file the chassis' boards bound.
void RemoveSockets(const board::ChassisConfig& c) {
  for (const auto& b : c.boards) {
    for (const auto& ep : {b.endpoint, b.client_endpoint}) {
      if (ep.rfind("ipc://", 0) == 0) unlink(ep.substr(6).c_str());
    }
  }
}

int RunDown(const std::string& run_dir, int timeout_ms) {
  RunDir dir(run_dir);
  if (!dir.HasState()) {
    std::cout << "no chassis in " << dir.path() << "; nothing to stop\n";
    return 0;
  }
  auto state = dir.LoadState();
  if (!state.ok()) return Fail(state.status().message());
  // SIGTERM every board first, so they stop in parallel.
  for (const auto& b : state->boards) {
    Signal(b.pid, b.start_ticks, SIGTERM);
    Signal(b.pid, b.start_ticks, SIGCONT);  // a paused board cannot act on SIGTERM
  }
  int killed = 0;
  for (const auto& b : state->boards) {
    if (!WaitGone(b.pid, b.start_ticks, timeout_ms)) {
      StopProcess(b.pid, b.start_ticks, 0);  // SIGKILL now
      ++killed;
    }
  }
  auto config = dir.LoadConfig();
  if (config.ok()) RemoveSockets(*config);
  dir.RemoveHomes();
  dir.RemoveState();
  std::cout << "chassis down in " << dir.path() << ": " << state->boards.size()
            << " boards stopped (" << killed << " needed SIGKILL); logs kept in " << dir.path()
            << "/logs\n";
  return 0;
}

}  // namespace

void RegisterUp(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<UpOptions>();
  CLI::App* sub =
      app.add_subcommand("up", "start a chassis of board processes and wait for a master");
  AddRunDir(sub, &o->run_dir);
  sub->add_option("--boards,-n", o->boards, "boards to configure (ignored with --config)")
      ->capture_default_str();
  sub->add_option("--config,-c", o->config_file, "use this chassis configuration (TOML)")
      ->check(CLI::ExistingFile);
  sub->add_option("--ack-policy", o->ack_policy,
                  "none|one|one_peer|quorum|all_available|all (default: the config's, quorum)");
  sub->add_option("--board-exe", o->board_exe, "the board binary (default: next to chassis)");
  sub->add_option("--timeout-s", o->timeout_s, "wait this long for a master and sync")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));  // * 1000 must stay within an int of ms
  sub->add_flag("--leases", o->leases,
                "turn on master leases (leases = true in the generated or copied config)");
  sub->add_option("--lease-timeout-ms", o->lease_timeout_ms,
                  "lease timeout with --leases (default: the config's, 100)");
  sub->add_option("--cache-mb", o->cache_mb,
                  "cache_mb of every board (default: the config's, 256)");
  sub->add_option("--log-buffer-mb", o->log_buffer_mb,
                  "log_buffer_mb of every board (default: the config's, 16)");
  sub->add_option("--security", o->security,
                  "curve (default: a key pair per board, files under the run dir) or none "
                  "(no bus authentication; status warns); ignored with --config")
      ->capture_default_str();
  sub->callback([o, exit_code] { *exit_code = RunUp(*o); });
}

void RegisterDown(CLI::App& app, int* exit_code) {
  auto run_dir = std::make_shared<std::string>(DefaultRunDir());
  auto timeout_ms = std::make_shared<int>(5000);
  CLI::App* sub =
      app.add_subcommand("down", "stop every board (SIGTERM, then SIGKILL), remove sockets");
  AddRunDir(sub, run_dir.get());
  sub->add_option("--timeout-ms", *timeout_ms, "SIGKILL a board still running after this long")
      ->capture_default_str();
  sub->callback([run_dir, timeout_ms, exit_code] { *exit_code = RunDown(*run_dir, *timeout_ms); });
}

}  // namespace bp::chassis
