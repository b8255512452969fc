// KvService alone: a real in-memory Berkeley DB environment (not
// replicated: no acks, so durability is only "committed here"), a scripted
// host in place of the role machine and the forwarder, and a bus that
// records the replies it is asked to send. What it shows: a write applies
// once per request id (a retry is a duplicate and changes nothing); writes
// on a replica are forwarded with a fresh id, refused at once when no
// master can exist; a full write pool answers Busy naming its keys; a
// forwarded write is applied and answered once per id; growth past the
// memory mark is refused while deletes and same-size overwrites pass; reads
// refuse what their mode cannot promise.
#include "board/kv_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "board/decode.h"
#include "bp/request_id.h"
#include "bus/kv_op.h"
#include "fake_bus.h"

namespace bp::board {
namespace {

using memenv::BatchOp;
using std::chrono::milliseconds;

constexpr uint64_t kChassis = 5;
constexpr int kSelf = 1;

// The role machine and forwarder, scripted by the test.
class ScriptedHost final : public ServiceListener {
 public:
  std::atomic<Role> role{Role::kMaster};
  std::atomic<int> master{kSelf};
  std::atomic<bool> startup_done{true}, confirmed{true};
  Status writable = Status::Ok();  // set before the calls that read it
  Gate gate;
  struct Forwarded {
    std::vector<BatchOp> ops;
    RequestId id;
  };
  std::vector<Forwarded> forwarded;  // the caller's thread only

  Role ServiceRole() const override { return role.load(); }
  int ServiceMaster() const override { return master.load(); }
  uint32_t ServiceGeneration() const override { return 3; }
  RoleView ServiceRoleView() const override {
    return RoleView{role.load(), master.load(), 3, startup_done.load()};
  }
  Gate& ServiceApiGate() override { return gate; }
  bool ServiceConfirmedMaster(int64_t) const override { return confirmed.load(); }
  Status ServiceCheckWritable(int64_t) const override { return writable; }
  void ServiceForward(std::vector<BatchOp> ops, RequestId id, std::function<void(WriteResult)>,
                      int64_t) override {
    forwarded.push_back({std::move(ops), id});
  }
};

// The bus seam: keeps every AppReply it is asked to send.
class ReplyBus final : public fakes::FakeBus {
 public:
  bool Send(int slot, const bus::OutFrame& frame) override {
    const wire::AppReply* r = wire::GetFrame(frame.data())->body_as_AppReply();
    EXPECT_NE(r, nullptr);
    if (!r) return false;
    std::lock_guard<std::mutex> l(mu_);
    replies_.push_back({slot, DecodeAppReply(*r)});
    cv_.notify_all();
    return true;
  }
  std::vector<std::pair<int, AppReplyFields>> WaitReplies(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    EXPECT_TRUE(cv_.wait_for(l, milliseconds(5000), [&] { return replies_.size() >= n; }));
    return replies_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<int, AppReplyFields>> replies_;
};

// What a SubmitWrite's callback delivers, waited for by the test.
class Outcomes {
 public:
  std::function<void(WriteResult)> Callback() {
    return [this](WriteResult r) {
      std::lock_guard<std::mutex> l(mu_);
      results_.push_back(std::move(r));
      cv_.notify_all();
    };
  }
  std::vector<WriteResult> Wait(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    EXPECT_TRUE(cv_.wait_for(l, milliseconds(5000), [&] { return results_.size() >= n; }));
    return results_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WriteResult> results_;
};

// Request ids carry their issue time (bp/request_id.h): a distinct id per
// (a, b), issued now.
RequestId Id(uint64_t a, uint64_t b) {
  RequestId id;
  MakeRequestId(uint64_t(Clock::Real().WallMicros() / 1000), a, b << 1, &id.hi, &id.lo);
  return id;
}

std::vector<BatchOp> Put(std::string key, std::string value) {
  return {{BatchOp::Kind::kPut, std::move(key), std::move(value)}};
}

class KvServiceTest : public ::testing::Test {
 protected:
  KvServiceTest() { config_.chassis_id = kChassis; }
  ~KvServiceTest() override {
    if (service_) {
      host_.gate.Open();
      service_->BeginStop();
      service_->Stop();
    }
  }

  // Builds the service on a fresh environment (after the test set config_).
  void Open() {
    memenv::EnvOptions o;
    o.cache_bytes = uint64_t(config_.cache_mb) << 20;
    o.log_buffer_bytes = 2u << 20;
    auto env = memenv::Env::Open(std::move(o));
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = std::move(env).value();
    peers_ = std::make_unique<PeerTable>(config_, kSelf);
    liveness_ = std::make_unique<Liveness>(config_, kSelf, Clock::Real(), *peers_);
    durability_ = std::make_unique<Durability>(config_, kSelf, *peers_, Clock::Real(),
                                               [](const std::string&) {});
    ids_ = std::make_unique<RequestIds>(RequestIds::LimitsFor(
        config_.request_retention_s, config_.cache_mb, config_.request_budget_pct));
    memory_ = std::make_unique<MemoryGauge>(kSelf, config_.cache_mb, config_.cache_high_water_pct);
    service_ = std::make_unique<KvService>(config_, kSelf, Clock::Real(), *peers_, *liveness_,
                                           *durability_, *ids_, *memory_, 42, host_);
    service_->Attach(env_.get(), &bus_);
    service_->Start();
  }

  std::string Read(const std::string& key) {
    auto v = service_->Get(key, ReadMode::kLocal, "", 0);
    return v.ok() ? *v : "<" + v.status().ToString() + ">";
  }

  static bus::InFrame AppRequest(RequestId id, int origin, const std::string& key,
                                 const std::string& value) {
    flatbuffers::FlatBufferBuilder fbb(256);
    std::vector<flatbuffers::Offset<wire::KvOp>> ops{bus::EncodeKvOp(fbb, true, key, value)};
    auto req = wire::CreateAppRequest(fbb, id.hi, id.lo, origin, fbb.CreateVector(ops), 5000);
    bus::OutFrame out =
        bus::FinishFrame(fbb, bus::FrameHeader{kChassis, origin}, wire::Body::AppRequest, req.Union());
    return bus::InFrame::FromOutFrame(out, kChassis, 1);
  }

  ChassisConfig config_;
  ScriptedHost host_;
  ReplyBus bus_;
  std::unique_ptr<memenv::Env> env_;
  std::unique_ptr<PeerTable> peers_;
  std::unique_ptr<Liveness> liveness_;
  std::unique_ptr<Durability> durability_;
  std::unique_ptr<RequestIds> ids_;
  std::unique_ptr<MemoryGauge> memory_;
  std::unique_ptr<KvService> service_;
};

TEST_F(KvServiceTest, WriteOnAReplicaIsRefusedNamingTheMaster) {
  Open();
  host_.role = Role::kClient;
  host_.master = 4;
  WriteResult r = service_->Write(Put("k", "v"), Id(1, 1));
  EXPECT_EQ(r.status.code(), Status::Code::kNotMaster) << r.status.ToString();
  EXPECT_NE(r.status.message().find("master: slot 4"), std::string::npos) << r.status.message();
  EXPECT_EQ(service_->stats().committed, 0u);
}

TEST_F(KvServiceTest, ARetryOfTheSameRequestIdIsADuplicateAndChangesNothing) {
  Open();
  const RequestId id = Id(7, 7);
  WriteResult first = service_->Write(Put("k", "first"), id);
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  EXPECT_FALSE(first.duplicate);
  EXPECT_EQ(first.master, kSelf);
  EXPECT_FALSE(first.token.empty());
  WriteResult retry = service_->Write(Put("k", "second"), id);
  ASSERT_TRUE(retry.status.ok()) << retry.status.ToString();
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(Read("k"), "first");
  const KvService::Stats s = service_->stats();
  EXPECT_EQ(s.committed, 2u);
  EXPECT_EQ(s.duplicates, 1u);
}

TEST_F(KvServiceTest, CheckWriteNamesTheLimitEachBadWriteBreaks) {
  config_.max_key_bytes = 8;
  config_.max_value_bytes = 16;
  Open();
  EXPECT_EQ(service_->CheckWrite({}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(service_->CheckWrite(Put("", "v")).code(), Status::Code::kInvalidArgument);
  Status long_key = service_->CheckWrite(Put("123456789", "v"));
  EXPECT_EQ(long_key.code(), Status::Code::kTooLarge);
  EXPECT_NE(long_key.message().find("max_key_bytes = 8"), std::string::npos) << long_key.message();
  Status long_value = service_->CheckWrite(Put("k", std::string(17, 'x')));
  EXPECT_NE(long_value.message().find("max_value_bytes = 16"), std::string::npos);
  EXPECT_TRUE(service_->CheckWrite(Put("k", std::string(16, 'x'))).ok());
}

TEST_F(KvServiceTest, SubmitOnAReplicaForwardsWithAFreshIdOrRefusesAtOnce) {
  Open();
  host_.role = Role::kClient;
  host_.master = 2;
  Outcomes none;
  service_->SubmitWrite(Put("k", "v"), RequestId{}, none.Callback());
  ASSERT_EQ(host_.forwarded.size(), 1u);
  EXPECT_FALSE(host_.forwarded[0].id.empty());
  EXPECT_EQ(host_.forwarded[0].ops[0].key, "k");

  host_.writable = Status::Unavailable("no master and none can be elected");
  Outcomes refused;
  service_->SubmitWrite(Put("k", "v"), Id(9, 9), refused.Callback());
  std::vector<WriteResult> r = refused.Wait(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(host_.forwarded.size(), 1u);  // not forwarded
}

// The api gate is held shut (as a role change does), so the one write thread
// waits inside Write and the queue of one fills: the rest are refused.
TEST_F(KvServiceTest, AFullWritePoolAnswersBusyNamingItsKeys) {
  config_.write_threads = 1;
  config_.write_queue_limit = 1;
  Open();
  ASSERT_TRUE(host_.gate.CloseAndDrain(milliseconds(0)));
  Outcomes out;
  constexpr int kWrites = 4;
  for (int i = 0; i < kWrites; ++i) {
    service_->SubmitWrite(Put("k" + std::to_string(i), "v"), Id(1, uint64_t(i + 1)),
                          out.Callback());
  }
  std::vector<WriteResult> early = out.Wait(kWrites - 2);  // at most 2 can be held
  for (const WriteResult& r : early) {
    EXPECT_EQ(r.status.code(), Status::Code::kBusy) << r.status.ToString();
    EXPECT_NE(r.status.message().find("write_queue_limit = 1"), std::string::npos);
  }
  EXPECT_GE(service_->stats().write_pool.refused, uint64_t(kWrites - 2));
  host_.gate.Open();
  std::vector<WriteResult> all = out.Wait(kWrites);
  int ok = 0;
  for (const WriteResult& r : all) ok += r.status.ok();
  EXPECT_GE(ok, 1);
  EXPECT_EQ(uint64_t(ok), service_->stats().committed);
}

TEST_F(KvServiceTest, AForwardedWriteIsAppliedAndAnsweredOncePerId) {
  Open();
  const RequestId id = Id(11, 12);
  service_->OnForwardedWrite(AppRequest(id, 3, "fk", "one"));
  bus_.WaitReplies(1);
  service_->OnForwardedWrite(AppRequest(id, 3, "fk", "two"));
  auto replies = bus_.WaitReplies(2);
  ASSERT_EQ(replies.size(), 2u);
  for (const auto& [slot, r] : replies) {
    EXPECT_EQ(slot, 3);
    EXPECT_EQ(r.id_hi, id.hi);
    EXPECT_EQ(r.id_lo, id.lo);
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  }
  EXPECT_FALSE(replies[0].second.duplicate);
  EXPECT_TRUE(replies[1].second.duplicate);
  EXPECT_EQ(Read("fk"), "one");
  EXPECT_EQ(service_->stats().forwarded_in_done, 2u);
}

TEST_F(KvServiceTest, GrowthPastTheMemoryMarkIsRefusedButDeletesAndOverwritesPass) {
  config_.cache_mb = 16;
  config_.cache_high_water_pct = 1;  // a mark of about 164 KiB
  Open();
  const std::string value(8 << 10, 'v');
  int written = 0;
  Status refused;
  for (int i = 0; i < 64 && refused.ok(); ++i) {
    WriteResult r = service_->Write(Put("m" + std::to_string(i), value), Id(2, uint64_t(i + 1)));
    if (r.status.ok()) ++written;
    refused = r.status;
  }
  ASSERT_EQ(refused.code(), Status::Code::kFull) << refused.ToString();
  EXPECT_NE(refused.message().find("cache_high_water_pct"), std::string::npos) << refused.message();
  EXPECT_GT(written, 4);
  EXPECT_TRUE(service_->Write(Put("m0", value), Id(3, 1)).status.ok());  // same size
  std::vector<BatchOp> del{{BatchOp::Kind::kDelete, "m1", ""}};
  EXPECT_TRUE(service_->Write(del, Id(3, 2)).status.ok());
  EXPECT_EQ(Read("m1").substr(0, 1), "<");  // gone
}

TEST_F(KvServiceTest, ReadsRefuseWhatTheirModeCannotPromise) {
  Open();
  ASSERT_TRUE(service_->Write(Put("r", "v"), Id(4, 1)).status.ok());
  // An unconfirmed master serves LOCAL reads but not LINEARIZABLE ones.
  host_.confirmed = false;
  EXPECT_EQ(Read("r"), "v");
  auto lin = service_->Get("r", ReadMode::kLinearizable, "", 0);
  EXPECT_EQ(lin.status().code(), Status::Code::kUnavailable);
  // A replica not in sync refuses LOCAL reads; LINEARIZABLE ones are the master's.
  host_.role = Role::kClient;
  host_.master = 2;
  host_.startup_done = false;
  EXPECT_FALSE(service_->LocalReadsServable());
  auto local = service_->Get("r", ReadMode::kLocal, "", 0);
  EXPECT_EQ(local.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(local.status().message().find("not in sync"), std::string::npos);
  lin = service_->Get("r", ReadMode::kLinearizable, "", 0);
  EXPECT_EQ(lin.status().code(), Status::Code::kNotMaster);
  EXPECT_NE(lin.status().message().find("slot 2"), std::string::npos);
  auto bad_token = service_->Get("r", ReadMode::kReadYourWrites, "short", 0);
  EXPECT_EQ(bad_token.status().code(), Status::Code::kUnavailable);  // not in sync comes first
  host_.startup_done = true;
  bad_token = service_->Get("r", ReadMode::kReadYourWrites, "short", 0);
  EXPECT_EQ(bad_token.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace bp::board
