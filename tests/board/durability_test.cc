// Durability: what bounds acks (written end), what a LINEARIZABLE read waits
// for (the last PERMANENT LSN of this mastership), and the writer's wait with
// its figures and its failure report. Peers are made alive by heartbeats in
// a real PeerTable; the ack timeout is 0, so a wait that is not met returns
// at once and no outcome depends on the machine's speed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "board/durability.h"

namespace bp::board {
namespace {

struct Fixture {
  explicit Fixture(int boards, AckPolicy policy) : config(MakeLocalChassis(boards, "/tmp/t", 1)) {
    config.ack_policy = policy;
    config.ack_timeout_ms = 0;  // a wait that is not met returns at once
  }
  // Slot `slot` heard now: alive for the ack tracker's fail-fast.
  void Alive(int slot) {
    peers.OnLinkUp(slot);
    bus::HeartbeatInfo hb;
    hb.role = wire::Role::Client;
    peers.OnHeartbeat(slot, hb, clock.NowMicros());
  }
  ChassisConfig config;
  const Clock& clock = Clock::Real();
  PeerTable peers{config, 1};
  std::vector<std::string> failures;
  Durability d{config, 1, peers, clock, [this](const std::string& s) { failures.push_back(s); }};
};

TEST(Durability, WrittenEndOnlyRises) {
  Fixture f(3, AckPolicy::kQuorum);
  EXPECT_EQ(f.d.written_end(), 0u);
  f.d.NoteWritten({2, 100});
  EXPECT_EQ(f.d.written_end(), (uint64_t(2) << 32 | 100) + 1);
  f.d.NoteWritten({1, 900});  // an older record (a re-send): no effect
  EXPECT_EQ(f.d.written_end(), (uint64_t(2) << 32 | 100) + 1);
}

TEST(Durability, AwaitCommittedWaitsForThisMastershipsLastPermOnly) {
  Fixture f(3, AckPolicy::kQuorum);
  f.Alive(2);
  f.Alive(3);
  f.d.BeginMastership(5);
  EXPECT_TRUE(f.d.AwaitCommitted());  // nothing committed yet
  f.d.NotePermSent({1, 40});
  f.d.NotePermSent({1, 20});          // sends may be seen out of order
  EXPECT_FALSE(f.d.AwaitCommitted()); // {1, 40} not acknowledged
  f.d.OnAck(2, 5, {1, 30});
  EXPECT_FALSE(f.d.AwaitCommitted()); // the ack covers {1, 20} only
  f.d.OnAck(3, 5, {1, 40});
  EXPECT_TRUE(f.d.AwaitCommitted());
  // A new mastership: the previous one's tail may have been rolled back.
  f.d.NotePermSent({1, 90});
  f.d.BeginMastership(6);
  EXPECT_TRUE(f.d.AwaitCommitted());
}

TEST(Durability, AwaitDurableRecordsOutcomeAndReportsFailure) {
  Fixture f(3, AckPolicy::kQuorum);
  f.Alive(2);
  f.Alive(3);
  f.d.BeginMastership(1);
  f.d.OnAck(2, 1, {3, 8});
  PermOutcome po;
  EXPECT_TRUE(f.d.AwaitDurable({3, 8}, &po));
  EXPECT_TRUE(po.met);
  EXPECT_EQ(po.needed, 1);
  EXPECT_EQ(po.got, 1);
  EXPECT_TRUE(f.failures.empty());
  PermOutcome late;
  EXPECT_FALSE(f.d.AwaitDurable({3, 9}, &late));
  EXPECT_FALSE(late.met);
  ASSERT_EQ(f.failures.size(), 1u);
  EXPECT_NE(f.failures[0].find("0/1 acks for 3/9"), std::string::npos) << f.failures[0];
  const nlohmann::json s = f.d.Stats();
  EXPECT_EQ(s["perm_waits"], 2);
  EXPECT_EQ(s["perm_failures"], 1);
  EXPECT_EQ(s["needed"], 1);
}

TEST(Durability, AbortEndsWaitsUntilTheNextMastership) {
  Fixture f(2, AckPolicy::kOne);
  f.Alive(2);
  f.d.BeginMastership(1);
  f.d.OnAck(2, 1, {1, 10});
  f.d.Abort();
  PermOutcome po;
  EXPECT_FALSE(f.d.AwaitDurable({1, 10}, &po));  // stepped down: nothing is waited for
  f.d.BeginMastership(2);
  f.d.OnAck(2, 2, {1, 10});
  EXPECT_TRUE(f.d.AwaitDurable({1, 10}, &po));
}

}  // namespace
}  // namespace bp::board
