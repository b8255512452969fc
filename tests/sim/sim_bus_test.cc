// The simulation bus (tests/support/sim_bus.h) against the bus::Bus
// contract and its own fault model: per-link order under random delay,
// a seeded loss rate within bounds, the same drops for the same seed,
// duplication, partitions in one direction, pause, pull (no OnPeerDown),
// peer up/down on Stop and restart, bounded queues, the reject counters,
// and Stop semantics.
#include "sim_bus.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "../bus/bus_test_util.h"

namespace bp::testing {
namespace {

using bus::testing::kChassis;
using bus::testing::RecordingHandler;
using bus::testing::Rep;
using bus::testing::WaitUntil;

bus::BusOptions Opts(int self, std::vector<int> peers, uint64_t chassis = kChassis) {
  bus::BusOptions o;
  o.chassis_id = chassis;
  o.self_slot = self;
  o.self_endpoint = "sim://" + std::to_string(self);
  for (int p : peers) o.peers.push_back({p, "sim://" + std::to_string(p)});
  return o;
}

// Two (or more) started buses on one network, slots 1..n.
struct Pair {
  explicit Pair(uint64_t seed, int n = 2) : net(seed) {
    for (int s = 1; s <= n; ++s) {
      std::vector<int> peers;
      for (int p = 1; p <= n; ++p) {
        if (p != s) peers.push_back(p);
      }
      auto b = net.CreateBus(Opts(s, peers));
      EXPECT_TRUE(b.ok()) << b.status().ToString();
      buses.push_back(std::move(b).value());
      handlers.push_back(std::make_unique<RecordingHandler>());
    }
    for (int s = 1; s <= n; ++s) EXPECT_TRUE(bus(s).Start(&handler(s)).ok());
  }
  bus::Bus& bus(int s) { return *buses[s - 1]; }
  RecordingHandler& handler(int s) { return *handlers[s - 1]; }
  SimNetwork net;
  std::vector<std::unique_ptr<RecordingHandler>> handlers;  // outlive the buses
  std::vector<std::unique_ptr<bus::Bus>> buses;
  ~Pair() { buses.clear(); }
};

// The sequence numbers slot `to` received from `from`, in arrival order.
std::vector<uint32_t> Seqs(RecordingHandler& h, int from) {
  std::vector<uint32_t> out;
  for (const auto& r : h.frames()) {
    if (r.sender == from) out.push_back(r.lsn_offset);
  }
  return out;
}

TEST(SimBus, RandomDelayKeepsEachLinksOrder) {
  Pair p(11);
  p.net.SetDelay(0, 3000);
  for (uint32_t i = 0; i < 400; ++i) ASSERT_TRUE(p.bus(1).Send(2, Rep(1, i)));
  ASSERT_TRUE(p.handler(2).WaitFrames(400));
  std::vector<uint32_t> got = Seqs(p.handler(2), 1);
  ASSERT_EQ(got.size(), 400u);
  for (uint32_t i = 0; i < 400; ++i) ASSERT_EQ(got[i], i) << "reordered at " << i;
  EXPECT_TRUE(p.handler(2).frames()[0].bytes_ok);
}

// Sends `n` frames 1 -> 2 with loss `loss` on a network seeded `seed`, and
// returns the sequence numbers that arrived.
std::vector<uint32_t> SurvivorsOf(uint64_t seed, double loss, uint32_t n) {
  Pair p(seed);
  p.net.SetLoss(loss);
  for (uint32_t i = 0; i < n; ++i) p.bus(1).Send(2, Rep(1, i));
  const uint64_t lost = p.net.Stats().lost;
  EXPECT_TRUE(p.handler(2).WaitFrames(n - lost));
  EXPECT_EQ(p.bus(1).Links()[0].dropped_fault, lost);
  return Seqs(p.handler(2), 1);
}

TEST(SimBus, LossRateIsWithinBoundsForASeed) {
  std::vector<uint32_t> got = SurvivorsOf(42, 0.2, 5000);
  const double lost = 1.0 - double(got.size()) / 5000.0;
  // Binomial(5000, 0.2): sd about 0.0057; 0.17..0.23 is over five sd.
  EXPECT_GT(lost, 0.17);
  EXPECT_LT(lost, 0.23);
}

TEST(SimBus, SameSeedSameDropsOtherSeedOtherDrops) {
  EXPECT_EQ(SurvivorsOf(7, 0.3, 2000), SurvivorsOf(7, 0.3, 2000));
  EXPECT_NE(SurvivorsOf(7, 0.3, 2000), SurvivorsOf(8, 0.3, 2000));
}

TEST(SimBus, DuplicatesFollowTheirOriginal) {
  Pair p(3);
  p.net.SetDuplication(1.0);
  for (uint32_t i = 0; i < 50; ++i) ASSERT_TRUE(p.bus(1).Send(2, Rep(1, i)));
  ASSERT_TRUE(p.handler(2).WaitFrames(100));
  std::vector<uint32_t> got = Seqs(p.handler(2), 1);
  ASSERT_EQ(got.size(), 100u);
  for (uint32_t i = 0; i < 100; ++i) EXPECT_EQ(got[i], i / 2);
  EXPECT_EQ(p.net.Stats().duplicated, 50u);
}

TEST(SimBus, AsymmetricCutDropsOneDirectionOnly) {
  Pair p(5);
  p.net.Cut(1, 2);
  EXPECT_FALSE(p.bus(1).Send(2, Rep(1, 1)));
  ASSERT_TRUE(p.bus(2).Send(1, Rep(2, 2)));
  ASSERT_TRUE(p.handler(1).WaitFrames(1));
  EXPECT_EQ(p.handler(2).frame_count(), 0u);
  EXPECT_EQ(p.net.Stats().cut, 1u);
  p.net.Cut(1, 2, false);
  ASSERT_TRUE(p.bus(1).Send(2, Rep(1, 3)));
  ASSERT_TRUE(p.handler(2).WaitFrames(1));
  EXPECT_EQ(Seqs(p.handler(2), 1), std::vector<uint32_t>{3});
}

TEST(SimBus, PartitionCutsBothWaysBetweenGroups) {
  Pair p(5, 3);
  p.net.Partition({1}, {2, 3});
  EXPECT_FALSE(p.bus(1).Send(2, Rep(1, 1)));
  EXPECT_FALSE(p.bus(3).Send(1, Rep(3, 1)));
  ASSERT_TRUE(p.bus(2).Send(3, Rep(2, 1)));  // inside one side
  ASSERT_TRUE(p.handler(3).WaitFrames(1));
  p.net.HealAll();
  ASSERT_TRUE(p.bus(1).Send(2, Rep(1, 2)));
  ASSERT_TRUE(p.handler(2).WaitFrames(1));
  EXPECT_EQ(p.handler(1).frame_count(), 0u);
}

TEST(SimBus, PauseHoldsFramesAndResumeDeliversThemInOrder) {
  Pair p(9);
  p.net.Pause(2);
  for (uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(p.bus(1).Send(2, Rep(1, i)));
  for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(p.bus(2).Send(1, Rep(2, i)));
  // Nothing flows while paused: wait a while for a frame that must not come.
  EXPECT_FALSE(p.handler(2).WaitFrames(1, std::chrono::milliseconds(100)));
  EXPECT_EQ(p.handler(1).frame_count(), 0u);
  EXPECT_EQ(p.bus(2).Counters().delay_line_depth, 20u);
  p.net.Resume(2);
  ASSERT_TRUE(p.handler(2).WaitFrames(20));
  ASSERT_TRUE(p.handler(1).WaitFrames(5));
  std::vector<uint32_t> got = Seqs(p.handler(2), 1);
  for (uint32_t i = 0; i < 20; ++i) EXPECT_EQ(got[i], i);
}

TEST(SimBus, PullIsSilentDeathWithoutPeerDown) {
  Pair p(13);
  ASSERT_TRUE(p.handler(1).WaitUps(2, 1));
  p.net.Pull(2);
  EXPECT_TRUE(p.bus(1).Send(2, Rep(1, 1)));  // the sender cannot tell
  EXPECT_TRUE(p.bus(2).Send(1, Rep(2, 1)));
  EXPECT_FALSE(p.handler(1).WaitDowns(2, 1, std::chrono::milliseconds(100)));
  EXPECT_EQ(p.handler(1).frame_count() + p.handler(2).frame_count(), 0u);
  EXPECT_TRUE(p.bus(1).IsConnected(2));
  EXPECT_EQ(p.net.Stats().pulled, 2u);
  p.net.Plug(2);
  ASSERT_TRUE(p.bus(1).Send(2, Rep(1, 2)));
  ASSERT_TRUE(p.handler(2).WaitFrames(1));
  EXPECT_EQ(p.handler(1).downs(2), 0);
}

TEST(SimBus, StoppedPeerIsReportedDownAndUpWhenAnotherBusTakesItsSlot) {
  Pair p(17);
  ASSERT_TRUE(p.handler(1).WaitUps(2, 1));
  ASSERT_TRUE(p.handler(2).WaitUps(1, 1));
  p.bus(2).Stop();
  ASSERT_TRUE(p.handler(1).WaitDowns(2, 1));
  EXPECT_FALSE(p.bus(1).IsConnected(2));
  EXPECT_FALSE(p.bus(1).Send(2, Rep(1, 1)));
  EXPECT_EQ(p.bus(1).Links()[0].dropped_unconnected, 1u);
  // The slot's next incarnation (a restarted board).
  RecordingHandler h2;
  auto b = p.net.CreateBus(Opts(2, {1}));
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->Start(&h2).ok());
  ASSERT_TRUE(p.handler(1).WaitUps(2, 2));
  ASSERT_TRUE(h2.WaitUps(1, 1));
  ASSERT_TRUE(p.bus(1).Send(2, Rep(1, 5)));
  ASSERT_TRUE(h2.WaitFrames(1));
  (*b)->Stop();
}

TEST(SimBus, FullLinkQueueDropsAndCounts) {
  SimNetwork net(1);
  bus::BusOptions o1 = Opts(1, {2});
  o1.send_queue_frames = 10;
  auto b1 = net.CreateBus(o1);
  auto b2 = net.CreateBus(Opts(2, {1}));
  RecordingHandler h1, h2;
  ASSERT_TRUE((*b1)->Start(&h1).ok());
  ASSERT_TRUE((*b2)->Start(&h2).ok());
  net.Pause(2);
  int accepted = 0;
  for (uint32_t i = 0; i < 25; ++i) accepted += (*b1)->Send(2, Rep(1, i)) ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(net.Stats().full, 15u);
  EXPECT_EQ((*b1)->Counters().dropped, 15u);
  net.Resume(2);
  ASSERT_TRUE(h2.WaitFrames(10));
  (*b1)->Stop();
  (*b2)->Stop();
}

TEST(SimBus, UnknownSlotWrongChassisAndMalformedAreDroppedAndCounted) {
  SimNetwork net(1);
  auto b2 = net.CreateBus(Opts(2, {1}));
  auto stranger = net.CreateBus(Opts(9, {2}));            // 2 does not know 9
  auto other = net.CreateBus(Opts(1, {2}, kChassis + 1));  // another chassis
  RecordingHandler h2, hs, ho;
  ASSERT_TRUE((*b2)->Start(&h2).ok());
  ASSERT_TRUE((*stranger)->Start(&hs).ok());
  ASSERT_TRUE((*other)->Start(&ho).ok());
  ASSERT_TRUE((*stranger)->Send(2, Rep(9, 1)));
  ASSERT_TRUE((*other)->Send(2, bus::BuildAck({kChassis + 1, 1}, 1, {1, 1})));
  const uint8_t junk[] = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(net.Inject(1, 2, junk));
  ASSERT_TRUE(WaitUntil([&] {
    bus::BusCounters c = (*b2)->Counters();
    return c.unknown_slot == 1 && c.wrong_chassis == 1 && c.malformed == 1;
  }));
  EXPECT_EQ(h2.frame_count(), 0u);
  EXPECT_FALSE((*b2)->Send(9, Rep(2, 1)));  // not a peer
  (*other)->Stop();
  (*stranger)->Stop();
  (*b2)->Stop();
}

// A handler that counts callbacks and can stop its own bus from one.
class CountingHandler : public bus::Handler {
 public:
  void OnFrame(bus::InFrame&&) override {
    ++frames;
    if (stop_from_callback && bus) bus->Stop();
  }
  std::atomic<int> frames{0};
  bool stop_from_callback = false;
  bus::Bus* bus = nullptr;
};

TEST(SimBus, NoCallbackAfterStopReturnsAndStopFromACallbackIsSafe) {
  SimNetwork net(1);
  auto b1 = net.CreateBus(Opts(1, {2}));
  auto b2 = net.CreateBus(Opts(2, {1}));
  CountingHandler h1, h2;
  ASSERT_TRUE((*b1)->Start(&h1).ok());
  ASSERT_TRUE((*b2)->Start(&h2).ok());
  EXPECT_FALSE((*b2)->Start(&h2).ok());  // once per bus
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    uint32_t i = 0;
    while (!stop.load()) (*b1)->Send(2, Rep(1, i++));
  });
  ASSERT_TRUE(WaitUntil([&] { return h2.frames.load() > 100; }));
  (*b2)->Stop();
  const int at_stop = h2.frames.load();
  // Frames keep coming at slot 2's old address: none may reach the handler.
  ASSERT_TRUE(WaitUntil([&] { return (*b1)->Links()[0].dropped_unconnected > 100; }));
  EXPECT_EQ(h2.frames.load(), at_stop);
  EXPECT_FALSE((*b2)->Send(1, Rep(2, 1)));
  stop = true;
  sender.join();
  // Stop called from inside a callback returns (the destructor joins).
  auto b3 = net.CreateBus(Opts(2, {1}));
  CountingHandler h3;
  h3.stop_from_callback = true;
  h3.bus = b3->get();
  ASSERT_TRUE((*b3)->Start(&h3).ok());
  ASSERT_TRUE((*b1)->Send(2, Rep(1, 1)));
  ASSERT_TRUE(WaitUntil([&] { return !net.Registered(2); }));
  EXPECT_EQ(h3.frames.load(), 1);
  b3->reset();
  (*b1)->Stop();
}

TEST(SimBus, RemovedPeerIsReportedDownAndAddedPeerUp) {
  Pair p(23);
  ASSERT_TRUE(p.handler(1).WaitUps(2, 1));
  ASSERT_TRUE(p.bus(1).RemovePeer(2).ok());
  ASSERT_TRUE(p.handler(1).WaitDowns(2, 1));
  EXPECT_FALSE(p.bus(1).Send(2, Rep(1, 1)));
  EXPECT_EQ(p.bus(1).RemovePeer(2).code(), Status::Code::kNotFound);
  ASSERT_TRUE(p.bus(1).AddPeer({2, "sim://2"}).ok());  // hot insertion of a running board
  ASSERT_TRUE(p.handler(1).WaitUps(2, 2));
  ASSERT_TRUE(p.bus(1).Send(2, Rep(1, 2)));
  ASSERT_TRUE(p.handler(2).WaitFrames(1));
  EXPECT_FALSE(p.bus(1).AddPeer({1, "sim://1"}).ok());  // itself
}

TEST(SimBus, LinkFaultOfTheBusAppliesOnTop) {
  Pair p(21);
  bus::LinkFault f;
  f.cut_out = true;
  ASSERT_TRUE(p.bus(1).SetLinkFault(2, f).ok());
  EXPECT_FALSE(p.bus(1).Send(2, Rep(1, 1)));
  EXPECT_EQ(p.bus(1).Links()[0].dropped_fault, 1u);
  f = {};
  f.loss = 2;
  EXPECT_FALSE(p.bus(1).SetLinkFault(2, f).ok());
  EXPECT_EQ(p.bus(1).SetLinkFault(7, {}).code(), Status::Code::kNotFound);
  ASSERT_TRUE(p.bus(1).SetLinkFault(2, {}).ok());
  f = {};
  f.cut_in = true;
  ASSERT_TRUE(p.bus(2).SetLinkFault(1, f).ok());
  EXPECT_TRUE(p.bus(1).Send(2, Rep(1, 2)));
  ASSERT_TRUE(WaitUntil([&] { return p.bus(2).Counters().dropped_fault_in == 1; }));
  EXPECT_EQ(p.handler(2).frame_count(), 0u);
}

}  // namespace
}  // namespace bp::testing
