// RepTransport alone (no engine, no Berkeley DB environment): ANYWHERE
// requests rotate over the in-sync replicas and fall back to the board
// Berkeley DB named; requests routed to a replica that dies are re-sent to
// the master, once, and only those; the record of routed requests is
// bounded; on the master a PERMANENT send leaves its LSN in the thread's
// PermOutcome and tells Durability how far the log went, and a replica's
// PERMANENT send does neither; a refused send of a plain message is
// DB_REP_UNAVAIL. Time is a ManualClock; the bus records what it is given.
#include "board/rep_transport.h"

#include <db.h>
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "board/perm_outcome.h"

#include "fake_bus.h"

namespace bp::board {
namespace {

struct SentFrame {
  int slot;
  uint32_t flags, gen, lsn_file, lsn_offset;
};

// The bus seam: records every Send, refuses when told to.
class RecordingBus final : public fakes::FakeBus {
 public:
  std::vector<SentFrame> sent;
  bool refuse = false;
  std::set<int> refuse_slots;  // links that are gone

  bool Send(int slot, const bus::OutFrame& frame) override {
    if (refuse || refuse_slots.count(slot)) return false;
    const wire::RepMsg* m = wire::GetFrame(frame.data())->body_as_RepMsg();
    EXPECT_NE(m, nullptr);
    if (!m) return false;
    sent.push_back({slot, m->flags(), m->gen(), m->lsn_file(), m->lsn_offset()});
    return true;
  }
};

class FakeRoles final : public TransportListener {
 public:
  Role role = Role::kMaster;
  uint32_t gen = 7;
  int master = 1;
  std::vector<std::string> logs;
  std::vector<int> rerequests;
  Role TransportRole() const override { return role; }
  uint32_t TransportGeneration() const override { return gen; }
  int TransportMaster() const override { return master; }
  void TransportLog(const std::string& line) override { logs.push_back(line); }
  void TransportRerequest(int dead_slot) override { rerequests.push_back(dead_slot); }
};

ChassisConfig ThreeBoards() {
  ChassisConfig c;
  c.chassis_id = 42;
  for (int slot : {1, 2, 3}) {
    SlotConfig b;
    b.slot = slot;
    b.endpoint = "ipc:///tmp/unused-" + std::to_string(slot);
    c.boards.push_back(b);
  }
  return c;
}

bus::HeartbeatInfo InSyncClient() {
  bus::HeartbeatInfo hb;
  hb.role = wire::Role::Client;
  hb.startup_done = true;
  hb.gen = 7;
  hb.master = 1;
  return hb;
}

// A control of this Berkeley DB version's size (only bulk log records are
// read from it, and these tests send none).
std::vector<uint8_t> Control() { return std::vector<uint8_t>(64, 0); }

class RepTransportTest : public ::testing::Test {
 protected:
  RepTransportTest()
      : config_(ThreeBoards()),
        peers_(config_, 1),
        durability_(config_, 1, peers_, clock_, [](const std::string&) {}),
        transport_(config_.chassis_id, 1, clock_, peers_, durability_, roles_) {
    transport_.Attach(&bus_);
  }

  void HearInSync(int slot) {
    peers_.OnLinkUp(slot);
    peers_.OnHeartbeat(slot, InSyncClient(), clock_.NowMicros());
  }

  int SendOne(uint32_t flags, int envid, uint32_t file = 1, uint32_t offset = 100) {
    std::vector<uint8_t> control = Control();
    DBT c{};
    c.data = control.data();
    c.size = uint32_t(control.size());
    DB_LSN lsn{file, offset};
    return transport_.Send(&c, nullptr, &lsn, envid, flags);
  }

  ManualClock clock_;
  ChassisConfig config_;
  PeerTable peers_;
  Durability durability_;
  FakeRoles roles_;
  RecordingBus bus_;
  RepTransport transport_;
};

TEST_F(RepTransportTest, AnywhereRequestsRotateOverInSyncReplicas) {
  roles_.role = Role::kClient;
  roles_.master = 1;
  HearInSync(2);
  HearInSync(3);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(SendOne(DB_REP_ANYWHERE, 1), 0);
  ASSERT_EQ(bus_.sent.size(), 4u);
  std::vector<int> to;
  for (const auto& s : bus_.sent) to.push_back(s.slot);
  EXPECT_EQ(to, (std::vector<int>{2, 3, 2, 3}));
  EXPECT_EQ(transport_.stats().anywhere_routed, 4u);
  EXPECT_EQ(transport_.stats().routed_kept, 4u);
  // Every frame carries the sender's generation and the message's flags.
  EXPECT_EQ(bus_.sent[0].gen, 7u);
  EXPECT_EQ(bus_.sent[0].flags, uint32_t(DB_REP_ANYWHERE));
}

TEST_F(RepTransportTest, AnywhereGoesWhereBerkeleyDbSaidWithoutAnInSyncReplica) {
  roles_.role = Role::kClient;
  peers_.OnLinkUp(2);  // connected, never heard: not in sync
  ASSERT_EQ(SendOne(DB_REP_ANYWHERE, 1), 0);
  ASSERT_EQ(bus_.sent.size(), 1u);
  EXPECT_EQ(bus_.sent[0].slot, 1);
  EXPECT_EQ(transport_.stats().anywhere_routed, 0u);
  // A re-request is never re-routed (Berkeley DB chose the board on purpose).
  HearInSync(3);
  ASSERT_EQ(SendOne(DB_REP_ANYWHERE | DB_REP_REREQUEST, 1), 0);
  EXPECT_EQ(bus_.sent[1].slot, 1);
}

TEST_F(RepTransportTest, RequestsOfADeadReplicaAreResentToTheMasterOnce) {
  roles_.role = Role::kClient;
  roles_.master = 1;
  HearInSync(2);
  HearInSync(3);
  for (int i = 0; i < 4; ++i) SendOne(DB_REP_ANYWHERE, 1, 1, 100 + i);  // 2, 3, 2, 3
  bus_.sent.clear();
  transport_.ResendRoutedTo(2);
  ASSERT_EQ(bus_.sent.size(), 2u);
  EXPECT_EQ(bus_.sent[0].slot, 1);
  EXPECT_EQ(bus_.sent[0].lsn_offset, 100u);
  EXPECT_EQ(bus_.sent[1].lsn_offset, 102u);
  EXPECT_EQ(transport_.stats().routed_resent, 2u);
  EXPECT_EQ(transport_.stats().routed_kept, 2u);  // slot 3's
  ASSERT_EQ(roles_.logs.size(), 1u);
  EXPECT_NE(roles_.logs[0].find("slot 2"), std::string::npos) << roles_.logs[0];
  // ... and Berkeley DB is made to re-request the rest of its range there.
  EXPECT_EQ(roles_.rerequests, std::vector<int>{2});
  EXPECT_EQ(transport_.stats().rerequests, 1u);
  bus_.sent.clear();
  transport_.ResendRoutedTo(2);  // nothing left for slot 2
  EXPECT_TRUE(bus_.sent.empty());
  EXPECT_EQ(roles_.rerequests.size(), 1u);  // and nothing to re-request
}

TEST_F(RepTransportTest, ARequestTheReplicasLinkRefusesGoesWhereBerkeleyDbSaid) {
  // The peer table still has slot 2 in sync, but its link is gone: the
  // request goes to the master at once and is not left for a re-send.
  roles_.role = Role::kClient;
  HearInSync(2);
  bus_.refuse_slots.insert(2);
  ASSERT_EQ(SendOne(DB_REP_ANYWHERE, 1), 0);
  ASSERT_EQ(bus_.sent.size(), 1u);
  EXPECT_EQ(bus_.sent[0].slot, 1);
  EXPECT_EQ(transport_.stats().reroute_failed, 1u);
  EXPECT_EQ(transport_.stats().routed_kept, 0u);
}

TEST_F(RepTransportTest, ResentRequestsGoWhereBerkeleyDbSaidWithoutAMaster) {
  roles_.role = Role::kClient;
  roles_.master = -1;
  HearInSync(2);
  SendOne(DB_REP_ANYWHERE, 3);
  bus_.sent.clear();
  transport_.ResendRoutedTo(2);
  ASSERT_EQ(bus_.sent.size(), 1u);
  EXPECT_EQ(bus_.sent[0].slot, 3);
}

TEST_F(RepTransportTest, RoutedRecordForgetsOldRequestsAndIsBounded) {
  roles_.role = Role::kClient;
  HearInSync(2);
  SendOne(DB_REP_ANYWHERE, 1);
  clock_.Advance(Micros(RepTransport::kRoutedKeepUs + 1));
  HearInSync(2);  // still alive at the new time
  SendOne(DB_REP_ANYWHERE, 1);
  EXPECT_EQ(transport_.stats().routed_kept, 1u);  // the first one aged out
  for (size_t i = 0; i < RepTransport::kMaxRouted + 10; ++i) SendOne(DB_REP_ANYWHERE, 1);
  auto s = transport_.stats();
  EXPECT_EQ(s.routed_kept, RepTransport::kMaxRouted);
  EXPECT_EQ(s.routed_evicted, 11u);
}

TEST_F(RepTransportTest, PermanentOnTheMasterLeavesItsLsnForTheWriter) {
  ThisThreadPermOutcome() = PermOutcome{};
  ASSERT_EQ(SendOne(DB_REP_PERMANENT, DB_EID_BROADCAST, 3, 500), 0);
  const PermOutcome& po = ThisThreadPermOutcome();
  EXPECT_TRUE(po.seen);
  EXPECT_EQ(po.lsn_file, 3u);
  EXPECT_EQ(po.lsn_offset, 500u);
  EXPECT_GT(durability_.written_end(), (uint64_t(3) << 32 | 500) - 1);
  ASSERT_EQ(bus_.sent.size(), 1u);
  EXPECT_EQ(bus_.sent[0].slot, bus::kBroadcast);
}

TEST_F(RepTransportTest, PermanentOnAReplicaIsAPlainSend) {
  roles_.role = Role::kClient;
  ThisThreadPermOutcome() = PermOutcome{};
  ASSERT_EQ(SendOne(DB_REP_PERMANENT, 1, 3, 500), 0);
  EXPECT_FALSE(ThisThreadPermOutcome().seen);
  EXPECT_EQ(durability_.written_end(), 0u);
}

TEST_F(RepTransportTest, RefusedSendIsUnavailableExceptForPermanentOnTheMaster) {
  bus_.refuse = true;
  roles_.role = Role::kClient;
  EXPECT_EQ(SendOne(0, 1), DB_REP_UNAVAIL);
  // On the master the commit's wait decides (the ack never comes).
  roles_.role = Role::kMaster;
  ThisThreadPermOutcome() = PermOutcome{};
  EXPECT_EQ(SendOne(DB_REP_PERMANENT, DB_EID_BROADCAST), 0);
  EXPECT_TRUE(ThisThreadPermOutcome().seen);
  EXPECT_EQ(transport_.stats().send_failed, 2u);
}

}  // namespace
}  // namespace bp::board
