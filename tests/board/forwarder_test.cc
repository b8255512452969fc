// Forwarder alone (no engine, no bus): a pending forwarded write is sent to
// the master, resent to a new master, given up at its deadline with a
// Timeout that says the outcome is unknown, settled by the reply with its
// request id, and a duplicate reply is ignored. Time is a ManualClock.
#include "board/forwarder.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace bp::board {
namespace {

struct Sent {
  int slot;
  RequestId id;
  uint64_t deadline_us;
};

// Stands in for the engine: a settable master, and the frames it was asked
// to send, decoded.
class FakeBoard : public ForwardListener {
 public:
  int master = 2;
  bool self_master = false;
  std::vector<Sent> sent;
  std::vector<RequestId> applied_here;

  int ForwardMaster() const override { return master; }
  bool ForwardSelfIsMaster() const override { return self_master; }
  bool SendForward(int slot, const bus::OutFrame& frame) override {
    const wire::Frame* f = wire::GetFrame(frame.data());
    const wire::AppRequest* req = f->body_as_AppRequest();
    EXPECT_NE(req, nullptr);
    if (!req) return false;
    sent.push_back({slot, {req->request_id_hi(), req->request_id_lo()}, req->deadline_us()});
    return true;
  }
  void ApplyForwardHere(RequestId id, std::vector<memenv::BatchOp>,
                        std::function<void(WriteResult)>) override {
    applied_here.push_back(id);
  }
};

ChassisConfig Config() {
  ChassisConfig c;
  c.forward_timeout_ms = 1000;
  c.forward_retries = 5;
  return c;
}

std::vector<memenv::BatchOp> OnePut() {
  memenv::BatchOp op;
  op.kind = memenv::BatchOp::Kind::kPut;
  op.key = "k";
  op.value = "v";
  return {op};
}

AppReplyFields Reply(RequestId id, Status st) {
  AppReplyFields f;
  f.id_hi = id.hi;
  f.id_lo = id.lo;
  f.status = std::move(st);
  f.durable = true;
  return f;
}

class ForwarderTest : public ::testing::Test {
 protected:
  ChassisConfig config_ = Config();
  ManualClock clock_;
  FakeBoard board_;
  Forwarder fwd_{config_, /*self_slot=*/1, clock_, board_};
  std::vector<WriteResult> results_;

  void Forward(RequestId id) {
    fwd_.Forward(OnePut(), id, [this](WriteResult r) { results_.push_back(r); },
                 clock_.NowMicros());
  }
};

TEST_F(ForwarderTest, PendingWriteIsSentToTheMasterWithItsRemainingBudget) {
  Forward({7, 8});
  ASSERT_EQ(board_.sent.size(), 1u);
  EXPECT_EQ(board_.sent[0].slot, 2);
  EXPECT_EQ(board_.sent[0].id, (RequestId{7, 8}));
  EXPECT_EQ(board_.sent[0].deadline_us, 1'000'000u);
  EXPECT_EQ(fwd_.forwarded(), 1u);
  EXPECT_EQ(fwd_.pending(), 1u);
  EXPECT_TRUE(results_.empty());
}

TEST_F(ForwarderTest, NoMasterKnownWaitsAndSendsOnceOneIs) {
  board_.master = -1;
  Forward({1, 1});
  EXPECT_TRUE(board_.sent.empty());
  board_.master = 3;
  fwd_.Retry(clock_.NowMicros());
  ASSERT_EQ(board_.sent.size(), 1u);
  EXPECT_EQ(board_.sent[0].slot, 3);
}

TEST_F(ForwarderTest, ResentToANewMasterWithTheSameRequestId) {
  Forward({5, 6});
  clock_.Advance(Millis(1));
  fwd_.Retry(clock_.NowMicros());
  EXPECT_EQ(board_.sent.size(), 1u) << "same master, attempt not silent yet: no resend";
  board_.master = 3;
  fwd_.Retry(clock_.NowMicros());
  ASSERT_EQ(board_.sent.size(), 2u);
  EXPECT_EQ(board_.sent[1].slot, 3);
  EXPECT_EQ(board_.sent[1].id, (RequestId{5, 6}));
  EXPECT_EQ(board_.sent[1].deadline_us, 999'000u);
}

TEST_F(ForwarderTest, SilentAttemptIsResentToTheSameMaster) {
  Forward({5, 6});
  // An attempt is presumed lost after forward_timeout_ms / (retries + 1).
  clock_.Advance(Millis(1000 / 6 + 1));
  fwd_.Retry(clock_.NowMicros());
  ASSERT_EQ(board_.sent.size(), 2u);
  EXPECT_EQ(board_.sent[1].slot, 2);
}

TEST_F(ForwarderTest, GivenUpAtTheDeadlineWithAnUnknownOutcome) {
  Forward({9, 9});
  clock_.Advance(Millis(999));
  fwd_.Retry(clock_.NowMicros());
  EXPECT_TRUE(results_.empty()) << "before the deadline it is still pending";
  clock_.Advance(Millis(1));
  fwd_.Retry(clock_.NowMicros());
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status.code(), Status::Code::kTimeout);
  EXPECT_NE(results_[0].status.message().find("outcome is unknown"), std::string::npos)
      << results_[0].status.message();
  EXPECT_EQ(fwd_.pending(), 0u);
}

TEST_F(ForwarderTest, ReplyIsMatchedByRequestIdAndADuplicateIsIgnored) {
  Forward({1, 2});
  Forward({3, 4});
  AppReplyFields r = Reply({3, 4}, Status::Ok());
  r.token = "tok";
  fwd_.OnReply(r);
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_TRUE(results_[0].status.ok());
  EXPECT_TRUE(results_[0].durable);
  EXPECT_EQ(results_[0].token, "tok");
  EXPECT_EQ(results_[0].master, 2);
  EXPECT_EQ(fwd_.pending(), 1u) << "the other write still waits";
  fwd_.OnReply(Reply({3, 4}, Status::Ok()));
  EXPECT_EQ(results_.size(), 1u) << "a duplicate reply settles nothing";
  fwd_.OnReply(Reply({9, 9}, Status::Ok()));
  EXPECT_EQ(results_.size(), 1u) << "a reply for no pending write settles nothing";
  EXPECT_EQ(fwd_.pending(), 1u);
}

TEST_F(ForwarderTest, NotMasterReplyIsResentNotHandedToTheCaller) {
  Forward({1, 2});
  fwd_.OnReply(Reply({1, 2}, Status::NotMaster("stepped down")));
  EXPECT_TRUE(results_.empty());
  fwd_.Retry(clock_.NowMicros());
  EXPECT_EQ(board_.sent.size(), 2u);
}

TEST_F(ForwarderTest, BecomingMasterAppliesPendingWritesHere) {
  Forward({1, 2});
  board_.master = 1;
  board_.self_master = true;
  fwd_.Retry(clock_.NowMicros());
  ASSERT_EQ(board_.applied_here.size(), 1u);
  EXPECT_EQ(board_.applied_here[0], (RequestId{1, 2}));
  EXPECT_EQ(fwd_.pending(), 0u);
}

TEST_F(ForwarderTest, AbandonAllFailsEveryPendingWrite) {
  Forward({1, 2});
  Forward({3, 4});
  fwd_.AbandonAll(Status::Unavailable("stopping"));
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_EQ(results_[0].status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(fwd_.pending(), 0u);
}

}  // namespace
}  // namespace bp::board
