// InFrame built without ZeroMQ (the simulation bus's delivery): the same
// verification as the bus's receive path, bytes owned or shared, and a
// misaligned or hostile buffer handled without a crash.
#include <gtest/gtest.h>

#include <vector>

#include "bus/bus.h"
#include "bus/frames.h"

namespace bp::bus {
namespace {

constexpr uint64_t kChassis = 42;
const FrameHeader kHeader{kChassis, 3};

TEST(InFrameTest, FromOutFrameSharesAVerifiedFrame) {
  OutFrame out = BuildAck(kHeader, 7, Lsn{1, 28});
  Reject why = Reject::kMalformed;
  InFrame in = InFrame::FromOutFrame(out, kChassis, 123, &why);
  ASSERT_NE(in.frame(), nullptr);
  EXPECT_EQ(why, Reject::kNone);
  EXPECT_EQ(in.sender(), 3);
  EXPECT_EQ(in.received_us(), 123);
  ASSERT_NE(in.frame()->body_as_Ack(), nullptr);
  EXPECT_EQ(in.frame()->body_as_Ack()->gen(), 7u);
  // Shared: the InFrame reads the OutFrame's buffer, and keeps it alive.
  const uint8_t* shared = out.data();
  out = OutFrame();
  EXPECT_EQ(in.data(), shared);
  EXPECT_EQ(in.frame()->body_as_Ack()->lsn_offset(), 28u);
}

TEST(InFrameTest, FromBytesCopiesAndReadsAtAnyAlignment) {
  OutFrame out = BuildAck(kHeader, 9, Lsn{2, 40});
  // One byte off: FlatBuffers must not read scalars at an odd address.
  std::vector<uint8_t> buf(out.size() + 1);
  std::copy(out.data(), out.data() + out.size(), buf.begin() + 1);
  InFrame in = InFrame::FromBytes({buf.data() + 1, out.size()}, kChassis, 5);
  ASSERT_NE(in.frame(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(in.data()) % alignof(uint64_t), 0u);
  buf.assign(buf.size(), 0);  // the InFrame owns its copy
  EXPECT_EQ(in.frame()->body_as_Ack()->gen(), 9u);
}

TEST(InFrameTest, RejectsWhatTheBusRejects) {
  OutFrame out = BuildAck(kHeader, 1, Lsn{1, 1});
  Reject why = Reject::kNone;
  EXPECT_EQ(InFrame::FromOutFrame(out, kChassis + 1, 0, &why).frame(), nullptr);
  EXPECT_EQ(why, Reject::kWrongChassis);
  std::vector<uint8_t> garbage(64, 0xff);
  EXPECT_EQ(InFrame::FromBytes(garbage, kChassis, 0, &why).frame(), nullptr);
  EXPECT_EQ(why, Reject::kMalformed);
  EXPECT_EQ(InFrame::FromBytes({}, kChassis, 0, &why).frame(), nullptr);
  EXPECT_EQ(why, Reject::kMalformed);
  InFrame empty = InFrame::FromBytes({}, kChassis, 0);
  EXPECT_EQ(empty.sender(), -1);
  EXPECT_EQ(empty.size(), 0u);
}

}  // namespace
}  // namespace bp::bus
