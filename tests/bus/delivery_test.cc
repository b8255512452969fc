// Delivery over every transport (inproc, ipc, tcp): unicast, broadcast,
// order under a burst, rejection of malformed or foreign frames sent by a raw
// ZeroMQ socket, fast failure towards an absent peer, peers added and removed
// at run time, and Stop (idempotent, safe against racing senders).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "bus/frames.h"
#include "bus_test_util.h"

namespace bp::bus::testing {
namespace {

class DeliveryTest : public ::testing::TestWithParam<Transport> {};

TEST_P(DeliveryTest, Unicast) {
  Mesh mesh(GetParam(), 2);
  ASSERT_TRUE(mesh.WaitConnected());
  EXPECT_EQ(mesh.handler(1).ups(2), 1);
  ASSERT_TRUE(mesh.bus(1).Send(2, Rep(1, 11)));
  ASSERT_TRUE(mesh.handler(2).WaitFrames(1));
  Received r = mesh.handler(2).frames()[0];
  EXPECT_EQ(r.sender, 1);
  EXPECT_EQ(r.body, wire::Body::RepMsg);
  EXPECT_EQ(r.lsn_offset, 11u);
  EXPECT_TRUE(r.bytes_ok);
  EXPECT_EQ(mesh.bus(1).Counters().sent, 1u);
  EXPECT_EQ(mesh.bus(2).Counters().received, 1u);
  EXPECT_EQ(mesh.bus(2).Links()[0].received, 1u);
  EXPECT_EQ(mesh.handler(1).frame_count(), 0u);
}

TEST_P(DeliveryTest, BroadcastReachesEveryOtherBoard) {
  Mesh mesh(GetParam(), 3);
  ASSERT_TRUE(mesh.WaitConnected());
  OutFrame f = Rep(1, 5);
  ASSERT_TRUE(mesh.bus(1).Send(kBroadcast, f));
  ASSERT_TRUE(mesh.handler(2).WaitFrames(1));
  ASSERT_TRUE(mesh.handler(3).WaitFrames(1));
  EXPECT_EQ(mesh.bus(1).Counters().sent, 2u);
  // Never delivered back to the sender.
  EXPECT_FALSE(mesh.handler(1).WaitFrames(1, std::chrono::milliseconds(50)));
}

// 10k frames in one burst on one link arrive in order; any frame the queue
// bound refused is counted, never silently lost.
TEST_P(DeliveryTest, BurstKeepsOrder) {
  constexpr uint32_t kFrames = 10'000;
  Mesh mesh(GetParam(), 2);
  ASSERT_TRUE(mesh.WaitConnected());
  for (uint32_t seq = 1; seq <= kFrames; ++seq) (void)mesh.bus(1).Send(2, Rep(1, seq));
  BusCounters sender = mesh.bus(1).Counters();
  EXPECT_EQ(sender.sent + sender.dropped, kFrames);
  ASSERT_TRUE(mesh.handler(2).WaitFrames(sender.sent, std::chrono::seconds(30)));
  std::vector<Received> got = mesh.handler(2).frames();
  ASSERT_EQ(got.size(), sender.sent);
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].lsn_offset, got[i].lsn_offset);
  RecordProperty("dropped_full", static_cast<int>(sender.dropped));
}

// Large frames (up to a 1 MB bulk buffer) arrive byte for byte; over ipc and
// tcp ZeroMQ hands them at unaligned addresses, which the bus must absorb.
TEST_P(DeliveryTest, LargeFramesArriveIntact) {
  Mesh mesh(GetParam(), 2);
  ASSERT_TRUE(mesh.WaitConnected());
  std::vector<size_t> sizes = {0, 1, 7, 33, 8191, 8192, 100'000, 1 << 20};
  for (uint32_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(mesh.bus(1).Send(2, Rep(1, i + 1, sizes[i])));
  }
  ASSERT_TRUE(mesh.handler(2).WaitFrames(sizes.size()));
  std::vector<Received> got = mesh.handler(2).frames();
  for (uint32_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(got[i].rec_bytes, sizes[i]);
    EXPECT_TRUE(got[i].bytes_ok) << "frame with " << sizes[i] << " bytes";
  }
}

// A raw PUSH socket feeds the bus garbage and foreign frames: each is
// counted under its reason, none is delivered, and the bus keeps working.
TEST_P(DeliveryTest, DropsAndCountsBadFrames) {
  Mesh mesh(GetParam(), 2);
  ASSERT_TRUE(mesh.WaitConnected());
  zmq::socket_t raw(*mesh.ctx, zmq::socket_type::push);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(mesh.bus(2).options().self_endpoint);
  auto send = [&](const uint8_t* data, size_t size) {
    ASSERT_TRUE(raw.send(zmq::const_buffer(data, size), zmq::send_flags::none));
  };
  std::mt19937 rng(1);
  std::vector<uint8_t> garbage(300);
  for (auto& b : garbage) b = static_cast<uint8_t>(rng());
  send(garbage.data(), garbage.size());
  OutFrame good = Rep(1, 1);
  send(good.data(), good.size() / 2);  // truncated
  OutFrame other_chassis = BuildAck({kChassis + 1, 1}, 1, Lsn{});
  send(other_chassis.data(), other_chassis.size());
  flatbuffers::FlatBufferBuilder fbb;
  auto ack = wire::CreateAck(fbb, 1, 1, 1);
  fbb.Finish(
      wire::CreateFrame(fbb, kProtocolVersion + 1, kChassis, 1, wire::Body::Ack, ack.Union()));
  send(fbb.GetBufferPointer(), fbb.GetSize());
  OutFrame stranger = BuildAck({kChassis, 99}, 1, Lsn{});
  send(stranger.data(), stranger.size());
  OutFrame impostor = BuildAck({kChassis, 2}, 1, Lsn{});  // claims the receiver's own slot
  send(impostor.data(), impostor.size());
  send(good.data(), good.size());  // a good frame after all that still arrives
  ASSERT_TRUE(mesh.handler(2).WaitFrames(1));
  BusCounters c = mesh.bus(2).Counters();
  EXPECT_EQ(c.malformed, 2u);
  EXPECT_EQ(c.wrong_chassis, 1u);
  EXPECT_EQ(c.wrong_version, 1u);
  EXPECT_EQ(c.unknown_slot, 2u);
  EXPECT_EQ(c.received, 1u);
  EXPECT_TRUE(mesh.bus(1).Send(2, Rep(1, 2)));
  ASSERT_TRUE(mesh.handler(2).WaitFrames(2));
  EXPECT_EQ(mesh.handler(2).frame_count(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Transports, DeliveryTest,
                         ::testing::Values(Transport::kInproc, Transport::kIpc, Transport::kTcp),
                         [](const auto& info) { return TransportName(info.param); });

// Sending to a peer that is not running fails at once (ZMQ_IMMEDIATE: no
// queueing for an absent peer) and counts the drop as unconnected.
TEST(DeliveryTest, SendToAbsentPeerFailsFast) {
  Endpoints eps(Transport::kIpc);
  RecordingHandler handler;
  auto bus = Bus::Create(Options(1, eps.For(1), {{2, eps.For(2)}}, nullptr));
  ASSERT_TRUE(bus.ok());
  ASSERT_TRUE(bus.value()->Start(&handler).ok());
  OutFrame f = Rep(1, 1);
  auto start = std::chrono::steady_clock::now();
  int accepted = 0;
  for (int i = 0; i < 1000; ++i) accepted += bus.value()->Send(2, f);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(accepted, 0);
  EXPECT_EQ(bus.value()->Links()[0].dropped_unconnected, 1000u);
  EXPECT_EQ(bus.value()->Counters().dropped, 1000u);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  RecordProperty("us_per_1000_sends", static_cast<int>(us));
  EXPECT_LT(us, 1'000'000) << "1000 sends to an absent peer took " << us << " us";
  EXPECT_FALSE(bus.value()->Send(3, f));  // not a peer at all
}

// A board that starts with no peers learns one at run time, then forgets it.
TEST(DeliveryTest, AddAndRemovePeerAtRunTime) {
  auto ctx = std::make_shared<zmq::context_t>(1);
  Endpoints eps(Transport::kIpc);
  std::string ep1 = eps.For(1), ep2 = eps.For(2);
  RecordingHandler h1, h2;
  auto b1 = Bus::Create(Options(1, ep1, {}, ctx));
  auto b2 = Bus::Create(Options(2, ep2, {{1, ep1}}, ctx));
  ASSERT_TRUE(b1.ok() && b2.ok());
  ASSERT_TRUE(b1.value()->Start(&h1).ok());
  ASSERT_TRUE(b2.value()->Start(&h2).ok());
  Bus& one = *b1.value();
  Bus& two = *b2.value();
  ASSERT_TRUE(h2.WaitUps(1, 1));
  EXPECT_TRUE(two.Send(1, Rep(2, 1)));
  ASSERT_TRUE(WaitUntil([&] { return one.Counters().unknown_slot == 1; }));  // 2 unknown yet

  ASSERT_TRUE(one.AddPeer({2, ep2}).ok());
  ASSERT_TRUE(h1.WaitUps(2, 1));
  EXPECT_TRUE(one.Send(2, Rep(1, 7)));
  ASSERT_TRUE(h2.WaitFrames(1));
  EXPECT_TRUE(two.Send(1, Rep(2, 8)));
  ASSERT_TRUE(h1.WaitFrames(1));

  ASSERT_TRUE(one.RemovePeer(2).ok());
  ASSERT_TRUE(h1.WaitDowns(2, 1));  // a removed peer that was up is reported down
  EXPECT_FALSE(one.Send(2, Rep(1, 9)));
  EXPECT_TRUE(one.Links().empty());
  EXPECT_TRUE(two.Send(1, Rep(2, 10)));
  ASSERT_TRUE(WaitUntil([&] { return one.Counters().unknown_slot == 2; }));
  EXPECT_EQ(h1.frame_count(), 1u);
}

// Stop is idempotent, later sends return false, and senders racing with
// Stop on other threads neither crash nor hang.
TEST(DeliveryTest, StopRacingSenders) {
  Mesh mesh(Transport::kInproc, 2);
  ASSERT_TRUE(mesh.WaitConnected());
  std::atomic<bool> go{true};
  std::vector<std::thread> senders;
  for (int t = 0; t < 3; ++t) {
    senders.emplace_back([&, t] {
      OutFrame f = Rep(1, t);
      while (go.load()) (void)mesh.bus(1).Send(t == 0 ? kBroadcast : 2, f);
    });
  }
  ASSERT_TRUE(mesh.handler(2).WaitFrames(100));
  mesh.bus(1).Stop();
  mesh.bus(1).Stop();
  EXPECT_FALSE(mesh.bus(1).Send(2, Rep(1, 1)));
  go = false;
  for (auto& t : senders) t.join();
  EXPECT_FALSE(mesh.bus(1).Send(kBroadcast, Rep(1, 1)));
}

// Stop from inside a handler callback must not deadlock.
TEST(DeliveryTest, StopFromHandler) {
  auto ctx = std::make_shared<zmq::context_t>(1);
  Endpoints eps(Transport::kInproc);
  std::string ep1 = eps.For(1), ep2 = eps.For(2);
  struct Stopper : RecordingHandler {
    Bus* bus = nullptr;
    void OnFrame(InFrame&& f) override {
      bus->Stop();
      RecordingHandler::OnFrame(std::move(f));
    }
  } h2;
  RecordingHandler h1;
  auto b1 = Bus::Create(Options(1, ep1, {{2, ep2}}, ctx));
  auto b2 = Bus::Create(Options(2, ep2, {{1, ep1}}, ctx));
  ASSERT_TRUE(b1.ok() && b2.ok());
  h2.bus = b2.value().get();
  ASSERT_TRUE(b1.value()->Start(&h1).ok());
  ASSERT_TRUE(b2.value()->Start(&h2).ok());
  ASSERT_TRUE(h1.WaitUps(2, 1));
  EXPECT_TRUE(b1.value()->Send(2, Rep(1, 1)));
  ASSERT_TRUE(h2.WaitFrames(1));
  EXPECT_FALSE(b2.value()->Send(1, Rep(2, 1)));
}

}  // namespace
}  // namespace bp::bus::testing
