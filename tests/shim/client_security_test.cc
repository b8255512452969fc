// The client endpoint's access control, against real board processes.
//
// Goal: only the firmware's group reaches an ipc:// client endpoint (the
// socket file's mode and group, from the moment it exists), and only listed
// client keys reach a tcp:// one with security = "curve": a shim (and fwcli)
// with an authorized key reads and writes; one with an unknown key, or with
// no key, gets FW_ERR_BOARD_DOWN, and the board counts the refusal in status
// "client_security". Bad [chassis] keys are refused naming the key.
// Method: bp::testing::LocalChassis starts `board` processes (one board: the
// endpoint is what is tested, not replication); waits poll conditions
// against deadlines.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "board/config.h"
#include "bus/curve.h"
#include "firmware_shim/fw_shim.h"
#include "local_chassis.h"

#ifndef BP_FWCLI_EXE
#define BP_FWCLI_EXE "fwcli"
#endif

namespace bp::testing {
namespace {

constexpr int kStartWaitMs = 20000;

struct Closer {
  void operator()(fw_board_t* h) const { fw_close(h); }
};
using Handle = std::unique_ptr<fw_board_t, Closer>;

// Opens a shim handle; `keys` null: no CURVE.
fw_err_t Open(const std::string& endpoint, const std::string& server_key,
              const bus::CurveKeyPair* keys, Handle* out) {
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = endpoint.c_str();
  o.connect_timeout_ms = 300;
  o.request_timeout_ms = 1000;
  if (keys) {
    o.server_public_key = server_key.c_str();
    o.client_public_key = keys->public_z85.c_str();
    o.client_secret_key = keys->secret_z85.c_str();
  }
  fw_board_t* h = nullptr;
  fw_err_t e = fw_open(&o, &h);
  out->reset(h);
  return e;
}

ChassisOptions OneBoard(std::function<void(board::ChassisConfig&)> tweak = nullptr) {
  ChassisOptions o;
  o.boards = 1;
  o.tweak = std::move(tweak);
  return o;
}

bus::CurveKeyPair NewKeys() {
  auto k = bus::GenerateCurveKeyPair();
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return k.ok() ? *k : bus::CurveKeyPair{};
}

// Runs a command; returns its exit status and stdout+stderr.
int RunCommand(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) *out += buf;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(ClientSecurityTest, IpcSocketFileIsGroupOnly) {
  LocalChassis chassis(OneBoard());
  ASSERT_TRUE(chassis.StartAll().ok());
  ASSERT_EQ(chassis.WaitForMaster(kStartWaitMs), 1) << chassis.Logs(1);
  const std::string path = chassis.client_endpoint(1).substr(6);  // ipc://
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, getgid());
  nlohmann::json sec = chassis.Status(1)["client_security"];
  EXPECT_EQ(sec["transport"], "ipc") << sec.dump();
  EXPECT_EQ(sec["socket_mode"], "0660");
  EXPECT_EQ(sec["curve"], false);
}

// A configured group other than the primary one, and mode 0600.
TEST(ClientSecurityTest, IpcSocketModeAndGroupAreConfigurable) {
  std::vector<gid_t> groups(64);
  int n = getgroups(int(groups.size()), groups.data());
  std::string other;
  gid_t other_gid = getgid();
  for (int i = 0; i < n && other.empty(); ++i) {
    if (groups[i] == getgid()) continue;
    if (struct group* g = getgrgid(groups[i])) {
      other = g->gr_name;
      other_gid = g->gr_gid;
    }
  }
  if (other.empty() && geteuid() == 0) {  // root may give the file any group
    for (const char* name : {"daemon", "nogroup", "bin"}) {
      if (struct group* g = getgrnam(name); g && g->gr_gid != getgid()) {
        other = g->gr_name;
        other_gid = g->gr_gid;
        break;
      }
    }
  }
  LocalChassis chassis(OneBoard([&](board::ChassisConfig& c) {
    c.client_socket_mode = 0600;
    c.client_socket_group = other;
  }));
  ASSERT_TRUE(chassis.StartAll().ok());
  ASSERT_EQ(chassis.WaitForMaster(kStartWaitMs), 1) << chassis.Logs(1);
  struct stat st {};
  ASSERT_EQ(stat(chassis.client_endpoint(1).substr(6).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_gid, other_gid) << "group '" << other << "' (empty: this user has one group)";
}

TEST(ClientSecurityTest, UnknownGroupStopsTheBoardNamingTheKey) {
  LocalChassis chassis(
      OneBoard([](board::ChassisConfig& c) { c.client_socket_group = "bp-no-such-group-7d1"; }));
  ASSERT_TRUE(chassis.StartAll().ok());
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return !chassis.Running(1); }, kStartWaitMs));
  EXPECT_NE(chassis.ExitStatus(1), 0);
  EXPECT_NE(chassis.Logs(1).find("client_socket_group = \"bp-no-such-group-7d1\": no such group"),
            std::string::npos)
      << chassis.Logs(1);
}

// A 1-board chassis with a tcp:// client endpoint, security curve, and one
// authorized firmware key (plus the chassis' own).
class TcpCurveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    authorized_ = NewKeys();
    ChassisOptions o;
    o.boards = 1;
    o.tcp_client_endpoints = true;
    o.tweak = [this](board::ChassisConfig& c) {
      c.client_public_keys.push_back(authorized_.public_z85);
    };
    chassis_ = std::make_unique<LocalChassis>(o);
    ASSERT_EQ(chassis_->config().security, board::SecurityMode::kCurve);
    ASSERT_TRUE(chassis_->StartAll().ok());
    ASSERT_EQ(chassis_->WaitForMaster(kStartWaitMs), 1) << chassis_->Logs(1);
    endpoint_ = chassis_->client_endpoint(1);
    server_key_ = chassis_->public_key(1);
    ASSERT_EQ(endpoint_.rfind("tcp://127.0.0.1:", 0), 0u) << endpoint_;
  }
  nlohmann::json Security() { return chassis_->Status(1)["client_security"]; }
  uint64_t Refused() {
    nlohmann::json s = Security();
    return s.contains("refused") ? s["refused"].get<uint64_t>() : 0;
  }

  bus::CurveKeyPair authorized_;
  std::unique_ptr<LocalChassis> chassis_;
  std::string endpoint_, server_key_;
};

TEST_F(TcpCurveTest, AuthorizedKeyReadsAndWrites) {
  Handle h;
  ASSERT_EQ(Open(endpoint_, server_key_, &authorized_, &h), FW_OK) << fw_last_error();
  fw_write_result_t r;
  ASSERT_EQ(fw_put(h.get(), "fan", 3, "on", 2, &r), FW_OK) << fw_last_error();
  char* v = nullptr;
  size_t n = 0;
  ASSERT_EQ(fw_get(h.get(), "fan", 3, FW_READ_LINEARIZABLE, &v, &n), FW_OK) << fw_last_error();
  EXPECT_EQ(std::string(v, n), "on");
  fw_free(v);
  int fd = -1;
  EXPECT_EQ(fw_subscribe(h.get(), nullptr, nullptr, &fd), FW_OK) << fw_last_error();
  nlohmann::json sec = Security();
  EXPECT_EQ(sec["curve"], true) << sec.dump();
  EXPECT_EQ(sec["server_public_key"], server_key_);
  EXPECT_EQ(sec["authorized_keys"], 2);
  EXPECT_GE(sec["handshakes"]["succeeded"].get<uint64_t>(), 2u);  // chassis + shim (+ subscription)
  EXPECT_EQ(sec["refused"], 0);
}

TEST_F(TcpCurveTest, UnknownKeyCannotConnectAndIsCounted) {
  bus::CurveKeyPair stranger = NewKeys();
  Handle h;
  EXPECT_EQ(Open(endpoint_, server_key_, &stranger, &h), FW_ERR_BOARD_DOWN) << fw_last_error();
  EXPECT_TRUE(LocalChassis::WaitUntil([&] { return Refused() >= 1; }, 5000)) << Security().dump();
  nlohmann::json sec = Security();
  EXPECT_GE(sec["handshakes"]["refused_key"].get<uint64_t>(), 1u) << sec.dump();
  EXPECT_GE(sec["zap"]["refused"].get<uint64_t>(), 1u);
  bool listed = false;
  for (const auto& r : sec["last_refused"]) listed |= r["public_key"] == stranger.public_z85;
  EXPECT_TRUE(listed) << sec.dump();
  // A lazy handle: open succeeds, every call fails the same way.
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = endpoint_.c_str();
  o.connect_timeout_ms = 300;
  o.lazy_connect = 1;
  o.server_public_key = server_key_.c_str();
  o.client_secret_key = stranger.secret_z85.c_str();
  fw_board_t* lazy = nullptr;
  ASSERT_EQ(fw_open(&o, &lazy), FW_OK) << fw_last_error();
  EXPECT_EQ(fw_put(lazy, "k", 1, "v", 1, nullptr), FW_ERR_BOARD_DOWN) << fw_last_error();
  fw_close(lazy);
}

TEST_F(TcpCurveTest, ClientWithoutCurveCannotConnectAndIsCounted) {
  Handle h;
  EXPECT_EQ(Open(endpoint_, "", nullptr, &h), FW_ERR_BOARD_DOWN) << fw_last_error();
  EXPECT_TRUE(LocalChassis::WaitUntil(
      [&] { return Security()["handshakes"]["refused_handshake"].get<uint64_t>() >= 1; }, 5000))
      << Security().dump();
  EXPECT_GE(Refused(), 1u);
}

// An authorized key that expects another server (a wrong server_public_key)
// never completes the handshake either.
TEST_F(TcpCurveTest, WrongServerKeyCannotConnect) {
  bus::CurveKeyPair other_server = NewKeys();
  Handle h;
  EXPECT_EQ(Open(endpoint_, other_server.public_z85, &authorized_, &h), FW_ERR_BOARD_DOWN);
  EXPECT_TRUE(LocalChassis::WaitUntil([&] { return Refused() >= 1; }, 5000)) << Security().dump();
}

TEST_F(TcpCurveTest, FwcliWithKeyFile) {
  const std::string key_file = chassis_->dir() + "/fw-client.key";
  ASSERT_TRUE(bus::WriteSecretKeyFile(key_file, authorized_).ok());
  const std::string base = std::string(BP_FWCLI_EXE) + " -e " + endpoint_ + " --server-key '" +
                           server_key_ + "' --client-key-file " + key_file;
  std::string out;
  ASSERT_EQ(RunCommand(base + " put fwcli-key hello", &out), 0) << out;
  out.clear();
  ASSERT_EQ(RunCommand(base + " get fwcli-key --mode linearizable", &out), 0) << out;
  EXPECT_EQ(out, "hello\n");
  // A key file others can read is refused before anything is sent.
  ASSERT_EQ(chmod(key_file.c_str(), 0644), 0);
  out.clear();
  EXPECT_EQ(RunCommand(base + " get fwcli-key", &out), 2) << out;
  EXPECT_NE(out.find("chmod 600"), std::string::npos) << out;
}

TEST(ClientSecurityTest, TcpWithSecurityNoneWarnsInStatus) {
  ChassisOptions o;
  o.boards = 1;
  o.tcp_client_endpoints = true;
  o.tweak = [](board::ChassisConfig& c) { c.security = board::SecurityMode::kNone; };
  LocalChassis chassis(o);
  ASSERT_TRUE(chassis.StartAll().ok());
  ASSERT_EQ(chassis.WaitForMaster(kStartWaitMs), 1) << chassis.Logs(1);
  Handle h;
  ASSERT_EQ(Open(chassis.client_endpoint(1), "", nullptr, &h), FW_OK) << fw_last_error();
  nlohmann::json sec = chassis.Status(1)["client_security"];
  EXPECT_EQ(sec["curve"], false) << sec.dump();
  EXPECT_NE(sec.value("warning", "").find("security = \"none\""), std::string::npos) << sec.dump();
}

// [chassis] keys: each bad value is refused with the key's name.
std::string ConfigError(const std::string& chassis_lines, const std::string& client_endpoint =
                                                              "ipc:///tmp/x/1.client") {
  std::string text = "[chassis]\nsecurity = \"none\"\n" + chassis_lines +
                     "\n[[board]]\nslot = 1\nendpoint = \"ipc:///tmp/x/1.bus\"\n"
                     "client_endpoint = \"" + client_endpoint + "\"\n";
  auto r = board::ParseChassisConfig(text, "t.toml");
  return r.ok() ? "" : r.status().message();
}

TEST(ClientSecurityConfigTest, BadKeysAreRefusedByName) {
  EXPECT_EQ(ConfigError(""), "");
  EXPECT_EQ(ConfigError("client_socket_mode = \"0640\"\nclient_socket_group = \"dialout\""), "");
  EXPECT_NE(ConfigError("client_socket_mode = \"0666\"").find("client_socket_mode = \"0666\" gives access to others"),
            std::string::npos);
  EXPECT_NE(ConfigError("client_socket_mode = \"0060\"").find("client_socket_mode"), std::string::npos);
  EXPECT_NE(ConfigError("client_socket_mode = \"rw\"").find("client_socket_mode"), std::string::npos);
  EXPECT_NE(ConfigError("client_socket_mode = 660").find("client_socket_mode"), std::string::npos);
  EXPECT_NE(ConfigError("client_socket_group = \"a b\"").find("client_socket_group"), std::string::npos);
  EXPECT_NE(ConfigError("client_public_keys = [\"short\"]").find("client_public_keys[0]"),
            std::string::npos);
  const std::string k = NewKeys().public_z85;
  EXPECT_EQ(ConfigError("client_public_keys = [\"" + k + "\"]"), "");
  EXPECT_NE(ConfigError("client_public_keys = [\"" + k + "\", \"" + k + "\"]").find("twice"),
            std::string::npos);
  EXPECT_NE(ConfigError("", "ipc://@bp-slot1").find("abstract"), std::string::npos);
  std::string many = "client_public_keys = [";
  for (int i = 0; i < 4097; ++i) many += (i ? ", \"" : "\"") + NewKeys().public_z85 + "\"";
  EXPECT_NE(ConfigError(many + "]").find("at most 4096"), std::string::npos);
}

TEST(ClientSecurityConfigTest, CurveOverTcpNeedsClientKeys) {
  auto c = board::MakeLocalChassis(1, "/tmp/x", 1);
  c.security = board::SecurityMode::kCurve;
  c.boards[0].public_key = NewKeys().public_z85;
  c.boards[0].secret_key_file = "/tmp/x/slot1.key";
  c.boards[0].client_endpoint = "tcp://127.0.0.1:7001";
  Status st = c.Validate();
  EXPECT_NE(st.message().find("client_public_keys is empty"), std::string::npos) << st.ToString();
  c.client_public_keys.push_back(NewKeys().public_z85);
  EXPECT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  // Round trip through the TOML writer.
  c.client_socket_group = "dialout";
  c.client_socket_mode = 0640;
  auto back = board::ParseChassisConfig(board::ToToml(c), "rt.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->client_public_keys, c.client_public_keys);
  EXPECT_EQ(back->client_socket_group, "dialout");
  EXPECT_EQ(back->client_socket_mode, 0640u);
}

}  // namespace
}  // namespace bp::testing
