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
//   write pool   commits (a commit blocks in the transport until acked).
//   checkpointer (memenv) volume-driven checkpoints, on the master only.
//   request expirer  deletes request ids past their window or budget, on the
//                master only; counts them for status everywhere.
//
// Role state machine: RoleMachine (role_machine.h), which owns the role,
// the master, the generation, elections and the rep_start gates. Writes
// forwarded to the master (origin side): Forwarder (forwarder.h).
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

enum class ReadMode { kLocal = 0, kReadYourWrites = 1, kLinearizable = 2 };

// Who answered a LINEARIZABLE read: this board as master of `gen`, having
// last confirmed its mastership at `mono_us` (CLOCK_MONOTONIC, shared by
// every process on the machine). Filled only for a successful read.
struct ServedInfo {
  int slot = 0;
  uint32_t gen = 0;
  int64_t mono_us = 0;
};

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
               private ApplierListener {
 public:
  // Opens the environment, starts the bus and the threads, and calls
  // rep_start(CLIENT). Returns once the board is a running client.
  static Result<std::unique_ptr<Engine>> Start(EngineOptions options);
  ~Engine() override;
  // Stops threads, closes tables and the environment, stops the bus.
  void Stop();

  // ---- service (board/src/service.cc) ----
  // Applies `ops` atomically on this board, which must be master. Blocks
  // until the ack policy is met or the ack timeout passes.
  // `forwarded`: it came from a replica (HandleAppRequest).
  WriteResult Write(const std::vector<memenv::BatchOp>& ops, RequestId id, bool forwarded = false);
  // Applies on the master from any board: locally when master, else
  // forwarded over the bus (retried at a new master, bounded). `done` runs
  // on an engine thread.
  void SubmitWrite(std::vector<memenv::BatchOp> ops, RequestId id,
                   std::function<void(WriteResult)> done);
  Result<std::string> Get(std::string_view key, ReadMode mode, std::string_view token,
                          uint32_t timeout_ms, ServedInfo* served = nullptr);
  Result<std::vector<std::pair<std::string, std::string>>> Scan(std::string_view start,
                                                                std::string_view end,
                                                                size_t limit);
  Status CheckWrite(const std::vector<memenv::BatchOp>& ops) const;

  // ---- state ----
  Role role() const { return roles_.role(); }
  int master() const { return roles_.master(); }
  uint32_t generation() const { return roles_.generation(); }
  bool startup_done() const { return roles_.startup_done(); }
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
  // Whether LOCAL reads may go to Berkeley DB now: a master, or a replica
  // in sync and not re-initialising (a replica in internal init is locked
  // out of Berkeley DB and a read would wait for the whole init). Any thread.
  bool LocalReadsServable() const;
  // The refusal for a LOCAL read while !LocalReadsServable() (Unavailable).
  Status NotInSync() const;
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
  // service.cc: the steps of Write.
  Status AdmitWrite(const std::vector<memenv::BatchOp>& ops);
  Status StillWritableInsideGate();
  Status CommitWrite(const std::vector<memenv::BatchOp>& ops, RequestId id, bool forwarded,
                     __db_txn_token* token, bool* duplicate);
  void AwaitWriteAcks(int64_t begin_us, WriteResult* r);
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
                        std::function<void(WriteResult)> done) override;

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

  // service.cc
  // The write's transaction body: claims the request id, then applies the
  // ops unless it is a duplicate, refusing growth past the memory mark.
  Status ApplyInTxn(memenv::Txn& t, memenv::Table& data, memenv::Table& reqs,
                    const std::vector<memenv::BatchOp>& ops, RequestId id, bool forwarded,
                    bool fits, RequestIds::Claim* claim);
  void ThrottleForLaggingReplicas();
  // request_ids.cc's thread: expiry on the master, counts everywhere.
  void ExpirerLoop();
  Result<std::string> ConfirmLinearizableRead(Result<std::string> value, ServedInfo* served);
  memenv::Table* DataTable();
  memenv::Table* RequestTable();
  void HandleAppRequest(bus::InFrame frame);
  // On a write thread: Write, and if this board stepped down before
  // applying, SubmitWrite again (forwarded to the new master).
  void WriteOnPool(std::vector<memenv::BatchOp> ops, RequestId id,
                   std::function<void(WriteResult)> done);
  void ReplyTo(int slot, RequestId id, const WriteResult& r);

  const EngineOptions opts_;
  const Clock& clock_;
  const uint64_t seed_;          // opts_.seed, or the fresh one drawn for it
  SharedRng request_id_rng_;     // ids of writes submitted without one (any thread)
  RequestId NewRequestId();
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
  // The refusal of a write that finds write_queue_limit writes waiting.
  Status WritePoolFull() const;

  // Re-init progress of this board, fed by the ticker's rep_stat.
  ReinitTracker reinit_tracker_;

  // Counters.
  std::atomic<uint64_t> writes_{0}, writes_not_durable_{0}, duplicates_{0};
  std::atomic<uint64_t> throttled_{0};
  // Master: forwarded writes received from replicas, and those answered.
  std::atomic<uint64_t> forwarded_in_{0}, forwarded_in_done_{0};
  // Leases: reads/writes refused because Berkeley DB found this master's
  // lease expired (DB_REP_LEASE_EXPIRED), and when the last one was.
  std::atomic<uint64_t> lease_expired_{0};
  std::atomic<int64_t> last_lease_expired_us_{0};
  // Leases: counts a DB_REP_LEASE_EXPIRED refusal and rewrites it into a
  // message that says what to do; other statuses pass unchanged.
  Status LeaseExpired(Status st, const char* what);

  // Forwarded writes waiting for the master's reply (origin side).
  Forwarder forwarder_{opts_.config, opts_.self_slot, clock_, *this};

  // Wakes the ticker early (a new master: send waiting forwarded writes now).
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool tick_now_ = false;

  // Writes waiting for a write thread, at most write_queue_limit and
  // write_queue_mb of keys and values (OpsBytes).
  ThreadPool write_pool_{
      QueueLimits{opts_.config.write_queue_limit, size_t(opts_.config.write_queue_mb) << 20}};
  static size_t OpsBytes(const std::vector<memenv::BatchOp>& ops);
  std::thread ticker_, expirer_, gauge_;
  // Exactly-once bookkeeping and memory admission (their headers say who
  // calls what on which thread).
  RequestIds request_ids_;
  MemoryGauge memory_;
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
