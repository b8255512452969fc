// Re-initialisation with real board processes: a board restarted empty
// rejoins by Berkeley DB internal init (bulk transfer, rep_set_limit 1 MB),
// with the pages served by the master or, via DB_REP_ANYWHERE routing, by an
// in-sync replica. Each test prints the measured init time and MB/s.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "local_chassis.h"

namespace bp::testing {
namespace {

constexpr int kSettleMs = 20000;
constexpr int kInitMs = 60000;  // bound on an internal init of ~50 MB (ASan board included)

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string Key(const std::string& prefix, int i) {
  char b[32];
  std::snprintf(b, sizeof b, "%s%08d", prefix.c_str(), i);
  return b;
}

std::string Value(int i, size_t bytes) {
  std::string v(bytes, char('a' + i % 26));
  std::string tag = std::to_string(i);
  v.replace(0, tag.size(), tag);
  return v;
}

// Loads `mb` megabytes of `value_bytes` values in batches through `slot`
// (QUORUM). Returns the number of durable batches; every batch must succeed.
size_t Load(LocalChassis& c, int slot, const std::string& prefix, int mb, size_t value_bytes = 4096,
            int per_batch = 32) {
  RawClient& cl = c.client(slot);
  const int n = int((int64_t(mb) << 20) / int64_t(value_bytes));
  size_t durable = 0;
  for (int i = 0; i < n; i += per_batch) {
    std::vector<std::pair<std::string, std::string>> puts;
    for (int j = i; j < std::min(n, i + per_batch); ++j) puts.emplace_back(Key(prefix, j), Value(j, value_bytes));
    RawWrite w = cl.Batch(puts, 10000);
    EXPECT_TRUE(w.status.ok()) << "batch at " << i << ": " << w.status.ToString();
    if (!w.status.ok()) break;
    durable += w.durable ? 1 : 0;
  }
  return durable;
}

// Every pair on a board, paged (one huge scan reply is avoided).
std::map<std::string, std::string> Contents(LocalChassis& c, int slot) {
  std::map<std::string, std::string> m;
  std::string start;
  for (;;) {
    auto r = c.client(slot).Scan(start, "", 4000, 10000);
    if (!r.ok()) return {{"<scan failed>", r.status().ToString()}};
    for (auto& [k, v] : r.value()) m[k] = v;
    if (r.value().size() < 4000) return m;
    start = r.value().back().first + std::string(1, '\0');
  }
}

bool SameContents(LocalChassis& c, int a, int b) { return Contents(c, a) == Contents(c, b); }

bool InSync(LocalChassis& c, int slot) {
  auto st = c.Status(slot);
  return !st.is_null() && st.value("role", "") == "replica" && st.value("startup_complete", false) &&
         !st.value("reinit", true);
}

int64_t Counter(const nlohmann::json& st, const char* group, const char* name) {
  if (st.is_null() || !st.contains(group) || !st[group].contains(name)) return -1;
  return st[group][name].get<int64_t>();
}

// mono_us of the first event of `kind` in the board's recent events, or -1.
int64_t EventAt(const nlohmann::json& st, const std::string& kind) {
  if (st.is_null() || !st.contains("events")) return -1;
  for (const auto& e : st["events"]) {
    if (e.value("kind", "") == kind) return e["mono_us"].get<int64_t>();
  }
  return -1;
}

// Prints what the joining board says about its init, and returns the init
// time from its own events (reinit_started -> init_done), in seconds, or -1.
double ReportInit(const char* test, LocalChassis& c, int slot, double mb, double wall_s) {
  auto st = c.Status(slot);
  int64_t started = EventAt(st, "reinit_started"), done = EventAt(st, "init_done");
  double init_s = started >= 0 && done >= started ? (done - started) / 1e6 : -1;
  std::cout << "[" << test << "] board " << slot << ": ~" << mb << " MB, start->in sync " << wall_s
            << " s (" << (wall_s > 0 ? mb / wall_s : 0) << " MB/s)";
  if (init_s >= 0) std::cout << ", page phase " << init_s << " s (" << (init_s > 0 ? mb / init_s : 0) << " MB/s)";
  std::cout << ", pages_received " << Counter(st, "rep", "pages_received") << ", pages_requested "
            << Counter(st, "rep", "pages_requested") << ", log_records " << Counter(st, "rep", "log_records")
            << ", anywhere_routed " << Counter(st, "messages", "anywhere_routed")
            << ", routed_resent " << Counter(st, "messages", "routed_resent") << ", rerequests "
            << Counter(st, "messages", "rerequests")
            << ", init_done event " << (done >= 0 ? "yes" : "no") << ", reinit_started event "
            << (started >= 0 ? "yes" : "no") << std::endl;
  return init_s;
}

void ReportServed(const char* test, LocalChassis& c, int slot) {
  auto st = c.Status(slot);
  std::cout << "[" << test << "] board " << slot << " (" << st.value("role", "?") << "): client_served "
            << Counter(st, "rep", "client_served") << ", client_missed " << Counter(st, "rep", "client_missed")
            << ", anywhere_routed " << Counter(st, "messages", "anywhere_routed") << std::endl;
}

// A thread writing small QUORUM batches through one board until stopped.
class BatchWriter {
 public:
  BatchWriter(LocalChassis& c, int via_slot) : endpoint_(c.client_endpoint(via_slot)) {}
  void Start() {
    thread_ = std::thread([this] {
      RawClient client(endpoint_);
      for (int i = 0; !stop_.load(); ++i) {
        std::vector<std::pair<std::string, std::string>> puts;
        for (int j = 0; j < 8; ++j) puts.emplace_back(Key("w", i * 8 + j), Value(i * 8 + j, 1024));
        RawWrite w = client.Batch(puts, 5000);
        if (w.status.ok() && w.durable) ++durable_;
        else if (w.status.ok()) ++not_durable_;
        else ++failed_;
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~BatchWriter() { Stop(); }
  std::atomic<int64_t> durable_{0}, not_durable_{0}, failed_{0};

 private:
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int OtherReplica(int master, int not_slot, int boards) {
  for (int s = 1; s <= boards; ++s) {
    if (s != master && s != not_slot) return s;
  }
  return -1;
}

// Goal: a replica is replaced by an empty board while a QUORUM load runs
// through the master; the new board is re-initialised (pages received) and
// ends with the master's contents key for key. Where the pages came from
// (master or the other replica, via DB_REP_ANYWHERE routing) is reported.
TEST(Reinit, ReplacedBoardUnderWriteLoadConvergesToTheMaster) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  int r = m == 1 ? 2 : 1;
  int other = OtherReplica(m, r, 3);
  BatchWriter w(c, m);
  w.Start();
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return w.durable_ >= 20; }, kSettleMs));
  c.Kill(r);
  constexpr int kMb = 30;
  auto t_load = Clock::now();
  Load(c, m, "d", kMb);
  std::cout << "[replace] loaded " << kMb << " MB in " << SecondsSince(t_load) << " s" << std::endl;
  int64_t durable_before = w.durable_;
  auto t0 = Clock::now();
  ASSERT_TRUE(c.Start(r).ok());
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return InSync(c, r); }, kInitMs)) << c.Logs(r);
  double wall = SecondsSince(t0);
  // Writes continued through the init.
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return w.durable_ > durable_before + 10; }, kSettleMs));
  w.Stop();
  std::cout << "[replace] writer: durable " << w.durable_ << ", not durable " << w.not_durable_
            << ", failed " << w.failed_ << std::endl;
  // Failed writes (retryable timeouts on a busy machine) are reported, not
  // asserted: what must hold is that the new board ends equal to the master.
  EXPECT_GT(w.durable_, durable_before);
  ASSERT_TRUE(c.client(m).Put("last", "1").status.ok());
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return SameContents(c, r, m); }, kSettleMs));
  auto mine = Contents(c, r);
  EXPECT_EQ(mine, Contents(c, m));
  EXPECT_GE(mine.size(), size_t((kMb << 20) / 4096));
  ReportInit("replace", c, r, kMb, wall);
  ReportServed("replace", c, other);
  ReportServed("replace", c, m);
  auto st = c.Status(r);
  // Replaced by an empty board, it can only have caught up by internal init.
  EXPECT_GT(Counter(st, "rep", "pages_received"), 0) << "no pages received: " << st.dump();
}

// Goal: while an empty board is re-initialised with tens of MB, its status
// shows the progress: bytes received, the total expected (the master's
// database size from its heartbeats), a rate and a finite time left; at the
// end the phase is "done".
TEST(Reinit, ProgressShowsBytesTotalAndEtaWhileItRuns) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0) << c.Status(1).dump().substr(0, 3000);
  int r = m == 1 ? 2 : 1;
  c.Kill(r);
  constexpr int kMb = 60;
  Load(c, m, "d", kMb);
  ASSERT_TRUE(c.Start(r).ok());
  int64_t max_bytes = 0, total = 0, eta = -1, polls = 0;
  std::string eta_phase;
  std::map<std::string, int> phases;
  nlohmann::json at_eta;
  ASSERT_TRUE(LocalChassis::WaitUntil([&] {
    auto st = c.Status(r);
    if (st.is_null() || !st.contains("reinit_progress")) return false;
    const auto& p = st["reinit_progress"];
    ++polls;
    ++phases[p.value("phase", "?")];
    max_bytes = std::max(max_bytes, p.value("bytes_received", int64_t(0)));
    if (p["total_bytes"].is_number()) total = p["total_bytes"].get<int64_t>();
    if (eta < 0 && p["eta_ms"].is_number() && p.value("phase", "") != "done" && p["bytes_received"] > 0) {
      eta = p["eta_ms"].get<int64_t>();
      eta_phase = p["phase"];
      at_eta = p;
    }
    return InSync(c, r);
  }, kInitMs)) << c.Logs(r);
  auto done = c.Status(r)["reinit_progress"];
  std::cout << "[progress] " << polls << " polls; phases seen:";
  for (auto& [ph, n] : phases) std::cout << " " << ph << " x" << n;
  std::cout << "; while running: " << at_eta.dump() << "; at the end: " << done.dump() << std::endl;
  EXPECT_GT(max_bytes, 0);
  EXPECT_GE(total, int64_t(kMb) << 20) << "the total expected covers at least the data loaded";
  EXPECT_GE(eta, 0) << "no finite eta seen while the init ran";
  EXPECT_TRUE(eta_phase == "pages" || eta_phase == "logs") << eta_phase;
  EXPECT_EQ(done["phase"], "done");
  EXPECT_EQ(done["eta_ms"], 0);
  EXPECT_GE(done["bytes_received"].get<int64_t>(), int64_t(kMb) << 20);
}

// Goal: two boards restarted empty at once are both re-initialised and both
// end with the master's contents.
TEST(Reinit, TwoBoardsReinitialiseAtOnce) {
  ChassisOptions opts;
  opts.boards = 5;
  LocalChassis c(opts);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  std::vector<int> gone;
  for (int s = 1; s <= 5 && gone.size() < 2; ++s) {
    if (s != m) gone.push_back(s);
  }
  ASSERT_TRUE(c.client(m).Put("first", "1").status.ok());
  for (int s : gone) c.Kill(s);
  constexpr int kMb = 20;
  Load(c, m, "d", kMb);
  auto t0 = Clock::now();
  for (int s : gone) ASSERT_TRUE(c.Start(s).ok());
  std::map<int, double> wall;
  ASSERT_TRUE(LocalChassis::WaitUntil([&] {
    for (int s : gone) {
      if (!wall.count(s) && InSync(c, s)) wall[s] = SecondsSince(t0);
    }
    return wall.size() == gone.size();
  }, kInitMs)) << c.Logs(gone[0]) << c.Logs(gone[1]);
  ASSERT_TRUE(c.client(m).Put("last", "1").status.ok());
  for (int s : gone) {
    ASSERT_TRUE(LocalChassis::WaitUntil([&] { return SameContents(c, s, m); }, kSettleMs)) << "board " << s;
    ReportInit("two-at-once", c, s, kMb, wall[s]);
  }
  auto master = Contents(c, m);
  EXPECT_GE(master.size(), size_t((kMb << 20) / 4096) + 2);
  for (int s : gone) EXPECT_EQ(Contents(c, s), master) << "board " << s;
  for (int s = 1; s <= 5; ++s) {
    if (s != gone[0] && s != gone[1]) ReportServed("two-at-once", c, s);
  }
}

// Goal: the peer most likely serving the pages (the other, in-sync replica)
// is SIGKILLed as soon as the joining board is in its page phase; the init
// still completes (from the master) and the contents match.
//
// Without help this crawled (one page per master rep_flush: the request
// lost with the dead server was never re-issued as a range); the engine now
// re-sends the requests it had routed to a replica that died to the master.
TEST(Reinit, ServingPeerKilledMidInitStillCompletes) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  int r = m == 1 ? 2 : 1;
  int other = OtherReplica(m, r, 3);
  c.Kill(r);
  constexpr int kMb = 60;
  Load(c, m, "d", kMb);
  auto t0 = Clock::now();
  ASSERT_TRUE(c.Start(r).ok());
  // As soon as the page phase shows (poll as fast as the status allows).
  bool in_pages = LocalChassis::WaitUntil([&] {
    auto st = c.Status(r);
    return !st.is_null() && (st.value("reinit", false) || Counter(st, "rep", "pages_received") > 0);
  }, kInitMs);
  ASSERT_TRUE(in_pages) << c.Logs(r);
  double at_kill = SecondsSince(t0);
  auto before = c.Status(r);
  ReportServed("serving-peer-killed", c, other);
  c.Kill(other);
  std::cout << "[serving-peer-killed] killed board " << other << " " << at_kill
            << " s after start, joining board had pages_received " << Counter(before, "rep", "pages_received")
            << " and startup_complete " << before.value("startup_complete", false) << std::endl;
  for (int i = 0; i < 3 && std::getenv("BP_REINIT_TRACE"); ++i) {
    auto a = c.Status(r), b = c.Status(m);
    std::cout << "[trace] joining next_page " << a["rep"]["next_page"] << " waiting " << a["rep"]["waiting_page"]
              << " pages_requested " << a["rep"]["pages_requested"] << " processed " << a["messages"]["processed"]
              << " bus sent " << a["bus"]["sent"] << "; master processed " << b["messages"]["processed"]
              << " bus sent " << b["bus"]["sent"] << " received " << b["bus"]["received"] << std::endl;
    LocalChassis::WaitUntil([] { return false; }, 1000);
  }
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return InSync(c, r); }, kSettleMs))
      << c.Logs(r) << "\njoining board: " << c.Status(r).dump() << "\nmaster: " << c.Status(m).dump();
  double wall = SecondsSince(t0);
  ASSERT_TRUE(c.client(m).Put("last", "1").status.ok());
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return SameContents(c, r, m); }, kSettleMs));
  auto mine = Contents(c, r);
  EXPECT_EQ(mine, Contents(c, m));
  EXPECT_GE(mine.size(), size_t((kMb << 20) / 4096) + 1);
  ReportInit("serving-peer-killed", c, r, kMb, wall);
  ReportServed("serving-peer-killed", c, m);
}

// True when `st` (a board's status) says it is in its page phase.
bool Reinitialising(const nlohmann::json& st) { return !st.is_null() && st.value("reinit", false); }

// Phase 1 of the acks test: QUORUM writes at the master while `r` is in its
// page phase and `other` is alive. Returns how many were durable; counts in
// *seen the master's status polls that showed `r` re-initialising.
int DurableWritesWhileReinit(LocalChassis& c, int m, int r, int* seen, double* worst_ms) {
  int durable = 0;
  for (int i = 0; i < 10; ++i) {  // few: the page phase may last well under a second
    auto tw = Clock::now();
    RawWrite w = c.client(m).Put(Key("q", i), "v");
    *worst_ms = std::max(*worst_ms, SecondsSince(tw) * 1000);
    EXPECT_TRUE(w.status.ok()) << w.status.ToString();
    // Not asserted per write: `other` may be the one serving the pages, and
    // its single message worker then acks late (over the ack timeout on a
    // busy machine). Counted instead.
    durable += w.status.ok() && w.durable ? 1 : 0;
    // The status is kept in a local: a range-for over c.Status(m)["peers"]
    // would iterate a destroyed temporary (the old version of this test
    // counted 0 polls that way).
    const nlohmann::json ms = c.Status(m);
    for (const auto& p : ms.value("peers", nlohmann::json::array())) {
      if (p["slot"] == r && p["reinit"] == true) ++*seen;
    }
    if (!Reinitialising(c.Status(r))) break;  // init finished: stop
  }
  return durable;
}

// Goal: a board in its page phase does not count toward QUORUM acks. With
// the other replica alive, QUORUM writes at the master stay durable (acked
// by it) and the master sees the joining board as re-initialising. Then the
// other replica is killed: the joining board is the only one that could
// ack, so every write made while it is still in its page phase (its status
// says it re-initialises before and after the write, and it sent no ack in
// between) must be reported not durable: nothing but its ack could make it
// durable. Once it is in sync, its acks count
// again and a write is durable.
TEST(Reinit, ReinitialisingBoardDoesNotCountTowardAcks) {
  LocalChassis c;
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  ASSERT_GT(m, 0);
  int r = m == 1 ? 2 : 1;
  int other = OtherReplica(m, r, 3);
  c.Kill(r);
  constexpr int kMb = 60;
  Load(c, m, "d", kMb);
  auto t0 = Clock::now();
  ASSERT_TRUE(c.Start(r).ok());
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return Reinitialising(c.Status(r)); }, kInitMs))
      << c.Logs(r);
  int seen_reinit_by_master = 0;
  double worst_ms = 0;
  const int durable = DurableWritesWhileReinit(c, m, r, &seen_reinit_by_master, &worst_ms);
  EXPECT_GT(durable, 0) << "no QUORUM write was durable with the other replica alive";
  EXPECT_GT(seen_reinit_by_master, 0) << "the master never showed board " << r << " re-initialising";
  EXPECT_EQ(c.Status(m)["acks"]["needed"].get<int>(), 1);  // QUORUM of 3 electable boards

  // Only the re-initialising board is left to ack.
  c.Kill(other);
  int bracketed = 0;
  for (int i = 0; i < 10; ++i) {
    nlohmann::json before = c.Status(r);
    if (!Reinitialising(before)) break;
    RawWrite w = c.client(m).Put(Key("alone", i), "v");
    ASSERT_TRUE(w.status.ok()) << w.status.ToString();
    nlohmann::json after = c.Status(r);
    if (!Reinitialising(after)) break;  // it may have caught up meanwhile: not counted
    // "reinit" stays true through the log phase that follows the pages
    // (Berkeley DB keeps st_next_pg until STARTUPDONE), and there a board
    // applies log records and acks them: an ack in the bracket means it
    // had left its page phase, and such a write proves nothing here.
    if (after["acks"]["acks_sent"] != before["acks"]["acks_sent"]) break;
    ++bracketed;
    EXPECT_FALSE(w.durable) << "a QUORUM write was reported durable while the only live replica, board "
                            << r << ", was in its page phase and sent no ack";
  }
  std::cout << "[acks] with board " << other << " alive: " << durable << " durable writes, worst latency "
            << worst_ms << " ms, master saw board " << r << " reinit in " << seen_reinit_by_master
            << " polls; with board " << other << " dead: " << bracketed
            << " writes during the page phase" << std::endl;
  ASSERT_GT(bracketed, 0) << "board " << r << " left its page phase (or acked) before a write was made "
                          << "with it the only replica left; nothing was checked";
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return InSync(c, r); }, kInitMs)) << c.Logs(r);
  double wall = SecondsSince(t0);
  // In sync, it acks: the refusals above were about the page phase.
  RawWrite last;
  ASSERT_TRUE(LocalChassis::WaitUntil([&] {
    last = c.client(m).Put("last", "1");
    return last.status.ok() && last.durable;
  }, kSettleMs)) << last.status.ToString();
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return SameContents(c, r, m); }, kSettleMs));
  EXPECT_EQ(Contents(c, r), Contents(c, m));
  ReportInit("acks", c, r, kMb, wall);
}

}  // namespace
}  // namespace bp::testing
