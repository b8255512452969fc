// The fault of each drill, and the measurements around it.
#include <signal.h>

#include <chrono>
#include <thread>

#include "drill.h"
#include "failover_probe.h"

namespace bp::chassis {
namespace {

using nlohmann::json;

double SinceStartMs(const RoundContext& ctx, int64_t t_us) {
  return double(t_us - ctx.drill_start_us) / 1000.0;
}

std::string Fmt(const std::optional<double>& ms) {
  if (!ms) return "n/a";
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f ms", *ms);
  return buf;
}

// The takeover after a fault on `master` at `fault_us`: new master, phases,
// first commit.
Status MeasureTakeover(RoundContext& ctx, int master, int64_t fault_us) {
  RoundResult& r = ctx.result;
  auto t = WaitForTakeover(ctx.chassis, master, fault_us, {master}, ctx.options.timeout_ms);
  if (!t.ok()) return t.status();
  WaitFirstCommit(ctx.load, &*t, std::min(ctx.options.timeout_ms, 5000));
  r.new_master = t->new_master;
  if (t->became_us) r.t_became_ms = SinceStartMs(ctx, t->became_us);
  r.detection_ms = t->detection_ms;
  r.election_ms = t->election_ms;
  r.first_commit_ms = t->first_commit_ms;
  r.failover_ms = t->failover_ms;
  ctx.Progress("slot " + std::to_string(t->new_master) + " took over: failover " +
               Fmt(t->failover_ms) + " (detection " + Fmt(t->detection_ms) + ", election " +
               Fmt(t->election_ms) + ", first commit " + Fmt(t->first_commit_ms) + ")");
  return Status::Ok();
}

// Restart -> the board reports startup complete (its startup_done event).
Status MeasureReinit(RoundContext& ctx, int slot, int64_t restart_us) {
  auto done = WaitBoard(ctx.chassis, slot, restart_us, ctx.options.timeout_ms, "startup_done",
                        [](const json& st) {
                          return st.value("startup_complete", false) && !st.value("reinit", false);
                        });
  if (!done.ok()) return Status::Timeout("re-initialisation: " + done.status().message());
  ctx.result.reinit_ms = double(*done - restart_us) / 1000.0;
  ctx.Progress("slot " + std::to_string(slot) + " re-initialised in " + Fmt(ctx.result.reinit_ms));
  return Status::Ok();
}

// After SIGCONT / heal: the old master must step down and follow the
// group's master, then catch up. That is normally the board that took over;
// if the group elected once more meanwhile (the returning master's messages
// can start another election), it follows that one, and the round records
// where mastership went (master_moved_to).
Status MeasureStepDown(RoundContext& ctx, int old_master, int64_t wake_us) {
  int new_master = ctx.result.new_master;
  int followed = -1;
  auto replica =
      WaitBoard(ctx.chassis, old_master, wake_us, ctx.options.timeout_ms, "became_client",
                [&followed, old_master](const json& st) {
                  const int m = st.value("master", -1);
                  if (st.value("role", "") != "replica" || m <= 0 || m == old_master) return false;
                  followed = m;
                  return true;
                });
  if (!replica.ok()) {
    return Status::Internal("the old master (slot " + std::to_string(old_master) +
                            ") did not step down (the new master was slot " + std::to_string(new_master) + "): " +
                            replica.status().message());
  }
  ctx.result.stepdown_ms = double(*replica - wake_us) / 1000.0;
  if (followed != new_master) {
    ctx.result.master_moved_to = followed;
    ctx.Progress("mastership moved again: slot " + std::to_string(old_master) + " follows slot " +
                 std::to_string(followed) + ", not slot " + std::to_string(new_master));
    new_master = followed;
  }
  auto synced = WaitBoard(ctx.chassis, old_master, wake_us, ctx.options.timeout_ms, "",
                          [&followed, old_master](const json& st) {
                            const int m = st.value("master", -1);
                            if (m <= 0 || m == old_master || !st.value("startup_complete", false)) {
                              return false;
                            }
                            followed = m;
                            return true;
                          });
  if (!synced.ok())
    return Status::Timeout("old master did not converge: " + synced.status().message());
  if (followed != new_master) {
    ctx.result.master_moved_to = followed;
    ctx.Progress("mastership moved again: slot " + std::to_string(old_master) + " is in sync with slot " +
                 std::to_string(followed) + ", not slot " + std::to_string(new_master));
  }
  ctx.result.rejoin_ms = double(*synced - wake_us) / 1000.0;
  ctx.Progress("old master slot " + std::to_string(old_master) + " stepped down in " +
               Fmt(ctx.result.stepdown_ms) + ", in sync after " + Fmt(ctx.result.rejoin_ms));
  return Status::Ok();
}

// The fault must outlast the failure-detection timeout (twice, for margin).
void HoldPastDetection(const RoundContext& ctx, int64_t fault_us) {
  const int64_t hold_us = 2 * int64_t(ctx.chassis.config().heartbeat_timeout_ms) * 1000;
  while (MonoNowUs() - fault_us < hold_us) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void MarkFault(RoundContext& ctx, int target, int64_t fault_us) {
  ctx.result.target = target;
  ctx.result.t_fault_ms = SinceStartMs(ctx, fault_us);
}

}  // namespace

Status RunKill(RoundContext& ctx, int master) {
  ctx.Progress("SIGKILL master slot " + std::to_string(master));
  int64_t fault_us = MonoNowUs();
  MarkFault(ctx, master, fault_us);
  BP_RETURN_IF_ERROR(ctx.chassis.Kill(master, SIGKILL));
  BP_RETURN_IF_ERROR(MeasureTakeover(ctx, master, fault_us));
  ctx.Progress("restarting slot " + std::to_string(master) + " empty");
  int64_t restart_us = MonoNowUs();
  BP_RETURN_IF_ERROR(ctx.chassis.Start(master));
  return MeasureReinit(ctx, master, restart_us);
}

Status RunPause(RoundContext& ctx, int master) {
  ctx.Progress("SIGSTOP master slot " + std::to_string(master));
  int64_t fault_us = MonoNowUs();
  MarkFault(ctx, master, fault_us);
  BP_RETURN_IF_ERROR(ctx.chassis.Kill(master, SIGSTOP));
  // Whatever happens next, the board must not stay stopped.
  struct Resume {
    Chassis& c;
    int slot;
    ~Resume() { (void)c.Kill(slot, SIGCONT); }
  } resume{ctx.chassis, master};
  Status st = MeasureTakeover(ctx, master, fault_us);
  HoldPastDetection(ctx, fault_us);
  ctx.Progress("SIGCONT slot " + std::to_string(master));
  int64_t wake_us = MonoNowUs();
  BP_RETURN_IF_ERROR(ctx.chassis.Kill(master, SIGCONT));
  BP_RETURN_IF_ERROR(st);
  return MeasureStepDown(ctx, master, wake_us);
}

Status RunPartition(RoundContext& ctx, int master) {
  ctx.Progress("partitioning master slot " + std::to_string(master) + " off the bus");
  int64_t fault_us = MonoNowUs();
  MarkFault(ctx, master, fault_us);
  auto cut = ctx.chassis.Admin(master, {{"cmd", "partition"}});
  if (!cut.ok()) return cut.status();
  struct Heal {
    Chassis& c;
    int slot;
    ~Heal() { (void)c.Admin(slot, {{"cmd", "heal"}}); }
  } heal{ctx.chassis, master};
  Status st = MeasureTakeover(ctx, master, fault_us);
  HoldPastDetection(ctx, fault_us);
  ctx.Progress("healing slot " + std::to_string(master));
  int64_t heal_us = MonoNowUs();
  auto healed = ctx.chassis.Admin(master, {{"cmd", "heal"}});
  if (!healed.ok()) return healed.status();
  BP_RETURN_IF_ERROR(st);
  return MeasureStepDown(ctx, master, heal_us);
}

Status RunReplace(RoundContext& ctx, int master) {
  std::vector<int> replicas;
  for (int s : ctx.chassis.slots()) {
    if (s != master) replicas.push_back(s);
  }
  const int target = replicas[size_t(ctx.result.round - 1) % replicas.size()];
  ctx.result.new_master = master;
  ctx.Progress("SIGKILL replica slot " + std::to_string(target));
  int64_t fault_us = MonoNowUs();
  MarkFault(ctx, target, fault_us);
  BP_RETURN_IF_ERROR(ctx.chassis.Kill(target, SIGKILL));
  ctx.Progress("starting an empty board in slot " + std::to_string(target));
  int64_t restart_us = MonoNowUs();
  BP_RETURN_IF_ERROR(ctx.chassis.Start(target));
  return MeasureReinit(ctx, target, restart_us);
}

}  // namespace bp::chassis
