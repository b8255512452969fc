// RoleMachine: lifecycle, the View, Berkeley DB's role events and the master
// watch. Elections, promotion and step-down are in election.cc, the
// two-board rules in two_board.cc.
#include "board/role_machine.h"

#include <db.h>

#include <algorithm>

namespace bp::board {

const char* RoleName(Role r) {
  switch (r) {
    case Role::kStarting: return "starting";
    case Role::kClient: return "replica";
    case Role::kMaster: return "master";
  }
  return "?";
}

RoleMachine::RoleMachine(const ChassisConfig& config, int self_slot, const Clock& clock,
                         uint64_t jitter_seed, PeerTable& peers, const FrameGuard& guard,
                         const std::atomic<bool>& stop, RoleListener& listener)
    : config_(config),
      self_slot_(self_slot),
      clock_(clock),
      peers_(peers),
      guard_(guard),
      stop_(stop),
      listener_(listener),
      jitter_rng_(jitter_seed),
      message_gate_(clock),
      api_gate_(clock) {}

RoleMachine::~RoleMachine() {
  WakeForStop();
  Join();
}

void RoleMachine::StartThread() {
  election_thread_ = std::thread([this] { ElectionLoop(); });
}

Status RoleMachine::StartAsClient() {
  {
    std::lock_guard<std::mutex> l(rep_start_mu_);
    DB_ENV* env = env_->raw();
    int ret = env->rep_start(env, nullptr, DB_REP_CLIENT);
    if (ret != 0) {
      return Status::Internal(std::string("rep_start(CLIENT) failed: ") + db_strerror(ret));
    }
    SetRole(Role::kClient);
    rep_started_ = true;
  }
  last_master_seen_us_ = clock_.NowMicros();
  next_election_us_ = clock_.NowMicros() + int64_t(config_.startup_wait_ms) * 1000;
  return Status::Ok();
}

void RoleMachine::WakeForStop() {
  {
    std::lock_guard<std::mutex> l(election_mu_);
    election_requested_ = true;
  }
  election_cv_.notify_all();
}

void RoleMachine::Join() {
  if (election_thread_.joinable()) election_thread_.join();
}

RoleView RoleMachine::View() const {
  std::lock_guard<std::mutex> l(view_mu_);
  RoleView v;
  v.role = role_.load();
  v.master = master_slot_.load();
  v.gen = gen_.load();
  v.startup_done = v.role == Role::kMaster || startup_done_.load();
  return v;
}

void RoleMachine::SetRole(Role r) {
  std::lock_guard<std::mutex> l(view_mu_);
  if (r == Role::kMaster && role_.load() != Role::kMaster) master_since_us_ = clock_.NowMicros();
  role_ = r;
}

void RoleMachine::SetMaster(int slot) {
  std::lock_guard<std::mutex> l(view_mu_);
  master_slot_ = slot;
}

// Berkeley DB calls this with internal mutexes held: only record and wake.
void RoleMachine::OnBdbEvent(uint32_t event, void* info) {
  switch (event) {
    case DB_EVENT_REP_CLIENT:
      SetRole(Role::kClient);
      listener_.Emit(EventKind::kBecameClient, -1, "");
      break;
    case DB_EVENT_REP_MASTER:
      SetRole(Role::kMaster);
      break;
    case DB_EVENT_REP_ELECTED:
      elected_pending_ = true;
      break;
    case DB_EVENT_REP_NEWMASTER: {
      int m = info ? *static_cast<int*>(info) : -1;
      {
        std::lock_guard<std::mutex> l(view_mu_);
        master_slot_ = m;
        startup_done_ = (m == self_slot_);
      }
      last_master_seen_us_ = clock_.NowMicros();
      listener_.Emit(EventKind::kNewMaster, m, "");
      listener_.WakeTicker();  // forwarded writes waiting for a master go now
      break;
    }
    case DB_EVENT_REP_STARTUPDONE: {
      std::lock_guard<std::mutex> l(view_mu_);
      startup_done_ = true;
      ever_synced_ = true;
      break;
    }
    default:
      break;
  }
  election_cv_.notify_all();
}

void RoleMachine::RequestElection(const char* why) {
  {
    std::lock_guard<std::mutex> l(election_mu_);
    election_requested_ = true;
    election_reason_ = why;
  }
  election_cv_.notify_all();
}

void RoleMachine::RequestDemote(const char* why) {
  {
    std::lock_guard<std::mutex> l(election_mu_);
    demote_requested_ = true;
    demote_reason_ = why;
  }
  election_cv_.notify_all();
}

void RoleMachine::PromoteIfElected() {
  if (elected_pending_.load()) Promote();
}

void RoleMachine::OnPeerDown(int slot) {
  {
    std::lock_guard<std::mutex> l(view_mu_);
    if (slot != master_slot_.load() || role_.load() != Role::kClient) return;
    master_slot_ = -1;
  }
  next_election_us_ = 0;
  RequestElection("master link down");
}

void RoleMachine::Tick(int64_t now_us) {
  WatchMaster(now_us);
  MaybeHandOver(now_us);
}

void RoleMachine::FollowRepStat(uint32_t gen, int bdb_master, int64_t now_us) {
  if (role_.load() != Role::kClient) return;
  // Berkeley DB may know the master before our event did (or after we
  // declared the old one dead): follow its view when that master is alive.
  const bool follow =
      bdb_master > 0 && bdb_master != master_slot_.load() && peers_.IsAlive(bdb_master, now_us);
  {
    std::lock_guard<std::mutex> l(view_mu_);
    gen_ = gen;
    if (follow) master_slot_ = bdb_master;
  }
  if (follow) last_master_seen_us_ = clock_.NowMicros();
}

// The master watch, on a replica: a master silent for heartbeat_timeout_ms
// is declared lost (a dead link is seen at once: OnPeerDown); with no master
// known, a live board claiming the role is asked to announce itself, and
// otherwise an election is called once next_election_us_ has passed.
void RoleMachine::WatchMaster(int64_t now) {
  if (role_.load() != Role::kClient) return;
  int m = master_slot_.load();
  const int64_t timeout_us = int64_t(config_.heartbeat_timeout_ms) * 1000;
  if (m > 0 && m != self_slot_) {
    if (peers_.IsAlive(m, now)) {
      // The instant it was last heard, not now: then the election starts
      // when its heartbeats have been missing for heartbeat_timeout_ms, not
      // that long after the peer table noticed (which doubled the detection
      // of a silent master).
      last_master_seen_us_ = std::max(last_master_seen_us_.load(), peers_.LastHeartbeat(m));
      return;
    }
    if (now - last_master_seen_us_.load() < timeout_us) {
      reinit_silence_logged_ = false;
      return;
    }
    if (listener_.ReinitInProgress() && peers_.IsConnected(m)) {
      // Its heartbeats queue behind the pages it sends us on the same
      // link, and an election here cannot help: Berkeley DB makes a board
      // in internal init unelectable, and the election's apply lockout
      // drops the pages arriving meanwhile. Seen: such an election, called
      // after 62 ms of silence under load, left the init stalled at one
      // page for over a minute. A dead master's link goes down
      // (OnPeerDown); a silent one is the in-sync boards' to replace.
      if (!reinit_silence_logged_) {
        listener_.Log("master slot " + std::to_string(m) + " silent for " +
                      std::to_string((now - last_master_seen_us_.load()) / 1000) +
                      " ms while this board re-initialises from it over a live link: not calling "
                      "an election");
        reinit_silence_logged_ = true;
      }
      return;
    }
    listener_.Log("master slot " + std::to_string(m) + " silent for " +
                  std::to_string((now - last_master_seen_us_.load()) / 1000) +
                  " ms: calling an election");
    SetMaster(-1);
    RequestElection("master heartbeats stopped");
    return;
  }
  // No master known. If a live board claims the role, Berkeley DB just has
  // not heard its NEWMASTER: re-announce (rep_start CLIENT broadcasts
  // NEWCLIENT, the master answers) instead of electing.
  uint32_t hb_gen = 0;
  int claimed = peers_.HeartbeatMaster(now, &hb_gen);
  if (claimed > 0 && hb_gen >= gen_.load()) {
    if (now - last_master_seen_us_.load() > timeout_us) {
      std::lock_guard<std::mutex> rl(rep_start_mu_);
      if (role_.load() == Role::kClient && !elected_pending_.load()) {
        DB_ENV* env = env_->raw();
        env->rep_start(env, nullptr, DB_REP_CLIENT);
      }
      last_master_seen_us_ = now;
    }
    return;
  }
  if (!in_election_.load() && now >= next_election_us_.load()) {
    next_election_us_ = now + int64_t(config_.election_timeout_ms) * 1000;
    RequestElection("no master");
  }
}

nlohmann::json RoleMachine::ElectionsJson() const {
  return {{"held", elections_.load()},
          {"won", elections_won_.load()},
          {"last_election_us", last_election_us_.load()},
          {"last_promotion_us", promotion_us_last_.load()},
          {"last_demotion_us", demotion_us_last_.load()},
          {"waiting", ElectionWait()},
          {"last_reason", LastElectionReason()},
          {"refused_would_wipe", elections_refused_.load()}};
}

}  // namespace bp::board
