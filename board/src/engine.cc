// Engine lifecycle: open the in-memory environment with the replication
// configuration, start the bus and the threads, rep_start(CLIENT); and the
// Berkeley DB event callback.
#include "board/commit_trace.h"
#include "board/engine.h"

#include <db.h>

#include <cstdio>
#include <iostream>

namespace bp::board {

Engine::Engine(EngineOptions options)
    : opts_(std::move(options)),
      clock_(*opts_.clock),
      seed_(opts_.seed != 0 ? opts_.seed : FreshSeed()),
      peers_(opts_.config, opts_.self_slot),
      durability_(opts_.config, opts_.self_slot, peers_, clock_,
                  [this](const std::string& detail) { Emit(EventKind::kPermFailed, -1, detail); }),
      request_ids_(RequestIds::LimitsFor(opts_.config.request_retention_s, opts_.config.cache_mb,
                                         opts_.config.request_budget_pct)),
      memory_(opts_.self_slot, opts_.config.cache_mb, opts_.config.cache_high_water_pct),
      service_(opts_.config, opts_.self_slot, clock_, peers_, liveness_, durability_, request_ids_,
               memory_, DeriveSeed(seed_, SeedStream::kRequestIds), *this),
      roles_(opts_.config, opts_.self_slot, clock_, DeriveSeed(seed_, SeedStream::kElectionJitter),
             peers_, guard_, stop_, *this) {
  header_.chassis_id = opts_.config.chassis_id;
  header_.sender = opts_.self_slot;
}

Engine::~Engine() { Stop(); }

void Engine::Log(const std::string& line) {
  if (opts_.log) {
    opts_.log(line);
    return;
  }
  std::lock_guard<std::mutex> l(log_mu_);
  std::fprintf(stderr, "[board %d] %s\n", opts_.self_slot, line.c_str());
}

void Engine::Emit(EventKind kind, int slot, std::string detail) {
  BoardEvent e;
  e.mono_us = clock_.NowMicros();
  e.wall_us = clock_.WallMicros();
  e.kind = kind;
  e.slot = slot;
  e.gen = roles_.generation();
  e.detail = std::move(detail);
  events_.Add(e);
}

Result<std::unique_ptr<Engine>> Engine::Start(EngineOptions options) {
  if (!options.config.Find(options.self_slot)) {
    return Status::InvalidArgument("slot " + std::to_string(options.self_slot) +
                                   " is not in the chassis configuration; pick one of its "
                                   "[[board]] slots");
  }
  std::unique_ptr<Engine> e(new Engine(std::move(options)));
  Status st = e->Open();
  if (!st.ok()) {
    e->Stop();
    return st;
  }
  return e;
}

Status Engine::Open() {
  const ChassisConfig& c = opts_.config;
  const SlotConfig& self = *c.Find(opts_.self_slot);

  memenv::EnvOptions eo;
  eo.home = opts_.home;
  eo.cache_bytes = size_t(c.cache_mb) << 20;
  eo.log_buffer_bytes = size_t(c.log_buffer_mb) << 20;
  eo.log_wait_ms = c.log_wait_ms;
  eo.on_bdb_message = [this](const std::string& m) { Log("bdb: " + m); };
  eo.before_open = [this](__db_env* env) { return ConfigureReplication(env); };
  // With leases the write path checks mastership before committing
  // (kv_service.cc) and never lets Berkeley DB's post-commit lease check panic
  // the environment of a master cut off mid-commit (bdb-base-api.md §4).
  eo.commits_ignore_leases = c.leases;
  eo.seed = DeriveSeed(seed_, SeedStream::kBackoff);
  auto env = memenv::Env::Open(eo);
  if (!env.ok()) return env.status().WithContext("opening the in-memory environment");
  env_ = std::move(env).value();
  roles_.Attach(*env_);
  // Only the master writes its own log; clients receive the master's
  // checkpoints.
  env_->SetCheckpointGate([this] { return roles_.role() == Role::kMaster; });

  bus::BusOptions bo;
  bo.chassis_id = c.chassis_id;
  bo.self_slot = opts_.self_slot;
  bo.self_endpoint = self.endpoint;
  bo.fault_seed = DeriveSeed(seed_, SeedStream::kBusLoss);
  bo.clock = &clock_;
  bo.delay_line_frames = c.delay_line_frames;
  bo.delay_line_bytes = size_t(c.delay_line_mb) << 20;
  bo.dead_link_ms = int(c.dead_link_ms);
  for (const auto& b : c.boards) {
    if (b.slot != opts_.self_slot) bo.peers.push_back({b.slot, b.endpoint, b.public_key});
  }
  BP_RETURN_IF_ERROR(ConfigureBusSecurity(&bo));
  auto bus = opts_.bus_factory ? opts_.bus_factory(std::move(bo)) : bus::Bus::Create(std::move(bo));
  if (!bus.ok()) return bus.status().WithContext("creating the bus");
  bus_ = std::move(bus).value();
  transport_.Attach(bus_.get());
  service_.Attach(env_.get(), bus_.get());
  applier_.Attach(bus_.get(), [this](std::span<const uint8_t> control, std::span<const uint8_t> rec,
                                     int sender, bus::Lsn* ret_lsn) {
    return ProcessRepMessage(control, rec, sender, ret_lsn);
  });

  StartThreads();  // the worker holds messages until rep_start returned
  BP_RETURN_IF_ERROR(bus_->Start(this).WithContext("starting the bus"));

  BP_RETURN_IF_ERROR(roles_.StartAsClient());
  Log("started as replica in chassis " + std::to_string(c.chassis_id) + " (" +
      std::to_string(c.boards.size()) + " slots, ack policy " + AckPolicyName(c.ack_policy) +
      ", seed " + std::to_string(seed_) + ")");
  return Status::Ok();
}

// Berkeley DB's transport callback: the engine is the environment's
// app_private (ConfigureReplication); RepTransport does the work.
int Engine::SendCallback(__db_env* env, const DBT* control, const DBT* rec, const DB_LSN* lsnp,
                         int envid, uint32_t flags) {
  return static_cast<Engine*>(env->app_private)->transport_.Send(control, rec, lsnp, envid, flags);
}

// Replication settings that must precede DB_ENV->open or rep_start
// (bdb-base-api.md §5.1, steps 1, 7 and 8).
Status Engine::ConfigureReplication(__db_env* env) {
  const ChassisConfig& c = opts_.config;
  env->app_private = this;
  auto check = [](int ret, const char* what) -> Status {
    if (ret == 0) return Status::Ok();
    return Status::Internal(std::string(what) + " failed: " + db_strerror(ret));
  };
  BP_RETURN_IF_ERROR(check(env->set_event_notify(env, &Engine::EventCallback), "set_event_notify"));
  BP_RETURN_IF_ERROR(
      check(env->rep_set_transport(env, opts_.self_slot, &Engine::SendCallback), "rep_set_transport"));
  // Only electable boards vote (a non-electable board ignores HOLDELECTION),
  // so nsites and the election majority count electable boards.
  BP_RETURN_IF_ERROR(check(env->rep_set_nsites(env, uint32_t(c.ElectableCount())), "rep_set_nsites"));
  BP_RETURN_IF_ERROR(check(env->rep_set_priority(env, roles_.ElectionPriority()), "rep_set_priority"));
  BP_RETURN_IF_ERROR(check(env->rep_set_timeout(env, DB_REP_ELECTION_TIMEOUT,
                                                c.election_timeout_ms * 1000),
                           "rep_set_timeout(ELECTION_TIMEOUT)"));
  BP_RETURN_IF_ERROR(check(env->rep_set_timeout(env, DB_REP_CHECKPOINT_DELAY, 0),
                           "rep_set_timeout(CHECKPOINT_DELAY)"));
  BP_RETURN_IF_ERROR(check(env->rep_set_request(env, c.rep_request_min_ms * 1000,
                                                c.rep_request_max_ms * 1000),
                           "rep_set_request"));
  BP_RETURN_IF_ERROR(check(env->rep_set_limit(env, 0, c.rep_limit_kb * 1024), "rep_set_limit"));
  BP_RETURN_IF_ERROR(check(env->rep_set_config(env, DB_REP_CONF_BULK, c.bulk ? 1 : 0), "BULK"));
  BP_RETURN_IF_ERROR(check(env->rep_set_config(env, DB_REP_CONF_AUTOINIT, 1), "AUTOINIT"));
  BP_RETURN_IF_ERROR(check(env->rep_set_config(env, DB_REP_CONF_AUTOROLLBACK, 1), "AUTOROLLBACK"));
  if (c.leases) {
    BP_RETURN_IF_ERROR(check(env->rep_set_config(env, DB_REP_CONF_LEASE, 1), "LEASE"));
    BP_RETURN_IF_ERROR(check(env->rep_set_timeout(env, DB_REP_LEASE_TIMEOUT,
                                                  c.lease_timeout_ms * 1000),
                             "rep_set_timeout(LEASE_TIMEOUT)"));
    BP_RETURN_IF_ERROR(check(env->rep_set_clockskew(env, 102, 100), "rep_set_clockskew"));
  }
  if (opts_.verbose) env->set_verbose(env, DB_VERB_REPLICATION, 1);
  return Status::Ok();
}

void Engine::StartThreads() {
  service_.Start();
  applier_.Start();
  roles_.StartThread();
  ticker_ = std::thread([this] { TickerLoop(); });
  expirer_ = std::thread([this] { ExpirerLoop(); });
  gauge_ = std::thread([this] { GaugeLoop(); });
}

// Berkeley DB calls this with internal mutexes held: only record and wake.
// Role events are the role machine's; the rest are recorded here.
void Engine::EventCallback(__db_env* env, uint32_t event, void* info) {
  auto* self = static_cast<Engine*>(env->app_private);
  if (!self) return;
  if (event == DB_EVENT_REP_STARTUPDONE) self->liveness_.OnStartupDone();
  self->roles_.OnBdbEvent(event, info);
  switch (event) {
    case DB_EVENT_REP_STARTUPDONE:
      self->Emit(EventKind::kStartupDone, self->roles_.master());
      break;
    case DB_EVENT_REP_INIT_DONE:
      self->Emit(EventKind::kInitDone, self->roles_.master());
      break;
    case DB_EVENT_PANIC:
      self->panicked_ = true;
      self->Emit(EventKind::kPanic, -1,
                 info ? db_strerror(*static_cast<int*>(info)) : "environment panic");
      break;
    default:
      break;
  }
}

// RoleListener: what the role machine asks of the engine.
bus::Lsn Engine::TickerNextLsn() const { return liveness_.next_lsn(); }

void Engine::OnMastershipBegins(uint32_t gen) { durability_.BeginMastership(gen); }

void Engine::AbortDurabilityWaits() { durability_.Abort(); }

void Engine::Stop() {
  if (stop_.exchange(true)) return;
  service_.BeginStop();
  durability_.Abort();
  // The bus goes first: its receive thread calls into the engine, and after
  // Stop() sends simply return false (the env's last messages are dropped).
  if (bus_) bus_->Stop();
  roles_.WakeForStop();
  applier_.Close();
  WakeTicker();
  {
    std::lock_guard<std::mutex> l(expirer_mu_);
  }
  expirer_cv_.notify_all();
  { std::lock_guard<std::mutex> l(gauge_mu_); }
  gauge_cv_.notify_all();
  if (expirer_.joinable()) expirer_.join();
  if (gauge_.joinable()) gauge_.join();
  applier_.Join();
  roles_.Join();
  if (ticker_.joinable()) ticker_.join();
  service_.Stop();
  // Fail what is still waiting for a forwarded reply.
  forwarder_.AbandonAll(Status::Unavailable(
      "board is shutting down; outcome unknown, retry with the same request id"));
  env_.reset();  // closes tables and the environment (stops the checkpointer)
  trace::Dump(opts_.self_slot);
}

}  // namespace bp::board
