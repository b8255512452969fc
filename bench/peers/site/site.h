// One Berkeley DB 5.3 Replication Manager site, fully in memory, configured
// exactly as /work/shared/reference/repmgr-anchors.md §4 describes, so that
// the peer figures are comparable with the anchors.
//
// Threads: the owner thread calls Open/Close and the workload functions; a
// "promotion" thread opens the database and commits one record each time the
// site becomes master (the failover "first commit"); a checkpoint thread runs
// txn_checkpoint(1 KiB) every second while master. Events arrive on repmgr's
// own threads and only record, print and signal.
#pragma once

#include <db.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bp/status.h"

namespace bp::peers {

struct SiteConfig {
  std::string home;             // an existing, empty directory; stays empty
  int port = 0;                 // this site's TCP port on 127.0.0.1
  std::vector<int> peer_ports;  // every other site of the group, live or not
  bool start_master = false;    // repmgr_start(DB_REP_MASTER) instead of CLIENT
  uint32_t ack_policy = DB_REPMGR_ACKS_QUORUM;
  bool bulk = false;   // DB_REP_CONF_BULK
  bool tuned = false;  // short heartbeat/election/connection timeouts
  uint32_t cache_mb = 512;
};

// Writes one whole line to stdout with a single write(2), serialised, so that
// lines from repmgr's event threads and the command thread never interleave.
void EmitLine(const std::string& line);

// Maps "NONE"/"ONE"/"QUORUM"/"ALL" to DB_REPMGR_ACKS_*; 0 if unknown.
uint32_t AckPolicyFromName(const std::string& name);

class Site {
 public:
  // Creates, configures and opens the environment, lists the sites and calls
  // repmgr_start. Emits "EV REPMGR_START" just before repmgr_start.
  static Result<std::unique_ptr<Site>> Open(const SiteConfig& config);
  ~Site();  // Close()
  Site(const Site&) = delete;
  Site& operator=(const Site&) = delete;

  // Stops the helper threads, closes the database and the environment, and
  // returns the number of files left in the home directory (expected 0).
  int Close();

  DB_ENV* env() const { return env_; }
  // The database handle once this site has been master; nullptr before.
  DB* db() const { return db_.load(); }
  bool is_master() const { return is_master_.load(); }
  int64_t perm_failed() const { return perm_failed_.load(); }
  const SiteConfig& config() const { return config_; }

 private:
  explicit Site(SiteConfig config) : config_(std::move(config)) {}
  Status Configure();
  Status ListSites();
  Status Start();
  static void OnEvent(DB_ENV* env, u_int32_t event, void* info);
  void HandleEvent(u_int32_t event, void* info);
  void PromotionLoop();
  void OnBecameMaster();
  Status EnsureDbOpen();
  void CheckpointLoop();

  SiteConfig config_;
  DB_ENV* env_ = nullptr;
  std::atomic<DB*> db_{nullptr};
  std::atomic<bool> is_master_{false};
  std::atomic<int64_t> perm_failed_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;          // guarded by mu_
  int64_t master_events_ = 0;  // guarded by mu_
  std::thread promotion_thread_;
  std::thread checkpoint_thread_;
};

}  // namespace bp::peers
