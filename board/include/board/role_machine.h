// RoleMachine: this board's role in the chassis and every change of it.
//
// Owns: the role, the master slot, the generation and startup-done (the
// four that View() returns as one snapshot); the election requests and
// their reasons; the rep_start lock and the two gates closed around every
// rep_start (QuiescedRepStart); the election thread; the election, promotion
// and demotion figures (status "elections"); why elections wait. role_,
// master_slot_, gen_ and next_election_us_ are written only here.
//
// Role state machine (the policy is narrated in election.cc and two_board.cc):
//   CLIENT --(no master heard / master silent / master link down /
//             HOLDELECTION)--> ELECTING --(won: quiesce, rep_start MASTER)-->
//   MASTER --(DUPMASTER or a higher-generation master's heartbeat that a
//             majority backs: refusals.cc)--> CLIENT
//   MASTER --(preferred board back and caught up, or SIGTERM: StepDown after
//             catch-up, two_board.cc)--> CLIENT
//
// Who calls it, on which thread:
//   Berkeley DB's event callback   OnBdbEvent (BDB's internal mutexes held:
//                                  it only records and wakes)
//   election thread (owned here)   elections, promotion, demotion, hand-over
//   rep worker                     PromoteIfElected (the deciding VOTE2 is
//                                  processed there), RequestElection/Demote
//   bus receive thread             OnPeerDown, RequestDemote (refusals.cc)
//   ticker                         Tick (master watch, hand-over request),
//                                  FollowRepStat
//   main thread                    StartAsClient, StepDownForShutdown, Stop*
//   any thread                     View and the single-field accessors,
//                                  CheckWritable, ElectionWait, the gates
//
// Locks, outermost first: rep_start_mu_ (every rep_start, §0 item 7) >
// the gates > view_mu_ (the four View fields, never held while calling out)
// ; election_mu_ (requests) and election_wait_mu_ are leaves.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "board/config.h"
#include "board/events.h"
#include "board/frame_guard.h"
#include "board/gate.h"
#include "board/peers.h"
#include "bp/clock.h"
#include "bp/seed.h"
#include "bp/status.h"
#include "bus/frames.h"
#include "memenv/env.h"

namespace bp::board {

enum class Role { kStarting, kClient, kMaster };
const char* RoleName(Role r);

// One consistent reading of the role state (taken under one lock).
struct RoleView {
  Role role = Role::kStarting;
  int master = -1;        // the master slot this board follows (itself when master), -1 = none
  uint32_t gen = 0;
  bool startup_done = false;  // master, or a replica in sync with its master
};

// What the role machine asks of the rest of the engine (the Engine
// implements it). Called from the role machine's callers' threads, never
// with view_mu_ held; rep_start_mu_ may be held (OnMastershipBegins,
// AbortDurabilityWaits), so none of these may take it.
class RoleListener {
 public:
  virtual ~RoleListener() = default;
  virtual void Log(const std::string& line) = 0;
  virtual void Emit(EventKind kind, int slot, std::string detail) = 0;
  // A master appeared (this board or another): waiting forwarded writes go now.
  virtual void WakeTicker() = 0;
  // This board just became master: tell everyone now, not at the next tick.
  virtual void SendHeartbeat() = 0;
  // The ticker's last reading of this board's log end, used when rep_stat fails.
  virtual bus::Lsn TickerNextLsn() const = 0;
  // A mastership of generation `gen` begins: acks of other generations are
  // void, and so is what the previous mastership's reads waited for.
  virtual void OnMastershipBegins(uint32_t gen) = 0;
  // Stepping down: committers waiting for acks return now, new waits at once.
  virtual void AbortDurabilityWaits() = 0;
  // This board's internal init is copying from its master (liveness.h):
  // any thread, lock-free.
  virtual bool ReinitInProgress() const = 0;
};

class RoleMachine {
 public:
  // `stop`: the engine's stop flag (set once by Engine::Stop; the election
  // thread and promotions give up when it is set). `jitter_seed`: the
  // election retry jitter's stream (bp/seed.h). References must outlive this.
  RoleMachine(const ChassisConfig& config, int self_slot, const Clock& clock,
              uint64_t jitter_seed, PeerTable& peers, const FrameGuard& guard,
              const std::atomic<bool>& stop, RoleListener& listener);
  ~RoleMachine();
  RoleMachine(const RoleMachine&) = delete;
  RoleMachine& operator=(const RoleMachine&) = delete;

  // ---- lifecycle (main thread) ----
  // The opened environment (Engine::Open, once, before StartThread).
  void Attach(memenv::Env& env) { env_ = &env; }
  void StartThread();
  // rep_start(CLIENT) under the rep_start lock; then the startup wait runs.
  Status StartAsClient();
  // Wakes the election thread to see the stop flag; Join waits for it.
  void WakeForStop();
  void Join();

  // ---- state (any thread) ----
  RoleView View() const;
  Role role() const { return role_.load(); }
  int master() const { return master_slot_.load(); }
  uint32_t generation() const { return gen_.load(); }
  // Master, or a replica in sync with its master (DB_EVENT_REP_STARTUPDONE).
  bool startup_done() const { return role_.load() == Role::kMaster || startup_done_.load(); }
  // rep_start(CLIENT) returned: rep_process_message may be called (§2.1).
  bool rep_started() const { return rep_started_.load(); }
  // When this board last became master (clock_ us; 0 = never): the grace a
  // new master has before it must be confirmed to present itself as master.
  int64_t master_since_us() const { return master_since_us_.load(); }
  // This board's election priority: the preferred board's is above the
  // other's, so that with equal logs it wins (two_board.cc). Pure.
  uint32_t ElectionPriority() const;
  // Why this board does not call an election now ("" = it may): status.
  std::string ElectionWait() const;
  // Why the last election this board held was called ("" = none yet):
  // "master heartbeats stopped", "master link down", "no master",
  // "HOLDELECTION" (another board started it), "admin request", or the
  // preferred board's hand-back. Status "elections" "last_reason".
  std::string LastElectionReason() const;
  // Refuses a write at once when no master exists and none can be elected
  // (fewer electable boards alive than an election needs).
  Status CheckWritable(int64_t now_us) const;
  // Status "elections".
  nlohmann::json ElectionsJson() const;
  // In front of rep_process_message / of application calls into Berkeley DB
  // (gate.h): pass through them with GatePass.
  Gate& message_gate() { return message_gate_; }
  Gate& api_gate() { return api_gate_; }

  // ---- inputs ----
  // Berkeley DB's event callback (engine.cc): role events only; wakes the
  // election thread for every event.
  void OnBdbEvent(uint32_t event, void* info);
  void RequestElection(const char* why);
  void RequestDemote(const char* why);
  // Rep worker, outside rep_process_message: promote after winning (§3.5).
  void PromoteIfElected();
  // Bus thread: a dead master is known now; do not wait out the timeout.
  void OnPeerDown(int slot);
  // Ticker: the master watch (a replica's) and the preferred board's
  // hand-over request (a master's; never blocks).
  void Tick(int64_t now_us);
  // Ticker, from rep_stat on a replica: the generation, and Berkeley DB's
  // master when it knows one we do not and that board is alive.
  void FollowRepStat(uint32_t gen, int bdb_master, int64_t now_us);
  // Main thread, on SIGTERM (Engine::StepDownForShutdown).
  void StepDownForShutdown();

 private:
  // election.cc
  void ElectionLoop();
  void RunElection(const std::string& why);  // why it was requested (RequestElection)
  bool MayElectNow();
  void Promote();
  void OnBecameMaster();
  void Demote(const char* why);
  // Called with rep_start_mu_ held, as master: the one step-down sequence.
  // `api_gate_closed`: the caller drained the api gate (catch-up) and it is
  // reopened once the role says client, so waiting writes are refused.
  // `next_election_us`: when this board may call an election (unset: as it was).
  void StepDownLocked(const char* why, bool api_gate_closed,
                      std::optional<int64_t> next_election_us);
  // Closes both gates, runs rep_start(flags), reopens them.
  int QuiescedRepStart(uint32_t flags);
  bool ElectionWouldWipePeers(std::string* why);
  void SetElectionWait(const std::string& why);
  bus::Lsn NextLsnNow();
  void WatchMaster(int64_t now_us);
  void SetRole(Role r);
  void SetMaster(int slot);

  // two_board.cc
  bool PreferredMode() const;
  void MaybeHandOver(int64_t now_us);
  void HandOver();
  bool StepDownAfterCatchUp(int to, const char* why);
  bool CaughtUp(int to, bus::Lsn mine, int64_t now_us) const;

  // ---- constant after construction (env_ after Attach) ----
  const ChassisConfig& config_;
  const int self_slot_;
  const Clock& clock_;
  PeerTable& peers_;
  const FrameGuard& guard_;
  const std::atomic<bool>& stop_;
  RoleListener& listener_;
  memenv::Env* env_ = nullptr;
  SharedRng jitter_rng_;  // election retry jitter (election thread)

  // ---- the View: atomics read anywhere, written under view_mu_ here ----
  mutable std::mutex view_mu_;
  std::atomic<Role> role_{Role::kStarting};
  std::atomic<int> master_slot_{-1};
  std::atomic<uint32_t> gen_{0};
  std::atomic<bool> startup_done_{false};

  // ---- the rep_start lock and the gates ----
  // Every rep_start call goes through this lock (§0 item 7).
  std::mutex rep_start_mu_;
  // Closed around every rep_start so that no thread is inside Berkeley DB
  // (bdb-base-api.md §3.6: otherwise rep_start sleeps a second, and during
  // a promotion a second master can appear). See gate.h.
  Gate message_gate_;
  Gate api_gate_;

  // ---- atomics read anywhere, written by the threads named ----
  std::atomic<bool> rep_started_{false};     // StartAsClient
  std::atomic<bool> elected_pending_{false}; // event callback; cleared by Promote
  std::atomic<bool> in_election_{false};     // election thread
  std::atomic<int64_t> next_election_us_{0};
  std::atomic<int64_t> last_master_seen_us_{0};
  // Ticker only: the "silent while re-initialising" line was logged for the
  // current silence (one line an episode).
  bool reinit_silence_logged_ = false;
  // This process held the data once: in sync with a master, or master.
  std::atomic<bool> ever_synced_{false};
  // SIGTERM: no more elections on this board (main thread).
  std::atomic<bool> shutting_down_{false};
  // Figures (election thread, and whoever promotes).
  std::atomic<uint64_t> elections_{0}, elections_won_{0}, elections_refused_{0};
  std::atomic<int64_t> last_election_us_{0};
  std::atomic<uint64_t> promotion_us_last_{0}, demotion_us_last_{0};
  std::atomic<int64_t> master_since_us_{0};  // written with role_, under view_mu_

  // ---- guarded by election_mu_: requests for the election thread ----
  std::mutex election_mu_;
  std::condition_variable election_cv_;
  bool election_requested_ = false;
  bool demote_requested_ = false;
  // The preferred board's hand-back, asked by the ticker.
  bool handover_requested_ = false;
  std::string demote_reason_;
  std::string election_reason_;

  // ---- guarded by election_wait_mu_ ----
  mutable std::mutex election_wait_mu_;
  std::string election_wait_;  // why elections wait (ElectionWouldWipePeers)
  std::string last_election_reason_;  // why the last election held was called (RunElection)

  std::thread election_thread_;
};

}  // namespace bp::board
