// Issue 13 from the command line: `chassis up` generates a key file per
// board (mode 0600, security curve); `chassis keygen --slot N` writes a new
// key and its public key into chassis.toml; `chassis reload-keys` makes the
// running boards take it; `--security none` warns in `chassis status`.
// Runs the real binaries.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "board/config.h"
#include "bus/curve.h"
#include "cli_runner.h"

namespace bp::chassis_test {
namespace {

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(ChassisKeys, UpGeneratesKeysAndKeygenRotatesOne) {
  TempRunDir dir;
  CliResult up = RunChassis({"up", "--boards", "3", "--run-dir", dir.path()});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  auto config = board::LoadChassisConfig(dir.path() + "/chassis.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->security, board::SecurityMode::kCurve);
  for (const auto& b : config->boards) {
    struct stat st;
    ASSERT_EQ(stat(b.secret_key_file.c_str(), &st), 0) << b.secret_key_file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << b.secret_key_file;
    EXPECT_EQ(bus::ReadSecretKeyFile(b.secret_key_file)->public_z85, b.public_key);
  }
  CliResult status = RunChassis({"status", "--run-dir", dir.path()});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_FALSE(Has(status.err, "WARNING")) << status.err;

  CliResult keygen = RunChassis({"keygen", "--slot", "3", "--run-dir", dir.path()});
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  auto rotated = board::LoadChassisConfig(dir.path() + "/chassis.toml");
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  const std::string new_key = rotated->Find(3)->public_key;
  EXPECT_NE(new_key, config->Find(3)->public_key);
  EXPECT_TRUE(Has(keygen.out, "slot 3: public_key = \"" + new_key + "\"")) << keygen.out;
  EXPECT_EQ(bus::ReadSecretKeyFile(rotated->Find(3)->secret_key_file)->public_z85, new_key);
  EXPECT_EQ(rotated->Find(1)->public_key, config->Find(1)->public_key);  // others untouched

  CliResult reload = RunChassis({"reload-keys", "--run-dir", dir.path()});
  EXPECT_EQ(reload.exit_code, 0) << reload.out << reload.err;
  EXPECT_TRUE(Has(reload.out, "slot 1: keys reloaded, changed [3]")) << reload.out;
  EXPECT_TRUE(Has(reload.out, "slot 2: keys reloaded, changed [3]")) << reload.out;

  CliResult no_slot = RunChassis({"keygen", "--run-dir", dir.path()});
  EXPECT_EQ(no_slot.exit_code, 2);
  EXPECT_TRUE(Has(no_slot.err, "--slot N")) << no_slot.err;
}

TEST(ChassisKeys, SecurityNoneWarnsInStatus) {
  TempRunDir dir;
  CliResult up =
      RunChassis({"up", "--boards", "1", "--security", "none", "--run-dir", dir.path()});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  CliResult status = RunChassis({"status", "--run-dir", dir.path()});
  EXPECT_TRUE(Has(status.err, "WARNING: this chassis runs security = \"none\"")) << status.err;
}

}  // namespace
}  // namespace bp::chassis_test
