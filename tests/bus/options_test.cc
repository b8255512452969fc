// Bus::Create validation: every bad option set is refused with a message
// naming the offending slot or endpoint.
#include <gtest/gtest.h>

#include <zmq.hpp>

#include "bus/bus.h"

namespace bp::bus {
namespace {

BusOptions Good() {
  BusOptions o;
  o.chassis_id = 1;
  o.self_slot = 1;
  o.self_endpoint = "ipc:///tmp/bp-opt-1";
  o.peers = {{2, "ipc:///tmp/bp-opt-2"}, {3, "tcp://127.0.0.1:7403"}};
  return o;
}

// Expects Create to refuse `o` with InvalidArgument mentioning `needle`.
void ExpectRefused(const BusOptions& o, const std::string& needle) {
  auto bus = Bus::Create(o);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bus.status().message().find(needle), std::string::npos) << bus.status().ToString();
}

TEST(OptionsTest, GoodOptionsCreate) {
  auto bus = Bus::Create(Good());
  ASSERT_TRUE(bus.ok()) << bus.status().ToString();
  EXPECT_NE(bus.value()->options().context, nullptr);  // made its own
}

TEST(OptionsTest, RefusesZeroChassis) {
  BusOptions o = Good();
  o.chassis_id = 0;
  ExpectRefused(o, "chassis_id");
}

TEST(OptionsTest, RefusesNegativeSelfSlot) {
  BusOptions o = Good();
  o.self_slot = -1;
  ExpectRefused(o, "self_slot -1");
}

TEST(OptionsTest, RefusesSelfAmongPeers) {
  BusOptions o = Good();
  o.peers.push_back({1, "ipc:///tmp/bp-opt-9"});
  ExpectRefused(o, "slot 1 (ipc:///tmp/bp-opt-9)");
}

TEST(OptionsTest, RefusesDuplicateSlot) {
  BusOptions o = Good();
  o.peers.push_back({2, "ipc:///tmp/bp-opt-9"});
  ExpectRefused(o, "slot 2");
}

TEST(OptionsTest, RefusesDuplicateEndpoint) {
  BusOptions o = Good();
  o.peers.push_back({4, "ipc:///tmp/bp-opt-2"});
  ExpectRefused(o, "slot 4 (ipc:///tmp/bp-opt-2)");
  o = Good();
  o.peers.push_back({4, o.self_endpoint});
  ExpectRefused(o, "slot 4");
}

TEST(OptionsTest, RefusesUnsupportedScheme) {
  BusOptions o = Good();
  o.peers.push_back({4, "udp://127.0.0.1:9"});
  ExpectRefused(o, "udp://127.0.0.1:9");
  o = Good();
  o.self_endpoint = "/tmp/x";
  ExpectRefused(o, "self_endpoint");
}

TEST(OptionsTest, RefusesTcpWithoutFixedPort) {
  BusOptions o = Good();
  o.peers.push_back({4, "tcp://127.0.0.1:*"});
  ExpectRefused(o, "fixed port");
  o = Good();
  o.peers.push_back({4, "tcp://127.0.0.1"});
  ExpectRefused(o, "slot 4");
}

TEST(OptionsTest, RefusesLongIpcPath) {
  BusOptions o = Good();
  o.peers.push_back({4, "ipc:///" + std::string(200, 'a')});
  ExpectRefused(o, "107 bytes");
}

TEST(OptionsTest, InprocNeedsASharedContext) {
  BusOptions o = Good();
  o.self_endpoint = "inproc://a";
  ExpectRefused(o, "BusOptions::context");
  o.context = std::make_shared<zmq::context_t>(1);
  EXPECT_TRUE(Bus::Create(o).ok());
}

TEST(OptionsTest, AddPeerIsCheckedToo) {
  auto bus = Bus::Create(Good());
  ASSERT_TRUE(bus.ok());
  Bus& b = *bus.value();
  EXPECT_EQ(b.AddPeer({1, "ipc:///tmp/bp-opt-7"}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(b.AddPeer({4, "ipc:///tmp/bp-opt-2"}).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(b.AddPeer({2, "ipc:///tmp/bp-opt-2"}).ok());   // unchanged: no-op
  EXPECT_TRUE(b.AddPeer({2, "ipc:///tmp/bp-opt-22"}).ok());  // moved
  EXPECT_TRUE(b.AddPeer({4, "ipc:///tmp/bp-opt-2"}).ok());   // endpoint now free
  EXPECT_EQ(b.RemovePeer(9).code(), Status::Code::kNotFound);
  EXPECT_EQ(b.SetLinkFault(2, LinkFault{.loss = 2.0}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(b.SetLinkFault(9, LinkFault{}).code(), Status::Code::kNotFound);
}

TEST(OptionsTest, StartNeedsAHandlerAndRunsOnce) {
  auto bus = Bus::Create(Good());
  ASSERT_TRUE(bus.ok());
  EXPECT_EQ(bus.value()->Start(nullptr).code(), Status::Code::kInvalidArgument);
  bus.value()->Stop();
  bus.value()->Stop();  // idempotent
  struct Null : Handler {
    void OnFrame(InFrame&&) override {}
  } handler;
  EXPECT_EQ(bus.value()->Start(&handler).code(), Status::Code::kFailedPrecondition);
  EXPECT_FALSE(bus.value()->Send(2, BuildAck({1, 1}, 1, Lsn{})));
}

}  // namespace
}  // namespace bp::bus
