// Replication over the bus with real board processes (ipc:// in a temporary
// directory): one master, writes on every replica, priorities, ack policies,
// malformed frames. Each test bounds its waits and the LocalChassis kills and
// reaps every process it started.
#include <gtest/gtest.h>

#include <chrono>
#include <zmq.hpp>

#include "local_chassis.h"

namespace bp::testing {
namespace {

constexpr int kSettleMs = 20000;  // generous: ASan builds on 2 noisy cores

bool HasValue(LocalChassis& c, int slot, const std::string& key, const std::string& value) {
  return LocalChassis::WaitUntil(
      [&] {
        auto v = c.client(slot).Get(key);
        return v.ok() && v.value() == value;
      },
      kSettleMs);
}

// Goal: a fresh 3-board chassis elects exactly one master, and a write on it
// reaches both replicas.
TEST(Replication, ThreeBoardsOneMasterWritesReachReplicas) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0) << c.Logs(1) << c.Logs(2) << c.Logs(3);
  int masters = 0;
  for (int s = 1; s <= 3; ++s) masters += c.Status(s)["role"] == "master" ? 1 : 0;
  EXPECT_EQ(masters, 1);

  RawWrite w = c.client(m).Put("alpha", "1");
  ASSERT_TRUE(w.status.ok()) << w.status.ToString();
  EXPECT_TRUE(w.durable);
  for (int s = 1; s <= 3; ++s) EXPECT_TRUE(HasValue(c, s, "alpha", "1")) << "slot " << s;

  // A batch is all or nothing, and deletes replicate too.
  ASSERT_TRUE(c.client(m).Batch({{"b1", "x"}, {"b2", "y"}}).status.ok());
  ASSERT_TRUE(c.client(m).Delete("alpha").status.ok());
  for (int s = 1; s <= 3; ++s) {
    EXPECT_TRUE(HasValue(c, s, "b2", "y"));
    EXPECT_TRUE(LocalChassis::WaitUntil([&] { return c.client(s).Get("alpha").status().IsNotFound(); },
                                        kSettleMs));
  }
}

// Goal: among five equally up-to-date boards the highest priority wins.
TEST(Replication, HighestPriorityUpToDateBoardWins) {
  ChassisOptions o;
  o.boards = 5;
  o.tweak = [](board::ChassisConfig& cfg) {
    for (auto& b : cfg.boards) b.priority = uint32_t(10 * b.slot);
    cfg.boards[3].priority = 500;  // slot 4
  };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  EXPECT_EQ(m, 4);
}

// Goal: each ack policy behaves as documented with one of three boards down.
TEST(Replication, QuorumCommitsWithOneBoardDown) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  int down = m == 3 ? 2 : 3;
  c.Kill(down);
  RawWrite w;
  ASSERT_TRUE(LocalChassis::WaitUntil([&] {
    w = c.client(m).Put("q", "1");
    return w.status.ok() && w.durable;
  }, kSettleMs)) << w.status.ToString();
  auto st = c.Status(m);
  EXPECT_EQ(st["acks"]["needed"], 1);
}

TEST(Replication, AllWithOneDownReportsNotDurableWithinTheAckTimeout) {
  ChassisOptions o;
  o.ack_policy = board::AckPolicy::kAll;
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  RawWrite w = c.client(m).Put("before", "1");
  ASSERT_TRUE(w.status.ok());
  EXPECT_TRUE(w.durable);
  c.Kill(m == 3 ? 2 : 3);
  // Once the master knows the board is gone, ALL fails fast: committed on
  // the master, reported "not durable", well within the ack timeout.
  ASSERT_TRUE(LocalChassis::WaitUntil([&] {
    auto t0 = std::chrono::steady_clock::now();
    w = c.client(m).Put("after", "1");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    return w.status.ok() && !w.durable && ms.count() <= int(c.config().ack_timeout_ms) + 500;
  }, kSettleMs)) << w.status.ToString() << " durable=" << w.durable;
  EXPECT_GT(c.Status(m)["acks"]["perm_failures"].get<int>(), 0);
}

TEST(Replication, NoneNeverWaits) {
  ChassisOptions o;
  o.ack_policy = board::AckPolicy::kNone;
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  c.Kill(m == 3 ? 2 : 3);
  c.Kill(m == 1 ? 2 : 1);
  RawWrite w = c.client(m).Put("n", "1");
  EXPECT_TRUE(w.status.ok());
  EXPECT_TRUE(w.durable);  // the policy asks for nothing, so it is met
  EXPECT_EQ(c.Status(m)["acks"]["perm_failures"], 0);
}

// Goal: garbage and frames from strangers on the bus are dropped and
// counted; the board keeps replicating.
TEST(Replication, MalformedAndUnknownFramesAreDroppedAndCounted) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  int victim = m == 1 ? 2 : 1;
  {
    zmq::context_t ctx(1);
    zmq::socket_t push(ctx, zmq::socket_type::push);
    push.set(zmq::sockopt::linger, 1000);
    // Security curve: only a configured key gets through the handshake, so
    // the junk comes with the master's key (the verifier is what is tested).
    auto keys = bus::ReadSecretKeyFile(c.config().Find(m)->secret_key_file);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    push.set(zmq::sockopt::curve_serverkey, c.config().Find(victim)->public_key);
    push.set(zmq::sockopt::curve_publickey, keys->public_z85);
    push.set(zmq::sockopt::curve_secretkey, keys->secret_z85);
    push.connect(c.config().Find(victim)->endpoint);
    for (int i = 0; i < 50; ++i) {
      std::string junk(size_t(1 + i * 7), char(i));
      push.send(zmq::buffer(junk), zmq::send_flags::none);
    }
  }
  ASSERT_TRUE(LocalChassis::WaitUntil([&] {
    auto st = c.Status(victim);
    return !st.is_null() && st["bus"]["malformed"].get<int>() >= 50;
  }, kSettleMs)) << c.Status(victim).dump();
  // Garbage on the client endpoint is answered with an error, not a crash.
  auto r = c.client(victim).SendRaw("not a flatbuffer");
  EXPECT_FALSE(r.ok());
  ASSERT_TRUE(c.client(m).Put("still", "works").status.ok());
  EXPECT_TRUE(HasValue(c, victim, "still", "works"));
}

}  // namespace
}  // namespace bp::testing
