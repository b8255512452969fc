// RequestIds on a real in-memory Berkeley DB environment (no replication):
// the count of ids held stays exact when a recount (a new master's, on the
// request-expirer thread) runs while writes commit.
#include "board/request_ids.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "board/write_result.h"
#include "bp/request_id.h"
#include "memenv/env.h"

namespace bp::board {
namespace {

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

class RequestIdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memenv::EnvOptions o;
    o.cache_bytes = 16u << 20;
    o.log_buffer_bytes = 2u << 20;
    auto env = memenv::Env::Open(std::move(o));
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = std::move(env).value();
    auto t = env_->OpenTable("__requests", /*create=*/true);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    reqs_ = *t;
  }

  // The same id for the same n: the issue time is fixed at set-up (ids
  // carry it; taking the clock per call made the retry of id 3 a new id
  // whenever the millisecond turned between the two calls).
  RequestId Id(uint64_t n) {
    RequestId id;
    MakeRequestId(uint64_t(issued_ms_), n, n * 7 + 1, &id.hi, &id.lo);
    return id;
  }

  // One write's claim, committed; the caller counts it (Committed) after.
  RequestIds::Claim CommitClaim(RequestIds& ids, const RequestId& id) {
    RequestIds::Claim claim = RequestIds::Claim::kNone;
    Status st = env_->WithTxn([&](memenv::Txn& t) {
      Result<RequestIds::Claim> c = ids.ClaimInTxn(t, *reqs_, id, /*gen=*/1, NowMs());
      if (!c.ok()) return c.status();
      claim = *c;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return claim;
  }

  const int64_t issued_ms_ = NowMs();
  std::unique_ptr<memenv::Env> env_;
  memenv::Table* reqs_ = nullptr;
};

TEST_F(RequestIdsTest, CommitsAreCountedOnce) {
  RequestIds ids(RequestIds::Limits{60'000, 1'000'000});
  for (uint64_t i = 1; i <= 5; ++i) {
    RequestIds::WriteScope w(ids);
    w.Committed(CommitClaim(ids, Id(i)));
  }
  EXPECT_EQ(ids.ids(), 5u);
  {
    RequestIds::WriteScope w(ids);  // a retry of id 3: a duplicate, not a new id
    w.Committed(CommitClaim(ids, Id(3)));
  }
  EXPECT_EQ(ids.ids(), 5u);
  ASSERT_TRUE(ids.Recount(*reqs_).ok());
  EXPECT_EQ(ids.ids(), 5u);
  EXPECT_FALSE(ids.RecountWanted());
}

// The interleaving that left a master's count one high for good (board_memory_test
// once waited forever for "ids": 0): the write commits, the recount counts its
// record, then the write counts it too.
TEST_F(RequestIdsTest, RecountOverlappingACommitIsRedoneAndTheCountEndsExact) {
  RequestIds ids(RequestIds::Limits{60'000, 1'000'000});
  {
    RequestIds::WriteScope w(ids);
    RequestIds::Claim c = CommitClaim(ids, Id(1));
    ASSERT_TRUE(ids.Recount(*reqs_).ok());  // counts the committed record: 1
    w.Committed(c);                         // and the write counts it again
  }
  EXPECT_TRUE(ids.RecountWanted()) << "a recount that overlapped a write must be redone";
  ASSERT_TRUE(ids.Recount(*reqs_).ok());
  EXPECT_FALSE(ids.RecountWanted());
  EXPECT_EQ(ids.ids(), 1u) << "the table holds one id";
}

TEST_F(RequestIdsTest, RecountWhileAWriteWaitsToBeginIsRedone) {
  RequestIds ids(RequestIds::Limits{60'000, 1'000'000});
  RequestIds::WriteScope w(ids);  // began, not committed yet
  ASSERT_TRUE(ids.Recount(*reqs_).ok());
  EXPECT_TRUE(ids.RecountWanted());
  w.Committed(CommitClaim(ids, Id(9)));
}

}  // namespace
}  // namespace bp::board
