#include "driver/cleanup.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace bp::peers {
namespace {

constexpr int kMaxPids = 64;
constexpr int kMaxDirs = 64;
constexpr size_t kMaxPath = 512;

// Slots hold 0 when free. Plain atomics: the handler only reads them.
std::atomic<pid_t> g_pids[kMaxPids];
char g_dirs[kMaxDirs][kMaxPath];
std::atomic<bool> g_dir_used[kMaxDirs];

void OnFatalSignal(int sig) {
  for (auto& slot : g_pids) {
    const pid_t pid = slot.load();
    if (pid > 0) kill(pid, SIGKILL);
  }
  for (int i = kMaxDirs - 1; i >= 0; --i) {
    if (g_dir_used[i].load()) rmdir(g_dirs[i]);  // homes are empty; best effort
  }
  _exit(128 + sig);
}

}  // namespace

void InstallCleanupHandlers() {
  struct sigaction action {};
  action.sa_handler = OnFatalSignal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
  // A site that dies mid-command must not kill the driver on its next write.
  signal(SIGPIPE, SIG_IGN);
}

void RegisterChildPid(pid_t pid) {
  for (auto& slot : g_pids) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}

void UnregisterChildPid(pid_t pid) {
  for (auto& slot : g_pids) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

// Not thread-safe against concurrent registration: the driver registers
// directories from its main thread only.
void RegisterTempDir(const std::string& path) {
  if (path.size() >= kMaxPath) return;
  for (int i = 0; i < kMaxDirs; ++i) {
    if (g_dir_used[i].load()) continue;
    std::memcpy(g_dirs[i], path.c_str(), path.size() + 1);
    g_dir_used[i].store(true);
    return;
  }
}

void UnregisterTempDir(const std::string& path) {
  for (int i = 0; i < kMaxDirs; ++i) {
    if (g_dir_used[i].load() && path == g_dirs[i]) g_dir_used[i].store(false);
  }
}

std::string MakeTempDir(const std::string& parent, const std::string& prefix) {
  std::string templ = parent + "/" + prefix + "XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) return "";
  RegisterTempDir(templ);
  return templ;
}

bool RemoveTempDir(const std::string& path) {
  UnregisterTempDir(path);
  if (rmdir(path.c_str()) == 0) return true;
  const int rmdir_errno = errno;
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
  return rmdir_errno == ENOENT;
}

}  // namespace bp::peers
