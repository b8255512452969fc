// Chassis configuration: good files parse; every bad one is refused with the
// line and the fix.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>

#include "board/config.h"

namespace bp::board {
namespace {

const char* kGood = R"(
[chassis]
id = 9
security = "none"
ack_policy = "all"
heartbeat_interval_ms = 5
heartbeat_timeout_ms = 30

[[board]]
slot = 1
endpoint = "ipc:///tmp/x/1.bus"
client_endpoint = "ipc:///tmp/x/1.client"
priority = 50

[[board]]
slot = 2
endpoint = "ipc:///tmp/x/2.bus"

[[board]]
slot = 3
endpoint = "tcp://127.0.0.1:7003"
electable = false
)";

TEST(ChassisConfig, ParsesAGoodFile) {
  auto c = ParseChassisConfig(kGood, "good.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->chassis_id, 9u);
  EXPECT_EQ(c->ack_policy, AckPolicy::kAll);
  EXPECT_EQ(c->heartbeat_interval_ms, 5u);
  ASSERT_EQ(c->boards.size(), 3u);
  EXPECT_EQ(c->boards[0].priority, 50u);
  EXPECT_FALSE(c->boards[2].electable);
  EXPECT_EQ(c->ElectableCount(), 2);
}

TEST(ChassisConfig, RoundTripsThroughToml) {
  ChassisConfig c = MakeLocalChassis(5, "/tmp/rt", 3);
  auto back = ParseChassisConfig(ToToml(c), "rt.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->boards.size(), 5u);
  EXPECT_EQ(back->boards[4].client_endpoint, "ipc:///tmp/rt/slot5.client");
}

struct BadCase {
  const char* name;
  const char* text;
  const char* expect;  // a piece of the message
};

TEST(ChassisConfig, RefusesBadFilesNamingTheCause) {
  const std::string b1 = "[[board]]\nslot = 1\nendpoint = \"ipc:///tmp/a\"\n";
  const std::string b2 = "[[board]]\nslot = 2\nendpoint = \"ipc:///tmp/b\"\n";
  const std::string b3 = "[[board]]\nslot = 3\nendpoint = \"ipc:///tmp/c\"\n";
  const std::string b4 = "[[board]]\nslot = 4\nendpoint = \"ipc:///tmp/d\"\n";
  std::vector<std::pair<std::string, std::string>> cases = {
      {"[chassis\nid=1", "bad.toml:"},
      {"[chassis]\nid = 1\n", "no [[board]]"},
      {b1 + "[[board]]\nslot = 1\nendpoint = \"ipc:///tmp/z\"\n" + b3, "declared twice"},
      {b1 + "[[board]]\nslot = 2\nendpoint = \"ipc:///tmp/a\"\n" + b3, "used twice"},
      {"[[board]]\nslot = 1\nendpoint = \"udp://x\"\n", "must start with ipc://"},
      {"[[board]]\nslot = 1\nendpoint = \"ipc:///a\"\nelectable = false\n", "no electable board"},
      {b1 + b2 + b3 + b4, "even number"},
      {"[chassis]\nack_policy = \"most\"\n" + b1, "ack_policy 'most' is unknown"},
      {"[chassis]\nbogus = 1\n" + b1, "unknown key 'bogus'"},
      {"[[board]]\nslot = 0\nendpoint = \"ipc:///a\"\n", "'slot' = an integer from 1"},
      {"[[board]]\nslot = 1\n", "has no 'endpoint'"},
      {"[chassis]\nheartbeat_interval_ms = 10\nheartbeat_timeout_ms = 15\n" + b1, "heartbeat_timeout_ms"},
      {"[chassis]\ncache_mb = 8\nlog_buffer_mb = 16\n" + b1, "cache_mb"},
      {"[chassis]\nheartbeat_interval_ms = -3\n" + b1, "between 0 and"},
      {"[chassis]\ntwo_board_mode = \"preferred\"\n" + b1 + b2, "preferred_slot"},
      {"[oops]\n" + b1, "unknown section"},
  };
  for (const auto& [text, expect] : cases) {
    auto c = ParseChassisConfig(text, "bad.toml");
    EXPECT_FALSE(c.ok()) << text;
    if (!c.ok()) {
      EXPECT_NE(c.status().message().find(expect), std::string::npos)
          << "message: " << c.status().message() << "\nexpected: " << expect;
    }
  }
}

TEST(ChassisConfig, ErrorsNameTheLine) {
  auto c = ParseChassisConfig("[chassis]\nid = 1\nack_policy = \"x\"\n[[board]]\nslot=1\nendpoint=\"ipc:///a\"\n",
                              "f.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("f.toml:3:"), std::string::npos) << c.status().message();
}

TEST(ChassisConfig, TwoBoardModesAreAccepted) {
  const std::string two = "[[board]]\nslot = 1\nendpoint = \"ipc:///a\"\n[[board]]\nslot = 2\nendpoint = \"ipc:///b\"\n";
  EXPECT_TRUE(ParseChassisConfig("[chassis]\nsecurity = \"none\"\n" + two, "t").ok());
  EXPECT_TRUE(ParseChassisConfig("[chassis]\nsecurity = \"none\"\ntwo_board_mode = \"failover\"\n" + two, "t").ok());
  EXPECT_TRUE(ParseChassisConfig("[chassis]\nsecurity = \"none\"\ntwo_board_mode = \"preferred\"\npreferred_slot = 2\n" + two, "t").ok());
}

TEST(ChassisConfig, MissingFileSaysWhere) {
  auto c = LoadChassisConfig("/nonexistent/chassis.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/chassis.toml"), std::string::npos);
}

// Goal: preferred_slot must name an electable configured board (a
// non-electable one can never win the hand-over election: it looped forever).
TEST(ChassisConfig, PreferredSlotMustBeAnElectableBoard) {
  const std::string two = "[[board]]\nslot = 1\nendpoint = \"ipc:///a\"\n[[board]]\nslot = 2\nendpoint = \"ipc:///b\"\n";
  const std::string replica = "[[board]]\nslot = 3\nendpoint = \"ipc:///c\"\nelectable = false\n";
  for (const std::string& text :
       {"[chassis]\ntwo_board_mode = \"preferred\"\npreferred_slot = 3\n" + two + replica,
        "[chassis]\ntwo_board_mode = \"preferred\"\npreferred_slot = 7\n" + two + replica}) {
    auto c = ParseChassisConfig(text, "p.toml");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find("preferred_slot"), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find("electable"), std::string::npos) << c.status().message();
  }
  EXPECT_TRUE(ParseChassisConfig("[chassis]\nsecurity = \"none\"\ntwo_board_mode = \"preferred\"\npreferred_slot = 2\n" +
                                     two + replica, "p.toml").ok());
}

// Goal: one electable board with replicas cannot survive the loss of that
// board (QUORUM needs no ack at all), so the chassis is refused unless the
// user says so with allow_no_failover = true; a lone board needs no key.
TEST(ChassisConfig, SingleElectableBoardWithReplicasNeedsAllowNoFailover) {
  const std::string boards = "[[board]]\nslot = 1\nendpoint = \"ipc:///a\"\n"
                             "[[board]]\nslot = 2\nendpoint = \"ipc:///b\"\nelectable = false\n";
  auto c = ParseChassisConfig(boards, "one.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("allow_no_failover"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("electable"), std::string::npos) << c.status().message();
  auto ok = ParseChassisConfig("[chassis]\nsecurity = \"none\"\nallow_no_failover = true\n" + boards, "one.toml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->allow_no_failover);
  auto back = ParseChassisConfig(ToToml(*ok), "rt.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->allow_no_failover);
  EXPECT_TRUE(ParseChassisConfig("[chassis]\nsecurity = \"none\"\n[[board]]\nslot = 1\nendpoint = \"ipc:///a\"\n", "lone.toml").ok());
}

}  // namespace
}  // namespace bp::board

namespace bp::board {
namespace {

// The queue bounds (issue 12): defaults, parsed, written back, refused
// when they could hold nothing or not one legal item.
TEST(ChassisConfig, QueueBoundsParseRoundTripAndValidate) {
  ChassisConfig d;
  EXPECT_EQ(d.rep_queue_frames, 100000u);
  EXPECT_EQ(d.rep_queue_mb, 64u);
  EXPECT_EQ(d.serve_queue_frames, 10000u);
  EXPECT_EQ(d.serve_queue_mb, 64u);
  EXPECT_EQ(d.write_queue_limit, 4096u);
  EXPECT_EQ(d.write_queue_mb, 256u);
  EXPECT_EQ(d.client_send_queue_limit, 100000u);
  EXPECT_EQ(d.client_send_queue_mb, 256u);
  EXPECT_EQ(d.max_subscribers, 1024u);
  EXPECT_EQ(d.delay_line_frames, 100000u);
  EXPECT_EQ(d.delay_line_mb, 256u);
  const std::string b1 = "[[board]]\nslot = 1\nendpoint = \"ipc:///tmp/a\"\n";
  auto c = ParseChassisConfig("[chassis]\nsecurity = \"none\"\nrep_queue_frames = 7\nrep_queue_mb = 2\nserve_queue_frames = 8\n"
                              "serve_queue_mb = 3\nwrite_queue_limit = 9\nwrite_queue_mb = 15\nclient_send_queue_limit = 10\n"
                              "client_send_queue_mb = 11\nmax_subscribers = 12\ndelay_line_frames = 13\n"
                              "delay_line_mb = 14\n" + b1,
                              "q.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto back = ParseChassisConfig(ToToml(*c), "back.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->rep_queue_frames, 7u);
  EXPECT_EQ(back->rep_queue_mb, 2u);
  EXPECT_EQ(back->serve_queue_frames, 8u);
  EXPECT_EQ(back->serve_queue_mb, 3u);
  EXPECT_EQ(back->write_queue_limit, 9u);
  EXPECT_EQ(back->write_queue_mb, 15u);
  EXPECT_EQ(back->client_send_queue_limit, 10u);
  EXPECT_EQ(back->client_send_queue_mb, 11u);
  EXPECT_EQ(back->max_subscribers, 12u);
  EXPECT_EQ(back->delay_line_frames, 13u);
  EXPECT_EQ(back->delay_line_mb, 14u);
  for (const char* key : {"rep_queue_frames", "rep_queue_mb", "serve_queue_frames", "serve_queue_mb",
                          "write_queue_limit", "write_queue_mb", "client_send_queue_limit", "client_send_queue_mb",
                          "max_subscribers", "delay_line_frames", "delay_line_mb"}) {
    auto z = ParseChassisConfig("[chassis]\n" + std::string(key) + " = 0\n" + b1, "z.toml");
    ASSERT_FALSE(z.ok()) << key;
    EXPECT_NE(z.status().message().find("'" + std::string(key) + "' = 0 is out of range: allowed 1 to"),
              std::string::npos)
        << z.status().message();
  }
  auto small = ParseChassisConfig("[chassis]\nrep_limit_kb = 4096\nrep_queue_mb = 2\n" + b1, "s.toml");
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("raise rep_queue_mb"), std::string::npos) << small.status().message();
  auto send = ParseChassisConfig("[chassis]\nclient_send_queue_mb = 1\n" + b1, "s.toml");
  ASSERT_FALSE(send.ok());
  EXPECT_NE(send.status().message().find("raise client_send_queue_mb"), std::string::npos);
  EXPECT_EQ(MaxClientRequestBytes(d), (uint64_t(32) << 20) + (1u << 20));
  d.log_buffer_mb = 4;
  EXPECT_EQ(MaxClientRequestBytes(d), (uint64_t(16) << 20) + (1u << 20));
}

}  // namespace
}  // namespace bp::board

namespace bp::board {
namespace {

// Issue 12: every numeric [chassis] key has a documented range; values
// outside it (2^32-1, 0 where 0 is meaningless) are refused naming the key
// and the range, never wrapped (forward_retries + 1 == 0 divided by zero,
// ms * 1000 overflowed 32 bits).
std::string OneBoard(const std::string& chassis) {
  return "[chassis]\n" + chassis + "\nsecurity = \"none\"\n[[board]]\nslot = 1\nendpoint = \"ipc:///tmp/r1\"\n";
}

TEST(ChassisConfigRanges, EveryNumericKeyRefusesValuesOutsideItsRange) {
  for (const UintKeyRange& k : ChassisUintKeys()) {
    std::vector<uint64_t> bad = {4294967295ull};
    if (k.max < 4294967295u) bad.push_back(uint64_t(k.max) + 1);
    if (k.min > 0) bad.push_back(0);
    for (uint64_t v : bad) {
      auto c = ParseChassisConfig(OneBoard(std::string(k.key) + " = " + std::to_string(v)), "r.toml");
      ASSERT_FALSE(c.ok()) << k.key << " = " << v;
      const std::string& m = c.status().message();
      EXPECT_NE(m.find("r.toml:2: '" + std::string(k.key) + "' = " + std::to_string(v)),
                std::string::npos) << m;
      EXPECT_NE(m.find("allowed " + std::to_string(k.min) + " to " + std::to_string(k.max)),
                std::string::npos) << m;
    }
  }
}

TEST(ChassisConfigRanges, BoundsThemselvesAreInRange) {
  for (const UintKeyRange& k : ChassisUintKeys()) {
    for (uint32_t v : {k.min, k.max}) {
      auto c = ParseChassisConfig(OneBoard(std::string(k.key) + " = " + std::to_string(v)), "r.toml");
      // Another key's constraint may refuse it (cache_mb >= 2 x log_buffer_mb, ...); the range not.
      if (!c.ok()) {
        EXPECT_EQ(c.status().message().find("out of range"), std::string::npos)
            << k.key << " = " << v << ": " << c.status().message();
      }
    }
  }
}

TEST(ChassisConfigRanges, ZeroForwardRetriesIsAllowedAndDoesNotWrap) {
  auto c = ParseChassisConfig(OneBoard("forward_retries = 0\nstartup_wait_ms = 0\nlog_wait_ms = 0"),
                              "r.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->forward_retries, 0u);
  EXPECT_EQ(c->forward_retries + 1, 1u);  // Forwarder::Retry divides by it
}

TEST(ChassisConfigRanges, ValidateChecksConfigsBuiltInCode) {
  ChassisConfig c = MakeLocalChassis(3, "/tmp/rv", 1);
  ASSERT_TRUE(c.Validate().ok());
  c.forward_retries = UINT32_MAX;
  Status s = c.Validate();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'forward_retries' = 4294967295 is out of range: allowed 0 to 100"),
            std::string::npos) << s.message();
  c.forward_retries = 5;
  c.write_threads = 100000;
  EXPECT_NE(c.Validate().message().find("write_threads"), std::string::npos);
  c.write_threads = 16;
  c.election_timeout_ms = 5000000;  // * 1000 overflows 32 bits
  EXPECT_NE(c.Validate().message().find("election_timeout_ms"), std::string::npos);
  c.election_timeout_ms = 50;
  c.rep_request_min_ms = 200;  // above rep_request_max_ms (128)
  EXPECT_NE(c.Validate().message().find("rep_request_min_ms"), std::string::npos);
}

TEST(ChassisConfigRanges, NewKeysRoundTripThroughToml) {
  ChassisConfig c = MakeLocalChassis(3, "/tmp/rt2", 1);
  c.log_wait_ms = 250;
  c.max_read_timeout_ms = 3000;
  c.forward_retries = 0;
  auto back = ParseChassisConfig(ToToml(c), "rt.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->log_wait_ms, 250u);
  EXPECT_EQ(back->max_read_timeout_ms, 3000u);
  EXPECT_EQ(back->forward_retries, 0u);
}

// The write-size check agrees with the bus frame limit.
TEST(WriteLimits, AWriteLargerThanABusFrameIsRefusedNamingTheLimit) {
  ChassisConfig c = MakeLocalChassis(3, "/tmp/wl", 1);
  c.log_buffer_mb = 256;
  EXPECT_TRUE(CheckWriteFitsFrame(1 << 20, 100, c).ok());
  EXPECT_TRUE(CheckWriteFitsFrame(MaxWriteFrameBytes() - EncodedWriteBytes(0, 10), 10, c).ok());
  Status s = CheckWriteFitsFrame(17u << 20, 17, c);
  EXPECT_EQ(s.code(), Status::Code::kTooLarge);
  EXPECT_NE(s.message().find("bus frame limit is 16.0 MiB"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("log_buffer_mb = 256"), std::string::npos) << s.message();
  // Many small ops: the per-op encoding counts too.
  EXPECT_FALSE(CheckWriteFitsFrame(8u << 20, 200000, c).ok());
}

}  // namespace
}  // namespace bp::board

namespace bp::board {
namespace {

// Issue 13: security = "curve" (also when the key is absent) needs a valid,
// distinct public_key per board; "none" must be chosen explicitly; a board
// reads its own key file and checks it against the configured key.
class SecurityConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bp-seccfg-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)!std::system(("rm -rf " + dir_).c_str()); }
  static std::string Board(int slot, const std::string& key, const std::string& file = "") {
    std::string b = "[[board]]\nslot = " + std::to_string(slot) + "\nendpoint = \"ipc:///tmp/s" +
                    std::to_string(slot) + "\"\n";
    if (!key.empty()) b += "public_key = \"" + key + "\"\n";
    if (!file.empty()) b += "secret_key_file = \"" + file + "\"\n";
    return b;
  }
  std::string dir_;
};

TEST_F(SecurityConfigTest, MissingSecurityKeyMeansCurveAndNeedsKeys) {
  auto c = ParseChassisConfig(Board(1, ""), "s.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("slot 1 has no public_key"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("chassis keygen"), std::string::npos);
  EXPECT_NE(c.status().message().find("security = \"none\""), std::string::npos);
  EXPECT_EQ(ChassisConfig{}.security, SecurityMode::kCurve);
}

TEST_F(SecurityConfigTest, CurveWithKeysParsesAndRoundTrips) {
  std::string k1 = bus::GenerateCurveKeyPair()->public_z85;
  std::string k2 = bus::GenerateCurveKeyPair()->public_z85;
  auto c = ParseChassisConfig("[chassis]\nsecurity = \"curve\"\n" + Board(1, k1, "/k/1.key") +
                                  Board(2, k2),
                              "s.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->security, SecurityMode::kCurve);
  EXPECT_EQ(c->boards[0].public_key, k1);
  EXPECT_EQ(c->boards[0].secret_key_file, "/k/1.key");
  auto back = ParseChassisConfig(ToToml(*c), "back.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->security, SecurityMode::kCurve);
  EXPECT_EQ(back->boards[1].public_key, k2);
  EXPECT_EQ(back->boards[0].secret_key_file, "/k/1.key");
  auto none = ParseChassisConfig("[chassis]\nsecurity = \"none\"\n" + Board(1, ""), "n.toml");
  ASSERT_TRUE(none.ok());
  EXPECT_NE(ToToml(*none).find("security = \"none\""), std::string::npos);
}

TEST_F(SecurityConfigTest, BadSecuritySettingsAreRefused) {
  std::string k1 = bus::GenerateCurveKeyPair()->public_z85;
  struct Case {
    std::string text;
    std::string needle;
  } cases[] = {
      {"[chassis]\nsecurity = \"tls\"\n" + Board(1, k1), "security 'tls' is unknown"},
      {Board(1, "short"), "not a CURVE key"},
      {Board(1, k1) + Board(2, k1), "also slot 1's"},
      {"[[board]]\nslot = 1\nendpoint = \"inproc://a\"\npublic_key = \"" + k1 + "\"\n",
       "inproc"},
      {"[[board]]\nslot = 1\nendpoint = \"ipc:///a\"\npublic_key = 5\n", "must be a string"},
  };
  for (const Case& c : cases) {
    auto r = ParseChassisConfig(c.text, "b.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos) << r.status().message();
  }
}

TEST_F(SecurityConfigTest, LocalChassisWritesKeyFilesAndTheBoardReadsItsOwn) {
  auto c = MakeLocalChassis(3, dir_, 4, /*write_keys=*/true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Validate().ok()) << c->Validate().ToString();
  EXPECT_EQ(c->security, SecurityMode::kCurve);
  for (const auto& b : c->boards) {
    struct stat st;
    ASSERT_EQ(stat(b.secret_key_file.c_str(), &st), 0) << b.secret_key_file;
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto keys = LoadSlotKeys(*c, b.slot);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    EXPECT_EQ(keys->public_z85, b.public_key);
  }
  // A key file that does not match the configured key is named.
  ChassisConfig wrong = c.value();
  wrong.boards[1].public_key = wrong.boards[2].public_key;
  auto mismatch = LoadSlotKeys(wrong, 2);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("slot 2"), std::string::npos);
  EXPECT_NE(mismatch.status().message().find(wrong.boards[1].secret_key_file), std::string::npos)
      << mismatch.status().message();
  // A key file others can read is refused with the fix.
  ASSERT_EQ(chmod(c->boards[0].secret_key_file.c_str(), 0644), 0);
  auto open = LoadSlotKeys(c.value(), 1);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(open.status().message().find("chmod 600"), std::string::npos);
  // No secret_key_file for the slot.
  ChassisConfig nofile = c.value();
  nofile.boards[2].secret_key_file.clear();
  EXPECT_NE(LoadSlotKeys(nofile, 3).status().message().find("no secret_key_file"),
            std::string::npos);
}

}  // namespace
}  // namespace bp::board
