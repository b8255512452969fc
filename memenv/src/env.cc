// Env: opening and closing the in-memory environment, and the table cache.
#include "memenv/env.h"

#include <db.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "db_error.h"
#include "estimate.h"
#include "format.h"
#include "home.h"
#include "log_budget.h"
#include "messages.h"

namespace bp::memenv {

namespace {

constexpr uint32_t kOpenFlags = DB_PRIVATE | DB_THREAD | DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK |
                                DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_REP;

}  // namespace

Env::Env(EnvOptions options)
    : options_(std::move(options)),
      backoff_rng_(options_.seed != 0 ? options_.seed : FreshSeed()) {}

Result<std::unique_ptr<Env>> Env::Open(EnvOptions options) {
  BP_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Env> env(new Env(std::move(options)));
  Status s = env->OpenImpl();
  if (!s.ok()) return s;  // ~Env releases whatever was set up
  return env;
}

Status Env::OpenImpl() {
  if (options_.home.empty()) {
    Result<std::string> home = MakeTempHome();
    if (!home.ok()) return home.status();
    owned_home_ = options_.home = *home;
  } else {
    BP_RETURN_IF_ERROR(CheckEmptyHome(options_.home));
  }
  BP_RETURN_IF_ERROR(FromDb(db_env_create(&env_, 0), "db_env_create"));
  RouteMessages(env_, options_.on_bdb_message);
  BP_RETURN_IF_ERROR(ConfigureBeforeOpen());
  if (options_.before_open) {
    BP_RETURN_IF_ERROR(options_.before_open(env_).WithContext("EnvOptions.before_open"));
  }
  BP_RETURN_IF_ERROR(FromDb(env_->open(env_, options_.home.c_str(), kOpenFlags, 0),
                            "DB_ENV->open(" + options_.home + ")"));
  // Everything is configured to live in memory; a file here means the
  // configuration is broken and state would leak across restarts.
  std::vector<std::string> files = ListHome(options_.home);
  if (!files.empty()) {
    return Status::Internal("Berkeley DB created '" + files.front() + "' in home " + options_.home +
                            ": the in-memory configuration is broken");
  }
  log_budget_ = std::make_unique<LogBudget>(options_.EffectiveLogInFlightBytes(),
                                            std::chrono::milliseconds(options_.log_wait_ms),
                                            [this] { return LogEndBytes(); });
  if (options_.run_checkpointer) checkpointer_ = std::thread([this] { CheckpointLoop(); });
  return Status::Ok();
}

// The in-memory settings must all precede DB_ENV->open (EINVAL afterwards,
// or a panic for lg_bsize <= lg_max, which Validate() already refused).
Status Env::ConfigureBeforeOpen() {
  const EnvOptions& o = options_;
  const uint32_t gbytes = static_cast<uint32_t>(o.cache_bytes >> 30);
  const uint32_t bytes = static_cast<uint32_t>(o.cache_bytes & ((1u << 30) - 1));
  BP_RETURN_IF_ERROR(FromDb(env_->set_cachesize(env_, gbytes, bytes, 1), "set_cachesize"));
  BP_RETURN_IF_ERROR(FromDb(env_->log_set_config(env_, DB_LOG_IN_MEMORY, 1), "log_set_config"));
  BP_RETURN_IF_ERROR(
      FromDb(env_->set_lg_bsize(env_, static_cast<uint32_t>(o.log_buffer_bytes)), "set_lg_bsize"));
  BP_RETURN_IF_ERROR(FromDb(
      env_->set_lg_max(env_, static_cast<uint32_t>(o.EffectiveLogFileBytes())), "set_lg_max"));
  BP_RETURN_IF_ERROR(
      FromDb(env_->rep_set_config(env_, DB_REP_CONF_INMEM, 1), "rep_set_config(INMEM)"));
  // The 30 s default makes every master checkpoint sleep after START_SYNC;
  // with nothing on disk the delay buys nothing.
  BP_RETURN_IF_ERROR(FromDb(env_->rep_set_timeout(env_, DB_REP_CHECKPOINT_DELAY, 0),
                            "rep_set_timeout(CHECKPOINT_DELAY)"));
  BP_RETURN_IF_ERROR(FromDb(env_->set_lk_max_locks(env_, o.max_locks), "set_lk_max_locks"));
  BP_RETURN_IF_ERROR(
      FromDb(env_->set_lk_max_objects(env_, o.max_lock_objects), "set_lk_max_objects"));
  BP_RETURN_IF_ERROR(FromDb(env_->set_lk_max_lockers(env_, o.max_lockers), "set_lk_max_lockers"));
  const uint32_t policy = o.deadlock_policy == 0 ? DB_LOCK_DEFAULT : o.deadlock_policy;
  return FromDb(env_->set_lk_detect(env_, policy), "set_lk_detect");
}

Env::~Env() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  tables_.clear();  // closes every DB handle before the environment
  if (env_ != nullptr) {
    (void)env_->close(env_, 0);  // nothing to flush: all in memory
    UnrouteMessages(env_);
    // Home was checked empty before db_env_create: anything here is BDB's.
    std::vector<std::string> files = ListHome(options_.home);
    if (!files.empty() && options_.on_bdb_message) {
      options_.on_bdb_message("memenv: Berkeley DB left '" + files.front() + "' in home " +
                              options_.home + ": the in-memory configuration is broken");
    }
  }
  if (!owned_home_.empty()) RemoveTempHome(owned_home_);
}

Result<Table*> Env::OpenTable(const std::string& name, bool create) {
  if (name.empty()) return Status::InvalidArgument("OpenTable: empty table name");
  // Held across the open so that two threads opening one name get one Table.
  std::lock_guard<std::mutex> lock(tables_mu_);
  for (const auto& t : tables_) {
    if (t->name() != name) continue;
    if (create) t->create_ = true;
    return t.get();
  }
  std::unique_ptr<Table> table(new Table(this, name, create));
  Result<std::shared_ptr<__db>> handle = table->Handle();
  if (!handle.ok()) return handle.status();
  tables_.push_back(std::move(table));
  return tables_.back().get();
}

namespace {

// The length of a database's free list: the meta page (page 0) names its
// first page at byte 28 ("free", db_page.h DBMETA), each free page the next
// at byte 16 ("next_pgno", PAGE). Stable on-page format of 5.3.
uint64_t FreeListLength(DB_MPOOLFILE* mpf, db_pgno_t last) {
  auto read_u32 = [mpf](db_pgno_t pgno, size_t offset, uint32_t* out) {
    void* page = nullptr;
    if (mpf->get(mpf, &pgno, nullptr, 0, &page) != 0 || page == nullptr) return false;
    std::memcpy(out, static_cast<const char*>(page) + offset, sizeof *out);
    mpf->put(mpf, page, DB_PRIORITY_UNCHANGED, 0);
    return true;
  };
  uint32_t next = 0;
  if (!read_u32(0, 28, &next)) return 0;
  uint64_t n = 0;
  while (next != 0 && next <= last && n <= last) {
    ++n;
    if (!read_u32(next, 16, &next)) break;
  }
  return n;
}

}  // namespace

std::vector<Env::TablePages> Env::OpenTablePages() {
  std::vector<TablePages> out;
  std::unique_lock<std::mutex> lock(tables_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return out;  // an OpenTable is in progress
  for (const auto& t : tables_) {
    std::unique_lock<std::mutex> table_lock(t->mu_, std::try_to_lock);
    if (!table_lock.owns_lock() || t->db_ == nullptr) continue;
    DB* db = t->db_.get();
    DB_MPOOLFILE* mpf = db->get_mpf(db);
    db_pgno_t last = 0;
    u_int32_t page_size = 0;
    if (mpf->get_last_pgno(mpf, &last) != 0 || db->get_pagesize(db, &page_size) != 0) continue;
    out.push_back({t->name(), uint64_t(last) + 1, page_size, FreeListLength(mpf, last)});
  }
  return out;
}

Result<Env::CacheUse> Env::Cache() const {
  DB_MPOOL_STAT* sp = nullptr;
  int ret = env_->memp_stat(env_, &sp, nullptr, 0);
  if (ret != 0 || sp == nullptr) return FromDb(ret, "DB_ENV->memp_stat");
  CacheUse c;
  c.cache_bytes = uint64_t(sp->st_gbytes) * (uint64_t(1) << 30) + sp->st_bytes;
  c.pages = sp->st_pages;
  c.dirty_pages = sp->st_page_dirty;
  c.page_size = sp->st_pagesize;
  free(sp);
  return c;
}

void Env::InvalidateTables() {
  std::lock_guard<std::mutex> lock(tables_mu_);
  for (const auto& t : tables_) t->MarkStale();
}

uint64_t Env::EstimateTxnLogBytes(size_t payload_bytes, size_t op_count) {
  return EstimateLogBytes(payload_bytes, op_count);
}

Status Env::CheckTxnSize(size_t payload_bytes, size_t op_count) const {
  const uint64_t estimate = EstimateLogBytes(payload_bytes, op_count);
  const size_t limit = options_.EffectiveMaxTxnBytes();
  if (estimate <= limit) return Status::Ok();
  const std::string origin =
      options_.max_txn_bytes != 0
          ? std::string("max_txn_bytes")
          : "derived from log_buffer=" + FormatBytes(options_.log_buffer_bytes);
  return Status::TooLarge("batch of " + FormatBytes(estimate) + " (estimated log for " +
                          std::to_string(op_count) + " ops, " + FormatBytes(payload_bytes) +
                          " of keys and values) exceeds the " + FormatBytes(limit) +
                          " transaction limit " + origin +
                          "; raise log_buffer_mb (log_buffer_bytes) or split the batch");
}

uint64_t Env::LogEndBytes() const {
  DB_LOG_STAT* st = nullptr;
  if (env_->log_stat(env_, &st, 0) != 0) return 0;
  const uint64_t end = uint64_t{st->st_cur_file} * st->st_lg_size + st->st_cur_offset;
  std::free(st);
  return end;
}

bool Env::IsReplica() const {
  DB_REP_STAT* st = nullptr;
  if (env_->rep_stat(env_, &st, 0) != 0) return false;
  const bool replica = st->st_status == DB_REP_CLIENT;
  free(st);
  return replica;
}

}  // namespace bp::memenv
