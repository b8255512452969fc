// Goal: every bad input is refused with an error that names the cause and
// the fix, and a non-zero exit: an unknown drill, rounds <= 0, no chassis in
// the run directory, a kill drill on a chassis with one electable board, and
// soak arguments that cannot work (values too short to name their writer).
// Also: every subcommand answers --help. Runs the real binary.
#include <gtest/gtest.h>

#include "cli_runner.h"

namespace bp::chassis_test {
namespace {

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(ChassisCli, HelpOnEverySubcommand) {
  for (const char* sub : {"up", "down", "status", "load", "drill", "soak"}) {
    CliResult r = RunChassis({sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub << ": " << r.err;
    EXPECT_TRUE(Has(r.out, "--run-dir")) << sub << ":\n" << r.out;
  }
}

TEST(ChassisCli, UnknownDrillNamesTheDrills) {
  TempRunDir dir;
  CliResult r = RunChassis({"drill", "explode", "--run-dir", dir.path()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(Has(r.err, "unknown drill 'explode'")) << r.err;
  EXPECT_TRUE(Has(r.err, "kill, pause, partition, replace")) << r.err;
}

TEST(ChassisCli, NonPositiveRounds) {
  TempRunDir dir;
  for (const char* n : {"0", "-2"}) {
    CliResult r = RunChassis({"drill", "kill", "--rounds", n, "--run-dir", dir.path()});
    EXPECT_NE(r.exit_code, 0) << n;
    EXPECT_TRUE(Has(r.err, "--rounds must be at least 1")) << r.err;
  }
}

TEST(ChassisCli, NoChassisInRunDir) {
  TempRunDir dir;
  for (const char* sub : {"drill", "status", "load", "soak"}) {
    std::vector<std::string> args{sub};
    if (std::string(sub) == "drill") args.push_back("kill");
    args.insert(args.end(), {"--run-dir", dir.path()});
    CliResult r = RunChassis(args);
    EXPECT_NE(r.exit_code, 0) << sub;
    EXPECT_TRUE(Has(r.err, "no chassis is running in " + dir.path())) << sub << ": " << r.err;
    EXPECT_TRUE(Has(r.err, "chassis up")) << r.err;
  }
}

TEST(ChassisCli, SoakArgumentsNameTheFix) {
  TempRunDir dir;
  CliResult short_value = RunChassis({"soak", "--value-size", "8", "--run-dir", dir.path()});
  EXPECT_EQ(short_value.exit_code, 2);
  EXPECT_TRUE(Has(short_value.err, "--value-size 8 is too short")) << short_value.err;
  EXPECT_TRUE(Has(short_value.err, "use --value-size")) << short_value.err;
  CliResult few_keys =
      RunChassis({"soak", "--key-space", "3", "--clients", "4", "--run-dir", dir.path()});
  EXPECT_EQ(few_keys.exit_code, 2);
  EXPECT_TRUE(Has(few_keys.err, "--key-space (3) must be at least --clients (4)")) << few_keys.err;
  CliResult no_time = RunChassis({"soak", "--duration-s", "0", "--run-dir", dir.path()});
  EXPECT_EQ(no_time.exit_code, 2);
  EXPECT_TRUE(Has(no_time.err, "--duration-s must be > 0")) << no_time.err;
  CliResult soak_s = RunChassis({"drill", "kill", "--soak-s", "-1", "--run-dir", dir.path()});
  EXPECT_NE(soak_s.exit_code, 0);
  EXPECT_TRUE(Has(soak_s.err, "--soak-s must be >= 0")) << soak_s.err;
}

TEST(ChassisCli, KillDrillNeedsASecondElectableBoard) {
  TempRunDir dir;
  CliResult up = RunChassis({"up", "--boards", "1", "--run-dir", dir.path()});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  for (const char* kind : {"kill", "pause", "partition"}) {
    CliResult r = RunChassis({"drill", kind, "--run-dir", dir.path()});
    EXPECT_NE(r.exit_code, 0) << kind;
    EXPECT_TRUE(Has(r.err, "1 electable board")) << r.err;
    EXPECT_TRUE(Has(r.err, "--boards 3")) << r.err;
  }
  CliResult again = RunChassis({"up", "--boards", "1", "--run-dir", dir.path()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(Has(again.err, "already running")) << again.err;
}

}  // namespace
}  // namespace bp::chassis_test
