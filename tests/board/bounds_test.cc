// Bounds with real board processes (issue 12): a second board in a slot is
// refused, a board in internal init keeps answering status and refuses
// LOCAL reads at once, and a full write pool refuses writes (counted).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "client_generated.h"
#include "local_chassis.h"

#ifndef BP_BOARD_EXE
#define BP_BOARD_EXE "board"
#endif

extern char** environ;

namespace bp::testing {
namespace {

constexpr int kSettleMs = 20000;
using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

std::string BoardExe() {
  const char* e = getenv("BP_BOARD_EXE");
  return e && *e ? e : BP_BOARD_EXE;
}

// Starts `board --config cfg --slot slot` with stdout/stderr into `log`.
pid_t SpawnBoard(const std::string& cfg, int slot, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::string exe = BoardExe(), slot_s = std::to_string(slot);
  std::vector<char*> argv = {const_cast<char*>("board"), const_cast<char*>("--config"),
                             const_cast<char*>(cfg.c_str()), const_cast<char*>("--slot"),
                             const_cast<char*>(slot_s.c_str()), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

std::string ReadFile(const std::string& path) {
  std::string s;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
  }
  return s;
}

// Goal: a second board process started with a slot that is already running
// exits at once, non-zero, naming the running pid; the first keeps serving.
TEST(Bounds, SecondBoardInTheSameSlotIsRefused) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_GT(c.WaitForMaster(kSettleMs), 0);
  const std::string log = c.dir() + "/second.log";
  pid_t second = SpawnBoard(c.config_path(), 2, log);
  ASSERT_GT(second, 0);
  int wstatus = 0;
  bool exited = LocalChassis::WaitUntil([&] { return waitpid(second, &wstatus, WNOHANG) == second; }, 10000);
  if (!exited) {
    kill(second, SIGKILL);
    waitpid(second, nullptr, 0);
  }
  ASSERT_TRUE(exited) << "a second board in slot 2 kept running; its log:\n" << ReadFile(log);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0) << ReadFile(log);
  std::string out = ReadFile(log);
  EXPECT_NE(out.find("pid " + std::to_string(c.pid(2))), std::string::npos) << out;
  EXPECT_NE(out.find("slot 2"), std::string::npos) << out;
  // The first board still owns its endpoints.
  auto st = c.client(2).Status(2000);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st.value()["slot"], 2);
  EXPECT_TRUE(c.client(2).Put("after", "1").status.ok());
}

std::string Key(int i) {
  char b[32];
  std::snprintf(b, sizeof b, "init%08d", i);
  return b;
}

// Goal: while a replica is re-initialised (internal init of ~60 MB) its
// client endpoint keeps answering status within 500 ms, and LOCAL reads are
// refused at once with a retryable Unavailable error until it is in sync.
TEST(Bounds, BoardInInternalInitAnswersStatusAndRefusesLocalReads) {
  ChassisOptions o;
  o.tweak = [](board::ChassisConfig& cfg) { cfg.cache_mb = 512; };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  int r = m == 1 ? 2 : 1;
  constexpr int kMb = 200, kValue = 4096, kPerBatch = 32, kReaders = 4;
  const int n = (kMb << 20) / kValue;
  auto t_load = Clock::now();
  for (int i = 0; i < n; i += kPerBatch) {
    std::vector<std::pair<std::string, std::string>> puts;
    for (int j = i; j < std::min(n, i + kPerBatch); ++j) puts.emplace_back(Key(j), std::string(kValue, 'v'));
    RawWrite w = c.client(m).Batch(puts, 10000);
    ASSERT_TRUE(w.status.ok()) << w.status.ToString();
  }
  std::cout << "[init] loaded " << kMb << " MB in " << MsSince(t_load) << " ms" << std::endl;
  c.Kill(r);
  ASSERT_TRUE(c.Start(r).ok());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> refused{0}, served{0}, other{0}, slowest_read_ms{0};
  std::string other_error;
  std::mutex mu;
  auto read_loop = [&](int seed) {
    RawClient rc(c.client_endpoint(r));
    for (int i = seed * 7919; !stop.load(); ++i) {
      auto t0 = Clock::now();
      // Mostly gets; every 8th read a short scan (also a LOCAL read).
      Status st = Status::Ok();
      if (i % 8 == 0) st = rc.Scan(Key(i % n), "", 4, 3000).status();
      else st = rc.Get(Key(i % n), 0, "", 3000).status();
      slowest_read_ms = std::max<int64_t>(slowest_read_ms.load(), MsSince(t0));
      if (st.ok()) ++served;
      else if (st.code() == Status::Code::kUnavailable) ++refused;
      else if (!st.IsNotFound() && other++ == 0) {
        std::lock_guard<std::mutex> l(mu);
        other_error = st.ToString();
      }
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) readers.emplace_back(read_loop, i);
  int64_t slowest_status_ms = 0, polls = 0, unanswered = 0;
  bool saw_not_in_sync = false, answered_once = false;
  // (saw_not_in_sync: the board answered at least once while syncing)
  auto t0 = Clock::now();
  bool in_sync = LocalChassis::WaitUntil(
      [&] {
        auto t = Clock::now();
        auto st = c.client(r).Status(3000);
        int64_t ms = MsSince(t);
        ++polls;
        // Until it answered once (or for 1.5 s) the process may still be
        // starting; from then on every poll counts, a timeout too.
        const bool counts = answered_once || MsSince(t0) > 1500;
        if (counts) slowest_status_ms = std::max(slowest_status_ms, ms);
        if (!st.ok()) {
          if (counts) ++unanswered;
          return false;
        }
        answered_once = true;
        bool sync = st.value().value("startup_complete", false) && !st.value().value("reinit", true);
        if (!sync) saw_not_in_sync = true;
        return sync;
      },
      120000);
  stop = true;
  for (auto& t : readers) t.join();
  std::cout << "[init] in sync after " << MsSince(t0) << " ms; status polls " << polls
            << ", slowest " << slowest_status_ms << " ms, unanswered " << unanswered
            << "; reads refused " << refused << ", served " << served << ", other " << other
            << ", slowest read " << slowest_read_ms << " ms" << std::endl;
  ASSERT_TRUE(in_sync) << c.Logs(r);
  EXPECT_TRUE(saw_not_in_sync);
  EXPECT_LT(slowest_status_ms, 500);
  EXPECT_EQ(unanswered, 0);
  EXPECT_GT(refused, 0);
  EXPECT_EQ(other, 0) << other_error;
  EXPECT_LT(slowest_read_ms, 500);
}

// Goal: with one write thread and write_queue_limit = 2, a burst of
// concurrent writes (direct at the master, and forwarded by a replica)
// while commits are slow (the master's links delayed 300 ms) is refused at
// once with Busy naming write_queue_limit, and status counts the refusals.
// A forwarded write refused that way is re-sent by its replica until its
// deadline (an earlier copy may still be queued), so its caller sees it
// applied or, at worst, a timeout with an unknown outcome, never Busy.
TEST(Bounds, FullWritePoolRefusesWritesAndCountsThem) {
  ChassisOptions o;
  o.tweak = [](board::ChassisConfig& cfg) {
    cfg.write_threads = 1;
    cfg.write_queue_limit = 2;
    // The master's links are delayed 300 ms below: its heartbeats must not
    // look silent, or a replica takes over and "forwarded" writes apply
    // directly on it.
    cfg.heartbeat_timeout_ms = 3000;
    cfg.forward_timeout_ms = 5000;
  };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  int r = m == 1 ? 2 : 1;
  ASSERT_TRUE(c.client(m).Put("warm", "1").status.ok());
  for (const auto& b : c.config().boards) {
    if (b.slot == m) continue;
    auto a = c.Admin(m, {{"cmd", "link"}, {"slot", b.slot}, {"delay_us", 300000}});
    ASSERT_EQ(a.value("ok", false), true) << a.dump();
  }
  constexpr int kDirect = 16, kForwarded = 8;
  std::atomic<int> busy_direct{0}, busy_forwarded{0}, timeout_forwarded{0}, ok{0}, other{0};
  std::mutex mu;
  std::string busy_message, other_message;
  std::vector<std::thread> clients;
  for (int i = 0; i < kDirect + kForwarded; ++i) {
    const bool direct = i < kDirect;
    clients.emplace_back([&, i, direct] {
      RawClient cl(c.client_endpoint(direct ? m : r));
      RawWrite w = cl.Put("burst" + std::to_string(i), "v", 0, 0, 10000);
      std::lock_guard<std::mutex> l(mu);
      if (w.status.ok()) {
        ++ok;
      } else if (w.status.code() == Status::Code::kBusy) {
        ++(direct ? busy_direct : busy_forwarded);
        (direct ? busy_message : other_message) = w.status.message();
      } else if (!direct && w.status.code() == Status::Code::kTimeout) {
        ++timeout_forwarded;
      } else {
        ++other;
        other_message = w.status.ToString();
      }
    });
  }
  for (auto& t : clients) t.join();
  std::cout << "[write_pool] ok " << ok << ", busy direct " << busy_direct << ", busy forwarded "
            << busy_forwarded << ", timeout forwarded " << timeout_forwarded << ", other " << other
            << "; " << busy_message << " / " << other_message << std::endl;
  EXPECT_GT(busy_direct, 0);
  EXPECT_EQ(busy_forwarded, 0);
  EXPECT_GT(ok, 0);
  EXPECT_EQ(other, 0) << other_message;
  EXPECT_NE(busy_message.find("write_queue_limit = 2"), std::string::npos) << busy_message;
  auto st = c.Status(m);
  ASSERT_TRUE(st.contains("queues")) << st.dump();
  const auto& wp = st["queues"]["write_pool"];
  EXPECT_EQ(wp["limit"], 2);
  EXPECT_EQ(wp["keys"], nlohmann::json::array({"write_queue_limit", "write_queue_mb"})) << wp.dump();
  // More refusals than direct writes saw: forwarded copies were refused
  // too, and re-sent by their replica.
  EXPECT_GT(wp["refused"].get<int>(), busy_direct.load()) << wp.dump();
  for (const char* q : {"rep", "serve", "write_pool", "client_send", "subscribers", "delay_line"}) {
    EXPECT_TRUE(st["queues"].contains(q)) << q;
  }
  // The links heal and writes pass again.
  ASSERT_EQ(c.Admin(m, {{"cmd", "heal"}}).value("ok", false), true);
  EXPECT_TRUE(c.client(m).Put("after", "1").status.ok());
}

// Goal: a request bigger than the largest the endpoint accepts
// (queues.client_send.max_request_bytes, ZMQ_MAXMSGSIZE) is cut by ZeroMQ
// before the board buffers it (no reply), and the board keeps serving.
TEST(Bounds, OversizedRequestIsCutAndTheBoardServesOn) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  auto st = c.Status(m);
  const uint64_t max = st["queues"]["client_send"]["max_request_bytes"].get<uint64_t>();
  EXPECT_EQ(max, (uint64_t(32) << 20) + (1u << 20));  // log_buffer_mb = 16
  {
    RawClient cl(c.client_endpoint(m));
    auto small = cl.SendRaw(std::string(1000, 'x'), 2000);  // answered: malformed
    EXPECT_EQ(small.status().code(), Status::Code::kInvalidArgument) << small.status().ToString();
    auto big = cl.SendRaw(std::string(max + 1, 'x'), 2000);
    EXPECT_EQ(big.status().code(), Status::Code::kTimeout)
        << "a request over max_request_bytes was answered: " << big.status().ToString();
  }
  EXPECT_TRUE(c.client(m).Put("after", "1").status.ok());
  EXPECT_EQ(c.Status(m)["role"], "master");
}

std::string SubscribeFrame(bool subscribe) {
  flatbuffers::FlatBufferBuilder fbb;
  auto req = wire::CreateClientRequest(fbb, 1, subscribe ? wire::ClientOp::Subscribe : wire::ClientOp::Unsubscribe, 0);
  fbb.Finish(wire::CreateClientFrame(fbb, wire::ClientMsg::ClientRequest, req.Union()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// Goal: subscribers are bounded (max_subscribers: the next is refused with
// Busy naming the key), and one that went away without unsubscribing is
// pruned at the next event, which makes room again.
TEST(Bounds, SubscribersAreBoundedAndDeadOnesPruned) {
  ChassisOptions o;
  o.tweak = [](board::ChassisConfig& cfg) { cfg.max_subscribers = 2; };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  auto a = std::make_unique<RawClient>(c.client_endpoint(m));
  RawClient b(c.client_endpoint(m)), third(c.client_endpoint(m));
  ASSERT_TRUE(a->SendRaw(SubscribeFrame(true)).ok());
  ASSERT_TRUE(b.SendRaw(SubscribeFrame(true)).ok());
  auto refused = third.SendRaw(SubscribeFrame(true));
  EXPECT_EQ(refused.status().code(), Status::Code::kBusy) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("max_subscribers = 2"), std::string::npos)
      << refused.status().message();
  auto subs = c.Status(m)["queues"]["subscribers"];
  EXPECT_EQ(subs["depth"], 2) << subs.dump();
  EXPECT_EQ(subs["refused"], 1) << subs.dump();
  EXPECT_EQ(subs["keys"], nlohmann::json::array({"max_subscribers"})) << subs.dump();
  a.reset();  // gone without unsubscribing
  int r = m == 1 ? 2 : 1;
  c.Kill(r);  // an event (peer down) is pushed to the subscribers
  ASSERT_TRUE(LocalChassis::WaitUntil(
      [&] { return c.Status(m)["queues"]["subscribers"].value("pruned", 0) >= 1; }, 10000))
      << c.Status(m)["queues"].dump();
  EXPECT_TRUE(third.SendRaw(SubscribeFrame(true)).ok());
  EXPECT_EQ(c.Status(m)["queues"]["subscribers"]["depth"], 2);
}

// Goal: with a tiny replication queue (rep_queue_frames = 2) replicas drop
// replication messages under a write load (counted in queues.rep.refused),
// and Berkeley DB's re-requests still bring every replica to the master's
// contents.
TEST(Bounds, DroppedReplicationMessagesAreReRequested) {
  ChassisOptions o;
  o.tweak = [](board::ChassisConfig& cfg) {
    cfg.rep_queue_frames = 2;
    cfg.ack_policy = board::AckPolicy::kOne;
  };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      RawClient cl(c.client_endpoint(m));
      for (int i = 0; i < 300; ++i) {
        std::vector<std::pair<std::string, std::string>> puts;
        for (int j = 0; j < 4; ++j) puts.emplace_back("t" + std::to_string(t) + "-" + std::to_string(i * 4 + j), std::string(512, 'x'));
        (void)cl.Batch(puts, 5000);
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_TRUE(c.client(m).Put("last", "1").status.ok());
  int64_t refused = 0;
  for (int s = 1; s <= 3; ++s) {
    if (s == m) continue;
    ASSERT_TRUE(LocalChassis::WaitUntil([&] { return c.client(s).Get("last").ok(); }, kSettleMs))
        << "replica " << s << " never caught up";
    auto mine = c.client(s).Scan("", "", 100000, 10000);
    auto theirs = c.client(m).Scan("", "", 100000, 10000);
    ASSERT_TRUE(mine.ok() && theirs.ok());
    EXPECT_EQ(mine.value(), theirs.value()) << "replica " << s;
    auto q = c.Status(s)["queues"]["rep"];
    EXPECT_EQ(q["limit"], 2) << q.dump();
    refused += q["refused"].get<int64_t>();
  }
  std::cout << "[rep_queue] replicas dropped " << refused << " replication messages" << std::endl;
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace bp::testing
