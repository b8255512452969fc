#include "home.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace bp::memenv {

namespace fs = std::filesystem;

Result<std::string> MakeTempHome() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/bp-memenv-XXXXXX";
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
