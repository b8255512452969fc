// Liveness: what this board tells its peers about itself every heartbeat,
// and whether the peers' heartbeats confirm it as master.
//
// Owns this board's side of the heartbeat: the replication state the ticker
// last read from rep_stat (next LSN; on a replica, whether an internal init
// is copying pages), the database size the gauge thread measured (which a
// joining board's re-init progress divides by), the heartbeat sequence, and
// the one rule of master confirmation (ConfirmedMaster). What the peers
// said is the PeerTable's (peers.h), which this reads.
//
// Callers and threads: the ticker (ObserveRepStat, MakeHeartbeat); the
// gauge thread (SetDbSize, ClearDbSize); Berkeley DB's event callback
// (OnStartupDone); any thread (the getters, ConfirmedMaster: status, reads,
// writes under leases). Every member is an atomic or constant: no lock, so
// nothing here waits, and nothing here calls Berkeley DB.
#pragma once

#include <atomic>
#include <cstdint>

#include "board/config.h"
#include "board/peers.h"
#include "board/role_machine.h"
#include "bp/clock.h"
#include "bus/frames.h"

namespace bp::board {

class Liveness {
 public:
  Liveness(const ChassisConfig& config, int self_slot, const Clock& clock, const PeerTable& peers);
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;

  // ---- ticker: what rep_stat said ----
  void ObserveNextLsn(bus::Lsn next_lsn);
  // A replica only: `pages` = its internal init copies pages (startup not
  // complete and a page expected or waited for). Returns true when such a
  // copy just began (the caller emits reinit_started).
  bool ObserveReinitPages(bool pages);
  // DB_EVENT_REP_STARTUPDONE: in sync, so no longer re-initialising.
  void OnStartupDone() { reinit_ = false; }

  // ---- gauge thread: the size an internal init copies ----
  void SetDbSize(uint64_t pages, uint32_t page_size);
  // Not in sync: report no size (a joining board must not divide by ours).
  void ClearDbSize() { db_pages_ = 0; }

  // ---- ticker: the heartbeat to broadcast now ----
  // From one snapshot of the role; `cache_bytes` and `data_bytes` are the
  // memory gauge's. The configuration digest is the frame guard's to add.
  bus::HeartbeatInfo MakeHeartbeat(const RoleView& v, uint64_t cache_bytes, uint64_t data_bytes);

  // A master is confirmed while a majority of electable boards (counting
  // itself) sent, within half the heartbeat timeout, heartbeats that follow
  // it at its generation. Replicas elect another master only after missing
  // its heartbeats for the full timeout, so a deposed master stops serving
  // LINEARIZABLE reads before a successor can exist. Any thread.
  bool ConfirmedMaster(const RoleView& v, int64_t now_us) const;
  // The role this board shows the operator and firmware (status "role",
  // the shim, role events): a master shows "master" only while heartbeats
  // following it reach a majority within the full heartbeat timeout, or in
  // the first heartbeat timeout after it became master (`master_since_us`)
  // while its followers' heartbeats catch up. Otherwise it is
  // "unconfirmed": Berkeley DB may still hold it master (a pulled or cut-off
  // board), but it must not look like a second master next to the one the
  // majority elected. Only in a chassis of 3 or more electable boards: with
  // 1 or 2 no majority elsewhere can elect another. Any thread.
  const char* PresentedRole(const RoleView& v, int64_t master_since_us, int64_t now_us) const;

  // ---- any thread ----
  bus::Lsn next_lsn() const { return {next_lsn_file_.load(), next_lsn_offset_.load()}; }
  bool reinit() const { return reinit_.load(); }
  uint64_t db_pages() const { return db_pages_.load(); }
  uint32_t page_size() const { return page_size_.load(); }
  uint64_t heartbeats_sent() const { return heartbeat_seq_.load(); }

 private:
  // Constant after construction.
  const ChassisConfig& config_;
  const int self_slot_;
  const Clock& clock_;
  const PeerTable& peers_;

  std::atomic<uint32_t> next_lsn_file_{0}, next_lsn_offset_{0};  // ticker writes
  std::atomic<bool> reinit_{false};          // ticker and the STARTUPDONE event write
  std::atomic<uint64_t> db_pages_{0};        // gauge thread writes
  std::atomic<uint32_t> page_size_{0};       // gauge thread writes
  std::atomic<uint64_t> heartbeat_seq_{0};   // ticker writes
};

}  // namespace bp::board
