// Every Berkeley DB code the engine reacts to maps to the Status code whose
// retry semantics fit (bp/status.h), with the fix in the message.
#include "db_error.h"

#include <db.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

namespace bp::memenv {
namespace {

struct Mapping {
  int ret;
  bool replica_write;
  Status::Code code;
  const char* expected;  // must appear in the message
};

TEST(DbErrorTest, TranslatesEveryCodeTheEngineReactsTo) {
  const std::vector<Mapping> cases = {
      {DB_NOTFOUND, false, Status::Code::kNotFound, "DB->get"},
      {ENOENT, false, Status::Code::kNotFound, "retry later"},
      {DB_LOCK_DEADLOCK, false, Status::Code::kBusy, "DB->get"},
      {DB_LOCK_NOTGRANTED, false, Status::Code::kBusy, "DB->get"},
      {DB_REP_HANDLE_DEAD, false, Status::Code::kUnavailable, "invalidated"},
      {DB_REP_LOCKOUT, false, Status::Code::kUnavailable, "lockout"},
      {DB_REP_LEASE_EXPIRED, false, Status::Code::kUnavailable, "lease"},
      {EACCES, false, Status::Code::kNotMaster, "send writes to the master"},
      {EINVAL, true, Status::Code::kNotMaster, "send writes to the master"},
      {EINVAL, false, Status::Code::kInvalidArgument, "DB->get"},
      {ENOMEM, false, Status::Code::kInternal, "cache full: raise cache_bytes"},
      {DB_LOG_BUFFER_FULL, false, Status::Code::kTooLarge, "raise log_buffer_bytes"},
      {DB_RUNRECOVERY, false, Status::Code::kInternal, "the board must restart"},
      {DB_PAGE_NOTFOUND, false, Status::Code::kInternal, "DB->get"},
  };
  for (const Mapping& m : cases) {
    Status s = FromDb(m.ret, "DB->get", m.replica_write);
    EXPECT_EQ(s.code(), m.code) << m.ret << ": " << s.ToString();
    EXPECT_NE(s.message().find(m.expected), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find(db_strerror(m.ret)), std::string::npos) << s.ToString();
  }
  EXPECT_TRUE(FromDb(0, "DB->get").ok());
  EXPECT_TRUE(IsDeadlock(DB_LOCK_DEADLOCK));
  EXPECT_TRUE(IsDeadlock(DB_LOCK_NOTGRANTED));
  EXPECT_FALSE(IsDeadlock(DB_NOTFOUND));
}

}  // namespace
}  // namespace bp::memenv
