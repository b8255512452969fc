// The request-expirer thread (request_ids.h): on the master, deletes request
// ids past their window or over their budget in small replicated
// transactions; on every board in sync, counts them for status.
#include <chrono>

#include "board/engine.h"

namespace bp::board {
namespace {

constexpr auto kExpireEvery = std::chrono::milliseconds(100);
constexpr int64_t kReplicaRecountEveryUs = 2'000'000;
// A master's recount that writes overlapped is redone at most this often
// (under steady load it may take a few tries to find no write in flight).
constexpr int64_t kOverlappedRecountEveryUs = 1'000'000;
constexpr int64_t kErrorLogEveryUs = 10'000'000;

}  // namespace

void Engine::ExpirerLoop() {
  uint32_t counted_gen = 0;
  bool counted_as_master = false;
  int64_t counted_us = 0, logged_us = 0;
  bool more = false;
  while (!stop_.load()) {
    if (!more) {
      std::unique_lock<std::mutex> l(expirer_mu_);
      clock_.WaitFor(expirer_cv_, l, kExpireEvery, [&] { return stop_.load(); });
    }
    more = false;
    if (stop_.load() || !roles_.rep_started()) continue;
    const bool master = roles_.role() == Role::kMaster;
    if (!master && (!startup_done() || liveness_.reinit())) continue;  // API locked out
    const int64_t now = clock_.NowMicros();
    const uint32_t gen = roles_.generation();
    GatePass pass(roles_.api_gate());  // a role change waits for this pass (gate.h)
    if ((roles_.role() == Role::kMaster) != master) continue;
    memenv::Table* reqs = service_.RequestTable();
    if (!reqs) continue;
    Status st;
    const bool recount =
        master ? (counted_gen != gen || !counted_as_master ||
                  (request_ids_.RecountWanted() && now - counted_us >= kOverlappedRecountEveryUs))
               : now - counted_us >= kReplicaRecountEveryUs;
    if (recount) {
      st = request_ids_.Recount(*reqs);
      if (st.ok()) {
        counted_gen = gen;
        counted_as_master = master;
        counted_us = now;
      }
    }
    if (master && st.ok()) {
      Result<bool> r = request_ids_.Expire(*env_, *reqs, clock_.WallMicros() / 1000);
      more = r.ok() && *r;
      if (!r.ok()) st = r.status();
    }
    if (!st.ok() && now - logged_us >= kErrorLogEveryUs) {
      Log("request-id expiry: " + st.ToString() + " (retried every 100 ms)");
      logged_us = now;
    }
  }
}

}  // namespace bp::board
