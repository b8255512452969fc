// Goal: every bad input is refused with an error that names the cause and
// the fix, and a non-zero exit: an unknown drill, rounds <= 0, no chassis in
// the run directory, and a kill drill on a chassis with one electable board.
// Also: every subcommand answers --help. Runs the real binary.
#include <gtest/gtest.h>

#include "cli_runner.h"

namespace bp::chassis_test {
namespace {

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(ChassisCli, HelpOnEverySubcommand) {
  for (const char* sub : {"up", "down", "status", "load", "drill"}) {
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
  for (const char* sub : {"drill", "status", "load"}) {
    std::vector<std::string> args{sub};
    if (std::string(sub) == "drill") args.push_back("kill");
    args.insert(args.end(), {"--run-dir", dir.path()});
    CliResult r = RunChassis(args);
    EXPECT_NE(r.exit_code, 0) << sub;
    EXPECT_TRUE(Has(r.err, "no chassis is running in " + dir.path())) << sub << ": " << r.err;
    EXPECT_TRUE(Has(r.err, "chassis up")) << r.err;
  }
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
