// Link emulation: partitions in either direction, seeded loss, and added
// latency that never reorders a link (also when the delay is lifted while
// frames are still waiting).
#include <gtest/gtest.h>

#include <map>

#include "bus/frames.h"
#include "bus_test_util.h"

namespace bp::bus::testing {
namespace {

TEST(FaultTest, CutOutDropsOurSendsOnly) {
  Mesh mesh(Transport::kInproc, 2);
  ASSERT_TRUE(mesh.WaitConnected());
  ASSERT_TRUE(mesh.bus(1).SetLinkFault(2, LinkFault{.cut_out = true}).ok());
  for (uint32_t i = 0; i < 10; ++i) EXPECT_FALSE(mesh.bus(1).Send(2, Rep(1, i)));
  EXPECT_EQ(mesh.bus(1).Links()[0].dropped_fault, 10u);
  EXPECT_TRUE(mesh.bus(1).Links()[0].fault.cut_out);
  EXPECT_TRUE(mesh.bus(2).Send(1, Rep(2, 1)));  // the other direction still flows
  ASSERT_TRUE(mesh.handler(1).WaitFrames(1));
  ASSERT_TRUE(mesh.bus(1).SetLinkFault(2, LinkFault{}).ok());
  EXPECT_TRUE(mesh.bus(1).Send(2, Rep(1, 99)));
  ASSERT_TRUE(mesh.handler(2).WaitFrames(1));
  EXPECT_EQ(mesh.handler(2).frames()[0].lsn_offset, 99u);
}

TEST(FaultTest, CutInDropsWhatWeReceiveFromThatSlot) {
  Mesh mesh(Transport::kInproc, 3);
  ASSERT_TRUE(mesh.WaitConnected());
  ASSERT_TRUE(mesh.bus(2).SetLinkFault(1, LinkFault{.cut_in = true}).ok());
  for (uint32_t i = 0; i < 10; ++i) EXPECT_TRUE(mesh.bus(1).Send(2, Rep(1, i)));
  EXPECT_TRUE(mesh.bus(3).Send(2, Rep(3, 1)));
  ASSERT_TRUE(mesh.handler(2).WaitFrames(1));
  ASSERT_TRUE(WaitUntil([&] { return mesh.bus(2).Counters().dropped_fault_in == 10; }));
  EXPECT_EQ(mesh.handler(2).frame_count(), 1u);
  EXPECT_EQ(mesh.handler(2).frames()[0].sender, 3);
  EXPECT_TRUE(mesh.bus(2).Send(1, Rep(2, 1)));  // we can still talk to it
  ASSERT_TRUE(mesh.handler(1).WaitFrames(1));
}

TEST(FaultTest, TotalLossDropsEverything) {
  Mesh mesh(Transport::kInproc, 2);
  ASSERT_TRUE(mesh.WaitConnected());
  ASSERT_TRUE(mesh.bus(1).SetLinkFault(2, LinkFault{.loss = 1.0}).ok());
  for (uint32_t i = 0; i < 100; ++i) EXPECT_FALSE(mesh.bus(1).Send(2, Rep(1, i)));
  EXPECT_EQ(mesh.bus(1).Links()[0].dropped_fault, 100u);
  EXPECT_EQ(mesh.bus(1).Counters().dropped, 100u);
}

// Half the frames survive, and the same seed drops exactly the same ones.
TEST(FaultTest, HalfLossIsSeededAndRoughlyHalf) {
  constexpr uint32_t kFrames = 2000;
  auto run = [&](uint64_t seed) {
    Mesh mesh(Transport::kInproc, 2, [&](BusOptions& o) { o.fault_seed = seed; });
    EXPECT_TRUE(mesh.WaitConnected());
    EXPECT_TRUE(mesh.bus(1).SetLinkFault(2, LinkFault{.loss = 0.5}).ok());
    std::vector<uint32_t> kept;
    for (uint32_t i = 0; i < kFrames; ++i) {
      if (mesh.bus(1).Send(2, Rep(1, i))) kept.push_back(i);
    }
    EXPECT_TRUE(mesh.handler(2).WaitFrames(kept.size()));
    EXPECT_EQ(mesh.bus(1).Links()[0].dropped_fault + kept.size(), kFrames);
    return kept;
  };
  std::vector<uint32_t> a = run(11);
  EXPECT_GT(a.size(), kFrames * 4 / 10);
  EXPECT_LT(a.size(), kFrames * 6 / 10);
  EXPECT_EQ(run(11), a);
  EXPECT_NE(run(12), a);
}

// Every frame arrives at least delay_us late and in order, including when
// the delay is lifted while frames are still in the delay line.
TEST(FaultTest, DelayAddsLatencyAndKeepsOrder) {
  constexpr uint32_t kDelayUs = 20'000;
  constexpr uint32_t kDelayed = 200;
  Mesh mesh(Transport::kIpc, 2);
  ASSERT_TRUE(mesh.WaitConnected());
  ASSERT_TRUE(mesh.bus(1).SetLinkFault(2, LinkFault{.delay_us = kDelayUs}).ok());
  std::map<uint32_t, int64_t> sent_us;
  for (uint32_t seq = 1; seq <= kDelayed; ++seq) {
    sent_us[seq] = Clock::Real().NowMicros();
    ASSERT_TRUE(mesh.bus(1).Send(2, Rep(1, seq)));
  }
  // Lifted while most are still waiting: the next frames queue behind them.
  ASSERT_TRUE(mesh.bus(1).SetLinkFault(2, LinkFault{}).ok());
  for (uint32_t seq = kDelayed + 1; seq <= 2 * kDelayed; ++seq) {
    ASSERT_TRUE(mesh.bus(1).Send(2, Rep(1, seq)));
  }
  ASSERT_TRUE(mesh.handler(2).WaitFrames(2 * kDelayed));
  std::vector<Received> got = mesh.handler(2).frames();
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].lsn_offset, i + 1) << "reordered at " << i;
    if (got[i].lsn_offset <= kDelayed) {
      EXPECT_GE(got[i].received_us - sent_us[got[i].lsn_offset], kDelayUs);
    }
  }
  // After the line drained, frames go straight out again.
  ASSERT_TRUE(mesh.bus(1).Send(2, Rep(1, 1000)));
  ASSERT_TRUE(mesh.handler(2).WaitFrames(2 * kDelayed + 1));
}

// Frames still waiting in the delay line when the bus stops are counted.
TEST(FaultTest, StopDropsDelayedFrames) {
  Mesh mesh(Transport::kInproc, 2);
  ASSERT_TRUE(mesh.WaitConnected());
  ASSERT_TRUE(mesh.bus(1).SetLinkFault(2, LinkFault{.delay_us = 10'000'000}).ok());
  for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(mesh.bus(1).Send(2, Rep(1, i)));
  mesh.bus(1).Stop();
  EXPECT_EQ(mesh.bus(1).Links()[0].dropped_unconnected, 5u);
  EXPECT_EQ(mesh.handler(2).frame_count(), 0u);
}

// The delay line is bounded (BusOptions::delay_line_frames / _bytes): what
// does not fit is dropped at once, counted per link and bus-wide, and the
// frames that were taken still arrive in order.
TEST(FaultTest, FullDelayLineDropsAndCounts) {
  Mesh mesh(Transport::kInproc, 2, [](BusOptions& o) { o.delay_line_frames = 10; });
  ASSERT_TRUE(mesh.WaitConnected());
  ASSERT_TRUE(mesh.bus(1).SetLinkFault(2, LinkFault{.delay_us = 1'000'000}).ok());
  int accepted = 0;
  for (uint32_t i = 0; i < 50; ++i) accepted += mesh.bus(1).Send(2, Rep(1, i)) ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  BusCounters bc = mesh.bus(1).Counters();
  EXPECT_EQ(bc.delay_line_depth, 10u);
  EXPECT_GT(bc.delay_line_bytes, 0u);
  EXPECT_EQ(bc.delay_line_refused, 40u);
  EXPECT_EQ(bc.dropped, 40u);
  EXPECT_EQ(mesh.bus(1).Links()[0].dropped_delay_full, 40u);
  ASSERT_TRUE(mesh.handler(2).WaitFrames(10));
  auto got = mesh.handler(2).frames();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].lsn_offset, i);
  EXPECT_TRUE(WaitUntil([&] { return mesh.bus(1).Counters().delay_line_depth == 0; }));
  EXPECT_EQ(mesh.bus(1).Counters().delay_line_bytes, 0u);
  EXPECT_EQ(mesh.bus(1).Counters().delay_line_peak, 10u);
}

// The byte bound holds too; an empty line still takes one frame bigger
// than the bound (a legal frame is never refused forever).
TEST(FaultTest, DelayLineByteBound) {
  Mesh mesh(Transport::kInproc, 2, [](BusOptions& o) { o.delay_line_bytes = 1000; });
  ASSERT_TRUE(mesh.WaitConnected());
  ASSERT_TRUE(mesh.bus(1).SetLinkFault(2, LinkFault{.delay_us = 200'000}).ok());
  EXPECT_TRUE(mesh.bus(1).Send(2, Rep(1, 0, 4000)));  // empty line: taken
  EXPECT_FALSE(mesh.bus(1).Send(2, Rep(1, 1, 64)));   // over the byte bound
  EXPECT_EQ(mesh.bus(1).Counters().delay_line_refused, 1u);
  ASSERT_TRUE(mesh.handler(2).WaitFrames(1));
}

}  // namespace
}  // namespace bp::bus::testing
