// The Berkeley DB transport callback: how replication messages leave this
// board, and where the master waits for acknowledgements.
//
// Contract (bdb-base-api.md §1): called synchronously on whatever thread is
// inside Berkeley DB (a committing writer, the rep worker, the election
// thread, the checkpointer); never call Berkeley DB from here; never block on
// a non-PERMANENT message. Berkeley DB swallows the return value for
// PERMANENT messages (log_put.c), so the commit's LSN is left in a
// thread-local and the committing writer waits for its acks after the commit
// (Durability::AwaitDurable, from Engine::Write).
#include <db.h>

#include "board/commit_trace.h"
#include "board/engine.h"
#include "board/perm_outcome.h"

namespace bp::board {

PermOutcome& ThisThreadPermOutcome() {
  static thread_local PermOutcome outcome;
  return outcome;
}

int Engine::SendCallback(__db_env* env, const DBT* control, const DBT* rec, const DB_LSN* lsnp,
                         int envid, uint32_t flags) {
  auto* self = static_cast<Engine*>(env->app_private);
  return self->Send(control, rec, lsnp, envid, flags);
}

// DB_REP_ANYWHERE requests (log/page requests a peer may answer) go to an
// in-sync replica, spreading the load of re-initialising boards over them,
// rotating per request; the master answers when no replica is in sync.
int Engine::RouteAnywhere(int envid) {
  auto clients = peers_.InSyncClients(clock_.NowMicros());
  if (clients.empty()) return envid;
  ++anywhere_routed_;
  return clients[anywhere_next_.fetch_add(1) % clients.size()];
}

// Keeps the last second of routed requests (bounded), to re-send them to the
// master if their replica dies before answering.
void Engine::RememberRouted(int dest, int fallback, const bus::OutFrame& frame) {
  const int64_t now = clock_.NowMicros();
  std::lock_guard<std::mutex> l(routed_mu_);
  routed_.push_back({dest, fallback, now, frame});
  while (!routed_.empty() &&
         (routed_.size() > 4096 || now - routed_.front().sent_us > 1000000)) {
    routed_.pop_front();
  }
}

// A replica serving our re-init died: what it had not answered goes to the
// master (Berkeley DB ignores pages and records it already has).
void Engine::ResendRoutedTo(int dead_slot) {
  std::vector<RoutedRequest> again;
  {
    std::lock_guard<std::mutex> l(routed_mu_);
    for (auto it = routed_.begin(); it != routed_.end();) {
      if (it->dest == dead_slot) {
        again.push_back(*it);
        it = routed_.erase(it);
      } else {
        ++it;
      }
    }
  }
  int master = roles_.master();
  for (const auto& r : again) {
    int to = master > 0 && master != opts_.self_slot ? master : r.fallback;
    if (to != dead_slot && to > 0) bus_->Send(to, r.frame);
  }
  if (!again.empty()) {
    Log("re-sent " + std::to_string(again.size()) + " requests that slot " +
        std::to_string(dead_slot) + " had not answered to slot " + std::to_string(master));
  }
}

int Engine::Send(const DBT* control, const DBT* rec, const DB_LSN* lsnp, int envid,
                 uint32_t flags) {
  const int64_t send_us = trace::Enabled() ? trace::NowMicros() : 0;
  int dest = envid;
  if ((flags & DB_REP_ANYWHERE) && !(flags & DB_REP_REREQUEST) && envid != DB_EID_BROADCAST) {
    dest = RouteAnywhere(envid);
  }
  bus::Lsn lsn{lsnp ? lsnp->file : 0, lsnp ? lsnp->offset : 0};
  // Before the send: the replica's ack may arrive before this call returns.
  if (roles_.role() == Role::kMaster && lsnp) {
    bus::Lsn last = lsn;
    RepControl rc;
    if (rec && ParseRepControl({static_cast<const uint8_t*>(control->data), control->size}, &rc) &&
        rc.rectype == kRepBulkLog) {
      last = LastLsnOfBulk({static_cast<const uint8_t*>(rec->data), rec->size}, lsn);
    }
    durability_.NoteWritten(last);
  }
  auto frame = bus::BuildRepMsg(
      header_,
      {static_cast<const uint8_t*>(control->data), control->size},
      {static_cast<const uint8_t*>(rec ? rec->data : nullptr), rec ? rec->size : 0}, lsn, flags,
      roles_.generation());
  bool sent = bus_->Send(dest == DB_EID_BROADCAST ? bus::kBroadcast : dest, frame);
  if (dest != envid) RememberRouted(dest, envid, frame);

  if (!(flags & DB_REP_PERMANENT) || roles_.role() != Role::kMaster) {
    return sent ? 0 : DB_REP_UNAVAIL;  // counted by Berkeley DB, then ignored
  }
  // PERMANENT on the master: the commit's record. The writer waits for the
  // ack policy after the commit, once Berkeley DB released the commit's locks
  // (perm_outcome.h). Commits never run Berkeley DB's post-commit lease check
  // (memenv's commits_ignore_leases), so nothing needs the wait in here.
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

}  // namespace bp::board
