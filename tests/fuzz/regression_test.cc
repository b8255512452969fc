// Inputs the fuzz targets (tests/fuzz/fuzz_*.cc) found, fed through the
// same functions in the ordinary suite, plus every committed seed of the
// corpus through those functions (so a decoder change that breaks on a
// real frame fails here, without clang or libFuzzer).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "board/config.h"
#include "board/decode.h"
#include "bus/frames.h"
#include "codec.h"
#include "status_parse.h"

namespace bp {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Seeds(const std::string& target) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(BP_FUZZ_CORPUS_DIR) / target)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

const uint8_t* Aligned(const std::string& s, std::vector<uint64_t>* buf) {
  buf->assign(s.size() / 8 + 1, 0);
  std::memcpy(buf->data(), s.data(), s.size());
  return reinterpret_cast<const uint8_t*>(buf->data());
}

TEST(FuzzCorpusTest, EveryBusSeedIsAcceptedOrRefusedWithAReason) {
  auto seeds = Seeds("fuzz_bus_frame");
  ASSERT_GE(seeds.size(), 20u);
  int accepted = 0;
  for (const auto& s : seeds) {
    std::vector<uint64_t> buf;
    bus::Reject why = bus::Reject::kNone;
    const wire::Frame* f = bus::CheckFrame(Aligned(s, &buf), s.size(), 7, &why);
    if (f == nullptr) {
      EXPECT_NE(why, bus::Reject::kNone);
      continue;
    }
    ++accepted;
    if (f->body_type() == wire::Body::AppRequest) {
      EXPECT_EQ(board::DecodeKvOps(f->body_as_AppRequest()->ops()).size(), 3u);
    }
  }
  EXPECT_GE(accepted, int(seeds.size()) - 1);  // one seed is of another chassis
}

TEST(FuzzCorpusTest, EveryClientSeedDecodes) {
  for (const auto& s : Seeds("fuzz_client_request")) {
    std::vector<uint64_t> buf;
    board::ClientRequestCheck c = board::CheckClientRequest(Aligned(s, &buf), s.size());
    EXPECT_TRUE(c.req != nullptr || !c.error.ok());
  }
}

TEST(FuzzCorpusTest, EveryConfigSeedParsesOrNamesItsError) {
  int ok = 0;
  for (const auto& s : Seeds("fuzz_chassis_config")) {
    auto cfg = board::ParseChassisConfig(s, "seed.toml");
    if (cfg.ok()) {
      ++ok;
      EXPECT_EQ(board::ToToml(board::ParseChassisConfig(board::ToToml(cfg.value()), "x").value()),
                board::ToToml(cfg.value()));
    } else {
      EXPECT_FALSE(cfg.status().message().empty());
    }
  }
  EXPECT_GE(ok, 5);
}

std::string Regression(const std::string& target, const std::string& name) {
  std::ifstream in(fs::path(BP_FUZZ_REGRESSIONS_DIR) / target / name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// fuzz_bus_frame: a heartbeat whose config_digest_groups ([ulong]) starts at
// 4 mod 8 passed the FlatBuffers verifier (2.0.8 checks only the length
// field's alignment); ReadHeartbeat then loaded misaligned uint64s (UBSan:
// "load of misaligned address ... requires 8 byte alignment"). CheckFrame
// refuses it as malformed.
TEST(FuzzRegressionTest, HeartbeatWithMisalignedDigestGroupsIsMalformed) {
  const std::string crash = Regression("fuzz_bus_frame", "heartbeat_misaligned_digest_groups");
  ASSERT_FALSE(crash.empty());
  std::vector<uint64_t> buf;
  bus::Reject why = bus::Reject::kNone;
  EXPECT_EQ(bus::CheckFrame(Aligned(crash, &buf), crash.size(), 7, &why), nullptr);
  EXPECT_EQ(why, bus::Reject::kMalformed);
  // A heartbeat built with digest groups is aligned and accepted.
  bus::HeartbeatInfo hb;
  hb.config_digest = 5;
  hb.config_digest_group_count = 3;
  hb.config_digest_groups = {1, 2, 3};
  bus::OutFrame good = bus::BuildHeartbeat({7, 2}, hb);
  const wire::Frame* f = bus::CheckFrame(good.data(), good.size(), 7, &why);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(bus::ReadHeartbeat(*f->body_as_Heartbeat()).config_digest_groups[2], 3u);
}

// fuzz_chassis_config: ToToml wrote endpoints between quotes unescaped, so
// an endpoint holding a backslash, a quote or a control character (legal
// in the TOML that was read) was written as a different string, or as TOML
// that no longer parses.
TEST(FuzzRegressionTest, ToTomlEscapesEndpoints) {
  const std::string text =
      "[chassis]\nid = 7\nsecurity = \"none\"\n[[board]]\nslot = 1\n"
      "endpoint = \"ipc:///tmp/a\\\\n/b \\\"q\\\" \\t.bus\"\n"
      "client_endpoint = \"ipc:///tmp/bp-ru\\\\\\\\\\n/slot3.client\"\n";
  auto cfg = board::ParseChassisConfig(text, "crash.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_EQ(cfg.value().boards.size(), 1u);
  EXPECT_EQ(cfg.value().boards[0].endpoint, "ipc:///tmp/a\\n/b \"q\" \t.bus");
  const std::string again = board::ToToml(cfg.value());
  auto back = board::ParseChassisConfig(again, "again.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << again;
  EXPECT_EQ(back.value().boards[0].endpoint, cfg.value().boards[0].endpoint);
  EXPECT_EQ(back.value().boards[0].client_endpoint, cfg.value().boards[0].client_endpoint);
}

// fuzz_chassis_config: integer keys were read with toml++'s converting
// value<int64_t>(), which casts a float to int64 before checking its range
// (UBSan: "4e+96 is outside the range of representable values of type
// 'long'", toml++ 3.3 value.h) and accepted 5.0 as 5; booleans were read
// converting too (bulk = 128 was true). Integer keys take TOML integers
// only, booleans true or false only, each refusal naming the key.
TEST(FuzzRegressionTest, IntegerAndBooleanKeysTakeNoOtherTypes) {
  const std::string boards = "\n[[board]]\nslot = 1\nendpoint = \"ipc:///tmp/s1.bus\"\n"
                             "client_endpoint = \"ipc:///tmp/s1.client\"\n";
  for (const auto& [line, key] : std::vector<std::pair<std::string, std::string>>{
           {"write_queue_limit = 4e96", "write_queue_limit"},
           {"write_queue_limit = 5.0", "write_queue_limit"},
           {"id = 7.0", "id"},
           {"id = -4e96", "id"},
           {"bulk = 128", "bulk"},
           {"leases = 0", "leases"}}) {
    auto cfg = board::ParseChassisConfig("[chassis]\nsecurity = \"none\"\n" + line + "\n" + boards, "f.toml");
    ASSERT_FALSE(cfg.ok()) << line;
    EXPECT_NE(cfg.status().message().find("'" + key + "'"), std::string::npos) << cfg.status().ToString();
  }
  auto slot = board::ParseChassisConfig("[chassis]\nid = 7\n[[board]]\nslot = 1.0\n", "f.toml");
  ASSERT_FALSE(slot.ok());
  EXPECT_NE(slot.status().message().find("'slot'"), std::string::npos) << slot.status().ToString();
  EXPECT_TRUE(board::ParseChassisConfig("[chassis]\nid = 7\nsecurity = \"none\"\nwrite_queue_limit = 5\nbulk = true\n" + boards,
                                        "f.toml").ok());
}

// fuzz_shim_reply: ParseStatus used json::value / get on members of
// unchecked type. A status whose "role" is a number, or whose peers are not
// objects, threw (fw_status then said "unexpected exception" instead of
// FW_ERR_PROTOCOL); a lag of 1e300 converted to int64 with undefined
// behaviour (UBSan: "1e+300 is outside the range of representable values").
TEST(FuzzRegressionTest, ShimStatusOfTheWrongShapeIsAProtocolError) {
  for (const char* json : {R"({"role":1})", R"({"peers":[1]})", R"({"peers":[{"lag_bytes":1e300}]})",
                           R"({"slot":"1"})", R"({"generation":-1})", R"({"slot":1e300})",
                           R"({"peers":[{"alive":"yes"}]})", R"({"startup_complete":1})"}) {
    fw_status_t st{};
    bool ok = true;
    EXPECT_NO_THROW(ok = fw::ParseStatus(json, &st)) << json;
    EXPECT_FALSE(ok) << json;
  }
  fw_status_t st{};
  ASSERT_TRUE(fw::ParseStatus(R"({"role":"master","slot":1,"master":1,"generation":4,"peers":[
      {"alive":true,"lag_bytes":10},{"alive":false,"lag_bytes":4096},{"alive":true}]})", &st));
  EXPECT_EQ(st.role, FW_ROLE_MASTER);
  EXPECT_EQ(st.generation, 4u);
  EXPECT_EQ(st.peers, 3);
  EXPECT_EQ(st.peers_alive, 2);
  EXPECT_EQ(st.max_lag_bytes, 4096);
}

// The command name of an admin request, read without json::value: that
// throws on a command that is not an object or whose "cmd" is not a string,
// and on the client endpoint's thread the exception ended the board
// (admin_regression_test sends these to a real board).
TEST(FuzzRegressionTest, AdminCommandNameNeverThrows) {
  for (const char* text : {"[1]", "1", "\"status\"", "null", R"({"cmd":1})", R"({"cmd":["status"]})", "{}"}) {
    std::string name = "x";
    EXPECT_NO_THROW(name = board::AdminCommandName(nlohmann::json::parse(text))) << text;
    EXPECT_EQ(name, "") << text;
  }
  EXPECT_EQ(board::AdminCommandName(nlohmann::json::parse(R"({"cmd":"heal"})")), "heal");
}

}  // namespace
}  // namespace bp
