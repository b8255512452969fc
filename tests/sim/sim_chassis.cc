#include "sim_chassis.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "board/config.h"
#include "board/engine.h"
#include "bp/request_id.h"
#include "bp/seed.h"
#include "history.h"
#include "linearizability.h"
#include "load_gen.h"
#include "sim_bus.h"
#include "single_master.h"

namespace bp::sim {

using board::Engine;
using board::Role;
using chassis::HistoryOp;
using chassis::OpKind;
using chassis::OpResult;

const char* FaultKindName(FaultKind k) {
  switch (k) {
    case FaultKind::kKill: return "kill";
    case FaultKind::kPause: return "pause";
    case FaultKind::kPartition: return "partition";
    case FaultKind::kAsymmetric: return "asymmetric";
    case FaultKind::kPull: return "pull";
    case FaultKind::kReplace: return "replace";
    case FaultKind::kLoss: return "loss";
  }
  return "?";
}

std::string FaultEvent::Text() const {
  char buf[200];
  std::snprintf(buf, sizeof buf, "after %d ms: %s %s (pick %d) for %d ms, loss %.3f, dup %.3f",
                gap_ms, FaultKindName(kind), target == Target::kMaster ? "master" : "replica", pick,
                duration_ms, loss, duplication);
  return buf;
}

std::vector<FaultEvent> MakeSchedule(uint64_t seed, const SimOptions& o) {
  std::mt19937_64 rng(DeriveSeed(seed, SeedStream::kSimSchedule));
  auto in = [&](int lo, int hi) { return lo + int(rng() % uint64_t(hi - lo + 1)); };
  auto unit = [&] { return double(rng() >> 11) / double(1ull << 53); };
  std::vector<FaultEvent> out;
  for (int i = 0; i < o.faults; ++i) {
    FaultEvent e;
    e.kind = FaultKind(rng() % 7);
    e.target = unit() < 0.6 ? Target::kMaster : Target::kReplica;
    e.pick = in(0, 7);
    e.gap_ms = in(150, 600);
    e.duration_ms = e.kind == FaultKind::kKill ? in(100, 800) : in(200, 1200);
    if (e.kind == FaultKind::kLoss) {
      e.loss = 0.05 + 0.3 * unit();
      e.duplication = 0.1 * unit();
    } else if (unit() < 0.4) {
      e.loss = 0.03 * unit();  // background loss under another fault
      e.duplication = 0.03 * unit();
    }
    out.push_back(e);
  }
  return out;
}

std::string ScheduleText(const std::vector<FaultEvent>& schedule) {
  std::string s;
  for (size_t i = 0; i < schedule.size(); ++i) {
    s += "  " + std::to_string(i + 1) + ". " + schedule[i].Text() + "\n";
  }
  return s;
}

std::string SimResult::Report(bool full) const {
  std::ostringstream o;
  o << "seed " << seed << ": " << (ok ? "PASS" : "FAIL") << " in " << elapsed_s << " s"
    << " (durable " << durable << ", not durable " << not_durable << ", unknown " << unknown
    << ", refused " << refused << ", reads " << reads << ", history " << history_ops << " ops, "
    << verdict << ")\n";
  for (const auto& f : failures) o << "  FAILURE: " << f << "\n";
  if (!ok || full) {
    o << " schedule (replay: sim --seed " << seed << "):\n" << schedule << " trace:\n";
    for (const auto& t : trace) o << "  " << t << "\n";
    if (!details.empty()) o << " details: " << details.dump() << "\n";
  }
  return o.str();
}

nlohmann::json SimResult::Json() const {
  return {{"seed", seed},         {"ok", ok},           {"failures", failures},
          {"schedule", schedule}, {"trace", trace},     {"durable", durable},
          {"not_durable", not_durable}, {"unknown", unknown}, {"refused", refused},
          {"reads", reads},       {"history_ops", history_ops}, {"verdict", verdict},
          {"elapsed_s", elapsed_s}, {"details", details}};
}

namespace {

int64_t NowUs() { return Clock::Real().NowMicros(); }

// Polls `done` every 2 ms until it holds or `timeout_ms` passes.
bool WaitFor(const std::function<bool()>& done, int timeout_ms) {
  const int64_t until = NowUs() + int64_t(timeout_ms) * 1000;
  while (!done()) {
    if (NowUs() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// A unique-key write and what its caller was told.
struct WriteRec {
  std::string key;
  bool durable = false;
};

// One seed's run. The fault thread is the caller's; clients run on their
// own threads. Board slots hold shared_ptrs: a client keeps the engine it
// calls alive, and a board is stopped only once every call into it ended.
class Run {
 public:
  Run(uint64_t seed, const SimOptions& o)
      : seed_(seed), o_(o), net_(DeriveSeed(seed, SeedStream::kSimNetwork)) {}
  ~Run();
  SimResult Go();

 private:
  struct Slot {
    std::shared_ptr<Engine> engine;
    int incarnation = 0;
  };
  Status Setup();
  Status StartBoard(int slot);
  void StopBoard(int slot, bool planned);
  std::shared_ptr<Engine> Board(int slot);
  int AgreedMaster();
  std::vector<int> Replicas(int master) const;
  bool Recover(int timeout_ms);
  void Apply(const FaultEvent& e);
  void Hold(int ms);
  void WriterLoop(int client);
  void HistoryLoop(int client);
  HistoryOp HistoryStep(int client, std::mt19937_64& rng, uint64_t* seq, int* cur);
  void CheckHistory();
  void PlantViolations();
  void CheckDurable();
  void Trace(const std::string& line);
  void Fail(const std::string& why);
  void Log(int slot, const std::string& line);

  const uint64_t seed_;
  const SimOptions o_;
  testing::SimNetwork net_;
  std::string dir_;
  board::ChassisConfig config_;
  std::vector<int> slots_;
  int64_t origin_us_ = 0;

  std::mutex mu_;  // guards slots, result_.trace/failures, writes_, history_, logs_
  std::map<int, Slot> boards_;
  SimResult result_;
  std::vector<WriteRec> writes_;
  std::vector<HistoryOp> history_;
  std::map<int, std::deque<std::string>> logs_;

  std::atomic<bool> stop_{false};
  std::vector<std::thread> clients_;
};

Run::~Run() {
  stop_ = true;
  for (auto& t : clients_) {
    if (t.joinable()) t.join();
  }
  for (int s : slots_) StopBoard(s, false);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void Run::Trace(const std::string& line) {
  char t[32];
  std::snprintf(t, sizeof t, "%8.3f s ", double(NowUs() - origin_us_) / 1e6);
  std::lock_guard<std::mutex> l(mu_);
  result_.trace.push_back(t + line);
}

void Run::Fail(const std::string& why) {
  Trace("FAILURE: " + why);
  std::lock_guard<std::mutex> l(mu_);
  result_.failures.push_back(why);
}

void Run::Log(int slot, const std::string& line) {
  if (!o_.verbose) return;
  std::lock_guard<std::mutex> l(mu_);
  auto& q = logs_[slot];
  q.push_back(line);
  if (q.size() > 400) q.pop_front();
}

Status Run::Setup() {
  char tmpl[] = "/tmp/bp-sim-XXXXXX";
  if (!mkdtemp(tmpl)) return Status::Internal("mkdtemp failed");
  dir_ = tmpl;
  uint64_t chassis_id = DeriveSeed(seed_, 99) | 1;
  // Security none (MakeLocalChassis without keys): the sim bus has no CURVE.
  config_ = board::MakeLocalChassis(o_.boards, dir_, chassis_id);
  config_.security = board::SecurityMode::kNone;
  // Several engines share one process: a small cache and log each, few
  // write threads.
  config_.cache_mb = 32;
  config_.log_buffer_mb = 4;
  config_.write_threads = 4;
  config_.leases = o_.leases;
  config_.lease_timeout_ms = uint32_t(o_.lease_timeout_ms);
  BP_RETURN_IF_ERROR(config_.Validate());
  for (const auto& b : config_.boards) slots_.push_back(b.slot);
  net_.SetDelay(20, 400);
  for (int s : slots_) BP_RETURN_IF_ERROR(StartBoard(s));
  return Status::Ok();
}

// A new, empty incarnation of `slot` (its own fresh home).
Status Run::StartBoard(int slot) {
  int inc;
  {
    std::lock_guard<std::mutex> l(mu_);
    inc = ++boards_[slot].incarnation;
  }
  const std::string home = dir_ + "/slot" + std::to_string(slot) + "." + std::to_string(inc);
  std::filesystem::create_directories(home);
  board::EngineOptions eo;
  eo.config = config_;
  eo.self_slot = slot;
  eo.home = home;
  eo.bus_factory = net_.Factory();
  eo.seed = DeriveSeed(seed_, uint64_t(1000 + slot * 64 + inc));
  eo.log = [this, slot](const std::string& line) { Log(slot, line); };
  auto e = Engine::Start(std::move(eo));
  if (!e.ok()) return e.status().WithContext("starting slot " + std::to_string(slot));
  std::lock_guard<std::mutex> l(mu_);
  boards_[slot].engine = std::shared_ptr<Engine>(std::move(e).value());
  return Status::Ok();
}

// Takes the engine out of its slot (no new call reaches it), waits for the
// calls in flight, and stops it. `planned`: a SIGTERM-like switchover first.
void Run::StopBoard(int slot, bool planned) {
  std::shared_ptr<Engine> e = Board(slot);
  if (!e) return;
  if (planned) e->StepDownForShutdown();
  {
    std::lock_guard<std::mutex> l(mu_);
    boards_[slot].engine.reset();
  }
  // Calls are bounded (ack timeout, read timeout, forward retries).
  if (!WaitFor([&] { return e.use_count() == 1; }, 30000)) {
    Fail("slot " + std::to_string(slot) + ": calls into the engine did not end in 30 s");
  }
  e->Stop();
  e.reset();
}

std::shared_ptr<Engine> Run::Board(int slot) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = boards_.find(slot);
  return it == boards_.end() ? nullptr : it->second.engine;
}

// The master every running board names, which says so itself, with every
// board past startup; -1 if there is none (or a board is down).
int Run::AgreedMaster() {
  int m = -1;
  for (int s : slots_) {
    auto e = Board(s);
    if (!e || !e->startup_done()) return -1;
    if (m == -1) m = e->master();
    if (e->master() != m) return -1;
  }
  auto me = m > 0 ? Board(m) : nullptr;
  return me && me->role() == Role::kMaster ? m : -1;
}

std::vector<int> Run::Replicas(int master) const {
  std::vector<int> r;
  for (int s : slots_) {
    if (s != master) r.push_back(s);
  }
  return r;
}

// Waits for one agreed master; a board whose environment panicked is
// restarted empty on the way, as its supervisor would (exit status 70).
bool Run::Recover(int timeout_ms) {
  return WaitFor(
      [&] {
        for (int s : slots_) {
          auto e = Board(s);
          if (e && e->panicked()) {
            e.reset();
            Trace("slot " + std::to_string(s) + " panicked: restarted empty");
            StopBoard(s, false);
            Status st = StartBoard(s);
            if (!st.ok()) Fail(st.ToString());
          }
        }
        return AgreedMaster() > 0;
      },
      timeout_ms);
}

void Run::Hold(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Applies one fault, holds it for its duration, and heals it.
void Run::Apply(const FaultEvent& e) {
  int master = AgreedMaster();
  std::vector<int> reps = Replicas(master > 0 ? master : slots_[0]);
  const int target = e.target == Target::kMaster && master > 0 ? master
                                                                 : reps[size_t(e.pick) % reps.size()];
  std::vector<int> others = Replicas(target);
  Trace(std::string(FaultKindName(e.kind)) + " slot " + std::to_string(target) + " (master " +
        std::to_string(master) + ") for " + std::to_string(e.duration_ms) + " ms");
  net_.SetLoss(e.loss);
  net_.SetDuplication(e.duplication);
  switch (e.kind) {
    case FaultKind::kKill:
      net_.Pull(target);  // it falls silent at once, as a crashed board
      StopBoard(target, false);
      net_.Plug(target);
      Hold(e.duration_ms);
      if (Status s = StartBoard(target); !s.ok()) Fail(s.ToString());
      break;
    case FaultKind::kReplace:
      StopBoard(target, true);
      if (Status s = StartBoard(target); !s.ok()) Fail(s.ToString());
      Hold(e.duration_ms);
      break;
    case FaultKind::kPause:
      net_.Pause(target);
      Hold(e.duration_ms);
      net_.Resume(target);
      break;
    case FaultKind::kPartition:
      net_.Partition({target}, others);
      Hold(e.duration_ms);
      net_.Partition({target}, others, false);
      break;
    case FaultKind::kAsymmetric:
      for (int p : others) {
        if (e.pick % 2) {
          net_.Cut(target, p);
        } else {
          net_.Cut(p, target);
        }
      }
      Trace(std::string("  cut ") + (e.pick % 2 ? "outgoing" : "incoming") + " links of slot " +
            std::to_string(target));
      Hold(e.duration_ms);
      for (int p : others) {
        net_.Cut(target, p, false);
        net_.Cut(p, target, false);
      }
      break;
    case FaultKind::kPull:
      net_.Pull(target);
      Hold(e.duration_ms);
      net_.Plug(target);
      break;
    case FaultKind::kLoss:
      Hold(e.duration_ms);
      break;
  }
  net_.HealAll();
}

// Engine::Write's answer as the client must take it. A refusal from the
// engine's own Write means not applied (its contract: "not applied, retry");
// a timeout, an expired id or an internal error leaves it open; a commit
// that missed its acks may still be rolled back by a failover.
OpResult Classify(const board::WriteResult& r) {
  if (r.status.ok()) return r.durable ? OpResult::kOk : OpResult::kUnknown;
  switch (r.status.code()) {
    case Status::Code::kTimeout:
    case Status::Code::kExpired:
    case Status::Code::kInternal:
      return OpResult::kUnknown;
    default:
      return OpResult::kFail;
  }
}

board::RequestId NewId(int client, std::mt19937_64& rng) {
  board::RequestId id;
  MakeRequestId(uint64_t(Clock::Real().WallMicros() / 1000), uint64_t(client), rng(), &id.hi,
                &id.lo);
  return id;
}

// Forwarded through `e` (any board) with SubmitWrite; waits for the answer,
// bounded. Every refusal of a forwarded write counts as unknown: an earlier
// attempt of the forwarder may have been applied.
OpResult SubmitAndWait(Engine& e, std::vector<memenv::BatchOp> ops, board::RequestId id) {
  struct Box {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    board::WriteResult r;
  };
  auto box = std::make_shared<Box>();
  e.service().SubmitWrite(std::move(ops), id, [box](board::WriteResult r) {
    std::lock_guard<std::mutex> l(box->mu);
    box->r = std::move(r);
    box->done = true;
    box->cv.notify_all();
  });
  std::unique_lock<std::mutex> l(box->mu);
  if (!box->cv.wait_for(l, std::chrono::seconds(15), [&] { return box->done; })) {
    return OpResult::kUnknown;
  }
  if (box->r.status.ok()) return box->r.durable ? OpResult::kOk : OpResult::kUnknown;
  return box->r.status.code() == Status::Code::kInvalidArgument ? OpResult::kFail
                                                                 : OpResult::kUnknown;
}

// Unique keys, each written once. Even clients write through the board they
// sit on (SubmitWrite: forwarded to the master); odd ones call Write at the
// board they believe is master and follow its hint when refused.
void Run::WriterLoop(int client) {
  std::mt19937_64 rng(DeriveSeed(DeriveSeed(seed_, SeedStream::kSimLoad), uint64_t(client)));
  const int home = slots_[size_t(client) % slots_.size()];
  int cur = home;
  for (uint64_t seq = 0; !stop_.load(); ++seq) {
    std::this_thread::sleep_for(std::chrono::microseconds(o_.op_pause_us));
    auto e = Board(cur);
    if (!e) {
      cur = slots_[size_t(rng() % slots_.size())];
      continue;
    }
    WriteRec w;
    w.key = "u-" + std::to_string(client) + "-" + std::to_string(seq);
    std::vector<memenv::BatchOp> ops{{memenv::BatchOp::Kind::kPut, w.key,
                                      chassis::MakeValue(w.key, 48)}};
    OpResult r;
    if (client % 2 == 0) {
      r = SubmitAndWait(*e, std::move(ops), NewId(client, rng));
    } else {
      board::WriteResult wr = e->service().Write(ops, NewId(client, rng));
      r = Classify(wr);
      if (wr.status.code() == Status::Code::kNotMaster) {
        const int hint = e->master();
        cur = hint > 0 && hint != cur ? hint : slots_[size_t(rng() % slots_.size())];
      }
    }
    w.durable = r == OpResult::kOk;
    std::lock_guard<std::mutex> l(mu_);
    (r == OpResult::kOk ? result_.durable : r == OpResult::kFail ? result_.refused
                                                                 : result_.unknown)++;
    writes_.push_back(std::move(w));
  }
}

// One put or LINEARIZABLE get on a shared key at board *cur; moves *cur to
// the master named by a refusal (or another board).
HistoryOp Run::HistoryStep(int client, std::mt19937_64& rng, uint64_t* seq, int* cur) {
  HistoryOp op;
  op.client = client;
  op.key = "h-k" + std::to_string(rng() % uint64_t(std::max(1, o_.history_keys)));
  op.kind = rng() % 2 ? OpKind::kGet : OpKind::kPut;
  auto e = Board(*cur);
  Status st;
  op.invoke_us = NowUs();
  if (!e) {
    st = Status::Unavailable("board down");
    op.result = OpResult::kFail;
  } else if (op.kind == OpKind::kPut) {
    op.value = "c" + std::to_string(client) + "-" + std::to_string((*seq)++);
    board::WriteResult wr =
        e->service().Write({{memenv::BatchOp::Kind::kPut, op.key, *op.value}}, NewId(client, rng));
    st = wr.status;
    op.result = Classify(wr);
  } else {
    board::ServedInfo served;
    auto v = e->service().Get(op.key, board::ReadMode::kLinearizable, "", 300, &served);
    st = v.ok() ? Status::Ok() : v.status();
    if (v.ok()) op.value = *v;
    op.result = v.ok() || v.status().IsNotFound() ? OpResult::kOk : OpResult::kFail;
    if (op.result == OpResult::kOk && served.slot > 0) {
      op.served = chassis::ServedBy{served.slot, served.gen, served.mono_us};
    }
  }
  op.return_us = NowUs();
  if (!st.ok() && !st.IsNotFound()) {
    const int hint = e ? e->master() : -1;
    *cur = hint > 0 && hint != *cur ? hint : slots_[size_t(rng() % slots_.size())];
  }
  return op;
}

void Run::HistoryLoop(int client) {
  std::mt19937_64 rng(DeriveSeed(DeriveSeed(seed_, SeedStream::kSimLoad), 100 + uint64_t(client)));
  int cur = slots_[size_t(client) % slots_.size()];
  uint64_t seq = 0;
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::microseconds(o_.op_pause_us));
    HistoryOp op = HistoryStep(client, rng, &seq, &cur);
    std::lock_guard<std::mutex> l(mu_);
    if (op.kind == OpKind::kGet) ++result_.reads;
    // A failed op never took effect: the checker would leave it out.
    if (op.result != OpResult::kFail) history_.push_back(std::move(op));
  }
}

void Run::PlantViolations() {
  writes_.push_back({"u-planted-never-written", true});
  HistoryOp op;
  op.client = 999;
  op.kind = OpKind::kGet;
  op.key = "h-k0";
  op.value = "c999-never-written";
  op.invoke_us = NowUs();
  op.return_us = op.invoke_us + 1;
  history_.push_back(op);
}

void Run::CheckHistory() {
  chassis::CheckOptions co;
  co.time_budget_ms = 20'000;
  chassis::CheckResult lin = chassis::CheckLinearizable(history_, co);
  result_.verdict = chassis::VerdictName(lin.verdict);
  result_.history_ops = history_.size();
  if (lin.verdict == chassis::Verdict::kNotLinearizable) {
    Fail("history not linearizable on key " + lin.key + ": " + lin.reason);
    result_.details["linearizability"] = chassis::CheckJson(lin, origin_us_);
  }
  chassis::SingleMasterResult sm = chassis::CheckSingleMaster(history_);
  if (!sm.single_master) {
    Fail("two masters answered LINEARIZABLE reads: " + sm.reason);
    result_.details["single_master"] = chassis::SingleMasterJson(sm, origin_us_);
  }
}

// Every durable write present with its value on every board, and every
// board holding the same value for each shared key, within the settle time.
void Run::CheckDurable() {
  std::vector<std::string> acked;
  for (const auto& w : writes_) {
    if (w.durable) acked.push_back(w.key);
  }
  for (int s : slots_) {
    std::vector<std::string> missing = acked;
    int64_t until = NowUs() + int64_t(o_.settle_timeout_ms) * 1000;
    while (true) {
      auto e = Board(s);
      std::vector<std::string> still;
      for (const auto& k : missing) {
        auto v = e ? e->service().Get(k, board::ReadMode::kLocal, "", 0) : Result<std::string>(Status::Unavailable("down"));
        if (!v.ok() || *v != chassis::MakeValue(k, 48)) still.push_back(k);
      }
      missing.swap(still);
      if (missing.empty() || NowUs() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!missing.empty()) {
      auto e = Board(s);
      auto v = e ? e->service().Get(missing[0], board::ReadMode::kLocal, "", 0)
             : Result<std::string>(Status::Unavailable("down"));
      Fail("slot " + std::to_string(s) + " lacks " + std::to_string(missing.size()) + " of " +
           std::to_string(acked.size()) + " durable writes after " +
           std::to_string(o_.settle_timeout_ms) + " ms, e.g. " + missing[0] + " (" +
           (v.ok() ? "wrong value" : v.status().ToString()) + ")");
    }
  }
  for (int k = 0; k < o_.history_keys; ++k) {
    const std::string key = "h-k" + std::to_string(k);
    std::map<std::string, std::vector<int>> seen;
    for (int s : slots_) {
      auto e = Board(s);
      auto v = e ? e->service().Get(key, board::ReadMode::kLocal, "", 0) : Result<std::string>(Status::Unavailable("down"));
      seen[v.ok() ? *v : v.status().IsNotFound() ? "<absent>" : v.status().ToString()].push_back(s);
    }
    if (seen.size() > 1) {
      std::string what;
      for (const auto& [val, ss] : seen) {
        what += " " + val + "@";
        for (int s : ss) what += std::to_string(s) + ",";
      }
      Fail("boards disagree on " + key + ":" + what);
    }
  }
}

SimResult Run::Go() {
  origin_us_ = NowUs();
  result_.seed = seed_;
  const std::vector<FaultEvent> schedule = MakeSchedule(seed_, o_);
  result_.schedule = ScheduleText(schedule);
  if (Status s = Setup(); !s.ok()) {
    Fail("setup: " + s.ToString());
  } else if (!Recover(o_.recover_timeout_ms)) {
    Fail("no agreed master within " + std::to_string(o_.recover_timeout_ms) + " ms of start");
  } else {
    Trace("master " + std::to_string(AgreedMaster()));
    for (int i = 0; i < o_.writers; ++i) clients_.emplace_back([this, i] { WriterLoop(i); });
    for (int i = 0; i < o_.history_clients; ++i) {
      clients_.emplace_back([this, i] { HistoryLoop(i); });
    }
    for (size_t i = 0; i < schedule.size() && result_.failures.empty(); ++i) {
      Hold(schedule[i].gap_ms);
      Apply(schedule[i]);
      if (!Recover(o_.recover_timeout_ms)) {
        Fail("no agreed master within " + std::to_string(o_.recover_timeout_ms) +
             " ms of healing fault " + std::to_string(i + 1));
      } else {
        Trace("recovered: master " + std::to_string(AgreedMaster()));
      }
    }
    Hold(300);
  }
  stop_ = true;
  for (auto& t : clients_) t.join();
  clients_.clear();
  if (o_.plant_violations) PlantViolations();
  net_.HealAll();
  if (result_.failures.empty()) {
    if (!Recover(o_.recover_timeout_ms)) Fail("no agreed master after the final heal");
    CheckDurable();
  }
  CheckHistory();
  for (int s : slots_) StopBoard(s, false);
  if (o_.verbose && !result_.failures.empty()) {
    for (const auto& [slot, lines] : logs_) {
      for (const auto& l : lines) std::fprintf(stderr, "[slot %d] %s\n", slot, l.c_str());
    }
  }
  result_.ok = result_.failures.empty();
  result_.elapsed_s = double(NowUs() - origin_us_) / 1e6;
  return result_;
}

}  // namespace

SimResult RunSeed(uint64_t seed, const SimOptions& options) {
  Run run(seed, options);
  return run.Go();
}

}  // namespace bp::sim
