#include "home.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace bp::memenv {

namespace fs = std::filesystem;

namespace {

constexpr char kPrefix[] = "bp-memenv-";

// The pid in "bp-memenv-<pid>-XXXXXX", or 0.
pid_t PidOfHome(const std::string& name) {
  const size_t n = sizeof kPrefix - 1;
  if (name.compare(0, n, kPrefix) != 0) return 0;
  const size_t dash = name.find('-', n);
  if (dash == std::string::npos || dash == n || dash - n > 10) return 0;
  pid_t pid = 0;
  for (size_t i = n; i < dash; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    pid = pid * 10 + (name[i] - '0');
  }
  return pid;
}

}  // namespace

size_t SweepDeadHomes(const std::string& dir) {
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const pid_t pid = PidOfHome(it->path().filename().string());
    if (pid <= 0 || pid == getpid()) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) {
      continue;
    }
    std::error_code rm;
    fs::remove_all(it->path(), rm);
    if (!rm) ++removed;
  }
  return removed;
}

Result<std::string> MakeTempHome() {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  SweepDeadHomes(dir);
  std::string pattern = dir + "/" + kPrefix + std::to_string(getpid()) + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status::Internal("mkdtemp(" + pattern + "): " + std::strerror(errno) +
                            " (set EnvOptions.home to an empty directory, or fix $TMPDIR)");
  }
  return pattern;
}

Status CheckEmptyHome(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    return Status::InvalidArgument("EnvOptions.home = " + path +
                                   ": not an existing directory; create an empty directory "
                                   "or leave home empty for a private temporary one");
  }
  std::vector<std::string> entries = ListHome(path);
  if (!entries.empty()) {
    return Status::InvalidArgument("EnvOptions.home = " + path + ": not empty (contains '" +
                                   entries.front() + "'); give memenv an empty directory");
  }
  return Status::Ok();
}

std::vector<std::string> ListHome(const std::string& path) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  return names;
}

void RemoveTempHome(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

}  // namespace bp::memenv
