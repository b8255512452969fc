#include "driver/scenarios.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <thread>

#include "peer_proto.h"

namespace bp::peers {
namespace {

constexpr int64_t kMsNs = 1'000'000;
constexpr int64_t kSecondNs = 1'000 * kMsNs;
constexpr int64_t kCommandSlackNs = 30 * kSecondNs;
// As shipped an acknowledged commit costs ~44 ms; a bad one up to the 1 s
// ack timeout. Deadlines allow 1.5 s per transaction on top of the slack.
constexpr int64_t kPerTxnBudgetNs = 1'500 * kMsNs;
constexpr int64_t kFailoverDeadlineNs = 15 * kSecondNs;
constexpr int64_t kOtherSyncedWaitNs = 3 * kSecondNs;
constexpr int64_t kJoinDeadlineNs = 60 * kSecondNs;
constexpr int kLoadRecordsPerTxn = 1'000;
constexpr int kKeyBytes = 16;

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

Result<CommitRun> ToCommitRun(Result<Reply> reply) {
  if (!reply.ok()) return reply.status();
  CommitRun run;
  run.latency_ns = std::move(reply->values);
  run.elapsed_ns = reply->Field("elapsed_ns", 0);
  run.perm_failed = reply->Field("perm_failed", 0);
  run.failures = reply->Field("failures", 0);
  return run;
}

// Polls the running sites in `indices` for event `name` since since_ns; the
// event times come from the sites, so the poll period does not bias them.
Result<std::pair<int, Event>> AwaitAnyEvent(Group& group, const std::vector<int>& indices,
                                            const std::string& name, int64_t since_ns,
                                            int64_t deadline_ns) {
  while (MonoNs() < deadline_ns) {
    for (int i : indices) {
      if (auto ev = group.site(i)->FindEvent(name, since_ns)) return std::make_pair(i, *ev);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Timeout("no " + name + " on any survivor in time");
}

std::vector<int> Survivors(Group& group, int victim) {
  std::vector<int> out;
  for (int i = 0; i < group.size(); ++i) {
    if (i != victim && group.running(i)) out.push_back(i);
  }
  return out;
}

double EarliestEventMs(Group& group, const std::vector<int>& indices, const std::string& name,
                       int64_t since_ns) {
  int64_t best_ns = -1;
  for (int i : indices) {
    auto ev = group.site(i)->FindEvent(name, since_ns);
    if (ev && (best_ns < 0 || ev->mono_ns < best_ns)) best_ns = ev->mono_ns;
  }
  return best_ns < 0 ? -1 : Ms(best_ns - since_ns);
}

Status RestartVictim(Group& group, int victim, FailoverRound& round) {
  const int64_t spawn_ns = MonoNs();
  BP_RETURN_IF_ERROR(group.StartSite(victim, /*as_master=*/false));
  auto done = group.site(victim)->AwaitEvent("STARTUPDONE", 0, spawn_ns + kJoinDeadlineNs);
  if (!done.ok()) return done.status().WithContext("restarted victim did not sync");
  round.rejoin_ms = Ms(done->mono_ns - spawn_ns);
  return Status::Ok();
}

}  // namespace

Summary Summarize(std::vector<int64_t> samples_ns) {
  Summary s;
  s.count = samples_ns.size();
  if (samples_ns.empty()) return s;
  std::sort(samples_ns.begin(), samples_ns.end());
  auto rank = [&](double q) {
    const size_t idx = static_cast<size_t>(std::ceil(q * static_cast<double>(s.count)));
    return static_cast<double>(samples_ns[std::clamp<size_t>(idx, 1, s.count) - 1]) / 1e3;
  };
  s.p50_us = rank(0.50);
  s.p99_us = rank(0.99);
  s.p999_us = rank(0.999);
  s.min_us = static_cast<double>(samples_ns.front()) / 1e3;
  s.max_us = static_cast<double>(samples_ns.back()) / 1e3;
  const double sum = std::accumulate(samples_ns.begin(), samples_ns.end(), 0.0);
  s.mean_us = sum / static_cast<double>(s.count) / 1e3;
  return s;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

Result<CommitRun> MeasureCommitLatency(Group& group, int count, int warmup) {
  const int64_t deadline_ns = MonoNs() + kCommandSlackNs + (count + warmup) * kPerTxnBudgetNs;
  auto reply =
      group.site(group.master())
          ->Call("lat " + std::to_string(count) + " " + std::to_string(warmup), deadline_ns);
  auto run = ToCommitRun(std::move(reply));
  if (run.ok() && static_cast<int>(run->latency_ns.size()) != count) {
    return Status::Internal("site returned " + std::to_string(run->latency_ns.size()) +
                            " latencies, expected " + std::to_string(count));
  }
  return run;
}

Result<CommitRun> MeasureThroughput(Group& group, int writers, int warm_ms, int meas_ms) {
  // A writer stuck in one ack wait may overrun the window by the ack timeout.
  const int64_t deadline_ns =
      MonoNs() + (warm_ms + meas_ms) * kMsNs + kCommandSlackNs + writers * kPerTxnBudgetNs;
  return ToCommitRun(group.site(group.master())
                         ->Call("tput " + std::to_string(writers) + " " + std::to_string(warm_ms) +
                                    " " + std::to_string(meas_ms),
                                deadline_ns));
}

Result<FailoverRound> MeasureFailoverRound(Group& group, int preload, int idle_ms) {
  const int victim = group.master();
  if (preload > 0) {
    auto pre = group.site(victim)->Call("lat " + std::to_string(preload) + " 0",
                                        MonoNs() + kCommandSlackNs + preload * kPerTxnBudgetNs);
    if (!pre.ok()) return pre.status().WithContext("preload");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
  const std::vector<int> survivors = Survivors(group, victim);
  const int64_t kill_ns = group.KillSite(victim);

  auto winner = AwaitAnyEvent(group, survivors, "MASTER", kill_ns, kill_ns + kFailoverDeadlineNs);
  if (!winner.ok()) return winner.status();
  const int w = winner->first;
  auto commit = group.site(w)->AwaitEvent("FIRST_COMMIT", kill_ns, kill_ns + kFailoverDeadlineNs);
  if (!commit.ok()) return commit.status();
  if (commit->fields["ret"] != "0") {
    return Status::Internal("first commit on the new master failed, ret=" + commit->fields["ret"]);
  }
  group.set_master(w);
  FailoverRound round;
  round.master_ms = Ms(winner->second.mono_ns - kill_ns);
  round.first_commit_ms = Ms(commit->mono_ns - kill_ns);
  round.detect_ms = EarliestEventMs(group, survivors, "MASTER_FAILURE", kill_ns);
  for (int i : survivors) {
    if (i == w) continue;
    auto synced = group.site(i)->AwaitEvent("STARTUPDONE", kill_ns, MonoNs() + kOtherSyncedWaitNs);
    if (synced.ok()) round.other_synced_ms = Ms(synced->mono_ns - kill_ns);
  }
  BP_RETURN_IF_ERROR(RestartVictim(group, victim, round));
  return round;
}

std::string InitLoad::Spec() const {
  // The short form for the anchors' load, so that its command stays the same.
  if (value_bytes == 100 && !sequential && ckpt_mib == 0) {
    return std::to_string(records) + " " + std::to_string(kLoadRecordsPerTxn);
  }
  return std::to_string(records) + " " + std::to_string(kLoadRecordsPerTxn) + " " +
         std::to_string(value_bytes) + " " + std::to_string(ckpt_mib) + " " +
         (sequential ? "seq" : "scrambled");
}

double InitLoad::DataMiB() const {
  return static_cast<double>(records * (kKeyBytes + value_bytes)) / (1 << 20);
}

Status LoadForInit(Group& group, const InitLoad& load) {
  Child* master = group.site(group.master());
  const int64_t txns = (load.records + kLoadRecordsPerTxn - 1) / kLoadRecordsPerTxn;
  // Each forced checkpoint waits for acks too (up to the 1 s ack timeout).
  const int64_t ckpts = load.ckpt_mib > 0 ? static_cast<int64_t>(load.DataMiB()) / load.ckpt_mib : 0;
  const int64_t start_ns = MonoNs();
  auto reply = master->Call("load " + load.Spec(),
                            start_ns + kCommandSlackNs + (txns + ckpts) * kPerTxnBudgetNs);
  if (!reply.ok()) return reply.status().WithContext("load");
  // The checkpoint bounds the log the new site replays after the pages.
  auto ckpt = master->Call("ckpt", MonoNs() + kCommandSlackNs);
  if (!ckpt.ok()) return ckpt.status().WithContext("checkpoint");
  std::fprintf(stderr, "  loaded %.1f MiB of data (%lld records, %lld checkpoints) in %.1f s\n",
               load.DataMiB(), static_cast<long long>(load.records),
               static_cast<long long>(reply->Field("checkpoints", 0)),
               Ms(MonoNs() - start_ns) / 1e3);
  group.loaded = load.Spec();
  group.loaded_data_mib = load.DataMiB();
  return Status::Ok();
}

Result<InitRun> MeasureInternalInit(Group& group, int index, double join_deadline_s) {
  auto master_stat = group.site(group.master())->Call("stat", MonoNs() + kCommandSlackNs);
  if (!master_stat.ok()) return master_stat.status();
  const int64_t page_bytes = master_stat->Field("db_pagesize", 0);
  BP_RETURN_IF_ERROR(group.StartSite(index, /*as_master=*/false));
  Child* site = group.site(index);
  const int64_t deadline_ns =
      MonoNs() + std::max(kJoinDeadlineNs, static_cast<int64_t>(join_deadline_s * 1e9));
  auto start = site->AwaitEvent("REPMGR_START", 0, deadline_ns);
  if (!start.ok()) return start.status();
  auto done = site->AwaitEvent("STARTUPDONE", 0, deadline_ns);
  if (!done.ok()) return done.status();
  // STARTUPDONE may come a little before INIT_DONE (seen here), so wait.
  auto newmaster = site->AwaitEvent("NEWMASTER", 0, MonoNs() + kOtherSyncedWaitNs);
  auto init_done = site->AwaitEvent("INIT_DONE", 0, MonoNs() + kOtherSyncedWaitNs);
  if (!newmaster.ok() || !init_done.ok()) {
    return Status::Internal("no NEWMASTER/INIT_DONE on the new site: no internal init?");
  }
  auto stat = site->Call("stat", MonoNs() + kCommandSlackNs);
  if (!stat.ok()) return stat.status();
  InitRun run;
  run.newmaster_ms = Ms(newmaster->mono_ns - start->mono_ns);
  run.copy_ms = Ms(init_done->mono_ns - newmaster->mono_ns);
  run.startup_ms = Ms(done->mono_ns - start->mono_ns);
  run.pages = stat->Field("pg_records", 0);
  run.log_records = stat->Field("log_records", 0);
  run.mib = static_cast<double>(run.pages * page_bytes) / (1 << 20);
  run.data_mib = group.loaded_data_mib;
  run.page_bytes = page_bytes;
  group.StopSite(index);
  return run;
}

Result<SocketCensus> CensusSockets(Group& group) {
  auto reply = group.site(group.master())->Call("sock", MonoNs() + kCommandSlackNs);
  if (!reply.ok()) return reply.status();
  return SocketCensus{static_cast<int>(reply->Field("tcp", 0)),
                      static_cast<int>(reply->Field("nodelay", 0))};
}

}  // namespace bp::peers
