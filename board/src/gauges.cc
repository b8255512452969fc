// The gauge thread: this board's database size (heartbeats carry it, so a
// joining board can show its re-init progress) and cache use (the memory
// mark: memory_gauge.h), measured every kDbSizeEveryUs.
//
// Why its own thread: measuring reads pages (memp_fget), and Berkeley DB
// parks such a read in 5-second sleeps for as long as an internal init or a
// client recovery locks operations out (__op_rep_enter in rep_util.c). On
// the ticker that silenced the heartbeats of a replica re-initialised by a
// new master for seconds: the master could not confirm its mastership (no
// LINEARIZABLE reads) and its peers took the replica for dead. Here a stall
// only delays a figure.
#include "board/engine.h"

namespace bp::board {

void Engine::GaugeLoop() {
  while (!stop_.load()) {
    if (roles_.rep_started()) {
      memory_.Measure(*env_);
      RefreshDbSize();
    }
    std::unique_lock<std::mutex> l(gauge_mu_);
    clock_.WaitFor(gauge_cv_, l, std::chrono::microseconds(kDbSizeEveryUs), [&] { return stop_.load(); });
  }
}

}  // namespace bp::board
