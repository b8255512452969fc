#include "chassis.h"

#include <signal.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "process.h"

namespace bp::chassis {

using nlohmann::json;

namespace {

bool PastDeadline(std::chrono::steady_clock::time_point deadline) {
  return std::chrono::steady_clock::now() >= deadline;
}

std::chrono::steady_clock::time_point DeadlineIn(int timeout_ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
}

void PollPause() { std::this_thread::sleep_for(std::chrono::milliseconds(5)); }

}  // namespace

Chassis::Chassis(const RunDir& dir, board::ChassisConfig config, RunState state)
    : dir_(dir), config_(std::move(config)), state_(std::move(state)) {}

Result<std::unique_ptr<Chassis>> Chassis::Open(const RunDir& dir) {
  if (!dir.HasState()) {
    return Status::FailedPrecondition(
        "no chassis is running in " + dir.path() +
        " (no pids.json there); start one with `chassis up --run-dir " + dir.path() +
        "`, or pass the --run-dir of a running chassis");
  }
  auto state = dir.LoadState();
  if (!state.ok()) return state.status();
  auto config = dir.LoadConfig();
  if (!config.ok()) {
    return Status::FailedPrecondition("the chassis in " + dir.path() +
                                      " has a bad configuration: " + config.status().message());
  }
  std::unique_ptr<Chassis> c(new Chassis(dir, std::move(*config), std::move(*state)));
  if (c->AliveCount() == 0) {
    return Status::FailedPrecondition("no board of the chassis in " + dir.path() +
                                      " is running (they exited or were killed); run `chassis "
                                      "down --run-dir " +
                                      dir.path() + "` then `chassis up`");
  }
  return c;
}

std::unique_ptr<Chassis> Chassis::Create(const RunDir& dir, board::ChassisConfig config,
                                         std::string board_exe) {
  RunState state;
  state.board_exe = std::move(board_exe);
  return std::unique_ptr<Chassis>(new Chassis(dir, std::move(config), std::move(state)));
}

std::vector<int> Chassis::slots() const {
  std::vector<int> out;
  for (const auto& b : config_.boards) out.push_back(b.slot);
  return out;
}

std::string Chassis::client_endpoint(int slot) const {
  const board::SlotConfig* s = config_.Find(slot);
  return s ? s->client_endpoint : std::string();
}

pid_t Chassis::pid(int slot) {
  BoardProc* p = state_.Find(slot);
  return p ? p->pid : 0;
}

bool Chassis::Alive(int slot) {
  BoardProc* p = state_.Find(slot);
  return p && IsAlive(p->pid, p->start_ticks);
}

int Chassis::AliveCount() {
  int n = 0;
  for (int s : slots()) n += Alive(s) ? 1 : 0;
  return n;
}

Status Chassis::Start(int slot) {
  if (Alive(slot)) return Status::FailedPrecondition("slot " + std::to_string(slot) + " runs");
  BP_RETURN_IF_ERROR(dir_.ResetHome(slot));
  SpawnSpec spec{state_.board_exe,
                 {"--config", dir_.config_path(), "--slot", std::to_string(slot), "--home",
                  dir_.home_path(slot)},
                 dir_.log_path(slot)};
  auto spawned = SpawnDaemon(spec);
  if (!spawned.ok()) return spawned.status();
  BoardProc* p = state_.Find(slot);
  if (!p) {
    state_.boards.push_back({slot, 0, 0, 0});
    p = &state_.boards.back();
  }
  p->pid = spawned->pid;
  p->start_ticks = spawned->start_ticks;
  ++p->starts;
  links_.erase(slot);  // a fresh connection for the new process
  return dir_.SaveState(state_);
}

Status Chassis::Kill(int slot, int sig) {
  BoardProc* p = state_.Find(slot);
  if (!p || !Signal(p->pid, p->start_ticks, sig)) {
    return Status::FailedPrecondition("board " + std::to_string(slot) + " is not running");
  }
  if (sig == SIGKILL && !WaitGone(p->pid, p->start_ticks, 5000)) {
    return Status::Internal("board " + std::to_string(slot) + " survived SIGKILL for 5 s");
  }
  return Status::Ok();
}

bool Chassis::Stop(int slot, int timeout_ms) {
  BoardProc* p = state_.Find(slot);
  if (!p) return true;
  links_.erase(slot);
  return StopProcess(p->pid, p->start_ticks, timeout_ms);
}

BoardLink& Chassis::Link(int slot) {
  auto& l = links_[slot];
  if (!l) l = std::make_unique<BoardLink>(client_endpoint(slot), 300);
  return *l;
}

Result<json> Chassis::BoardStatus(int slot) { return Link(slot).GetStatus(); }

Result<json> Chassis::Admin(int slot, const json& command) { return Link(slot).Admin(command); }

std::map<int, BoardView> Chassis::Snapshot(const std::set<int>& skip) {
  std::map<int, BoardView> out;
  for (int s : slots()) {
    BoardView v;
    v.slot = s;
    v.pid = pid(s);
    v.alive = Alive(s);
    if (v.alive && !skip.count(s)) {
      auto st = BoardStatus(s);
      v.answered = st.ok();
      if (st.ok())
        v.status = std::move(*st);
      else
        v.error = st.status().message();
    } else {
      v.error = v.alive ? "not asked" : "process not running";
    }
    out[s] = std::move(v);
  }
  return out;
}

int AgreedMaster(const std::map<int, BoardView>& views, const std::set<int>& skip) {
  int master = -1;
  for (const auto& [slot, v] : views) {
    if (skip.count(slot) || !v.alive) continue;
    if (!v.answered) return -1;
    if (v.status.value("role", "") == "master") {
      if (master != -1) return -1;  // two claim it: not settled
      master = slot;
    }
  }
  if (master < 0) return -1;
  for (const auto& [slot, v] : views) {
    if (skip.count(slot) || !v.alive) continue;
    if (v.status.value("master", -1) != master) return -1;
    if (!v.status.value("startup_complete", false) || v.status.value("reinit", false)) return -1;
  }
  return master;
}

bool MasterSeesAllInSync(const json& st) {
  for (const auto& p : st.value("peers", json::array())) {
    if (!p.value("alive", false) || !p.value("startup_complete", false)) return false;
    if (p.value("lag_bytes", int64_t(0)) != 0) return false;
  }
  return true;
}

Result<int> Chassis::WaitSettled(int timeout_ms, const std::set<int>& skip, int not_master) {
  auto deadline = DeadlineIn(timeout_ms);
  std::map<int, BoardView> views;
  while (true) {
    views = Snapshot(skip);
    int m = AgreedMaster(views, skip);
    if (m > 0 && m != not_master) return m;
    if (PastDeadline(deadline)) break;
    PollPause();
  }
  return Status::Timeout("no settled master after " + std::to_string(timeout_ms) +
                         " ms: " + Describe(views, -1));
}

Result<int> Chassis::WaitInSync(int timeout_ms, bool restart_dead, std::vector<int>* restarted) {
  auto deadline = DeadlineIn(timeout_ms);
  std::map<int, BoardView> views;
  int m = -1;
  while (true) {
    for (int s : slots()) {
      if (restart_dead && !Alive(s) && Start(s).ok() && restarted) restarted->push_back(s);
    }
    views = Snapshot();
    bool all_up = true;
    for (const auto& [s, v] : views) all_up = all_up && v.alive;
    m = all_up ? AgreedMaster(views, {}) : -1;
    if (m > 0 && MasterSeesAllInSync(views[m].status)) return m;
    if (PastDeadline(deadline)) break;
    PollPause();
  }
  return Status::Timeout("the chassis did not get in sync within " + std::to_string(timeout_ms) +
                         " ms: " + Describe(views, m));
}

std::string Chassis::Describe(const std::map<int, BoardView>& views, int master) const {
  std::ostringstream o;
  for (const auto& [s, v] : views) {
    o << "[slot " << s << ": ";
    if (!v.answered) {
      o << v.error << "; log " << dir_.log_path(s) << "] ";
      continue;
    }
    o << v.status.value("role", "?") << ", master " << v.status.value("master", -1) << ", in sync "
      << (v.status.value("startup_complete", false) ? "yes" : "no") << "] ";
  }
  if (master > 0) o << "(master " << master << " still sees a peer down or lagging)";
  return o.str();
}

std::string Chassis::LogTail(int slot, int lines) const {
  std::ifstream in(dir_.log_path(slot));
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (int(tail.size()) > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += "    " + l + "\n";
  return out;
}

}  // namespace bp::chassis
