// A replication group of repmgr_site processes on 127.0.0.1, as the anchors
// ran it: site 0 starts as master, the others as clients, every site lists
// every other one (DB_LEGACY), all homes are fresh empty directories.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bp/status.h"
#include "driver/child.h"

namespace bp::peers {

// "as_shipped": no BULK, no TCP_NODELAY. "best": DB_REP_CONF_BULK plus
// TCP_NODELAY forced by the LD_PRELOAD shim.
enum class Variant { kAsShipped, kBest };
const char* VariantName(Variant v);

struct Paths {
  std::string site_exe;     // repmgr_site
  std::string preload_lib;  // libnodelay_preload.so
  std::string temp_root;    // registered temp dir holding every site home
};

struct GroupOptions {
  Variant variant = Variant::kAsShipped;
  int listed_sites = 3;   // sites every site lists (nsites)
  int started_sites = 3;  // sites started up front (the rest join later)
  bool tuned = false;     // tuned heartbeat/election timeouts
  std::string ack = "QUORUM";
  int cache_mb = 512;
  bool operator==(const GroupOptions&) const = default;
  std::string Describe() const;
};

class Group {
 public:
  // Picks free ports, starts `started_sites` sites and waits until the master
  // has committed its first record and every client reports STARTUPDONE.
  static Result<std::unique_ptr<Group>> Start(const GroupOptions& options, const Paths& paths);
  ~Group();  // Stop()
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  // Orderly close (clients first, then the master), bounded; kills laggards.
  // Returns the number of sites that did not exit cleanly with an empty home.
  int Stop();

  const GroupOptions& options() const { return options_; }
  int master() const { return master_; }
  void set_master(int index) { master_ = index; }
  Child* site(int index) { return sites_[static_cast<size_t>(index)].get(); }
  bool running(int index) const { return sites_[static_cast<size_t>(index)] != nullptr; }
  int size() const { return options_.listed_sites; }

  // Starts site `index` with a fresh empty home (as client unless as_master).
  Status StartSite(int index, bool as_master);
  // SIGKILLs site `index` now and returns the CLOCK_MONOTONIC time just
  // before the signal; the process is reaped and its home removed after.
  int64_t KillSite(int index);
  // Closes site `index` in order (stdin EOF), bounded; kills it if it hangs.
  void StopSite(int index);

  // Sends `line` to every running site and waits for each reply.
  Status Broadcast(const std::string& line, int64_t deadline_ns);
  // Failure diagnostics: every running site's recent stderr.
  std::string Diagnostics();

  // What was loaded for the internal-init measurement (InitLoad::Spec(); empty
  // if nothing yet) and how much data that is (keys + values, MiB).
  std::string loaded;
  double loaded_data_mib = 0;

 private:
  Group(GroupOptions options, Paths paths)
      : options_(std::move(options)), paths_(std::move(paths)) {}
  Status WaitReady(int64_t deadline_ns);
  std::vector<std::string> SiteArgs(int index, bool as_master, const std::string& home) const;
  void ReleaseSite(int index);

  GroupOptions options_;
  Paths paths_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<Child>> sites_;
  std::vector<std::string> homes_;
  int master_ = 0;
  int unclean_exits_ = 0;
};

// Reserves `count` distinct free TCP ports on 127.0.0.1 (bound at once,
// then released). Another process could take one before repmgr binds it; the
// group start then fails loudly rather than measuring something else.
Result<std::vector<int>> PickFreePorts(int count);

}  // namespace bp::peers
