#include "run_dir.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace bp::chassis {

namespace fs = std::filesystem;
using nlohmann::json;

BoardProc* RunState::Find(int slot) {
  for (auto& b : boards) {
    if (b.slot == slot) return &b;
  }
  return nullptr;
}

RunDir::RunDir(const std::string& path) {
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec);
  path_ = (ec ? fs::path(path) : abs).lexically_normal().string();
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
}

std::string RunDir::log_path(int slot) const {
  return path_ + "/logs/board" + std::to_string(slot) + ".log";
}

std::string RunDir::home_path(int slot) const {
  return path_ + "/home/slot" + std::to_string(slot);
}

Status RunDir::Create() const {
  std::error_code ec;
  for (const char* sub : {"", "/logs", "/home"}) {
    fs::create_directories(path_ + sub, ec);
    if (ec) {
      return Status::InvalidArgument("cannot create run directory " + path_ + sub + ": " +
                                     ec.message() + " (pick a writable --run-dir)");
    }
  }
  return Status::Ok();
}

bool RunDir::HasState() const { return fs::exists(pids_path()); }

Result<RunState> RunDir::LoadState() const {
  std::ifstream in(pids_path());
  if (!in) return Status::NotFound("no " + pids_path());
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("boards")) {
    return Status::InvalidArgument(pids_path() +
                                   " is damaged; stop any board by hand and remove the file");
  }
  RunState s;
  s.board_exe = j.value("board_exe", "");
  for (const auto& b : j["boards"]) {
    s.boards.push_back({b.value("slot", 0), pid_t(b.value("pid", 0)),
                        b.value("start_ticks", uint64_t(0)), b.value("starts", 0)});
  }
  return s;
}

Status RunDir::SaveState(const RunState& state) const {
  json boards = json::array();
  for (const auto& b : state.boards) {
    boards.push_back(
        {{"slot", b.slot}, {"pid", b.pid}, {"start_ticks", b.start_ticks}, {"starts", b.starts}});
  }
  json j = {{"board_exe", state.board_exe}, {"boards", boards}};
  std::string tmp = pids_path() + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out) return Status::Internal("cannot write " + tmp + " (disk full? read-only?)");
  }
  std::error_code ec;
  fs::rename(tmp, pids_path(), ec);
  if (ec) return Status::Internal("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

void RunDir::RemoveState() const {
  std::error_code ec;
  fs::remove(pids_path(), ec);
}

Result<board::ChassisConfig> RunDir::LoadConfig() const {
  return board::LoadChassisConfig(config_path());
}

Status RunDir::SaveConfig(const board::ChassisConfig& config) const {
  std::ofstream out(config_path());
  out << board::ToToml(config);
  if (!out) return Status::Internal("cannot write " + config_path());
  return Status::Ok();
}

Status RunDir::ResetHome(int slot) const {
  std::error_code ec;
  fs::remove_all(home_path(slot), ec);
  fs::create_directories(home_path(slot), ec);
  if (ec) return Status::Internal("cannot create " + home_path(slot) + ": " + ec.message());
  return Status::Ok();
}

void RunDir::RemoveHomes() const {
  std::error_code ec;
  fs::remove_all(path_ + "/home", ec);
}

std::string DefaultRunDir() { return "chassis-run"; }

}  // namespace bp::chassis
