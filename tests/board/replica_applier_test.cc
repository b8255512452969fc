// ReplicaApplier alone (no engine, no Berkeley DB environment; the call to
// rep_process_message is the RepProcessFn seam, scripted by each message's
// control bytes): a run of commits is acknowledged once, with its last LSN,
// to the master; a long run every kMaxHeldAcks; the serve worker answers
// while the rep worker is busy; every return code reaches the listener or a
// counter; nothing is processed before rep_start; a full queue refuses,
// counts and names its keys; with leases, acks are taken in order.
#include "board/replica_applier.h"

#include <db.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <vector>

#include "fake_bus.h"

namespace bp::board {
namespace {

using std::chrono::milliseconds;

struct SentAck {
  int to;
  uint32_t gen, offset;
};

// The bus seam: records the acks it is asked to send.
class AckBus final : public fakes::FakeBus {
 public:
  bool Send(int slot, const bus::OutFrame& frame) override {
    const wire::Ack* a = wire::GetFrame(frame.data())->body_as_Ack();
    EXPECT_NE(a, nullptr);
    std::lock_guard<std::mutex> l(mu_);
    if (a) acks_.push_back({slot, a->gen(), a->lsn_offset()});
    cv_.notify_all();
    return a != nullptr;
  }

  std::vector<SentAck> acks() const {
    std::lock_guard<std::mutex> l(mu_);
    return acks_;
  }
  bool WaitAcks(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, milliseconds(5000), [&] { return acks_.size() >= n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SentAck> acks_;
};

class FakeEngine final : public ApplierListener {
 public:
  std::atomic<bool> started{true};
  RoleView view{Role::kClient, 2, 7, true};
  Gate gate;
  std::atomic<int> elections{0}, panics{0}, after_message{0};
  std::vector<std::pair<int, bool>> dupmasters;  // rep worker only, read after Close/Join
  std::vector<uint32_t> acks_taken;  // guarded by log_mu
  std::mutex log_mu;
  std::vector<std::string> logs;

  bool ApplierRepStarted() const override { return started.load(); }
  Gate& ApplierGate() override { return gate; }
  int ApplierMaster() const override { return view.master; }
  RoleView ApplierRoleView() const override { return view; }
  void ApplierAfterMessage() override { ++after_message; }
  void ApplierHoldElection() override { ++elections; }
  void ApplierDupMaster(int sender, bool demote) override { dupmasters.push_back({sender, demote}); }
  void ApplierPanicked() override { ++panics; }
  void ApplierAck(const bus::InFrame& ack) override {
    std::lock_guard<std::mutex> l(log_mu);
    acks_taken.push_back(ack.frame()->body_as_Ack()->lsn_offset());
  }
  size_t AcksTaken() {
    std::lock_guard<std::mutex> l(log_mu);
    return acks_taken.size();
  }
  void ApplierLog(const std::string& line) override {
    std::lock_guard<std::mutex> l(log_mu);
    logs.push_back(line);
  }
};

// A message's control carries what the scripted Berkeley DB returns for it
// (code, and the LSN offset of an ISPERM) and whether it blocks until the
// test releases it.
struct Script {
  int32_t code;
  uint32_t offset;
  uint32_t block;
};

constexpr uint64_t kChassis = 9;

class ReplicaApplierTest : public ::testing::Test {
 protected:
  explicit ReplicaApplierTest(uint32_t rep_queue_frames = 1000) {
    config_.chassis_id = kChassis;
    config_.rep_queue_frames = rep_queue_frames;
    applier_ = std::make_unique<ReplicaApplier>(config_, 3, Clock::Real(), engine_);
    applier_->Attach(&bus_, [this](std::span<const uint8_t> control, std::span<const uint8_t>,
                                   int, bus::Lsn* lsn) { return Process(control, lsn); });
    applier_->Start();
  }
  ~ReplicaApplierTest() override {
    Release();
    applier_->Close();
    applier_->Join();
  }

  int Process(std::span<const uint8_t> control, bus::Lsn* lsn) {
    Script s{};
    std::memcpy(&s, control.data(), sizeof s);
    if (s.block) {
      std::unique_lock<std::mutex> l(mu_);
      blocked_ = true;
      cv_.notify_all();
      cv_.wait(l, [&] { return released_; });
    }
    *lsn = {1, s.offset};
    return s.code;
  }
  void WaitBlocked() {
    std::unique_lock<std::mutex> l(mu_);
    ASSERT_TRUE(cv_.wait_for(l, milliseconds(5000), [&] { return blocked_; }));
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }

  static bus::InFrame Message(Script s, uint32_t flags = 0, uint32_t gen = 7, int sender = 1) {
    std::vector<uint8_t> control(sizeof s);
    std::memcpy(control.data(), &s, sizeof s);
    bus::OutFrame out = bus::BuildRepMsg({kChassis, sender}, control, {}, {1, s.offset}, flags, gen);
    return bus::InFrame::FromOutFrame(out, kChassis, 1);
  }
  bool WaitProcessed(uint64_t n) {
    for (int i = 0; i < 5000; ++i) {
      if (applier_->stats().processed >= n) return true;
      std::this_thread::sleep_for(milliseconds(1));
    }
    return false;
  }

  ChassisConfig config_;
  FakeEngine engine_;
  AckBus bus_;
  std::unique_ptr<ReplicaApplier> applier_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool blocked_ = false, released_ = false;
};

TEST_F(ReplicaApplierTest, ARunOfCommitsIsAckedOnceWithItsLastLsnToTheMaster) {
  ASSERT_TRUE(applier_->QueueRep(Message({DB_REP_ISPERM, 100, 1})));
  WaitBlocked();
  for (uint32_t i = 1; i <= 5; ++i) ASSERT_TRUE(applier_->QueueRep(Message({DB_REP_ISPERM, 100 + i, 0})));
  Release();
  ASSERT_TRUE(WaitProcessed(6));
  ASSERT_TRUE(bus_.WaitAcks(1));
  applier_->Close();
  applier_->Join();
  const auto acks = bus_.acks();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].to, 2);  // the master the role machine follows, not the sender (1)
  EXPECT_EQ(acks[0].gen, 7u);
  EXPECT_EQ(acks[0].offset, 105u);
  EXPECT_EQ(applier_->stats().isperm, 6u);
  EXPECT_EQ(applier_->stats().acks_sent, 1u);
  EXPECT_EQ(engine_.after_message.load(), 6);
}

TEST_F(ReplicaApplierTest, ALongRunIsAckedEveryMaxHeldAcks) {
  ASSERT_TRUE(applier_->QueueRep(Message({DB_REP_ISPERM, 1, 1})));
  WaitBlocked();
  for (uint32_t i = 2; i <= 41; ++i) ASSERT_TRUE(applier_->QueueRep(Message({DB_REP_ISPERM, i, 0})));
  Release();
  ASSERT_TRUE(bus_.WaitAcks(3));
  ASSERT_TRUE(WaitProcessed(41));
  applier_->Close();
  applier_->Join();
  const auto acks = bus_.acks();
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[0].offset, uint32_t(ReplicaApplier::kMaxHeldAcks));
  EXPECT_EQ(acks[1].offset, uint32_t(2 * ReplicaApplier::kMaxHeldAcks));
  EXPECT_EQ(acks[2].offset, 41u);
}

TEST_F(ReplicaApplierTest, ServeWorkerAnswersWhileTheRepWorkerIsBusy) {
  ASSERT_TRUE(applier_->QueueRep(Message({DB_REP_ISPERM, 1, 1})));
  WaitBlocked();
  ASSERT_TRUE(applier_->QueueServe(Message({DB_REP_ISPERM, 500, 0}, DB_REP_ANYWHERE, 7, 4)));
  ASSERT_TRUE(bus_.WaitAcks(1));  // the rep worker is still inside its message
  EXPECT_EQ(bus_.acks()[0].offset, 500u);
  EXPECT_EQ(bus_.acks()[0].to, 2);
  Release();
}

TEST_F(ReplicaApplierTest, EveryReturnCodeReachesTheListenerOrACounter) {
  engine_.view = {Role::kMaster, 3, 7, true};
  const int codes[] = {DB_REP_HOLDELECTION, DB_REP_NOTPERM, DB_REP_IGNORE, DB_LOCK_DEADLOCK,
                       DB_REP_NEWSITE,      0,              DB_RUNRECOVERY, EINVAL};
  for (int code : codes) ASSERT_TRUE(applier_->QueueRep(Message({code, 1, 0})));
  ASSERT_TRUE(applier_->QueueRep(Message({DB_REP_DUPMASTER, 1, 0}, 0, /*gen=*/6, 5)));  // older
  ASSERT_TRUE(applier_->QueueRep(Message({DB_REP_DUPMASTER, 1, 0}, 0, /*gen=*/7, 4)));  // same
  ASSERT_TRUE(WaitProcessed(10));
  applier_->Close();
  applier_->Join();
  const auto s = applier_->stats();
  EXPECT_EQ(engine_.elections.load(), 1);
  EXPECT_EQ(engine_.panics.load(), 1);
  EXPECT_EQ(s.notperm, 1u);
  EXPECT_EQ(s.ignored, 2u);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.dupmaster_ignored, 1u);
  ASSERT_EQ(engine_.dupmasters.size(), 2u);
  EXPECT_EQ(engine_.dupmasters[0], std::make_pair(5, false));  // the older master leaving
  EXPECT_EQ(engine_.dupmasters[1], std::make_pair(4, true));
  EXPECT_TRUE(bus_.acks().empty());
  ASSERT_EQ(engine_.logs.size(), 1u);
  EXPECT_NE(engine_.logs[0].find("from slot 1"), std::string::npos) << engine_.logs[0];
}

TEST_F(ReplicaApplierTest, NothingIsProcessedBeforeRepStart) {
  engine_.started = false;
  ASSERT_TRUE(applier_->QueueRep(Message({DB_REP_ISPERM, 1, 0})));
  // A wait for something that must not happen: bounded, and short.
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(applier_->stats().processed, 0u);
  engine_.started = true;
  EXPECT_TRUE(WaitProcessed(1));
}

TEST_F(ReplicaApplierTest, LeaseAcksAreTakenInOrderWithTheStream) {
  ASSERT_TRUE(applier_->QueueRep(Message({0, 1, 0})));
  for (uint32_t i = 10; i < 13; ++i) {
    ASSERT_TRUE(applier_->QueueRep(bus::InFrame::FromOutFrame(
        bus::BuildAck({kChassis, 2}, 7, {1, i}), kChassis, 1)));
  }
  ASSERT_TRUE(WaitProcessed(1));
  // The acks follow the message in the queue; Close drops what is queued.
  for (int i = 0; i < 5000 && engine_.AcksTaken() < 3; ++i) std::this_thread::sleep_for(milliseconds(1));
  applier_->Close();
  applier_->Join();
  EXPECT_EQ(engine_.acks_taken, (std::vector<uint32_t>{10, 11, 12}));
}

class SmallQueue : public ReplicaApplierTest {
 protected:
  SmallQueue() : ReplicaApplierTest(2) {}
};

TEST_F(SmallQueue, AFullQueueRefusesCountsAndNamesItsKeys) {
  ASSERT_TRUE(applier_->QueueRep(Message({0, 1, 1})));
  WaitBlocked();  // popped: the queue is empty again
  EXPECT_TRUE(applier_->QueueRep(Message({0, 2, 0})));
  EXPECT_TRUE(applier_->QueueRep(Message({0, 3, 0})));
  EXPECT_FALSE(applier_->QueueRep(Message({0, 4, 0})));
  EXPECT_EQ(applier_->stats().rep.refused, 1u);
  std::lock_guard<std::mutex> l(engine_.log_mu);
  ASSERT_EQ(engine_.logs.size(), 1u);
  EXPECT_NE(engine_.logs[0].find("rep_queue_frames = 2"), std::string::npos) << engine_.logs[0];
}

}  // namespace
}  // namespace bp::board
