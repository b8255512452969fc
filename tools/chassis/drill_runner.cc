// The drill loop: for each round, wait for a healthy chassis, start the
// load, inject the fault, let the chassis recover, stop the load, wait
// until every board is in sync and check every write of the round.
#include <chrono>
#include <memory>
#include <sstream>
#include <thread>

#include "drill.h"
#include "failover_probe.h"
#include "preload.h"
#include "soak.h"

namespace bp::chassis {

std::string RoundTag(const DrillOptions& o, int round) {
  if (o.soak_s > 0) {
    char buf[64];
    snprintf(buf, sizeof buf, " %d/soak %.0f s] ", round, o.soak_s);
    return "[" + o.kind + buf;
  }
  return "[" + o.kind + " " + std::to_string(round) + "/" + std::to_string(o.rounds) + "] ";
}

namespace {

std::string Fmt(const std::optional<double>& ms) {
  if (!ms) return "n/a";
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f ms", *ms);
  return buf;
}

std::vector<std::string> Endpoints(Chassis& c) {
  std::vector<std::string> out;
  for (int s : c.slots()) out.push_back(c.client_endpoint(s));
  return out;
}

std::map<int, std::string> EndpointMap(Chassis& c) {
  std::map<int, std::string> out;
  for (int s : c.slots()) out[s] = c.client_endpoint(s);
  return out;
}

Status FaultFor(RoundContext& ctx, int master) {
  const std::string& k = ctx.options.kind;
  if (k == "kill") return RunKill(ctx, master);
  if (k == "pause") return RunPause(ctx, master);
  if (k == "partition") return RunPartition(ctx, master);
  return RunReplace(ctx, master);
}

// The fault hits a chassis that is serving writes: wait for durable acks.
Status Warmup(const RoundContext& ctx) {
  auto start = std::chrono::steady_clock::now();
  auto min_end = start + std::chrono::milliseconds(ctx.options.warmup_ms);
  auto deadline = start + std::chrono::milliseconds(std::max(ctx.options.warmup_ms, 5000));
  while (std::chrono::steady_clock::now() < min_end || ctx.load.durable_count() == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable(
          "the load generator got no durable write within 5 s before the "
          "fault; check `chassis status` and the board logs");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Ok();
}

std::string RoundLine(const RoundResult& r) {
  std::ostringstream o;
  o << "done: ";
  if (r.failover_ms) {
    o << "failover " << Fmt(r.failover_ms) << " (detection " << Fmt(r.detection_ms) << ", election "
      << Fmt(r.election_ms) << ", first commit " << Fmt(r.first_commit_ms) << "), ";
  }
  if (r.reinit_ms) o << "reinit " << Fmt(r.reinit_ms) << ", ";
  if (r.stepdown_ms) o << "step-down " << Fmt(r.stepdown_ms) << ", ";
  o << "acked " << r.verify.acked << ", lost " << r.verify.lost << ", rolled back unacked "
    << r.verify.rolled_back_unacked;
  for (const auto& b : r.memory_after) {
    char buf[120];
    snprintf(buf, sizeof buf, "; board %d rss %.1f MiB", b.slot,
             double(b.rss_bytes.value_or(0)) / 1048576.0);
    o << buf;
    if (b.data_bytes) o << " data " << *b.data_bytes << " B";
    if (b.ids) o << " ids " << *b.ids;
  }
  if (!r.error.empty()) o << " -- ERROR: " << r.error;
  return o.str();
}

// Runs the round's load (and the recording load, if any) and fault; fills
// the result's load and error.
void FaultUnderLoad(Chassis& chassis, const DrillOptions& o, int64_t start_us, int master,
                    RoundResult& res, LoadGen& load, LoadGen* recording) {
  RoundContext ctx{chassis, o, load, start_us, res};
  if (recording) recording->Start();
  load.Start();
  Status st = Warmup(ctx);
  if (st.ok()) st = FaultFor(ctx, master);
  load.Stop();
  if (recording) recording->Stop();
  res.load = load.Totals();
  if (!st.ok()) res.error = st.message();
}

// The recording load of a round: its own keys, so each round's history
// starts from absent keys whatever earlier rounds or drills wrote.
std::unique_ptr<LoadGen> RecordingLoad(Chassis& chassis, const DrillOptions& o, int round,
                                       int64_t start_us) {
  if (!o.check) return nullptr;
  LoadOptions lo = o.check_load;
  lo.history_prefix = "lin" + std::to_string(start_us) + "-r" + std::to_string(round);
  return std::make_unique<LoadGen>(Endpoints(chassis), lo);
}

void CheckHistory(const DrillOptions& o, LoadGen& recording, RoundResult& res) {
  std::vector<HistoryOp> history = recording.History();
  res.check = CheckLinearizable(history, o.check_options);
  res.single_master = CheckSingleMaster(history);
  for (const HistoryOp& op : history) {
    if (op.kind == OpKind::kGet && op.result == OpResult::kOk && op.served)
      res.served_reads.push_back(op);
  }
  if (!o.progress) return;
  const CheckResult& c = *res.check;
  const SingleMasterResult& sm = *res.single_master;
  char line[300];
  snprintf(line, sizeof line,
           "history: %zu ops (%zu checked) on %zu keys: %s in %.1f ms; single master: %s "
           "(%zu served reads, %zu slot(s))",
           c.ops, c.checked, c.keys, VerdictName(c.verdict), c.elapsed_ms,
           sm.single_master ? "yes" : "NO", sm.reads, sm.by_slot.size());
  o.progress(RoundTag(o, res.round) + line);
}

RoundResult RunRound(Chassis& chassis, const DrillOptions& o, int round, int64_t start_us) {
  RoundResult res;
  res.round = round;
  res.t0_us = start_us;
  auto m = chassis.WaitInSync(o.timeout_ms, true, &res.restarted);
  if (!m.ok()) {
    res.error = "before the fault: " + m.status().message();
    return res;
  }
  res.old_master = *m;
  LoadOptions lo = o.load;
  lo.unique_prefix = "d" + std::to_string(round);
  LoadGen load(Endpoints(chassis), lo);
  auto recording = RecordingLoad(chassis, o, round, start_us);
  FaultUnderLoad(chassis, o, start_us, *m, res, load, recording.get());
  if (recording) CheckHistory(o, *recording, res);
  auto synced = chassis.WaitInSync(o.timeout_ms, true, &res.restarted);
  if (!synced.ok()) {
    res.error += (res.error.empty() ? "" : "; ") + std::string("after the fault: ") +
                 synced.status().message();
    return res;
  }
  res.verify = VerifyWrites(load.Writes(), {EndpointMap(chassis), *synced, lo.value_size, 3000});
  res.t_end_ms = double(MonoNowUs() - start_us) / 1000.0;
  return res;
}

Status PreloadData(Chassis& chassis, const DrillOptions& o) {
  auto m = chassis.WaitInSync(o.timeout_ms);
  if (!m.ok()) return m.status();
  PreloadOptions po;
  po.bytes = uint64_t(o.data_mb * 1024 * 1024);
  uint64_t next_report = 0;
  po.progress = [&](uint64_t done) {
    if (done < next_report || !o.progress) return;
    next_report = done + 4 * 1024 * 1024;
    o.progress("[" + o.kind + "] preloading: " + std::to_string(done >> 20) + " MiB");
  };
  return Preload(chassis.client_endpoint(*m), po);
}

}  // namespace

std::string MemoryProblem(const std::vector<BoardSample>& boards) {
  for (const auto& b : boards) {
    const std::string name = "board " + std::to_string(b.slot);
    if (!b.alive) return name + " is not running";
    if (!b.answered) return name + " did not answer status";
    if (b.panicked) return name + " reported panicked";
    if (b.ids && b.max_ids && *b.ids > *b.max_ids) {
      return name + " keeps " + std::to_string(*b.ids) + " request ids, over its window of " +
             std::to_string(*b.max_ids);
    }
  }
  return "";
}

LoadOptions DrillOptions::CheckLoadDefaults() {
  LoadOptions lo;
  lo.clients = 3;
  lo.rate = 600;
  lo.read_ratio = 0.5;
  lo.read_mode = FW_READ_LINEARIZABLE;
  lo.history_keys = 5;
  return lo;
}

const std::vector<std::string>& DrillKinds() {
  static const std::vector<std::string> kinds{"kill", "pause", "partition", "replace"};
  return kinds;
}

void RoundContext::Progress(const std::string& line) const {
  if (!options.progress) return;
  options.progress(RoundTag(options, result.round) + line);
}

Result<std::vector<RoundResult>> RunDrill(Chassis& chassis, const DrillOptions& o) {
  BP_RETURN_IF_ERROR(CheckDrillPreconditions(o, chassis));
  auto healthy = chassis.WaitInSync(o.timeout_ms);
  if (!healthy.ok()) {
    return Status::FailedPrecondition(
        "the chassis is not healthy before the drill (see `chassis "
        "status`): " +
        healthy.status().message());
  }
  if (o.data_mb > 0) BP_RETURN_IF_ERROR(PreloadData(chassis, o));
  const int64_t start_us = MonoNowUs();
  const int64_t soak_end_us = start_us + int64_t(o.soak_s * 1e6);
  std::vector<RoundResult> rounds;
  for (int r = 1; o.soak_s > 0 ? MonoNowUs() < soak_end_us : r <= o.rounds; ++r) {
    rounds.push_back(RunRound(chassis, o, r, start_us));
    RoundResult& last = rounds.back();
    if (o.soak_s > 0 && last.error.empty()) {
      last.memory_after = SampleBoards(chassis);
      std::string problem = MemoryProblem(last.memory_after);
      if (!problem.empty()) last.error = "memory check after the round: " + problem;
    }
    if (o.progress) o.progress(RoundTag(o, r) + RoundLine(last));
    // A chassis that did not recover would fail every later round too.
    if (!last.error.empty()) break;
  }
  return rounds;
}

}  // namespace bp::chassis
