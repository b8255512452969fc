#include "cli_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#ifndef BP_CHASSIS_EXE
#define BP_CHASSIS_EXE "chassis"
#endif

extern char** environ;

namespace bp::chassis_test {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CliResult RunChassis(const std::vector<std::string>& args) {
  char tmpl[] = "/tmp/bp-chassis-cli-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string out_path = dir + "/out", err_path = dir + "/err";
  std::vector<std::string> all{BP_CHASSIS_EXE};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CliResult r;
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&fa);
  r.out = Slurp(out_path);
  r.err = Slurp(err_path);
  std::filesystem::remove_all(dir);
  return r;
}

TempRunDir::TempRunDir() {
  char tmpl[] = "/tmp/bpch-XXXXXX";
  path_ = mkdtemp(tmpl);
}

std::vector<pid_t> TempRunDir::RecordedPids() const {
  std::vector<pid_t> pids;
  nlohmann::json j = nlohmann::json::parse(Slurp(path_ + "/pids.json"), nullptr, false);
  if (j.is_discarded()) return pids;
  for (const auto& b : j.value("boards", nlohmann::json::array()))
    pids.push_back(b.value("pid", 0));
  return pids;
}

TempRunDir::~TempRunDir() {
  std::vector<pid_t> pids = RecordedPids();
  RunChassis({"down", "--run-dir", path_, "--timeout-ms", "3000"});
  for (pid_t p : pids) {
    // Only a board of ours: a recycled pid would have another command line.
    bool ours = Slurp("/proc/" + std::to_string(p) + "/cmdline").find(path_) != std::string::npos;
    if (p > 0 && ProcessAlive(p) && ours) kill(p, SIGKILL);
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool ProcessAlive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z' &&
         line[close + 2] != 'X';
}

}  // namespace bp::chassis_test
