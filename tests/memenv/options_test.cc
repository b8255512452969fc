// Every impossible configuration is refused at open, before Berkeley DB sees
// it (some of them would make DB_ENV->open panic), with a message naming the
// field and the fix.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "memenv/env.h"
#include "test_util.h"

namespace bp::memenv {
namespace {

using testing::SmallOptions;

struct BadConfig {
  const char* name;
  std::function<void(EnvOptions&)> mutate;
  const char* expected;  // must appear in the message
};

TEST(OptionsTest, DefaultsAreValid) {
  EnvOptions o;
  EXPECT_TRUE(o.Validate().ok()) << o.Validate().ToString();
  EXPECT_EQ(o.EffectiveLogFileBytes(), o.log_buffer_bytes / 8);
  EXPECT_EQ(o.EffectiveCheckpointKbytes() * 1024u, o.log_buffer_bytes / 8);
  EXPECT_EQ(o.EffectiveMaxTxnBytes(), o.log_buffer_bytes / 4);
}

TEST(OptionsTest, InvalidConfigurationsAreRefusedAtOpen) {
  const std::vector<BadConfig> cases = {
      {"zero cache", [](EnvOptions& o) { o.cache_bytes = 0; }, "cache_bytes = 0"},
      {"tiny log buffer", [](EnvOptions& o) { o.log_buffer_bytes = 512u << 10; },
       "log_buffer_bytes = 512 KiB"},
      {"log file == buffer", [](EnvOptions& o) { o.log_file_bytes = o.log_buffer_bytes; },
       "log_file_bytes = 2 MiB"},
      {"log file > buffer", [](EnvOptions& o) { o.log_file_bytes = 3u << 20; },
       "smaller than log_buffer_bytes"},
      {"checkpoint outside ring", [](EnvOptions& o) { o.checkpoint_kbytes = 1025; },
       "checkpoint_kbytes = 1025"},
      {"txn larger than half ring", [](EnvOptions& o) { o.max_txn_bytes = (1u << 20) + 1; },
       "max_txn_bytes"},
      {"cache < 2x log", [](EnvOptions& o) { o.cache_bytes = 3u << 20; },
       "smaller than 2x log_buffer_bytes"},
      {"zero retries", [](EnvOptions& o) { o.deadlock_retries = 0; }, "deadlock_retries = 0"},
      {"zero locks", [](EnvOptions& o) { o.max_locks = 0; }, "max_locks = 0"},
      {"zero lock objects", [](EnvOptions& o) { o.max_lock_objects = 0; }, "max_lock_objects = 0"},
      {"zero lockers", [](EnvOptions& o) { o.max_lockers = 0; }, "max_lockers = 0"},
      {"bad policy", [](EnvOptions& o) { o.deadlock_policy = 99; }, "deadlock_policy = 99"},
      {"zero poll", [](EnvOptions& o) { o.checkpoint_poll_ms = 0; }, "checkpoint_poll_ms = 0"},
      {"missing home", [](EnvOptions& o) { o.home = "/nonexistent/bp-memenv"; },
       "not an existing directory"},
      {"non-empty home", [](EnvOptions& o) { o.home = "/etc"; }, "not empty"},
  };
  for (const BadConfig& c : cases) {
    EnvOptions o = SmallOptions();
    c.mutate(o);
    Result<std::unique_ptr<Env>> env = Env::Open(o);
    ASSERT_FALSE(env.ok()) << c.name;
    EXPECT_EQ(env.status().code(), Status::Code::kInvalidArgument) << c.name;
    EXPECT_NE(env.status().message().find(c.expected), std::string::npos)
        << c.name << ": " << env.status().ToString();
  }
}

TEST(OptionsTest, BeforeOpenHookRunsAndItsErrorIsReturned) {
  EnvOptions o = SmallOptions();
  bool called = false;
  o.before_open = [&](__db_env* env) {
    called = env != nullptr;
    return Status::Unavailable("transport not ready");
  };
  Result<std::unique_ptr<Env>> env = Env::Open(o);
  EXPECT_TRUE(called);
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(env.status().message().find("transport not ready"), std::string::npos);
}

}  // namespace
}  // namespace bp::memenv
