// The pure frame checks (board/include/board/frame_checks.h) and the
// configuration digest (config_digest.h), field by field.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "board/config.h"
#include "board/config_digest.h"
#include "board/frame_checks.h"
#include "board/frame_guard.h"

namespace bp::board {
namespace {

std::vector<uint8_t> Control(uint32_t rep_version, uint32_t log_version, uint32_t rectype,
                             uint32_t flags, size_t size = kRepControlBytes) {
  const uint32_t f[9] = {rep_version, log_version, 1, 28, rectype, 3, 0, 0, flags};
  std::vector<uint8_t> out(36);
  for (int i = 0; i < 9; ++i) {
    uint32_t be = htonl(f[i]);
    std::memcpy(out.data() + 4 * i, &be, 4);
  }
  out.resize(size);
  return out;
}

Refusal Check(const std::vector<uint8_t>& c, size_t rec = 64, bool leases = false) {
  return CheckRepControl(true, c, rec, RepControlSettings{leases});
}

TEST(RepControl, AcceptsThisVersionsMessages) {
  for (uint32_t type = 1; type <= kRepMaxMsg; ++type) {
    if (type == kRepLeaseGrant) continue;
    EXPECT_EQ(Check(Control(7, 19, type, 0x20)), Refusal::kNone) << type;
  }
  RepControl parsed;
  ASSERT_EQ(CheckRepControl(true, Control(7, 19, 11, 0x24), 8, {}, &parsed), Refusal::kNone);
  EXPECT_EQ(parsed.rectype, 11u);
  EXPECT_EQ(parsed.flags, 0x24u);
  EXPECT_EQ(parsed.lsn_file, 1u);
  EXPECT_EQ(parsed.lsn_offset, 28u);
  EXPECT_EQ(parsed.gen, 3u);
  // A longer control (a future field) is still this version's.
  auto longer = Control(7, 19, 1, 0);
  longer.resize(48);
  EXPECT_EQ(Check(longer), Refusal::kNone);
}

TEST(RepControl, RefusesWhatBerkeleyDbWouldMisreadOrPanicOn) {
  EXPECT_EQ(CheckRepControl(false, {}, 0, {}), Refusal::kControlMissing);
  for (size_t n : {0, 1, 3, 4, 10, 35}) EXPECT_EQ(Check(Control(7, 19, 1, 0, n)), Refusal::kControlShort) << n;
  for (uint32_t v : {0u, 3u, 4u, 5u, 6u, 8u, 0x07000000u}) {
    EXPECT_EQ(Check(Control(v, 19, 1, 0)), Refusal::kRepVersion) << v;
  }
  for (uint32_t v : {0u, 8u, 18u, 20u}) EXPECT_EQ(Check(Control(7, v, 1, 0)), Refusal::kLogVersion) << v;
  for (uint32_t t : {0u, 32u, 99u, 0xffffffffu}) EXPECT_EQ(Check(Control(7, 19, t, 0)), Refusal::kRecType) << t;
  // Log records are read for their type before any size check.
  for (uint32_t t : {kRepLog, kRepLogMore}) {
    EXPECT_EQ(Check(Control(7, 19, t, 0), 3), Refusal::kRecordShort) << t;
    EXPECT_EQ(Check(Control(7, 19, t, 0), 4), Refusal::kNone) << t;
  }
  EXPECT_EQ(Check(Control(7, 19, 27 /*REP_VERIFY*/, 0), 0), Refusal::kNone);  // may carry none
}

TEST(RepControl, LeaseMessagesOnlyWhereLeasesRun) {
  EXPECT_EQ(Check(Control(7, 19, kRepLog, kRepCtlLease | 0x20)), Refusal::kLeaseMismatch);
  EXPECT_EQ(Check(Control(7, 19, kRepLeaseGrant, 0)), Refusal::kLeaseMismatch);
  EXPECT_EQ(Check(Control(7, 19, kRepLog, kRepCtlLease | 0x20), 64, true), Refusal::kNone);
  EXPECT_EQ(Check(Control(7, 19, kRepLeaseGrant, 0), 64, true), Refusal::kNone);
  // A lease board hearing a board without leases: no panic in 5.3 (the
  // configuration digest keeps such boards apart).
  EXPECT_EQ(Check(Control(7, 19, kRepLog, 0x20), 64, true), Refusal::kNone);
}

TEST(AckCheck, OnlyAtThisGenerationBelowTheLogEnd) {
  AckCheckState s{true, 4, {1, 1000}};
  EXPECT_EQ(CheckAck(4, {1, 999}, s), Refusal::kNone);
  EXPECT_EQ(CheckAck(4, {1, 28}, s), Refusal::kNone);
  EXPECT_EQ(CheckAck(4, {1, 1000}, s), Refusal::kAckBeyondLog);
  EXPECT_EQ(CheckAck(4, {0x7fffffff, 0}, s), Refusal::kAckBeyondLog);
  EXPECT_EQ(CheckAck(3, {1, 28}, s), Refusal::kAckOtherGeneration);
  EXPECT_EQ(CheckAck(5, {1, 28}, s), Refusal::kAckOtherGeneration);
  s.is_master = false;
  EXPECT_EQ(CheckAck(4, {1, 28}, s), Refusal::kAckNotMaster);
}

// Berkeley DB 5.3 marshals each record of a bulk buffer as
// __rep_bulk_args (rep_automsg.c __rep_bulk_marshal): len, lsn.file,
// lsn.offset, then the DBT as its own size and the bytes, all 4-byte
// fields in network order: 16 bytes of header per record. Reading it with
// a 12-byte header (the first version) took record bytes for LSNs: a log
// record starting 0x7f.. made the master's written end huge, and forged
// acks beyond the log were then taken (seen under ASan in CI).
TEST(AckCheck, BulkBufferEndsAtItsLastRecord) {
  auto put = [](std::vector<uint8_t>& b, uint32_t v) {
    uint32_t be = htonl(v);
    const auto* p = reinterpret_cast<const uint8_t*>(&be);
    b.insert(b.end(), p, p + 4);
  };
  std::vector<uint8_t> bulk;
  for (uint32_t off : {100u, 150u, 230u}) {
    put(bulk, 20);   // len
    put(bulk, 2);    // lsn.file
    put(bulk, off);  // lsn.offset
    put(bulk, 20);   // bulkdata.size
    bulk.insert(bulk.end(), 20, 0x7f);  // record bytes that look like a huge LSN
  }
  EXPECT_EQ(LastLsnOfBulk(bulk, {2, 100}), (bus::Lsn{2, 230}));
  EXPECT_EQ(LastLsnOfBulk({}, {2, 100}), (bus::Lsn{2, 100}));
  bulk.resize(bulk.size() - 5);  // truncated last record: still its LSN
  EXPECT_EQ(LastLsnOfBulk(bulk, {2, 100}), (bus::Lsn{2, 230}));
  std::vector<uint8_t> junk = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(LastLsnOfBulk(junk, {2, 100}), (bus::Lsn{2, 100}));  // never below the first
}

TEST(HeartbeatCheck, ContradictionsAreRefused) {
  auto configured = [](int s) { return s >= 1 && s <= 3; };
  bus::HeartbeatInfo hb;
  hb.role = wire::Role::Master;
  hb.gen = 5;
  hb.master = 2;
  hb.confirm_gen = 5;
  EXPECT_EQ(CheckHeartbeat(2, hb, configured), Refusal::kNone);
  EXPECT_EQ(CheckHeartbeat(3, hb, configured), Refusal::kHeartbeatInconsistent);  // follows another
  hb.confirm_gen = 4;
  EXPECT_EQ(CheckHeartbeat(2, hb, configured), Refusal::kHeartbeatInconsistent);
  hb.confirm_gen = 5;
  hb.master = -1;  // a master that follows nobody
  EXPECT_EQ(CheckHeartbeat(2, hb, configured), Refusal::kHeartbeatInconsistent);
  hb.master = 2;
  bus::HeartbeatInfo client;
  client.role = wire::Role::Client;
  client.master = 1;
  client.gen = 5;
  client.confirm_gen = 5;
  EXPECT_EQ(CheckHeartbeat(2, client, configured), Refusal::kNone);
  EXPECT_EQ(CheckHeartbeat(1, client, configured), Refusal::kHeartbeatInconsistent);  // names itself
  client.master = -1;
  client.confirm_gen = 0;
  EXPECT_EQ(CheckHeartbeat(2, client, configured), Refusal::kNone);
  client.master = 9;  // not a slot of this chassis
  EXPECT_EQ(CheckHeartbeat(2, client, configured), Refusal::kHeartbeatInconsistent);
  client.master = -7;
  EXPECT_EQ(CheckHeartbeat(2, client, configured), Refusal::kHeartbeatInconsistent);
  bus::HeartbeatInfo odd;
  odd.role = static_cast<wire::Role>(9);
  EXPECT_EQ(CheckHeartbeat(2, odd, configured), Refusal::kHeartbeatInconsistent);
  EXPECT_TRUE(NewerMasterCorroborated(2, 2));
  EXPECT_FALSE(NewerMasterCorroborated(1, 2));
}

TEST(ForwardedWriteCheck, OnlyFromAFollowerForItself) {
  ForwardedWriteState s{1, true, 1000, 10, 100};
  ForwardedWriteShape w{2, 2, 1, 3, 5, 8};
  EXPECT_EQ(CheckForwardedWrite(w, s), Refusal::kNone);
  w.origin = 3;
  EXPECT_EQ(CheckForwardedWrite(w, s), Refusal::kWriteOriginMismatch);
  w.origin = 2;
  w.ops = 0;
  EXPECT_EQ(CheckForwardedWrite(w, s), Refusal::kWriteEmpty);
  w.ops = 1;
  w.largest_key = 11;
  EXPECT_EQ(CheckForwardedWrite(w, s), Refusal::kWriteTooLarge);
  w.largest_key = 3;
  w.largest_value = 101;
  EXPECT_EQ(CheckForwardedWrite(w, s), Refusal::kWriteTooLarge);
  w.largest_value = 5;
  w.payload_bytes = 1001;
  EXPECT_EQ(CheckForwardedWrite(w, s), Refusal::kWriteTooLarge);
  w.payload_bytes = 8;
  s.sender_follows_me = false;
  EXPECT_EQ(CheckForwardedWrite(w, s), Refusal::kWriteNotFollower);
  s.sender_follows_me = true;
  w.sender = w.origin = 1;  // claims this board itself
  EXPECT_EQ(CheckForwardedWrite(w, s), Refusal::kWriteNotFollower);
}

TEST(RefusalNames, EveryReasonHasAStatusKey) {
  std::set<std::string> names;
  for (size_t i = 1; i < kRefusalCount; ++i) {
    std::string n = RefusalName(Refusal(i));
    EXPECT_NE(n, "unknown") << i;
    EXPECT_TRUE(names.insert(n).second) << n;
  }
}

ChassisConfig Three() { return MakeLocalChassis(3, "/tmp/bp-digest", 7); }

TEST(ChassisDigest, StableAndSensitiveToWhatMustAgree) {
  const ChassisDigestValue base = ChassisDigest(Three());
  EXPECT_NE(base.total, 0u);
  EXPECT_EQ(ChassisDigest(Three()).total, base.total);
  struct Case {
    const char* group;
    std::function<void(ChassisConfig&)> edit;
  };
  const std::vector<Case> cases = {
      {"leases", [](ChassisConfig& c) { c.leases = true; }},
      {"ack_policy", [](ChassisConfig& c) { c.ack_policy = AckPolicy::kAll; }},
      {"ack_policy", [](ChassisConfig& c) { c.two_board_mode = TwoBoardMode::kFailover; }},
      {"slots", [](ChassisConfig& c) { c.boards[2].electable = false; }},
      {"slots", [](ChassisConfig& c) { c.boards[1].endpoint += "x"; }},
      {"slots", [](ChassisConfig& c) { c.boards.pop_back(); }},
  };
  for (const auto& k : cases) {
    ChassisConfig c = Three();
    k.edit(c);
    ChassisDigestValue d = ChassisDigest(c);
    EXPECT_NE(d.total, base.total) << k.group;
    EXPECT_EQ(DifferingGroups(base, d.groups.data(), d.groups.size()), k.group);
  }
  // Per-board and tunable settings do not split a chassis.
  ChassisConfig c = Three();
  c.boards[0].priority = 7;
  c.ack_timeout_ms = 999;
  c.cache_mb = 64;
  c.bulk = false;
  c.lease_timeout_ms = 500;  // only counts with leases on
  std::reverse(c.boards.begin(), c.boards.end());
  EXPECT_EQ(ChassisDigest(c).total, base.total);
  ChassisConfig l1 = Three(), l2 = Three();
  l1.leases = l2.leases = true;
  l2.lease_timeout_ms = 500;
  EXPECT_NE(ChassisDigest(l1).total, ChassisDigest(l2).total);
  EXPECT_EQ(DifferingGroups(base, nullptr, 0), "unknown");
}

TEST(FrameGuard, DisagreeingPeersAreLoggedOnceAndKeepThisBoardOut) {
  ChassisConfig mine = Three(), theirs = Three();
  theirs.leases = true;
  FrameGuard guard(mine, 3);
  FrameGuard other(theirs, 1);
  bus::HeartbeatInfo hb;
  hb.role = wire::Role::Master;
  other.FillHeartbeat(&hb);
  std::string line;
  EXPECT_FALSE(guard.OnPeerDigest(1, hb, 1000, &line));
  EXPECT_NE(line.find("leases"), std::string::npos) << line;
  EXPECT_FALSE(guard.OnPeerDigest(1, hb, 2000, &line));
  EXPECT_TRUE(line.empty()) << "logged twice: " << line;
  EXPECT_TRUE(guard.Disagrees(1));
  EXPECT_FALSE(guard.Disagrees(2));
  EXPECT_NE(guard.OutReason(2000, 60000).find("master slot 1"), std::string::npos);
  EXPECT_EQ(guard.OutReason(100000, 60000), "");  // not heard lately
  // Restored: agrees again.
  FrameGuard same(mine, 1);
  same.FillHeartbeat(&hb);
  EXPECT_TRUE(guard.OnPeerDigest(1, hb, 3000, &line));
  EXPECT_FALSE(guard.Disagrees(1));
  EXPECT_EQ(guard.OutReason(3000, 60000), "");
  bus::HeartbeatInfo old_build;  // digest 0: not reported
  EXPECT_TRUE(guard.OnPeerDigest(2, old_build, 3000, &line));
  guard.Count(Refusal::kAckBeyondLog);
  EXPECT_EQ(guard.RefusedJson()["ack_beyond_log"], 1);
  EXPECT_EQ(guard.RefusedJson()["total"], 1);
}

TEST(FrameGuard, DigestSurvivesTheWire) {
  FrameGuard guard(Three(), 2);
  bus::HeartbeatInfo hb;
  hb.role = wire::Role::Client;
  guard.FillHeartbeat(&hb);
  bus::OutFrame f = bus::BuildHeartbeat({7, 2}, hb);
  std::vector<uint8_t> aligned(f.data(), f.data() + f.size());
  const wire::Frame* frame = bus::CheckFrame(aligned.data(), aligned.size(), 7, nullptr);
  ASSERT_NE(frame, nullptr);
  bus::HeartbeatInfo back = bus::ReadHeartbeat(*frame->body_as_Heartbeat());
  EXPECT_EQ(back.config_digest, guard.digest().total);
  ASSERT_EQ(back.config_digest_group_count, kDigestGroups);
  for (size_t i = 0; i < kDigestGroups; ++i) EXPECT_EQ(back.config_digest_groups[i], guard.digest().groups[i]);
}

TEST(RepControlCodec, ARerequestRoundTripsAndPassesTheChecks) {
  std::vector<uint8_t> control = RerequestControl(42);
  ASSERT_EQ(control.size(), kRepControlBytes);
  RepControl c;
  ASSERT_TRUE(ParseRepControl(control, &c));
  EXPECT_EQ(c.rep_version, kRepVersion53);
  EXPECT_EQ(c.log_version, kLogVersion53);
  EXPECT_EQ(c.rectype, kRepRerequest);
  EXPECT_EQ(c.gen, 42u);
  EXPECT_EQ(c.flags, 0u);
  EXPECT_EQ(CheckRepControl(true, control, 0, RepControlSettings{}, nullptr), Refusal::kNone);
  // Big-endian, as __rep_control_marshal writes it.
  EXPECT_EQ(control[3], kRepVersion53);
  EXPECT_EQ(control[19], kRepRerequest);
  EXPECT_EQ(EncodeRepControl(c), control);
}

}  // namespace
}  // namespace bp::board
