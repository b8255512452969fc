// Liveness (liveness.h): this board's heartbeat and master confirmation.
//
// Every board broadcasts a heartbeat each heartbeat_interval_ms with its
// role, generation, the master it follows, whether it is in sync, and its
// next LSN (lag). A replica declares its master lost when the master's link
// drops (at once) or when no heartbeat claiming the master role arrived for
// heartbeat_timeout_ms, then asks for an election (RoleMachine::Tick and
// OnPeerDown, role_machine.cc).
#include "board/liveness.h"

namespace bp::board {

Liveness::Liveness(const ChassisConfig& config, int self_slot, const Clock& clock,
                   const PeerTable& peers)
    : config_(config), self_slot_(self_slot), clock_(clock), peers_(peers) {}

void Liveness::ObserveNextLsn(bus::Lsn next_lsn) {
  next_lsn_file_ = next_lsn.file;
  next_lsn_offset_ = next_lsn.offset;
}

bool Liveness::ObserveReinitPages(bool pages) {
  const bool began = pages && !reinit_.load();
  reinit_ = pages;
  return began;
}

void Liveness::SetDbSize(uint64_t pages, uint32_t page_size) {
  db_pages_ = pages;
  page_size_ = page_size;
}

bus::HeartbeatInfo Liveness::MakeHeartbeat(const RoleView& v, uint64_t cache_bytes,
                                           uint64_t data_bytes) {
  bus::HeartbeatInfo hb;
  hb.role = v.role == Role::kMaster   ? wire::Role::Master
            : v.role == Role::kClient ? wire::Role::Client
                                      : wire::Role::Unknown;
  hb.gen = v.gen;
  // A master follows itself (receivers refuse a master heartbeat naming
  // another slot: frame_checks.h), also in the instant between Berkeley
  // DB's MASTER event and OnBecameMaster.
  hb.master = v.role == Role::kMaster ? self_slot_ : v.master;
  hb.startup_done = v.startup_done;
  hb.reinit = reinit_.load() && v.role == Role::kClient;
  const SlotConfig* self = config_.Find(self_slot_);
  hb.electable = self ? self->electable : false;
  hb.priority = self ? self->priority : 0;
  hb.next_lsn = next_lsn();
  hb.seq = ++heartbeat_seq_;
  hb.lease_valid = v.role == Role::kMaster && ConfirmedMaster(v, clock_.NowMicros());
  hb.confirm_gen = hb.master > 0 ? v.gen : 0;
  hb.db_pages = db_pages_.load();
  hb.page_size = page_size_.load();
  hb.cache_bytes = cache_bytes;
  hb.data_bytes = data_bytes;
  return hb;
}

bool Liveness::ConfirmedMaster(const RoleView& v, int64_t now_us) const {
  if (v.role != Role::kMaster) return false;
  const int64_t window = int64_t(config_.heartbeat_timeout_ms) * 1000 / 2;
  const int followers = peers_.FollowersOf(self_slot_, v.gen, now_us, window);
  return followers + 1 >= config_.Majority();
}

const char* Liveness::PresentedRole(const RoleView& v, int64_t master_since_us,
                                    int64_t now_us) const {
  if (v.role != Role::kMaster) return RoleName(v.role);
  const int64_t timeout = int64_t(config_.heartbeat_timeout_ms) * 1000;
  if (config_.ElectableCount() < 3 || now_us - master_since_us < timeout) return "master";
  const int followers = peers_.FollowersOf(self_slot_, v.gen, now_us, timeout);
  return followers + 1 >= config_.Majority() ? "master" : "unconfirmed";
}

}  // namespace bp::board
