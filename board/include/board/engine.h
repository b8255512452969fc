// Engine: one board's replication engine on Berkeley DB's *Base* API.
//
// Everything Berkeley DB's Replication Manager would do over TCP, the engine
// does over the bus: the transport callback, heartbeats and failure
// detection, elections and promotion, ack policies, write forwarding and
// re-initialisation of empty boards (Berkeley DB's internal init, served by
// in-sync peers where it allows).
//
// Threads (each named after what it does):
//   bus receive  (owned by the bus) acks, heartbeats and app replies are handled
//                inline; replication messages are queued for the worker;
//                forwarded writes are queued for the write pool (every
//                queue bounded, refusals counted: status "queues").
//   rep worker   calls rep_process_message in arrival order (one worker keeps
//                the order and makes the pre-promotion quiesce trivial).
//   election     (owned by the role machine) calls rep_elect; never a message
//                thread (the election needs messages processed concurrently).
//   ticker       heartbeats, master watch, rep_flush, forwarded-write retries;
//                never waits on Berkeley DB's operation lockout (rep_stat only).
//   gauge        database size and cache use every 250 ms (memp reads, which
//                a re-init's lockout can park for seconds: gauges.cc).
//   write pool   (owned by the KvService) commits (a commit blocks in the
//                transport until acked).
//   checkpointer (memenv) volume-driven checkpoints, on the master only.
//   request expirer  deletes request ids past their window or budget, on the
//                master only; counts them for status everywhere.
//
// The engine is the composition root; each concern is a component that
// owns its state (README "Inside the engine"): RoleMachine (role_machine.h:
// role, master, generation, elections, the rep_start gates), Liveness,
// Durability, ReplicaApplier, RepTransport, Forwarder (writes forwarded to
// the master, origin side) and KvService (kv_service.h: writes, reads, the
// write pool, the master side of forwarded writes).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "board/durability.h"
#include "board/config.h"
#include "board/events.h"
#include "board/forwarder.h"
#include "board/kv_service.h"
#include "board/frame_guard.h"
#include "board/liveness.h"
#include "board/gate.h"
#include "board/memory_gauge.h"
#include "board/peers.h"
#include "board/reinit_progress.h"
#include "board/replica_applier.h"
#include "board/rep_transport.h"
#include "board/request_ids.h"
#include "board/role_machine.h"
#include "board/work_queue.h"
#include "board/write_result.h"
#include "bp/seed.h"
#include "bp/status.h"
#include "bus/bus.h"
#include "memenv/env.h"

struct __db_env;
struct __db_dbt;
struct __db_lsn;
struct __db_txn_token;

namespace bp::board {

struct PermOutcome;  // perm_outcome.h

// Makes the engine's bus from the options the engine derives from its
// configuration. The default (an empty factory) is the ZeroMQ bus,
// bus::Bus::Create; the simulation tier passes an in-process bus.
using BusFactory = std::function<Result<std::unique_ptr<bus::Bus>>(bus::BusOptions)>;

struct EngineOptions {
  ChassisConfig config;
  int self_slot = 0;
  std::string home;  // existing empty dir for the environment ("" = temp dir)
  // Seams (README "Seams"): the clock every timer and wait of the engine
  // asks, the bus it is given, and the one seed its randomness comes from
  // (election jitter, request ids, link loss emulation, deadlock backoff).
  // seed 0 = a fresh one; either way status "seed" shows it for a replay.
  const Clock* clock = &Clock::Real();
  BusFactory bus_factory;
  uint64_t seed = 0;
  bool verbose = false;                          // BDB verbose replication messages
  std::function<void(const std::string&)> log;   // engine log lines (default stderr)
  // security curve: this board's key pair (empty = the engine reads its
  // slot's secret_key_file itself), and the configuration file that
  // ReloadPeerKeys re-reads ("" = no reload).
  bus::CurveKeyPair keys;
  std::string config_path;
};

// One queue's figures for status "queues" (status.cc); `keys` names the
// configuration keys of its limits.
nlohmann::json QueueJson(const QueueStats& q, std::vector<std::string> keys);

class Engine : private bus::Handler,
               private RoleListener,
               private ForwardListener,
               private TransportListener,
               private ApplierListener,
               private ServiceListener {
 public:
  // Opens the environment, starts the bus and the threads, and calls
  // rep_start(CLIENT). Returns once the board is a running client.
  static Result<std::unique_ptr<Engine>> Start(EngineOptions options);
  ~Engine() override;
  // Stops threads, closes tables and the environment, stops the bus.
  void Stop();

  // The key/value service: writes, reads, the write pool (kv_service.h).
  KvService& service() { return service_; }

  // ---- state ----
  Role role() const { return roles_.role(); }
  int master() const { return roles_.master(); }
  uint32_t generation() const { return roles_.generation(); }
  bool startup_done() const { return roles_.startup_done(); }
  // The role shown to the operator and firmware ("master", "replica",
  // "starting", "unconfirmed": liveness.h PresentedRole). Any thread.
  const char* PresentedRole() const {
    return liveness_.PresentedRole(roles_.View(), roles_.master_since_us(), clock_.NowMicros());
  }
  int self_slot() const { return opts_.self_slot; }
  uint64_t seed() const { return seed_; }
  const ChassisConfig& config() const { return opts_.config; }
  EventLog& events() { return events_; }
  bus::Bus& bus() { return *bus_; }
  memenv::Env& env() { return *env_; }
  nlohmann::json StatusJson();
  std::string StatusText();
  // Re-init phase, bytes received of the expected total, rate, eta (reinit_progress.cc).
  ReinitProgress ReinitProgressNow();
  nlohmann::json ReinitProgressJson();
  // Admin commands (JSON in, JSON out): status, link faults, elections.
  nlohmann::json Admin(const nlohmann::json& command);
  // True after an environment panic: the process must exit and rejoin empty.
  bool panicked() const { return panicked_.load(); }
  // True when this board must not join the chassis (its cache cannot hold
  // the chassis' data); UnfitReason says why. The process exits cleanly.
  bool unfit() const { return unfit_.load(); }
  std::string UnfitReason() const;
  // Main thread, on SIGTERM, before the client endpoint and Stop(): a master
  // hands mastership over as a planned switchover (writes in flight finish
  // with their acks, an in-sync replica catches up, it steps down) so that
  // no queued write commits here after the bus stops; and this board takes
  // part in no election from here on. Bounded (about a second).
  void StepDownForShutdown() { roles_.StepDownForShutdown(); }
  // Why this board does not call an election now ("" = it may): status.
  std::string ElectionWait() { return roles_.ElectionWait(); }
  // ---- security (board/src/security.cc) ----
  // Key rotation: re-reads EngineOptions::config_path and gives every peer
  // whose public_key changed its new key (the bus updates its ZAP table and
  // reconnects). Any thread (SIGHUP in main, admin "reload_keys"). Returns
  // the slots whose key changed; a bad file changes nothing.
  Result<std::vector<int>> ReloadPeerKeys();
  // Status "security" (mode, key, ZAP figures, unauthenticated frames).
  nlohmann::json SecurityJson() const;

 private:
  explicit Engine(EngineOptions options);
  // status.cc: the sections of StatusJson.
  void AddRepStatJson(int64_t now, nlohmann::json* j);
  nlohmann::json PeersJson(int64_t now, bus::Lsn next);
  nlohmann::json WritesJson() const;
  nlohmann::json MessagesJson() const;
  static nlohmann::json LogJson(const memenv::EnvStats& es);
  nlohmann::json BusJson(const bus::BusCounters& bc);
  nlohmann::json EventsJson();
  nlohmann::json QueuesJson(const bus::BusCounters& bc);
  Status Open();
  Status ConfigureReplication(__db_env* env);
  void StartThreads();
  // RoleListener (role_machine.h); also the engine's own log and events.
  void Log(const std::string& line) override;
  void Emit(EventKind kind, int slot = -1, std::string detail = "") override;
  void WakeTicker() override;
  void SendHeartbeat() override;
  bus::Lsn TickerNextLsn() const override;
  void OnMastershipBegins(uint32_t gen) override;
  void AbortDurabilityWaits() override;
  bool ReinitInProgress() const override { return liveness_.reinit(); }
  // ForwardListener (forwarder.h).
  int ForwardMaster() const override { return roles_.master(); }
  bool ForwardSelfIsMaster() const override { return roles_.role() == Role::kMaster; }
  bool SendForward(int slot, const bus::OutFrame& frame) override;
  void ApplyForwardHere(RequestId id, std::vector<memenv::BatchOp> ops,
                        std::function<void(WriteResult)> done) override {
    service_.ApplyHere(id, std::move(ops), std::move(done));
  }
  // ServiceListener (kv_service.h): the role machine and the forwarder.
  Role ServiceRole() const override { return roles_.role(); }
  int ServiceMaster() const override { return roles_.master(); }
  uint32_t ServiceGeneration() const override { return roles_.generation(); }
  RoleView ServiceRoleView() const override { return roles_.View(); }
  Gate& ServiceApiGate() override { return roles_.api_gate(); }
  bool ServiceConfirmedMaster(int64_t now_us) const override { return ConfirmedMaster(now_us); }
  Status ServiceCheckWritable(int64_t now_us) const override { return roles_.CheckWritable(now_us); }
  void ServiceForward(std::vector<memenv::BatchOp> ops, RequestId id,
                      std::function<void(WriteResult)> done, int64_t now_us) override {
    forwarder_.Forward(std::move(ops), id, std::move(done), now_us);
  }

  // The transport callback (rep_set_transport): RepTransport::Send.
  static int SendCallback(__db_env* env, const __db_dbt* control, const __db_dbt* rec,
                          const __db_lsn* lsnp, int envid, uint32_t flags);
  // TransportListener (rep_transport.h): lock-free reads of the role machine.
  Role TransportRole() const override { return roles_.role(); }
  uint32_t TransportGeneration() const override { return roles_.generation(); }
  int TransportMaster() const override { return roles_.master(); }
  void TransportLog(const std::string& line) override { Log(line); }
  void TransportRerequest(int dead_slot) override;  // messages.cc

  // messages.cc (bus::Handler)
  void OnFrame(bus::InFrame&& frame) override;
  void OnPeerUp(int slot) override;
  void OnPeerDown(int slot) override;
  // ApplierListener (replica_applier.h), messages.cc.
  bool ApplierRepStarted() const override { return roles_.rep_started(); }
  Gate& ApplierGate() override { return roles_.message_gate(); }
  int ApplierMaster() const override { return roles_.master(); }
  RoleView ApplierRoleView() const override { return roles_.View(); }
  void ApplierAfterMessage() override { roles_.PromoteIfElected(); }
  void ApplierHoldElection() override { roles_.RequestElection("HOLDELECTION"); }
  void ApplierDupMaster(int sender, bool demote) override;
  void ApplierPanicked() override { panicked_ = true; }
  void ApplierAck(const bus::InFrame& ack) override;
  void ApplierLog(const std::string& line) override { Log(line); }
  // Berkeley DB's rep_process_message, for the applier (engine.cc).
  int ProcessRepMessage(std::span<const uint8_t> control, std::span<const uint8_t> rec, int sender,
                        bus::Lsn* ret_lsn);

  // events (engine.cc)
  static void EventCallback(__db_env* env, uint32_t event, void* info);

  // ticker.cc
  void TickerLoop();
  // rep_stat: this board's next LSN and re-init state (liveness_,
  // reinit_tracker_), and on a replica the master and generation Berkeley
  // DB follows (the role machine's).
  void RefreshRepState();
  bool ConfirmedMaster(int64_t now_us) const {
    return liveness_.ConfirmedMaster(roles_.View(), now_us);
  }

  // gauges.cc: the gauge thread measures this board's database size (for
  // its heartbeat) and cache use every kDbSizeEveryUs. Not on the ticker:
  // these reads enter Berkeley DB (memp_fget), which parks a caller for 5 s
  // at a time while an internal init or a client recovery locks operations
  // out (__op_rep_enter), and heartbeats must not stop for that.
  void GaugeLoop();
  void RefreshDbSize();
  static constexpr int64_t kDbSizeEveryUs = 250'000;
  // ticker.cc: the chassis memory view (memory_gauge.h), ticker only.
  void RefreshMemory(int64_t now_us);
  void CheckCacheHoldsChassisData(int64_t now_us);
  // A board joins only if the master's data fits this share of its cache.
  static constexpr uint64_t kJoinCachePct = 90;
  std::atomic<bool> unfit_{false};
  mutable std::mutex unfit_mu_;
  std::string unfit_reason_;  // guarded by unfit_mu_ (written once, by the ticker)

  // request_expirer.cc's thread: expiry on the master, counts everywhere.
  void ExpirerLoop();

  const EngineOptions opts_;
  const Clock& clock_;
  const uint64_t seed_;          // opts_.seed, or the fresh one drawn for it
  std::unique_ptr<memenv::Env> env_;
  std::unique_ptr<bus::Bus> bus_;
  bus::FrameHeader header_;
  PeerTable peers_;
  // This board's heartbeat and master confirmation (liveness.h).
  Liveness liveness_{opts_.config, opts_.self_slot, clock_, peers_};
  Durability durability_;  // acks, written end, last PERM LSN, the writer's wait
  // How replication messages leave (the send callback, ANYWHERE routing and
  // re-sends); given the bus by Open. Its listener calls reach roles_, which
  // is constructed later but only used once messages flow.
  RepTransport transport_{opts_.config.chassis_id, opts_.self_slot, clock_, peers_, durability_,
                          *this};
  EventLog events_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> panicked_{false};

  // The rep and serve workers and their bounded queues (replica_applier.h).
  ReplicaApplier applier_{opts_.config, opts_.self_slot, clock_, *this};

  // Re-init progress of this board, fed by the ticker's rep_stat.
  ReinitTracker reinit_tracker_;

  // Forwarded writes waiting for the master's reply (origin side).
  Forwarder forwarder_{opts_.config, opts_.self_slot, clock_, *this};

  // Wakes the ticker early (a new master: send waiting forwarded writes now).
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool tick_now_ = false;

  std::thread ticker_, expirer_, gauge_;
  // Exactly-once bookkeeping and memory admission (their headers say who
  // calls what on which thread).
  RequestIds request_ids_;
  MemoryGauge memory_;
  // Writes and reads (kv_service.h); given the env and the bus by Open.
  KvService service_;
  std::mutex expirer_mu_;
  std::condition_variable expirer_cv_;
  std::mutex gauge_mu_;  // only for gauge_cv_ (the wait and the stop)
  std::condition_variable gauge_cv_;
  std::mutex log_mu_;

  // security.cc: the bus's security settings (Open), and the peer keys in
  // force (ReloadPeerKeys replaces them; status reads them).
  Status ConfigureBusSecurity(bus::BusOptions* bo);
  std::string public_key_;                // this board's, for status (set by Open)
  mutable std::mutex keys_mu_;            // serializes reloads; guards peer_keys_
  std::map<int, std::string> peer_keys_;  // slot -> Z85 key in force
  uint64_t key_reloads_ = 0;              // guarded by keys_mu_
  // Frame checks (frame_checks.h, frame_guard.h; messages.cc): what is
  // refused before it reaches Berkeley DB, the ack tracker, the peer table
  // or the write pool, counted per reason (status "refused", "config").
  FrameGuard guard_{opts_.config, opts_.self_slot};
  bool AckPlausible(int sender, uint32_t gen, bus::Lsn lsn);
  // Bus thread: false when the RepMsg must not reach rep_process_message.
  bool RepFramePlausible(const bus::InFrame& in);
  void OnHeartbeatFrame(int sender, const wire::Heartbeat& hb, int64_t received_us);
  bool ForwardedWritePlausible(const bus::InFrame& in);
  // Logs a refusal the first time per reason and every 1000th after.
  void LogRefusal(Refusal r, int sender, const std::string& detail);

  // Declared last: it is constructed from the members above (peers_, guard_,
  // stop_) and calls back into this engine as its RoleListener.
  RoleMachine roles_;
};

}  // namespace bp::board
