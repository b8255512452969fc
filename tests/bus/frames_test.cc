// Frame builders and CheckFrame: every builder's output reads back as built,
// and CheckFrame rejects garbage, truncations, other chassis and versions
// with the right reason (never crashes: random inputs, seeded for replay).
#include "bus/frames.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace bp::bus {
namespace {

constexpr uint64_t kChassis = 42;
const FrameHeader kHeader{kChassis, 3};

const wire::Frame* Check(const OutFrame& f, Reject* why, uint64_t chassis = kChassis) {
  return CheckFrame(f.data(), f.size(), chassis, why);
}

TEST(FramesTest, RepMsgRoundTrip) {
  std::vector<uint8_t> control = {1, 2, 3};
  std::vector<uint8_t> rec(1000, 9);
  OutFrame f = BuildRepMsg(kHeader, control, rec, Lsn{4, 5}, 0x10, 7);
  Reject why;
  const wire::Frame* frame = Check(f, &why);
  ASSERT_NE(frame, nullptr);
  EXPECT_EQ(why, Reject::kNone);
  EXPECT_EQ(frame->sender(), 3);
  EXPECT_EQ(frame->version(), kProtocolVersion);
  const wire::RepMsg* rep = frame->body_as_RepMsg();
  ASSERT_NE(rep, nullptr);
  EXPECT_EQ(std::vector<uint8_t>(rep->control()->begin(), rep->control()->end()), control);
  EXPECT_EQ(std::vector<uint8_t>(rep->rec()->begin(), rep->rec()->end()), rec);
  EXPECT_EQ(rep->lsn_file(), 4u);
  EXPECT_EQ(rep->lsn_offset(), 5u);
  EXPECT_EQ(rep->flags(), 0x10u);
  EXPECT_EQ(rep->gen(), 7u);
}

TEST(FramesTest, EmptyRecIsAnEmptyVector) {
  OutFrame f = BuildRepMsg(kHeader, std::vector<uint8_t>{1}, {}, Lsn{}, 0, 0);
  Reject why;
  const wire::Frame* frame = Check(f, &why);
  ASSERT_NE(frame, nullptr);
  ASSERT_NE(frame->body_as_RepMsg()->rec(), nullptr);
  EXPECT_EQ(frame->body_as_RepMsg()->rec()->size(), 0u);
}

TEST(FramesTest, AckRoundTrip) {
  OutFrame f = BuildAck(kHeader, 9, Lsn{2, 300});
  Reject why;
  const wire::Frame* frame = Check(f, &why);
  ASSERT_NE(frame, nullptr);
  const wire::Ack* ack = frame->body_as_Ack();
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->gen(), 9u);
  EXPECT_EQ(ack->lsn_file(), 2u);
  EXPECT_EQ(ack->lsn_offset(), 300u);
}

TEST(FramesTest, HeartbeatRoundTrip) {
  HeartbeatInfo in;
  in.role = wire::Role::Master;
  in.gen = 3;
  in.master = 2;
  in.startup_done = true;
  in.reinit = true;
  in.electable = false;
  in.priority = 100;
  in.next_lsn = Lsn{1, 28};
  in.seq = 123456789012ULL;
  in.lease_valid = true;
  in.confirm_gen = 3;
  OutFrame f = BuildHeartbeat(kHeader, in);
  Reject why;
  const wire::Frame* frame = Check(f, &why);
  ASSERT_NE(frame, nullptr);
  HeartbeatInfo out = ReadHeartbeat(*frame->body_as_Heartbeat());
  EXPECT_EQ(out.role, in.role);
  EXPECT_EQ(out.gen, in.gen);
  EXPECT_EQ(out.master, in.master);
  EXPECT_EQ(out.startup_done, in.startup_done);
  EXPECT_EQ(out.reinit, in.reinit);
  EXPECT_EQ(out.electable, in.electable);
  EXPECT_EQ(out.priority, in.priority);
  EXPECT_EQ(out.next_lsn, in.next_lsn);
  EXPECT_EQ(out.seq, in.seq);
  EXPECT_EQ(out.lease_valid, in.lease_valid);
  EXPECT_EQ(out.confirm_gen, in.confirm_gen);
}

TEST(FramesTest, DefaultHeartbeatReadsBackDefaults) {
  OutFrame f = BuildHeartbeat(kHeader, HeartbeatInfo{});
  Reject why;
  const wire::Frame* frame = Check(f, &why);
  ASSERT_NE(frame, nullptr);
  HeartbeatInfo out = ReadHeartbeat(*frame->body_as_Heartbeat());
  EXPECT_EQ(out.master, -1);
  EXPECT_TRUE(out.electable);
}

TEST(FramesTest, FinishFrameWithAJoin) {
  flatbuffers::FlatBufferBuilder fbb;
  auto join = wire::CreateJoinDirect(fbb, "ipc:///tmp/x", 5, true);
  OutFrame f = FinishFrame(fbb, kHeader, wire::Body::Join, join.Union());
  Reject why;
  const wire::Frame* frame = Check(f, &why);
  ASSERT_NE(frame, nullptr);
  EXPECT_EQ(frame->body_as_Join()->endpoint()->str(), "ipc:///tmp/x");
}

TEST(FramesTest, RejectsOtherChassis) {
  OutFrame f = BuildAck(kHeader, 1, Lsn{});
  Reject why;
  EXPECT_EQ(Check(f, &why, kChassis + 1), nullptr);
  EXPECT_EQ(why, Reject::kWrongChassis);
}

TEST(FramesTest, RejectsOtherVersion) {
  flatbuffers::FlatBufferBuilder fbb;
  auto ack = wire::CreateAck(fbb, 1, 1, 1);
  fbb.Finish(
      wire::CreateFrame(fbb, kProtocolVersion + 1, kChassis, 3, wire::Body::Ack, ack.Union()));
  Reject why;
  EXPECT_EQ(CheckFrame(fbb.GetBufferPointer(), fbb.GetSize(), kChassis, &why), nullptr);
  EXPECT_EQ(why, Reject::kWrongVersion);
}

TEST(FramesTest, RejectsFrameWithoutBody) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::CreateFrame(fbb, kProtocolVersion, kChassis, 3));
  Reject why;
  EXPECT_EQ(CheckFrame(fbb.GetBufferPointer(), fbb.GetSize(), kChassis, &why), nullptr);
  EXPECT_EQ(why, Reject::kMalformed);
}

TEST(FramesTest, RejectsEveryTruncation) {
  OutFrame f = BuildRepMsg(kHeader, std::vector<uint8_t>(36, 1), std::vector<uint8_t>(64, 2),
                           Lsn{1, 2}, 0, 1);
  // Copy into an aligned buffer so only the length changes.
  std::vector<uint64_t> aligned(f.size() / 8 + 1);
  std::memcpy(aligned.data(), f.data(), f.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(aligned.data());
  for (size_t n = 0; n < f.size(); ++n) {
    Reject why = Reject::kNone;
    EXPECT_EQ(CheckFrame(bytes, n, kChassis, &why), nullptr) << "length " << n;
    EXPECT_EQ(why, Reject::kMalformed) << "length " << n;
  }
}

TEST(FramesTest, RejectsNullAndTiny) {
  Reject why;
  EXPECT_EQ(CheckFrame(nullptr, 0, kChassis, &why), nullptr);
  EXPECT_EQ(why, Reject::kMalformed);
  uint8_t two[2] = {1, 2};
  EXPECT_EQ(CheckFrame(two, sizeof(two), kChassis, nullptr), nullptr);
}

// Random bytes and random single-byte corruptions of a valid frame: the
// verifier must reject or accept, never crash or read out of bounds (ASan).
TEST(FramesTest, SurvivesRandomGarbageAndCorruption) {
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  OutFrame good = BuildRepMsg(kHeader, std::vector<uint8_t>(36, 1), std::vector<uint8_t>(64, 2),
                              Lsn{1, 2}, 0, 1);
  std::vector<uint64_t> buf(512);
  auto* bytes = reinterpret_cast<uint8_t*>(buf.data());
  for (int i = 0; i < 20000; ++i) {
    size_t n;
    if (i % 2 == 0) {
      n = rng() % (buf.size() * 8);
      for (size_t j = 0; j < n; ++j) bytes[j] = static_cast<uint8_t>(rng());
    } else {
      n = good.size();
      std::memcpy(bytes, good.data(), n);
      bytes[rng() % n] ^= static_cast<uint8_t>(1 + rng() % 255);
    }
    Reject why;
    const wire::Frame* frame = CheckFrame(bytes, n, kChassis, &why);
    EXPECT_EQ(frame == nullptr, why != Reject::kNone);
  }
}

TEST(FramesTest, OutFrameSharesItsBytes) {
  OutFrame a = BuildAck(kHeader, 1, Lsn{});
  OutFrame b = a;
  EXPECT_EQ(a.data(), b.data());
  EXPECT_EQ(a.buffer().use_count(), 2);
  EXPECT_EQ(OutFrame().size(), 0u);
}

}  // namespace
}  // namespace bp::bus
