// The private temporary home: it carries its process's pid, and making one
// removes those of processes that are gone (a board killed with SIGKILL
// cannot remove its own), never a live process's, another naming scheme's,
// or a file's. The directory is a temporary $TMPDIR of the test's own.
#include "home.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace bp::memenv {
namespace {

namespace fs = std::filesystem;

// A pid that existed and is gone: a child that exited and was reaped.
pid_t DeadPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

class TempHomeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "bp-home-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    const char* old = std::getenv("TMPDIR");
    if (old) old_tmpdir_ = old;
    had_tmpdir_ = old != nullptr;
    setenv("TMPDIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    if (had_tmpdir_) {
      setenv("TMPDIR", old_tmpdir_.c_str(), 1);
    } else {
      unsetenv("TMPDIR");
    }
    fs::remove_all(dir_);
  }
  std::string Make(const std::string& name) {
    fs::create_directory(dir_ + "/" + name);
    std::ofstream(dir_ + "/" + name + "/leftover") << "x";  // not even empty
    return dir_ + "/" + name;
  }

  std::string dir_, old_tmpdir_;
  bool had_tmpdir_ = false;
};

TEST_F(TempHomeTest, AHomeNamesItsProcess) {
  Result<std::string> home = MakeTempHome();
  ASSERT_TRUE(home.ok()) << home.status().ToString();
  const std::string name = fs::path(home.value()).filename().string();
  EXPECT_EQ(name.rfind("bp-memenv-" + std::to_string(getpid()) + "-", 0), 0u) << name;
  EXPECT_TRUE(CheckEmptyHome(home.value()).ok());
  RemoveTempHome(home.value());
  EXPECT_FALSE(fs::exists(home.value()));
}

TEST_F(TempHomeTest, MakingAHomeRemovesThoseOfDeadProcessesOnly) {
  const std::string dead = Make("bp-memenv-" + std::to_string(DeadPid()) + "-aaaaaa");
  const std::string dead2 = Make("bp-memenv-" + std::to_string(DeadPid()) + "-bbbbbb");
  const std::string mine = Make("bp-memenv-" + std::to_string(getpid()) + "-cccccc");
  const std::string parent = Make("bp-memenv-" + std::to_string(getppid()) + "-dddddd");
  const std::string old_form = Make("bp-memenv-Ab3xYz");
  const std::string other = Make("bp-memenv-x12-eeeeee");
  std::ofstream(dir_ + "/bp-memenv-" + std::to_string(DeadPid()) + "-file") << "a file";

  Result<std::string> home = MakeTempHome();
  ASSERT_TRUE(home.ok()) << home.status().ToString();
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(dead2));
  EXPECT_TRUE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(parent));  // alive
  EXPECT_TRUE(fs::exists(old_form));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(home.value()));
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);  // a file of that name is not a home
  EXPECT_EQ(SweepDeadHomes(dir_), 0u);  // nothing left to remove
  RemoveTempHome(home.value());
}

}  // namespace
}  // namespace bp::memenv
