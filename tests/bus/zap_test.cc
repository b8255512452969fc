// ZapAuthenticator with real CURVE sockets over ipc://: configured keys are
// accepted with their user id (the messages' User-Id), everything else is
// refused and counted, tables change at run time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <zmq.hpp>

#include "bus/curve.h"
#include "bus/zap.h"

namespace bp::bus {
namespace {

using std::chrono::milliseconds;

constexpr const char* kDomain = "bus";

class ZapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bp-zap-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    endpoint_ = "ipc://" + dir_ + "/server";
    server_keys_ = GenerateCurveKeyPair().value();
    auto zap = ZapAuthenticator::Start(ctx_);
    ASSERT_TRUE(zap.ok()) << zap.status().ToString();
    zap_ = std::move(zap).value();
    server_ = zmq::socket_t(ctx_, zmq::socket_type::pull);
    server_.set(zmq::sockopt::linger, 0);
    server_.set(zmq::sockopt::curve_server, 1);
    server_.set(zmq::sockopt::curve_secretkey, server_keys_.secret_z85);
    server_.set(zmq::sockopt::zap_domain, kDomain);
    server_.set(zmq::sockopt::rcvtimeo, 100);
    server_.bind(endpoint_);
  }
  void TearDown() override {
    for (auto& s : clients_) s.close();
    server_.close();
    zap_->Stop();
    (void)!std::system(("rm -rf " + dir_).c_str());
  }

  // A PUSH socket connected with CURVE keys `client` (or NULL mechanism).
  zmq::socket_t& Connect(const CurveKeyPair* client) {
    zmq::socket_t s(ctx_, zmq::socket_type::push);
    s.set(zmq::sockopt::linger, 0);
    if (client != nullptr) {
      s.set(zmq::sockopt::curve_serverkey, server_keys_.public_z85);
      s.set(zmq::sockopt::curve_publickey, client->public_z85);
      s.set(zmq::sockopt::curve_secretkey, client->secret_z85);
    }
    s.connect(endpoint_);
    clients_.push_back(std::move(s));
    return clients_.back();
  }

  // Sends `text` repeatedly for up to `wait` and returns the User-Id of the
  // first message the server receives, or "<none>" when none arrived.
  std::string DeliverOnce(zmq::socket_t& client, milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      (void)client.send(zmq::str_buffer("hello"), zmq::send_flags::dontwait);
      zmq::message_t msg;
      if (server_.recv(msg)) {
        const char* user = zmq_msg_gets(msg.handle(), "User-Id");
        return user == nullptr ? "<no user id>" : user;
      }
    }
    return "<none>";
  }

  // Waits until the authenticator has refused `n` handshakes (bounded).
  bool WaitRefused(uint64_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (zap_->GetStats().refused >= n) return true;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return false;
  }

  zmq::context_t ctx_{1};
  std::string dir_;
  std::string endpoint_;
  CurveKeyPair server_keys_;
  std::unique_ptr<ZapAuthenticator> zap_;
  zmq::socket_t server_;
  std::vector<zmq::socket_t> clients_;
};

TEST_F(ZapTest, ConfiguredKeyIsAcceptedWithItsUserId) {
  CurveKeyPair slot2 = GenerateCurveKeyPair().value();
  ASSERT_TRUE(zap_->SetDomain(kDomain, {{slot2.public_z85, "2"}}).ok());
  EXPECT_EQ(DeliverOnce(Connect(&slot2), std::chrono::seconds(10)), "2");
  auto stats = zap_->GetStats();
  EXPECT_EQ(stats.accepted, 1u);
  EXPECT_EQ(stats.refused, 0u);
  ASSERT_EQ(stats.domains.size(), 1u);
  EXPECT_EQ(stats.domains[0].domain, kDomain);
  EXPECT_EQ(stats.domains[0].keys, 1u);
  EXPECT_EQ(stats.domains[0].accepted, 1u);
}

TEST_F(ZapTest, UnknownKeyIsRefusedAndRecorded) {
  CurveKeyPair known = GenerateCurveKeyPair().value();
  CurveKeyPair stranger = GenerateCurveKeyPair().value();
  ASSERT_TRUE(zap_->SetDomain(kDomain, {{known.public_z85, "2"}}).ok());
  zmq::socket_t& rogue = Connect(&stranger);
  ASSERT_TRUE(WaitRefused(1));
  EXPECT_EQ(DeliverOnce(rogue, milliseconds(300)), "<none>");
  auto stats = zap_->GetStats();
  EXPECT_EQ(stats.accepted, 0u);
  EXPECT_EQ(stats.domains[0].refused, stats.refused);
  ASSERT_FALSE(stats.last_refused.empty());
  EXPECT_EQ(stats.last_refused.back().public_z85, stranger.public_z85);
  EXPECT_EQ(stats.last_refused.back().domain, kDomain);
  EXPECT_EQ(stats.last_refused.back().mechanism, "CURVE");
  EXPECT_EQ(stats.last_refused.back().reason, "unknown key");
}

TEST_F(ZapTest, NullMechanismCannotReachACurveServer) {
  zmq::socket_t& plain = Connect(nullptr);
  // A CURVE server answers a NULL client with a mechanism mismatch before
  // ZAP is asked: nothing arrives, whatever the tables say.
  EXPECT_EQ(DeliverOnce(plain, milliseconds(500)), "<none>");
}

TEST_F(ZapTest, UnknownDomainIsRefused) {
  CurveKeyPair slot2 = GenerateCurveKeyPair().value();
  ASSERT_TRUE(zap_->SetDomain("other", {{slot2.public_z85, "2"}}).ok());
  Connect(&slot2);
  ASSERT_TRUE(WaitRefused(1));
  EXPECT_EQ(zap_->GetStats().last_refused.back().reason, "unknown ZAP domain 'bus'");
}

TEST_F(ZapTest, TableReplacedAtRunTime) {
  CurveKeyPair old_key = GenerateCurveKeyPair().value();
  CurveKeyPair new_key = GenerateCurveKeyPair().value();
  ASSERT_TRUE(zap_->SetDomain(kDomain, {{old_key.public_z85, "3"}}).ok());
  EXPECT_EQ(DeliverOnce(Connect(&old_key), std::chrono::seconds(10)), "3");
  // Rotation: slot 3's new key replaces the old one.
  zap_->RemoveUser(kDomain, "3");
  auto binary = CurveKeyToBinary(new_key.public_z85).value();
  ASSERT_TRUE(zap_->SetKey(kDomain, binary, "3").ok());  // raw 32 bytes work too
  EXPECT_EQ(DeliverOnce(Connect(&new_key), std::chrono::seconds(10)), "3");
  Connect(&old_key);  // a new connection with the old key
  ASSERT_TRUE(WaitRefused(1));
  EXPECT_EQ(zap_->GetStats().last_refused.back().public_z85, old_key.public_z85);
}

TEST_F(ZapTest, RefusedRecordIsBounded) {
  ASSERT_TRUE(zap_->SetDomain(kDomain, {}).ok());
  const uint64_t n = ZapAuthenticator::kRefusedKept + 4;
  std::vector<CurveKeyPair> keys;
  for (uint64_t i = 0; i < n; ++i) {
    keys.push_back(GenerateCurveKeyPair().value());
    Connect(&keys.back());
    ASSERT_TRUE(WaitRefused(i + 1));
  }
  auto stats = zap_->GetStats();
  EXPECT_GE(stats.refused, n);
  EXPECT_EQ(stats.last_refused.size(), ZapAuthenticator::kRefusedKept);
}

TEST_F(ZapTest, BadTablesAreRefusedWhole) {
  CurveKeyPair k = GenerateCurveKeyPair().value();
  ASSERT_TRUE(zap_->SetDomain(kDomain, {{k.public_z85, "2"}}).ok());
  EXPECT_EQ(zap_->SetDomain(kDomain, {{"not-a-key", "2"}}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(zap_->SetDomain(kDomain, {{k.public_z85, ""}}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(zap_->GetStats().domains[0].keys, 1u);  // unchanged
}

TEST_F(ZapTest, SecondAuthenticatorOnTheSameContextIsRefused) {
  auto second = ZapAuthenticator::Start(ctx_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kFailedPrecondition);
}

// A NULL-mechanism socket without a ZAP domain in the same context (the
// board's client endpoint, say) is not subject to the authenticator.
TEST_F(ZapTest, NullSocketsWithoutDomainAreUnaffected) {
  zmq::socket_t pull(ctx_, zmq::socket_type::pull);
  pull.set(zmq::sockopt::linger, 0);
  pull.set(zmq::sockopt::rcvtimeo, 100);
  std::string ep = "ipc://" + dir_ + "/plain";
  pull.bind(ep);
  zmq::socket_t push(ctx_, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 0);
  push.connect(ep);
  ASSERT_TRUE(push.send(zmq::str_buffer("x"), zmq::send_flags::none));
  zmq::message_t msg;
  bool got = false;
  for (int i = 0; i < 100 && !got; ++i) got = pull.recv(msg).has_value();
  EXPECT_TRUE(got);
  EXPECT_EQ(zap_->GetStats().refused, 0u);
}

}  // namespace
}  // namespace bp::bus
