// PeerTable: what this board knows about every other board, from bus link
// events (a dead process is seen at once) and heartbeats (a silent one is
// seen after heartbeat_timeout_ms).
//
// Thread-safety: every method takes the table's own lock; never call out
// while holding it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "board/config.h"
#include "bus/frames.h"

namespace bp::board {

struct PeerView {
  int slot = 0;
  bool electable = false;
  bool connected = false;       // bus link up
  int64_t last_heartbeat_us = 0;
  bus::HeartbeatInfo hb;        // the last heartbeat
  bool alive = false;           // connected and heard within the timeout
};

class PeerTable {
 public:
  PeerTable(const ChassisConfig& config, int self_slot);

  void OnLinkUp(int slot);
  void OnLinkDown(int slot);
  void OnHeartbeat(int slot, const bus::HeartbeatInfo& hb, int64_t now_us);

  bool IsAlive(int slot, int64_t now_us) const;
  // The bus link to `slot` is up (whatever its heartbeats say).
  bool IsConnected(int slot) const;
  // When `slot`'s last heartbeat arrived (0 = never).
  int64_t LastHeartbeat(int slot) const;
  // Alive and not re-initialising (it can acknowledge soon).
  bool IsCaughtUp(int slot, int64_t now_us) const;
  // Alive, a client, in sync (startup done, not re-initialising).
  bool IsInSyncClient(int slot, int64_t now_us) const;
  // Electable boards alive now, not counting this one.
  int AliveElectable(int64_t now_us) const;
  // In-sync clients (for DB_REP_ANYWHERE routing), in slot order.
  std::vector<int> InSyncClients(int64_t now_us) const;
  // The slot whose fresh heartbeat claims the master role with the highest
  // generation, or -1.
  int HeartbeatMaster(int64_t now_us, uint32_t* gen) const;
  // How many alive electable peers' heartbeats say they follow `master` at
  // generation `gen` (master confirmation for linearizable reads).
  int FollowersOf(int master, uint32_t gen, int64_t now_us, int64_t window_us) const;
  std::vector<PeerView> Snapshot(int64_t now_us) const;

 private:
  bool AliveLocked(const PeerView& p, int64_t now_us) const;
  const int64_t timeout_us_;
  mutable std::mutex mu_;
  std::map<int, PeerView> peers_;
};

}  // namespace bp::board
