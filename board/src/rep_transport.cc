// RepTransport (rep_transport.h): the transport callback's body.
//
// Berkeley DB swallows the return value for PERMANENT messages (log_put.c),
// so the commit's LSN is left in a thread-local and the committing writer
// waits for its acks after the commit (Durability::AwaitDurable, from
// Engine::Write), once Berkeley DB released the commit's locks.
#include "board/rep_transport.h"

#include <db.h>

#include <vector>

#include "board/commit_trace.h"
#include "board/frame_checks.h"
#include "board/perm_outcome.h"

namespace bp::board {

PermOutcome& ThisThreadPermOutcome() {
  static thread_local PermOutcome outcome;
  return outcome;
}

RepTransport::RepTransport(uint64_t chassis_id, int self_slot, const Clock& clock,
                           const PeerTable& peers, Durability& durability,
                           TransportListener& host)
    : header_{chassis_id, self_slot},
      self_slot_(self_slot),
      clock_(clock),
      peers_(peers),
      durability_(durability),
      host_(host) {}

// DB_REP_ANYWHERE requests go to an in-sync replica, spreading the load of
// re-initialising boards over them; the master answers when none is in sync.
int RepTransport::RouteAnywhere(int envid) {
  auto clients = peers_.InSyncClients(clock_.NowMicros());
  if (clients.empty()) return envid;
  ++anywhere_routed_;
  return clients[anywhere_next_.fetch_add(1) % clients.size()];
}

void RepTransport::RememberRoutedLocked(int dest, int fallback, const bus::OutFrame& frame) {
  const int64_t now = clock_.NowMicros();
  routed_.push_back({dest, fallback, now, frame});
  while (!routed_.empty() && now - routed_.front().sent_us > kRoutedKeepUs) routed_.pop_front();
  while (routed_.size() > kMaxRouted) {
    routed_.pop_front();
    ++routed_evicted_;
  }
}

bool RepTransport::SendAnywhere(int envid, const bus::OutFrame& frame) {
  std::lock_guard<std::mutex> l(routed_mu_);
  const int dest = RouteAnywhere(envid);
  if (dest == envid) return bus_->Send(envid, frame);
  if (bus_->Send(dest, frame)) {
    RememberRoutedLocked(dest, envid, frame);
    return true;
  }
  ++reroute_failed_;  // the replica's link is gone already: ask where Berkeley DB said
  return bus_->Send(envid, frame);
}

void RepTransport::ResendRoutedTo(int dead_slot) {
  std::vector<RoutedRequest> again;
  {
    std::lock_guard<std::mutex> l(routed_mu_);
    for (auto it = routed_.begin(); it != routed_.end();) {
      if (it->dest == dead_slot) {
        again.push_back(std::move(*it));
        it = routed_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (again.empty() || !bus_) return;
  const int master = host_.TransportMaster();
  size_t resent = 0;
  for (const auto& r : again) {
    const int to = master > 0 && master != self_slot_ ? master : r.fallback;
    if (to > 0 && to != dead_slot && bus_->Send(to, r.frame)) ++resent;
  }
  routed_resent_ += resent;
  ++rerequests_;
  host_.TransportRerequest(dead_slot);
  host_.TransportLog("re-sent " + std::to_string(resent) + " of " + std::to_string(again.size()) +
                     " requests that slot " + std::to_string(dead_slot) +
                     " had not answered, to slot " + std::to_string(master) +
                     ", and re-requested the rest there");
}

// Before the send: the replica's ack may arrive before Send returns.
void RepTransport::NoteSentOnMaster(const DBT* control, const DBT* rec, bus::Lsn lsn) {
  bus::Lsn last = lsn;
  RepControl rc;
  if (rec && ParseRepControl({static_cast<const uint8_t*>(control->data), control->size}, &rc) &&
      rc.rectype == kRepBulkLog) {
    last = LastLsnOfBulk({static_cast<const uint8_t*>(rec->data), rec->size}, lsn);
  }
  durability_.NoteWritten(last);
}

int RepTransport::Send(const DBT* control, const DBT* rec, const DB_LSN* lsnp, int envid,
                       uint32_t flags) {
  const int64_t send_us = trace::Enabled() ? trace::NowMicros() : 0;
  const bool anywhere =
      (flags & DB_REP_ANYWHERE) && !(flags & DB_REP_REREQUEST) && envid != DB_EID_BROADCAST;
  const bus::Lsn lsn{lsnp ? lsnp->file : 0, lsnp ? lsnp->offset : 0};
  const bool master = host_.TransportRole() == Role::kMaster;
  if (master && lsnp) NoteSentOnMaster(control, rec, lsn);
  auto frame = bus::BuildRepMsg(
      header_, {static_cast<const uint8_t*>(control->data), control->size},
      {static_cast<const uint8_t*>(rec ? rec->data : nullptr), rec ? rec->size : 0}, lsn, flags,
      host_.TransportGeneration());
  const bool sent = bus_ && (anywhere ? SendAnywhere(envid, frame)
                                     : bus_->Send(envid == DB_EID_BROADCAST ? bus::kBroadcast
                                                                            : envid,
                                                  frame));
  if (!sent) ++send_failed_;

  if (!(flags & DB_REP_PERMANENT) || !master) {
    return sent ? 0 : DB_REP_UNAVAIL;  // counted by Berkeley DB, then ignored
  }
  // PERMANENT on the master: the commit's record. Commits never run
  // Berkeley DB's post-commit lease check (memenv's commits_ignore_leases),
  // so nothing needs the wait in here.
  durability_.NotePermSent(lsn);
  PermOutcome& po = ThisThreadPermOutcome();
  po.seen = true;
  po.lsn_file = lsn.file;
  po.lsn_offset = lsn.offset;
  if (send_us) {
    po.send_us = send_us;
    po.sent_us = trace::NowMicros();
  }
  return 0;
}

RepTransport::Stats RepTransport::stats() const {
  Stats s;
  s.anywhere_routed = anywhere_routed_.load();
  s.routed_evicted = routed_evicted_.load();
  s.routed_resent = routed_resent_.load();
  s.rerequests = rerequests_.load();
  s.reroute_failed = reroute_failed_.load();
  s.send_failed = send_failed_.load();
  std::lock_guard<std::mutex> l(routed_mu_);
  s.routed_kept = routed_.size();
  return s;
}

}  // namespace bp::board
