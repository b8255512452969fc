// The firmware shim against real board processes (a local 3-board chassis).
//
// Goal: the guarantees firmware relies on, end to end through the C API:
// forwarded writes reach every board, read-your-writes on a replica right
// after its own write, LINEARIZABLE only on a confirmed master, role events
// on the fd and the callback after a master kill, and writes in flight
// across a master SIGKILL: every acknowledged write survives, exactly once.
// Method: bp::testing::LocalChassis starts `board` processes; every wait
// polls a condition against a deadline.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "firmware_shim/fw_shim.h"
#include "local_chassis.h"

namespace bp::testing {
namespace {

constexpr int kMasterWaitMs = 20000;
constexpr int kReplicateWaitMs = 5000;

struct Closer {
  void operator()(fw_board_t* h) const { fw_close(h); }
};
using Handle = std::unique_ptr<fw_board_t, Closer>;

Handle Open(const std::string& endpoint, uint32_t request_timeout_ms = 2000) {
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = endpoint.c_str();
  o.request_timeout_ms = request_timeout_ms;
  fw_board_t* h = nullptr;
  fw_err_t e = fw_open(&o, &h);
  EXPECT_EQ(e, FW_OK) << fw_last_error();
  return Handle(h);
}

// The value, or "<error N>" (tests compare strings; never throws).
std::string Get(fw_board_t* h, const std::string& key, fw_read_mode_t mode = FW_READ_LOCAL,
                fw_err_t* err = nullptr) {
  char* v = nullptr;
  size_t n = 0;
  fw_err_t e = fw_get(h, key.data(), key.size(), mode, &v, &n);
  if (err) *err = e;
  if (e != FW_OK) return "<error " + std::to_string(int(e)) + ">";
  std::string s(v, n);
  fw_free(v);
  return s;
}

fw_err_t Put(fw_board_t* h, const std::string& key, const std::string& value,
             fw_write_result_t* r = nullptr) {
  return fw_put(h, key.data(), key.size(), value.data(), value.size(), r);
}

class ShimChassisTest : public ::testing::Test {
 protected:
  virtual ChassisOptions Options() { return ChassisOptions{}; }
  void SetUp() override {
    ChassisOptions o = Options();
    // Lets a sanitizer build of the shim run against another board build.
    if (const char* exe = std::getenv("BP_SHIM_TEST_BOARD_EXE")) o.board_exe = exe;
    chassis_ = std::make_unique<LocalChassis>(o);
    ASSERT_TRUE(chassis_->StartAll().ok());
    master_ = chassis_->WaitForMaster(kMasterWaitMs);
    ASSERT_GT(master_, 0) << "no master elected";
    for (const auto& b : chassis_->config().boards) {
      handles_[b.slot] = Open(chassis_->client_endpoint(b.slot));
      ASSERT_NE(handles_[b.slot], nullptr);
      if (b.slot != master_) replicas_.push_back(b.slot);
    }
    // A master is agreed before every replica is in sync; local and
    // read-your-writes reads are refused while a replica re-initialises.
    for (const auto& [slot, h] : handles_) {
      ASSERT_TRUE(InSync(h.get())) << "slot " << slot << " never finished its startup";
    }
  }
  static bool InSync(fw_board_t* h) {
    return LocalChassis::WaitUntil(
        [&] {
          fw_status_t st;
          return fw_status(h, &st) == FW_OK && st.startup_complete && !st.reinit;
        },
        kMasterWaitMs);
  }
  void TearDown() override {
    handles_.clear();  // close the handles before the boards go
    chassis_.reset();
  }
  fw_board_t* H(int slot) { return handles_.at(slot).get(); }
  bool EventuallyEquals(int slot, const std::string& key, const std::string& want) {
    return LocalChassis::WaitUntil([&] { return Get(H(slot), key) == want; }, kReplicateWaitMs);
  }

  std::unique_ptr<LocalChassis> chassis_;
  int master_ = -1;
  std::vector<int> replicas_;
  std::map<int, Handle> handles_;
};

TEST_F(ShimChassisTest, ForwardedWritesAreReadableEverywhere) {
  for (const auto& [slot, h] : handles_) {
    fw_write_result_t r;
    std::string key = "from-" + std::to_string(slot);
    ASSERT_EQ(Put(h.get(), key, "v" + std::to_string(slot), &r), FW_OK) << fw_last_error();
    EXPECT_EQ(r.durable, 1);
    EXPECT_GE(r.attempts, 1);
  }
  for (const auto& [reader, h] : handles_) {
    for (const auto& [writer, unused] : handles_) {
      std::string key = "from-" + std::to_string(writer);
      EXPECT_TRUE(EventuallyEquals(reader, key, "v" + std::to_string(writer)))
          << key << " not visible on slot " << reader;
    }
  }
  fw_status_t st;
  ASSERT_EQ(fw_status(H(master_), &st), FW_OK) << fw_last_error();
  EXPECT_EQ(st.role, FW_ROLE_MASTER);
  EXPECT_EQ(st.master, master_);
  EXPECT_EQ(st.peers, 2);
  EXPECT_GE(st.max_lag_bytes, 0);
  ASSERT_EQ(fw_status(H(replicas_[0]), &st), FW_OK) << fw_last_error();
  EXPECT_EQ(st.role, FW_ROLE_REPLICA);
  EXPECT_EQ(st.master, master_);
  EXPECT_EQ(st.max_lag_bytes, -1);
}

TEST_F(ShimChassisTest, ReadYourWritesOnReplicaRightAfterForwardedPut) {
  for (int slot : replicas_) {
    for (int i = 0; i < 50; ++i) {
      std::string key = "ryw-" + std::to_string(slot) + "-" + std::to_string(i % 5);
      std::string value = "v" + std::to_string(i);
      ASSERT_EQ(Put(H(slot), key, value), FW_OK) << fw_last_error();
      fw_err_t e;
      EXPECT_EQ(Get(H(slot), key, FW_READ_YOUR_WRITES, &e), value) << fw_last_error();
    }
  }
  // A delete is a write too: read-your-writes sees the key gone.
  int slot = replicas_[0];
  std::string key = "ryw-" + std::to_string(slot) + "-0";
  ASSERT_EQ(fw_delete(H(slot), key.data(), key.size(), nullptr), FW_OK) << fw_last_error();
  fw_err_t e;
  Get(H(slot), key, FW_READ_YOUR_WRITES, &e);
  EXPECT_EQ(e, FW_ERR_NOT_FOUND);
}

TEST_F(ShimChassisTest, BatchIsAllOrNothingAndRequestIdsDedupe) {
  int slot = replicas_[0];
  fw_op_t ops[] = {{FW_OP_PUT, "b1", 2, "one", 3}, {FW_OP_PUT, "b2", 2, "two", 3}};
  fw_write_result_t r;
  ASSERT_EQ(fw_batch(H(slot), ops, 2, &r), FW_OK) << fw_last_error();
  EXPECT_EQ(Get(H(slot), "b1", FW_READ_YOUR_WRITES), "one");
  EXPECT_EQ(Get(H(slot), "b2", FW_READ_YOUR_WRITES), "two");
  // A newer write, then the first id again: applied at most once, so the
  // retry reports success and changes nothing.
  ASSERT_EQ(Put(H(slot), "b1", "newer"), FW_OK);
  fw_write_result_t again;
  ASSERT_EQ(fw_batch_with_id(H(slot), &r.request_id, ops, 2, &again), FW_OK) << fw_last_error();
  EXPECT_EQ(again.request_id.hi, r.request_id.hi);
  EXPECT_EQ(Get(H(master_), "b1", FW_READ_LINEARIZABLE), "newer");
  // An oversized op refused by the board (its own limit) applies nothing.
  std::string big(2u << 20, 'x');
  fw_op_t bad[] = {{FW_OP_PUT, "b3", 2, "x", 1}, {FW_OP_PUT, "b4", 2, big.data(), big.size()}};
  EXPECT_EQ(fw_batch(H(slot), bad, 2, nullptr), FW_ERR_TOO_LARGE);
  fw_err_t e;
  Get(H(master_), "b3", FW_READ_LINEARIZABLE, &e);
  EXPECT_EQ(e, FW_ERR_NOT_FOUND);
}

TEST_F(ShimChassisTest, LinearizableOnlyOnTheMaster) {
  ASSERT_EQ(Put(H(master_), "lin", "x"), FW_OK) << fw_last_error();
  for (int slot : replicas_) {
    fw_err_t e;
    Get(H(slot), "lin", FW_READ_LINEARIZABLE, &e);
    EXPECT_EQ(e, FW_ERR_NOT_MASTER) << fw_last_error();
    EXPECT_NE(std::string(fw_last_error()).find("master"), std::string::npos);
  }
  fw_err_t e;
  EXPECT_EQ(Get(H(master_), "lin", FW_READ_LINEARIZABLE, &e), "x") << fw_last_error();
  Get(H(master_), "absent", FW_READ_LINEARIZABLE, &e);
  EXPECT_EQ(e, FW_ERR_NOT_FOUND);
}

TEST_F(ShimChassisTest, DeposedMasterRefusesLinearizable) {
  char* out = nullptr;
  ASSERT_EQ(fw_admin(H(master_), "{\"cmd\":\"partition\"}", &out), FW_OK) << fw_last_error();
  fw_free(out);
  fw_err_t e = FW_OK;
  bool refused = LocalChassis::WaitUntil(
      [&] {
        Get(H(master_), "any", FW_READ_LINEARIZABLE, &e);
        return e != FW_OK && e != FW_ERR_NOT_FOUND;
      },
      5000);
  EXPECT_TRUE(refused) << "the partitioned master kept serving LINEARIZABLE reads";
  EXPECT_TRUE(fw_err_is_retryable(e)) << e << ": " << fw_last_error();
  ASSERT_EQ(fw_admin(H(master_), "{\"cmd\":\"heal\"}", &out), FW_OK) << fw_last_error();
  fw_free(out);
  EXPECT_EQ(fw_admin(H(master_), "{\"cmd\":\"no-such-command\"}", &out), FW_ERR_INVALID_ARG);
  EXPECT_EQ(out, nullptr);
}

TEST_F(ShimChassisTest, ThreadsShareOneHandle) {
  fw_board_t* h = H(replicas_[0]);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (Put(h, key, key) == FW_OK && Get(h, key, FW_READ_YOUR_WRITES) == key) ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
}

// ack_policy "all" with a replica down: writes still commit on the master
// but cannot be durable, and the shim says so with its own code.
class ShimAckAllTest : public ShimChassisTest {
 protected:
  ChassisOptions Options() override {
    ChassisOptions o;
    o.ack_policy = board::AckPolicy::kAll;
    return o;
  }
};

TEST_F(ShimAckAllTest, WriteWithoutAllAcksIsNotDurable) {
  ASSERT_EQ(Put(H(master_), "before", "1"), FW_OK) << fw_last_error();
  int down = replicas_[1];
  handles_.erase(down);
  chassis_->Kill(down, SIGKILL);
  fw_write_result_t r;
  fw_err_t e = Put(H(replicas_[0]), "nd", "v", &r);
  EXPECT_EQ(e, FW_ERR_NOT_DURABLE) << fw_last_error();
  EXPECT_EQ(r.durable, 0);
  EXPECT_NE(std::string(fw_last_error()).find("not met"), std::string::npos);
  EXPECT_FALSE(fw_err_is_retryable(e));
  // Applied all the same: read-your-writes sees it, and a retry with the
  // same id applies nothing again.
  EXPECT_EQ(Get(H(replicas_[0]), "nd", FW_READ_YOUR_WRITES), "v");
  fw_op_t op = {FW_OP_PUT, "nd", 2, "v", 1};
  EXPECT_EQ(fw_batch_with_id(H(replicas_[0]), &r.request_id, &op, 1, nullptr), FW_ERR_NOT_DURABLE);
}

struct CallbackLog {
  std::mutex mu;
  std::vector<fw_event_t> events;
};

void OnEvent(void* arg, const fw_event_t* ev) {
  auto* log = static_cast<CallbackLog*>(arg);
  std::lock_guard<std::mutex> l(log->mu);
  log->events.push_back(*ev);
}

bool IsNewMaster(const fw_event_t& ev, int old_master) {
  bool kind = ev.kind == FW_EVENT_NEW_MASTER || ev.kind == FW_EVENT_BECAME_MASTER;
  return kind && ev.master > 0 && ev.master != old_master;
}

// Polls the fd and drains events until one names a new master.
bool WaitNewMasterOnFd(fw_board_t* h, int fd, int old_master, int timeout_ms, std::string* seen) {
  return LocalChassis::WaitUntil(
      [&] {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) return false;
        fw_event_t ev;
        bool found = false;
        while (fw_next_event(h, &ev) == FW_OK) {
          *seen += " kind=" + std::to_string(ev.kind) + "/master=" + std::to_string(ev.master);
          found = found || IsNewMaster(ev, old_master);
        }
        return found;
      },
      timeout_ms);
}

TEST_F(ShimChassisTest, RoleEventsAfterMasterKill) {
  int fd = -1;
  ASSERT_EQ(fw_subscribe(H(replicas_[0]), nullptr, nullptr, &fd), FW_OK) << fw_last_error();
  ASSERT_GE(fd, 0);
  int fd2 = -1;
  EXPECT_EQ(fw_subscribe(H(replicas_[0]), nullptr, nullptr, &fd2), FW_ERR_INVALID_ARG);
  EXPECT_EQ(fd2, -1);
  CallbackLog log;
  ASSERT_EQ(fw_subscribe(H(replicas_[1]), OnEvent, &log, nullptr), FW_OK) << fw_last_error();

  handles_.erase(master_);
  chassis_->Kill(master_, SIGKILL);
  std::string seen;
  EXPECT_TRUE(WaitNewMasterOnFd(H(replicas_[0]), fd, master_, 10000, &seen))
      << "events on the fd:" << seen;
  bool cb = LocalChassis::WaitUntil(
      [&] {
        std::lock_guard<std::mutex> l(log.mu);
        for (const auto& e : log.events) {
          if (IsNewMaster(e, master_)) return true;
        }
        return false;
      },
      10000);
  EXPECT_TRUE(cb) << "the callback saw no new master";
  EXPECT_EQ(fw_unsubscribe(H(replicas_[0])), FW_OK);
  fw_event_t ev;
  EXPECT_EQ(fw_next_event(H(replicas_[0]), &ev), FW_ERR_INVALID_ARG);
}

TEST_F(ShimChassisTest, SubscriptionSurvivesABoardRestart) {
  int slot = replicas_[0];
  int fd = -1;
  ASSERT_EQ(fw_subscribe(H(slot), nullptr, nullptr, &fd), FW_OK) << fw_last_error();
  chassis_->Kill(slot, SIGKILL);
  ASSERT_TRUE(chassis_->Start(slot).ok());
  std::vector<int> kinds;
  bool up = LocalChassis::WaitUntil(
      [&] {
        fw_event_t ev;
        while (fw_next_event(H(slot), &ev) == FW_OK) kinds.push_back(ev.kind);
        return !kinds.empty() && kinds.back() != FW_EVENT_BOARD_LINK_DOWN &&
               std::find(kinds.begin(), kinds.end(), FW_EVENT_BOARD_LINK_UP) != kinds.end();
      },
      10000);
  EXPECT_TRUE(up) << "no LINK_DOWN/LINK_UP after the board restarted";
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), FW_EVENT_BOARD_LINK_DOWN), kinds.end());
  // The same handle works against the new board process.
  EXPECT_TRUE(
      LocalChassis::WaitUntil([&] { return Put(H(slot), "after", "restart") == FW_OK; }, 10000))
      << fw_last_error();
}

// A writer: unique keys "<name>-<i>", each write also setting "<name>-tail"
// to i, so a stale re-application of an older write after newer ones would
// leave the tail behind the newest applied write.
struct WriteLog {
  std::string name;
  std::mutex mu;
  std::map<int, fw_err_t> outcome;
  std::map<int, fw_request_id_t> ids;
  int acked = 0;
  std::string Key(int i) const { return name + "-" + std::to_string(i); }
  std::string Tail() const { return name + "-tail"; }
  int Acked() {
    std::lock_guard<std::mutex> l(mu);
    return acked;
  }
};

void WriterLoop(fw_board_t* h, WriteLog* log, std::atomic<bool>* stop) {
  std::string tail = log->Tail();
  for (int i = 0; !stop->load() && i < 100000; ++i) {
    std::string key = log->Key(i), val = std::to_string(i);
    fw_op_t ops[] = {{FW_OP_PUT, key.data(), key.size(), val.data(), val.size()},
                     {FW_OP_PUT, tail.data(), tail.size(), val.data(), val.size()}};
    fw_write_result_t r;
    fw_err_t e = fw_batch(h, ops, 2, &r);
    std::lock_guard<std::mutex> l(log->mu);
    log->outcome[i] = e;
    log->ids[i] = r.request_id;
    if (e == FW_OK) log->acked++;
  }
}

// Checks one writer's log on the new master `nm` and returns how many
// writes had no definite outcome.
int CheckWrites(fw_board_t* nm, WriteLog& log) {
  int max_acked = -1, last = -1, unknown = 0;
  for (const auto& [i, e] : log.outcome) {
    last = std::max(last, i);
    std::string key = log.Key(i);
    fw_err_t got;
    std::string v = Get(nm, key, FW_READ_LINEARIZABLE, &got);
    if (e == FW_OK) {
      max_acked = i;
      EXPECT_EQ(v, std::to_string(i)) << "acknowledged write " << key << " lost";
    } else if (e == FW_ERR_BOARD_DOWN) {
      EXPECT_EQ(got, FW_ERR_NOT_FOUND) << key << ": never sent, yet applied";
    } else {
      ++unknown;  // present or absent: both are allowed
      EXPECT_TRUE(e == FW_ERR_UNKNOWN_OUTCOME || fw_err_is_retryable(e)) << key << ": " << e;
    }
  }
  if (last < 0) return unknown;
  fw_err_t got;
  std::string tail_s = Get(nm, log.Tail(), FW_READ_LINEARIZABLE, &got);
  if (got != FW_OK) {
    EXPECT_EQ(max_acked, -1) << log.Tail() << " missing";
    return unknown;
  }
  int tail = std::stoi(tail_s);
  EXPECT_GE(tail, max_acked);
  EXPECT_EQ(Get(nm, log.Key(tail), FW_READ_LINEARIZABLE), tail_s);
  for (int j = tail + 1; j <= last; ++j) {
    Get(nm, log.Key(j), FW_READ_LINEARIZABLE, &got);
    EXPECT_EQ(got, FW_ERR_NOT_FOUND)
        << log.Key(j) << " applied before write " << tail << " was re-applied";
  }
  return unknown;
}

// Unknown outcomes resolve by retrying with the same id (through any board):
// afterwards the write is present.
void ResolveUnknowns(fw_board_t* via, fw_board_t* nm, WriteLog& log) {
  for (const auto& [i, e] : log.outcome) {
    if (e == FW_OK || e == FW_ERR_BOARD_DOWN) continue;
    std::string key = log.Key(i), val = std::to_string(i);
    fw_op_t op = {FW_OP_PUT, key.data(), key.size(), val.data(), val.size()};
    EXPECT_EQ(fw_batch_with_id(via, &log.ids[i], &op, 1, nullptr), FW_OK) << fw_last_error();
    EXPECT_EQ(Get(nm, key, FW_READ_LINEARIZABLE), val);
  }
}

// Two writers: one through a replica (its board forwards and re-forwards
// across the failover), one straight at the master that is SIGKILLed (its
// writes in flight get no answer: unknown outcomes, resolved by retry).
TEST_F(ShimChassisTest, WritesInFlightAcrossMasterKillApplyExactlyOnce) {
  int via = replicas_[0];
  Handle direct = Open(chassis_->client_endpoint(master_), 500);
  ASSERT_NE(direct, nullptr);
  WriteLog forwarded, at_master;
  forwarded.name = "fwd";
  at_master.name = "direct";
  std::atomic<bool> stop{false};
  std::thread w1(WriterLoop, H(via), &forwarded, &stop);
  std::thread w2(WriterLoop, direct.get(), &at_master, &stop);
  bool started = LocalChassis::WaitUntil(
      [&] { return forwarded.Acked() >= 30 && at_master.Acked() >= 30; }, 10000);
  handles_.erase(master_);
  chassis_->Kill(master_, SIGKILL);
  int before = forwarded.Acked();
  bool resumed = LocalChassis::WaitUntil([&] { return forwarded.Acked() >= before + 30; }, 20000);
  stop = true;
  w1.join();
  w2.join();
  ASSERT_TRUE(started);
  ASSERT_TRUE(resumed) << "forwarded writes did not resume after the failover";
  int m = chassis_->WaitForMaster(kMasterWaitMs);
  ASSERT_GT(m, 0);
  ASSERT_NE(m, master_);
  fw_board_t* nm = H(m);
  int unknown = CheckWrites(nm, forwarded) + CheckWrites(nm, at_master);
  ResolveUnknowns(H(via), nm, forwarded);
  ResolveUnknowns(H(via), nm, at_master);
  // A replayed id applies nothing, even at a master that did not apply it.
  ASSERT_EQ(Put(nm, forwarded.Key(0), "overwritten"), FW_OK);
  std::string key0 = forwarded.Key(0), v0 = "0";
  fw_op_t replay = {FW_OP_PUT, key0.data(), key0.size(), v0.data(), 1};
  EXPECT_EQ(fw_batch_with_id(nm, &forwarded.ids[0], &replay, 1, nullptr), FW_OK);
  EXPECT_EQ(Get(nm, key0, FW_READ_LINEARIZABLE), "overwritten") << "a replayed id was re-applied";
  std::printf("acked: %d forwarded, %d at the master; %d without a definite outcome\n",
              forwarded.Acked(), at_master.Acked(), unknown);
}

}  // namespace
}  // namespace bp::testing
