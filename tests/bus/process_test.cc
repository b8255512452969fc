// A peer in another process: killed with SIGKILL it is reported down within
// milliseconds (ipc and tcp), restarted it is reported up and frames flow
// again. The peer is bus_peer_helper, started with fork + exec (so the
// child never runs on a copy of this multi-threaded process) and always
// reaped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "bus_test_util.h"

namespace bp::bus::testing {
namespace {

// A running bus_peer_helper; killed and reaped at destruction.
class PeerProcess {
 public:
  PeerProcess(int slot, const std::string& endpoint, int parent_slot,
              const std::string& parent_endpoint) {
    std::vector<std::string> args = {BP_BUS_PEER_HELPER,
                                     std::to_string(getpid()),
                                     std::to_string(kChassis),
                                     std::to_string(slot),
                                     endpoint,
                                     std::to_string(parent_slot),
                                     parent_endpoint};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~PeerProcess() { Kill(); }
  pid_t pid() const { return pid_; }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

class ProcessTest : public ::testing::TestWithParam<Transport> {};

TEST_P(ProcessTest, KilledPeerIsDownRestartedPeerIsUp) {
  Endpoints eps(GetParam());
  std::string ep1 = eps.For(1), ep2 = eps.For(2);
  RecordingHandler handler;
  auto bus = Bus::Create(Options(1, ep1, {{2, ep2}}, nullptr));
  ASSERT_TRUE(bus.ok());
  Bus& one = *bus.value();
  ASSERT_TRUE(one.Start(&handler).ok());

  auto peer = std::make_unique<PeerProcess>(2, ep2, 1, ep1);
  ASSERT_GT(peer->pid(), 0);
  ASSERT_TRUE(handler.WaitUps(2, 1, std::chrono::seconds(10)));
  // The helper's own link to us may come up a moment later: retry the ping.
  ASSERT_TRUE(WaitUntil([&] {
    (void)one.Send(2, Rep(1, 1));
    return handler.WaitFrames(1, std::chrono::milliseconds(20));
  }));

  int64_t killed_us = Clock::Real().NowMicros();
  peer->Kill();
  ASSERT_TRUE(handler.WaitDowns(2, 1, std::chrono::seconds(2)));
  int64_t detect_us = handler.last_down_us() - killed_us;
  std::printf("[ %s ] SIGKILL -> OnPeerDown in %lld us\n", TransportName(GetParam()).c_str(),
              static_cast<long long>(detect_us));
  RecordProperty("kill_detect_us", static_cast<int>(detect_us));
  EXPECT_FALSE(one.IsConnected(2));
  // ZeroMQ detaches the dead pipe from the socket a moment after the event:
  // a send racing with that still "succeeds" (into a pipe that is dropped).
  EXPECT_TRUE(WaitUntil([&] { return !one.Send(2, Rep(1, 2)); }));

  peer = std::make_unique<PeerProcess>(2, ep2, 1, ep1);
  ASSERT_TRUE(handler.WaitUps(2, 2, std::chrono::seconds(10)));
  size_t before = handler.frame_count();
  ASSERT_TRUE(WaitUntil([&] {
    (void)one.Send(2, Rep(1, 3));
    return handler.WaitFrames(before + 1, std::chrono::milliseconds(20));
  }));
  EXPECT_EQ(handler.frames().back().lsn_offset, 3u);
  EXPECT_EQ(handler.downs(2), 1);
  one.Stop();
}

INSTANTIATE_TEST_SUITE_P(Transports, ProcessTest,
                         ::testing::Values(Transport::kIpc, Transport::kTcp),
                         [](const auto& info) { return TransportName(info.param); });

}  // namespace
}  // namespace bp::bus::testing
