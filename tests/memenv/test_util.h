// Helpers shared by the memenv tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "memenv/env.h"

namespace bp::memenv::testing {

#define ASSERT_OK(expr)                                    \
  do {                                                     \
    const ::bp::Status assert_ok_ = (expr);                \
    ASSERT_TRUE(assert_ok_.ok()) << assert_ok_.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                    \
  do {                                                     \
    const ::bp::Status expect_ok_ = (expr);                \
    EXPECT_TRUE(expect_ok_.ok()) << expect_ok_.ToString(); \
  } while (0)

// Small sizes so that tests run fast; big enough for Validate().
inline EnvOptions SmallOptions() {
  EnvOptions o;
  o.cache_bytes = 16u << 20;
  o.log_buffer_bytes = 2u << 20;
  return o;
}

inline std::unique_ptr<Env> OpenOrDie(EnvOptions o = SmallOptions()) {
  Result<std::unique_ptr<Env>> env = Env::Open(std::move(o));
  EXPECT_TRUE(env.ok()) << env.status().ToString();
  return env.ok() ? std::move(env).value() : nullptr;
}

inline std::string Key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%06d", i);
  return buf;
}

}  // namespace bp::memenv::testing
