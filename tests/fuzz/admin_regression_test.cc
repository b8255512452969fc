// A real board answers admin commands that are JSON but not the shape it
// expects (found by reading what fuzz_client_request covers: the command
// name was read with json::value, which throws on a non-object or a
// non-string "cmd"; the exception escaped the client endpoint's thread and
// ended the board process). Every one is refused with an error, and the
// board serves on.
#include <gtest/gtest.h>

#include "local_chassis.h"

namespace bp::testing {
namespace {

TEST(AdminRegressionTest, MisshapenAdminCommandsAreRefusedAndTheBoardServesOn) {
  ChassisOptions options;
  options.boards = 1;
  LocalChassis chassis(options);
  ASSERT_TRUE(chassis.StartAll().ok());
  ASSERT_EQ(chassis.WaitForMaster(20000), 1);
  for (const char* text : {"[1]", "1", "\"status\"", "null", R"({"cmd":1})", R"({"cmd":["status"]})"}) {
    auto reply = chassis.client(1).Admin(nlohmann::json::parse(text));
    ASSERT_TRUE(reply.ok()) << text << ": " << reply.status().ToString() << "\n" << chassis.Logs(1);
    EXPECT_EQ(reply.value().value("ok", true), false) << text << ": " << reply.value().dump();
    ASSERT_TRUE(chassis.Running(1)) << text << "\n" << chassis.Logs(1);
  }
  ASSERT_TRUE(chassis.client(1).Put("after", "admin").status.ok());
  auto got = chassis.client(1).Get("after");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), "admin");
}

}  // namespace
}  // namespace bp::testing
