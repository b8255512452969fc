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
//   election     calls rep_elect; never a message thread (the election needs
//                messages processed concurrently).
//   ticker       heartbeats, master watch, rep_flush, forwarded-write retries.
//   write pool   commits (a commit blocks in the transport until acked).
//   checkpointer (memenv) volume-driven checkpoints, on the master only.
//   request expirer  deletes request ids past their window or budget, on the
//                master only; counts them for status everywhere.
//
// Role state machine (narrated in election.cc):
//   CLIENT --(no master heard / master silent / master link down /
//             HOLDELECTION)--> ELECTING --(won: quiesce, rep_start MASTER)-->
//   MASTER --(DUPMASTER or a higher-generation master's heartbeat)--> CLIENT
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
#include <string>
#include <thread>
#include <vector>

#include "board/ack_tracker.h"
#include "board/config.h"
#include "board/events.h"
#include "board/gate.h"
#include "board/memory_gauge.h"
#include "board/peers.h"
#include "board/reinit_progress.h"
#include "board/request_ids.h"
#include "board/work_queue.h"
#include "bp/status.h"
#include "bus/bus.h"
#include "memenv/env.h"

struct __db_env;
struct __db_dbt;
struct __db_lsn;

namespace bp::board {

struct PermOutcome;  // perm_outcome.h

enum class Role { kStarting, kClient, kMaster };
const char* RoleName(Role r);

enum class ReadMode { kLocal = 0, kReadYourWrites = 1, kLinearizable = 2 };

struct RequestId {
  uint64_t hi = 0, lo = 0;
  bool empty() const { return hi == 0 && lo == 0; }
  friend auto operator<=>(const RequestId&, const RequestId&) = default;
};

struct WriteResult {
  Status status;
  bool durable = false;     // ack policy met (false: committed on the master only)
  bool duplicate = false;   // the request id was applied before; nothing re-applied
  std::string token;        // commit token (DB_TXN_TOKEN) for read-your-writes
  int master = -1;          // the board that applied it
};

// Who answered a LINEARIZABLE read: this board as master of `gen`, having
// last confirmed its mastership at `mono_us` (CLOCK_MONOTONIC, shared by
// every process on the machine). Filled only for a successful read.
struct ServedInfo {
  int slot = 0;
  uint32_t gen = 0;
  int64_t mono_us = 0;
};

struct EngineOptions {
  ChassisConfig config;
  int self_slot = 0;
  std::string home;  // existing empty dir for the environment ("" = temp dir)
  std::shared_ptr<zmq::context_t> zmq_context;  // shared context (inproc tests)
  bool verbose = false;                          // BDB verbose replication messages
  std::function<void(const std::string&)> log;   // engine log lines (default stderr)
};

// One queue's figures for status "queues" (status.cc); `keys` names the
// configuration keys of its limits.
nlohmann::json QueueJson(const QueueStats& q, std::vector<std::string> keys);

class Engine : private bus::Handler {
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
  Role role() const { return role_.load(); }
  int master() const { return master_slot_.load(); }
  uint32_t generation() const { return gen_.load(); }
  bool startup_done() const;
  int self_slot() const { return opts_.self_slot; }
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
  void StepDownForShutdown();
  // Why this board does not call an election now ("" = it may): status.
  std::string ElectionWait();
  // Whether LOCAL reads may go to Berkeley DB now: a master, or a replica
  // in sync and not re-initialising (a replica in internal init is locked
  // out of Berkeley DB and a read would wait for the whole init). Any thread.
  bool LocalReadsServable() const;
  // The refusal for a LOCAL read while !LocalReadsServable() (Unavailable).
  Status NotInSync() const;

 private:
  explicit Engine(EngineOptions options);
  Status Open();
  Status ConfigureReplication(__db_env* env);
  void StartThreads();
  void Log(const std::string& line);
  void Emit(EventKind kind, int slot = -1, std::string detail = "");

  // transport.cc
  static int SendCallback(__db_env* env, const __db_dbt* control, const __db_dbt* rec,
                          const __db_lsn* lsnp, int envid, uint32_t flags);
  int Send(const __db_dbt* control, const __db_dbt* rec, const __db_lsn* lsnp, int envid,
           uint32_t flags);
  int RouteAnywhere(int envid);
  bool AwaitDurable(bus::Lsn lsn, PermOutcome* po);
  void RememberRouted(int dest, int fallback, const bus::OutFrame& frame);
  void ResendRoutedTo(int dead_slot);

  // messages.cc (bus::Handler)
  void OnFrame(bus::InFrame&& frame) override;
  void OnPeerUp(int slot) override;
  void OnPeerDown(int slot) override;
  void WorkerLoop();
  // Returns the LSN acknowledged (trace::Pack), or 0 when it was not ISPERM.
  uint64_t ProcessRepMessage(const bus::InFrame& frame, bool hold_ack = true);
  // `hold_ack`: ISPERM may be held to acknowledge a run at once (rep worker
  // only; held_ack_ belongs to it).
  void HandleProcessResult(int ret, int sender, uint32_t frame_gen, const bus::Lsn& ret_lsn,
                           bool hold_ack);
  void ServeLoop();
  void SendAck(int to, uint32_t gen, const bus::Lsn& lsn);
  void FlushAck();

  // The rep worker's ack not sent yet (rep worker only): while more
  // replication messages wait in the queue, only the last ISPERM of the run
  // is acknowledged (an ack covers every commit up to its LSN), bounded by
  // kMaxHeldAcks so a steady stream still acknowledges.
  struct HeldAck {
    bool held = false;
    int to = 0;
    uint32_t gen = 0;
    bus::Lsn lsn;
    int covered = 0;  // ISPERMs this ack stands for
  };
  static constexpr int kMaxHeldAcks = 16;
  HeldAck held_ack_;

  // events (engine.cc)
  static void EventCallback(__db_env* env, uint32_t event, void* info);

  // election.cc
  void ElectionLoop();
  void RequestElection(const char* why);
  void RequestDemote(const char* why);
  void RunElection();
  void MaybePromote();
  void Promote();
  void Demote(const char* why);
  void OnBecameMaster();
  void RefreshRepState();

  // two_board.cc
  bool PreferredMode() const;
  // Ticker: asks the election thread for the hand-over (never blocks).
  void MaybeHandOver(int64_t now_us);
  // Election thread: the preferred board's hand-back.
  void HandOver();
  // Stops new writes, drains those in flight, waits (bounded) until `to`
  // (or, with to < 0, any live in-sync electable replica) has applied this
  // master's whole log, then steps down. Returns whether it stepped down.
  bool StepDownAfterCatchUp(int to, const char* why);
  uint32_t ElectionPriority() const;
  Status CheckWritable(int64_t now_us);

  // liveness.cc
  void TickerLoop();
  void SendHeartbeat();
  void WatchMaster(int64_t now_us);
  bool ConfirmedMaster(int64_t now_us) const;

  // election.cc: an electable board that never held data in this process
  // must not win an election while a live peer holds more log that no live
  // electable board holds (it would wipe that peer by internal init).
  // Fills `why` and returns true when the election must wait.
  bool ElectionWouldWipePeers(std::string* why);
  void SetElectionWait(const std::string& why);

  // reinit_progress.cc: this board's database size for its heartbeat.
  void RefreshDbSize(int64_t now_us);
  static constexpr int64_t kDbSizeEveryUs = 250'000;
  // liveness.cc: memory figures (memory_gauge.h), ticker only.
  void RefreshMemory(int64_t now_us);
  void CheckCacheHoldsChassisData(int64_t now_us);
  // A board joins only if the master's data fits this share of its cache.
  static constexpr uint64_t kJoinCachePct = 90;
  std::atomic<bool> unfit_{false};
  mutable std::mutex unfit_mu_;
  std::string unfit_reason_;  // guarded by unfit_mu_ (written once, by the ticker)
  int64_t memory_measured_us_ = 0;

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
  void HandleAppReply(const wire::AppReply& reply);
  void SendForward(RequestId id);
  void RetryForwards(int64_t now_us);
  void ReplyTo(int slot, RequestId id, const WriteResult& r);

  const EngineOptions opts_;
  const Clock& clock_;
  std::unique_ptr<memenv::Env> env_;
  std::unique_ptr<bus::Bus> bus_;
  bus::FrameHeader header_;
  PeerTable peers_;
  AckTracker acks_;
  EventLog events_;

  std::atomic<Role> role_{Role::kStarting};
  std::atomic<int> master_slot_{-1};
  std::atomic<uint32_t> gen_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> rep_started_{false};
  std::atomic<bool> panicked_{false};

  // Replication messages, in arrival order, for the worker. Bounded by
  // rep_queue_frames / rep_queue_mb: beyond, a message is dropped (counted;
  // Berkeley DB re-requests what it misses).
  WorkQueue<bus::InFrame> rep_queue_{
      QueueLimits{opts_.config.rep_queue_frames, size_t(opts_.config.rep_queue_mb) << 20}};
  // Requests any board may answer (DB_REP_ANYWHERE: log and page requests of
  // a board catching up or re-initialising) have their own worker, so that
  // serving pages never delays this board's acks of the master's commits.
  // Bounded by serve_queue_frames / serve_queue_mb (dropped, re-requested).
  WorkQueue<bus::InFrame> serve_queue_{
      QueueLimits{opts_.config.serve_queue_frames, size_t(opts_.config.serve_queue_mb) << 20}};
  // Bus receive thread: queues a replication frame, or drops and logs it.
  void QueueRepFrame(WorkQueue<bus::InFrame>& q, const char* which, bus::InFrame&& in);
  // The refusal of a write that finds write_queue_limit writes waiting.
  Status WritePoolFull() const;
  // Gates in front of rep_process_message and of application calls into
  // Berkeley DB: closed around every rep_start so that no thread is inside
  // (bdb-base-api.md §3.6: otherwise rep_start sleeps a second, and during a
  // promotion a second master can appear). See gate.h.
  Gate message_gate_;
  Gate api_gate_;
  // Closes both gates, runs rep_start(flags), reopens them.
  int QuiescedRepStart(uint32_t flags);

  // Every rep_start call goes through this lock (§0 item 7).
  std::mutex rep_start_mu_;
  std::atomic<bool> elected_pending_{false};
  std::atomic<bool> startup_done_{false};
  std::atomic<bool> in_election_{false};
  std::atomic<int64_t> next_election_us_{0};
  std::atomic<int64_t> last_master_seen_us_{0};
  std::mutex election_mu_;
  std::condition_variable election_cv_;
  bool election_requested_ = false;
  bool demote_requested_ = false;
  std::string demote_reason_;
  std::string election_reason_;
  std::atomic<uint64_t> elections_{0}, elections_won_{0};
  std::atomic<int64_t> last_election_ms_x1000_{0};  // duration of the last election, us

  // Replication state read by the ticker (rep_stat), for heartbeats/status.
  std::atomic<uint32_t> next_lsn_file_{0}, next_lsn_offset_{0};
  std::atomic<bool> reinit_{false};
  ReinitTracker reinit_tracker_;
  std::atomic<uint64_t> db_pages_{0};  // memp_stat, every kDbSizeEveryUs (ticker only)
  std::atomic<uint32_t> page_size_{0};
  int64_t db_size_at_us_ = 0;          // ticker only
  std::atomic<uint64_t> heartbeat_seq_{0};
  std::atomic<int64_t> mastership_since_us_{0};

  // Counters.
  std::atomic<uint64_t> msgs_processed_{0}, acks_sent_{0}, perm_failures_{0}, perm_waits_{0};
  std::atomic<uint64_t> rep_errors_{0}, isperm_{0}, notperm_{0}, ignored_{0}, dupmaster_ignored_{0};
  std::atomic<uint64_t> anywhere_routed_{0};
  std::atomic<uint64_t> writes_{0}, writes_not_durable_{0}, forwarded_{0}, duplicates_{0};
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
  // The LSN of the last PERMANENT record this master sent (file << 32 |
  // offset): a linearizable read waits until it is acknowledged.
  std::atomic<uint64_t> last_perm_lsn_{0};
  std::atomic<uint64_t> promotion_us_last_{0}, demotion_us_last_{0};
  // The preferred board's hand-back, asked by the ticker, run by the
  // election thread (election_mu_).
  bool handover_requested_ = false;
  // This process held the data once: in sync with a master, or master.
  std::atomic<bool> ever_synced_{false};
  // SIGTERM: no more elections on this board.
  std::atomic<bool> shutting_down_{false};
  // Why elections wait (ElectionWouldWipePeers), for status and writes.
  std::mutex election_wait_mu_;
  std::string election_wait_;
  std::atomic<uint64_t> elections_refused_{0};

  // Forwarded writes waiting for the master's reply (origin side).
  struct PendingForward {
    std::vector<memenv::BatchOp> ops;
    std::function<void(WriteResult)> done;
    uint32_t attempts = 0;
    int64_t sent_us = 0;
    int64_t deadline_us = 0;
    int sent_to = -1;
  };
  std::mutex fwd_mu_;
  std::map<RequestId, PendingForward> forwards_;

  // Wakes the ticker early (a new master: send waiting forwarded writes now).
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool tick_now_ = false;
  void WakeTicker();

  // Writes waiting for a write thread, at most write_queue_limit and
  // write_queue_mb of keys and values (OpsBytes).
  ThreadPool write_pool_{
      QueueLimits{opts_.config.write_queue_limit, size_t(opts_.config.write_queue_mb) << 20}};
  static size_t OpsBytes(const std::vector<memenv::BatchOp>& ops);
  std::thread worker_, serve_worker_, election_thread_, ticker_, expirer_;
  // Exactly-once bookkeeping and memory admission (their headers say who
  // calls what on which thread).
  RequestIds request_ids_;
  MemoryGauge memory_;
  std::mutex expirer_mu_;
  std::condition_variable expirer_cv_;
  std::mutex log_mu_;

  // Recent DB_REP_ANYWHERE requests routed to a replica instead of the
  // master: if that replica dies before answering, they are re-sent to the
  // master so a re-initialising board does not stall (transport.cc).
  struct RoutedRequest {
    int dest = 0;
    int fallback = 0;
    int64_t sent_us = 0;
    bus::OutFrame frame;
  };
  std::mutex routed_mu_;
  std::deque<RoutedRequest> routed_;
};

}  // namespace bp::board
