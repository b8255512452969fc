#include "failover_probe.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "bp/clock.h"

namespace bp::chassis {

using nlohmann::json;

int64_t MonoNowUs() { return Clock::Real().NowMicros(); }

int64_t FindEvent(const json& status, const std::string& kind, int64_t after_us, int slot) {
  int64_t best = 0;
  for (const auto& e : status.value("events", json::array())) {
    int64_t t = e.value("mono_us", int64_t(0));
    if (t < after_us || e.value("kind", "") != kind) continue;
    if (slot >= 0 && e.value("slot", -1) != slot) continue;
    if (best == 0 || t < best) best = t;
  }
  return best;
}

namespace {

int64_t Earliest(int64_t a, int64_t b) { return a == 0 ? b : b == 0 ? a : std::min(a, b); }

void ReadPhases(Chassis& chassis, const std::set<int>& skip, Takeover* t) {
  for (int s : chassis.slots()) {
    if (skip.count(s)) continue;
    auto st = chassis.BoardStatus(s);
    if (!st.ok()) continue;
    t->detect_us = Earliest(t->detect_us, FindEvent(*st, "peer_down", t->fault_us, t->old_master));
    t->detect_us = Earliest(t->detect_us, FindEvent(*st, "election_started", t->fault_us));
    if (s == t->new_master) t->became_us = FindEvent(*st, "became_master", t->fault_us);
  }
}

std::optional<double> Ms(int64_t from_us, int64_t to_us) {
  if (from_us == 0 || to_us == 0) return std::nullopt;
  return double(std::max<int64_t>(0, to_us - from_us)) / 1000.0;
}

}  // namespace

Result<Takeover> WaitForTakeover(Chassis& chassis, int old_master, int64_t fault_us,
                                 const std::set<int>& skip, int timeout_ms) {
  auto m = chassis.WaitSettled(timeout_ms, skip, old_master);
  if (!m.ok()) {
    return Status::Timeout("no new master took over from slot " + std::to_string(old_master) +
                           ": " + m.status().message());
  }
  Takeover t;
  t.old_master = old_master;
  t.new_master = *m;
  t.fault_us = fault_us;
  ReadPhases(chassis, skip, &t);
  // An event log that overflowed under load loses the detection event; the
  // election start is then the best bound we have.
  if (t.detect_us == 0) t.detect_us = t.became_us;
  if (t.became_us != 0 && t.detect_us > t.became_us) t.detect_us = t.became_us;
  return t;
}

void WaitFirstCommit(const LoadGen& load, Takeover* t, int timeout_ms) {
  // Acks that arrive before the winner is master are late replies of the
  // old master; the takeover ends with the first ack the new master gave.
  const int64_t after = t->became_us ? t->became_us : t->fault_us;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while ((t->first_ack_us = load.FirstDurableAfter(after)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  t->detection_ms = Ms(t->fault_us, t->detect_us);
  t->election_ms = Ms(t->detect_us, t->became_us);
  t->first_commit_ms = Ms(t->became_us, t->first_ack_us);
  t->failover_ms = Ms(t->fault_us, t->first_ack_us);
}

Result<int64_t> WaitBoard(Chassis& chassis, int slot, int64_t after_us, int timeout_ms,
                          const std::string& event, const std::function<bool(const json&)>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string last = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = chassis.BoardStatus(slot);
    int64_t now = MonoNowUs();
    if (st.ok() && done(*st)) {
      int64_t ev = event.empty() ? 0 : FindEvent(*st, event, after_us);
      return ev ? std::min(ev, now) : now;
    }
    if (st.ok()) {
      last = "role " + st->value("role", "?") + ", master " +
             std::to_string(st->value("master", -1)) + ", in sync " +
             (st->value("startup_complete", false) ? "yes" : "no");
    } else {
      last = st.status().message();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Timeout("board " + std::to_string(slot) + " did not get there within " +
                         std::to_string(timeout_ms) + " ms (last seen: " + last + ")");
}

}  // namespace bp::chassis
