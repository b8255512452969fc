#include "site/site.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "peer_proto.h"
#include "site/workload.h"

namespace bp::peers {
namespace {

constexpr uint32_t kLogBufferBytes = 64u << 20;  // lg_bsize: must exceed lg_max
constexpr uint32_t kLogFileBytes = 4u << 20;     // lg_max
constexpr int kPriority = 100;
constexpr int kRepmgrThreads = 3;
constexpr int64_t kDbOpenDeadlineNs = 10'000'000'000;

std::mutex g_emit_mu;

Status DbError(const char* what, int ret) {
  return Status::Internal(std::string(what) + ": " + db_strerror(ret));
}

// BDB's own error text goes to stderr, which the driver keeps for diagnostics.
void ErrCall(const DB_ENV* /*env*/, const char* prefix, const char* msg) {
  std::fprintf(stderr, "%s: %s\n", prefix ? prefix : "bdb", msg);
}

// Counts directory entries other than "." and "..": the home must stay empty.
int CountFiles(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  int files = 0;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++files;
  }
  closedir(d);
  return files;
}

// The tuned timeouts of the anchors' failover runs, in microseconds. The ack
// timeout stays at its 1 s default there too.
Status SetTunedTimeouts(DB_ENV* env) {
  const struct {
    int which;
    db_timeout_t us;
  } kTuned[] = {
      {DB_REP_HEARTBEAT_SEND, 50'000},      {DB_REP_HEARTBEAT_MONITOR, 150'000},
      {DB_REP_ELECTION_TIMEOUT, 200'000},   {DB_REP_ELECTION_RETRY, 500'000},
      {DB_REP_CONNECTION_RETRY, 1'000'000},
  };
  for (const auto& t : kTuned) {
    if (int ret = env->rep_set_timeout(env, t.which, t.us); ret != 0) {
      return DbError("rep_set_timeout", ret);
    }
  }
  return Status::Ok();
}

const char* EventName(u_int32_t event) {
  switch (event) {
    case DB_EVENT_PANIC:
      return "PANIC";
    case DB_EVENT_REP_CLIENT:
      return "CLIENT";
    case DB_EVENT_REP_CONNECT_BROKEN:
      return "CONNECT_BROKEN";
    case DB_EVENT_REP_CONNECT_ESTD:
      return "CONNECT_ESTD";
    case DB_EVENT_REP_DUPMASTER:
      return "DUPMASTER";
    case DB_EVENT_REP_ELECTED:
      return "ELECTED";
    case DB_EVENT_REP_ELECTION_FAILED:
      return "ELECTION_FAILED";
    case DB_EVENT_REP_INIT_DONE:
      return "INIT_DONE";
    case DB_EVENT_REP_JOIN_FAILURE:
      return "JOIN_FAILURE";
    case DB_EVENT_REP_MASTER:
      return "MASTER";
    case DB_EVENT_REP_MASTER_FAILURE:
      return "MASTER_FAILURE";
    case DB_EVENT_REP_NEWMASTER:
      return "NEWMASTER";
    case DB_EVENT_REP_PERM_FAILED:
      return "PERM_FAILED";
    case DB_EVENT_REP_STARTUPDONE:
      return "STARTUPDONE";
    case DB_EVENT_WRITE_FAILED:
      return "WRITE_FAILED";
    default:
      return nullptr;  // CONNECT_TRY_FAILED repeats while a peer is down: not shown
  }
}

}  // namespace

void EmitLine(const std::string& line) {
  std::string out = line + "\n";
  std::lock_guard<std::mutex> lock(g_emit_mu);
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = write(STDOUT_FILENO, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the driver is gone; SIGPIPE or PDEATHSIG ends us
    done += static_cast<size_t>(n);
  }
}

uint32_t AckPolicyFromName(const std::string& name) {
  if (name == "NONE") return DB_REPMGR_ACKS_NONE;
  if (name == "ONE") return DB_REPMGR_ACKS_ONE;
  if (name == "QUORUM") return DB_REPMGR_ACKS_QUORUM;
  if (name == "ALL") return DB_REPMGR_ACKS_ALL;
  return 0;
}

Result<std::unique_ptr<Site>> Site::Open(const SiteConfig& config) {
  if (CountFiles(config.home) != 0) {
    return Status::InvalidArgument("home must be an existing empty directory: " + config.home);
  }
  std::unique_ptr<Site> site(new Site(config));
  BP_RETURN_IF_ERROR(site->Configure());
  BP_RETURN_IF_ERROR(site->ListSites());
  BP_RETURN_IF_ERROR(site->Start());
  return site;
}

// Every in-memory setting must precede DB_ENV->open (EINVAL afterwards).
Status Site::Configure() {
  if (int ret = db_env_create(&env_, 0); ret != 0) return DbError("db_env_create", ret);
  env_->app_private = this;
  env_->set_errcall(env_, ErrCall);
  env_->set_errpfx(env_, "repmgr_site");
  if (int ret = env_->set_event_notify(env_, OnEvent); ret != 0) return DbError("event", ret);
  // Values below 4 GiB fit the bytes argument; larger caches use gbytes.
  uint32_t gbytes = config_.cache_mb / 1024;
  uint32_t bytes = (config_.cache_mb % 1024) << 20;
  int ret = env_->set_cachesize(env_, gbytes, bytes, 1);
  if (ret == 0) ret = env_->log_set_config(env_, DB_LOG_IN_MEMORY, 1);
  if (ret == 0) ret = env_->set_lg_bsize(env_, kLogBufferBytes);
  if (ret == 0) ret = env_->set_lg_max(env_, kLogFileBytes);
  if (ret == 0) ret = env_->rep_set_config(env_, DB_REP_CONF_INMEM, 1);
  if (ret == 0) ret = env_->set_lk_detect(env_, DB_LOCK_DEFAULT);
  if (ret == 0) ret = env_->rep_set_config(env_, DB_REP_CONF_BULK, config_.bulk ? 1 : 0);
  // The 30 s default makes every master checkpoint sleep 30 s (anchors §5.2).
  if (ret == 0) ret = env_->rep_set_timeout(env_, DB_REP_CHECKPOINT_DELAY, 0);
  if (ret == 0) ret = env_->rep_set_priority(env_, kPriority);
  if (ret == 0) ret = env_->repmgr_set_ack_policy(env_, config_.ack_policy);
  if (ret != 0) return DbError("configure", ret);
  if (config_.tuned) BP_RETURN_IF_ERROR(SetTunedTimeouts(env_));
  const uint32_t flags = DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN |
                         DB_INIT_REP | DB_PRIVATE | DB_THREAD | DB_RECOVER;
  if (ret = env_->open(env_, config_.home.c_str(), flags, 0); ret != 0) {
    return DbError("DB_ENV->open", ret);
  }
  return Status::Ok();
}

// With DB_REP_CONF_INMEM the membership database cannot persist, so every
// site handle, the local one included, carries DB_LEGACY (anchors §5.3: the
// creator/helper alternative makes a restarted site a second master).
Status Site::ListSites() {
  std::vector<int> ports = config_.peer_ports;
  ports.insert(ports.begin(), config_.port);
  for (size_t i = 0; i < ports.size(); ++i) {
    DB_SITE* handle = nullptr;
    int ret = env_->repmgr_site(env_, "127.0.0.1", static_cast<u_int>(ports[i]), &handle, 0);
    if (ret != 0) return DbError("repmgr_site", ret);
    if (i == 0) ret = handle->set_config(handle, DB_LOCAL_SITE, 1);
    if (ret == 0) ret = handle->set_config(handle, DB_LEGACY, 1);
    int close_ret = handle->close(handle);
    if (ret == 0) ret = close_ret;
    if (ret != 0) return DbError("DB_SITE->set_config", ret);
  }
  return Status::Ok();
}

Status Site::Start() {
  promotion_thread_ = std::thread([this] { PromotionLoop(); });
  checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
  EmitLine("EV REPMGR_START " + std::to_string(MonoNs()));
  const uint32_t role = config_.start_master ? DB_REP_MASTER : DB_REP_CLIENT;
  if (int ret = env_->repmgr_start(env_, kRepmgrThreads, role); ret != 0) {
    return DbError("repmgr_start", ret);
  }
  return Status::Ok();
}

void Site::OnEvent(DB_ENV* env, u_int32_t event, void* info) {
  static_cast<Site*>(env->app_private)->HandleEvent(event, info);
}

// Runs on repmgr threads: no BDB calls here, only record, print and signal.
void Site::HandleEvent(u_int32_t event, void* info) {
  const int64_t now_ns = MonoNs();
  const char* name = EventName(event);
  if (name == nullptr) return;
  std::string line = std::string("EV ") + name + " " + std::to_string(now_ns);
  if (event == DB_EVENT_REP_NEWMASTER && info != nullptr) {
    line += " eid=" + std::to_string(*static_cast<int*>(info));
  }
  if (event == DB_EVENT_REP_PERM_FAILED) perm_failed_.fetch_add(1);
  if (event == DB_EVENT_REP_CLIENT) is_master_.store(false);
  EmitLine(line);
  if (event == DB_EVENT_REP_MASTER) {
    is_master_.store(true);
    std::lock_guard<std::mutex> lock(mu_);
    ++master_events_;
    cv_.notify_all();
  }
}

void Site::PromotionLoop() {
  int64_t handled = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || master_events_ > handled; });
    if (stop_) return;
    handled = master_events_;
    lock.unlock();
    OnBecameMaster();
    lock.lock();
  }
}

// The failover figure "first commit": open the database handle on the new
// master (itself a replicated, ack-waiting transaction) and commit one record.
void Site::OnBecameMaster() {
  const int64_t start_ns = MonoNs();
  Status status = EnsureDbOpen();
  const int64_t opened_ns = MonoNs();
  int ret = -1;
  if (status.ok()) ret = CommitOneRecord(env_, db(), NextKeyId());
  EmitLine("EV FIRST_COMMIT " + std::to_string(MonoNs()) + " ret=" + std::to_string(ret) +
           " open_ns=" + std::to_string(opened_ns - start_ns));
  if (!status.ok()) std::fprintf(stderr, "open failed: %s\n", status.ToString().c_str());
}

// Opens the named in-memory btree "bench", retrying while replication
// briefly refuses (lockout, dead handle, deadlock) until a deadline.
Status Site::EnsureDbOpen() {
  if (db() != nullptr) return Status::Ok();
  const int64_t deadline_ns = MonoNs() + kDbOpenDeadlineNs;
  int ret = 0;
  while (MonoNs() < deadline_ns) {
    DB* handle = nullptr;
    if (ret = db_create(&handle, env_, 0); ret != 0) return DbError("db_create", ret);
    // No backing file, ever, even under cache pressure.
    ret = handle->get_mpf(handle)->set_flags(handle->get_mpf(handle), DB_MPOOL_NOFILE, 1);
    if (ret == 0) {
      ret = handle->open(handle, nullptr, nullptr, "bench", DB_BTREE,
                         DB_CREATE | DB_AUTO_COMMIT | DB_THREAD, 0);
    }
    if (ret == 0) {
      db_.store(handle);
      return Status::Ok();
    }
    handle->close(handle, DB_NOSYNC);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return DbError("DB->open until deadline", ret);
}

// The anchors' master checkpoint thread: txn_checkpoint(1 KiB, 0, 0) each
// second, off the write path (a checkpoint record waits for acks too).
void Site::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; })) {
    if (!is_master_.load()) continue;
    lock.unlock();
    if (int ret = env_->txn_checkpoint(env_, 1, 0, 0); ret != 0) {
      std::fprintf(stderr, "txn_checkpoint: %s\n", db_strerror(ret));
    }
    lock.lock();
  }
}

int Site::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (promotion_thread_.joinable()) promotion_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  if (DB* handle = db_.exchange(nullptr); handle != nullptr) handle->close(handle, DB_NOSYNC);
  if (env_ != nullptr) {
    env_->close(env_, 0);
    env_ = nullptr;
  }
  return CountFiles(config_.home);
}

Site::~Site() { Close(); }

}  // namespace bp::peers
