// What arrives from the bus, and the rep worker that feeds Berkeley DB.
//
// Acks and heartbeats are handled inline on the bus thread: a committing
// writer waits for acks, so they must never queue behind replication
// traffic. Replication messages go to one worker, in arrival order, which
// calls rep_process_message and acts on every return code. Under load the
// worker acknowledges a run of commits with one ack (HeldAck, engine.h):
// fewer frames, and fewer wake-ups of the master's waiting writers.
//
// Bounds: the rep and serve queues hold at most rep_queue_* / serve_queue_*
// frames and bytes (a frame beyond is dropped, logged and counted: Berkeley
// DB re-requests it), the write pool at most write_queue_limit waiting
// writes (a forwarded write beyond is answered Busy). So the bus's ZeroMQ
// high-water marks apply again: this thread never queues without bound.
#include <db.h>

#include <chrono>

#include "board/commit_trace.h"
#include "board/engine.h"

namespace bp::board {

void Engine::OnFrame(bus::InFrame&& in) {
  const wire::Frame* f = in.frame();
  int sender = in.sender();
  switch (f->body_type()) {
    case wire::Body::RepMsg:
      if (!RepFramePlausible(in)) break;  // refusals.cc: never reaches Berkeley DB
      if (f->body_as_RepMsg()->flags() & DB_REP_ANYWHERE) {
        QueueRepFrame(serve_queue_, "serve", std::move(in));
      } else {
        QueueRepFrame(rep_queue_, "rep", std::move(in));
      }
      break;
    case wire::Body::Ack: {
      // With master leases an ack must be counted only after the same
      // replica's preceding lease grant was processed, or every commit's
      // lease check misses and sleeps 50 ms (bdb-base-api.md §1.7): so acks
      // then take the replication queue, in order.
      if (opts_.config.leases) {
        QueueRepFrame(rep_queue_, "rep", std::move(in));
        break;
      }
      const auto* a = f->body_as_Ack();
      if (trace::Enabled()) trace::Ack(sender, trace::Pack(a->lsn_file(), a->lsn_offset()), in.received_us());
      if (AckPlausible(sender, a->gen(), {a->lsn_file(), a->lsn_offset()})) {
        durability_.OnAck(sender, a->gen(), {a->lsn_file(), a->lsn_offset()});
      }
      break;
    }
    case wire::Body::Heartbeat:
      OnHeartbeatFrame(sender, *f->body_as_Heartbeat(),
                       in.received_us() ? in.received_us() : clock_.NowMicros());
      break;
    case wire::Body::AppRequest: {
      if (!ForwardedWritePlausible(in)) break;  // refusals.cc
      const auto* req = f->body_as_AppRequest();
      const RequestId id{req->request_id_hi(), req->request_id_lo()};
      const size_t bytes = in.size();  // about the keys and values it carries
      bool queued = write_pool_.Submit(
          [this, frame = std::make_shared<bus::InFrame>(std::move(in))]() mutable {
            HandleAppRequest(std::move(*frame));
          },
          bytes);
      if (!queued && !stop_.load()) {
        WriteResult r;
        r.status = WritePoolFull();
        ReplyTo(sender, id, r);  // as HandleAppRequest does
      }
      break;
    }
    case wire::Body::AppReply:
      forwarder_.OnReply(DecodeAppReply(*f->body_as_AppReply()));
      break;
    case wire::Body::Join:
    case wire::Body::Leave:
      Log("peer " + std::to_string(sender) + (f->body_type() == wire::Body::Join ? " joined" : " left"));
      break;
    default:
      break;
  }
}

void Engine::QueueRepFrame(WorkQueue<bus::InFrame>& q, const char* which, bus::InFrame&& in) {
  const int sender = in.sender();
  const size_t bytes = in.size();
  if (q.Push(std::move(in), bytes) || stop_.load()) return;
  const QueueStats qs = q.Stats();
  // Logged the first time and every 1000th after: a flood must not become
  // a flood of log lines.
  if (qs.refused == 1 || qs.refused % 1000 == 0) {
    const bool rep = which[0] == 'r';
    Log(std::string(which) + " queue full (" + std::to_string(qs.depth) + " frames, " +
        std::to_string(qs.bytes >> 20) + " MiB; " + (rep ? "rep_queue_frames = " : "serve_queue_frames = ") +
        std::to_string(qs.limits.max_items) + ", " + (rep ? "rep_queue_mb = " : "serve_queue_mb = ") +
        std::to_string(qs.limits.max_bytes >> 20) + "): dropped a replication message from slot " +
        std::to_string(sender) + " (" + std::to_string(qs.refused) +
        " so far; Berkeley DB re-requests it). This board cannot keep up; raise the limit or "
        "lower the write rate");
  }
}

size_t Engine::OpsBytes(const std::vector<memenv::BatchOp>& ops) {
  size_t n = 0;
  for (const auto& op : ops) n += op.key.size() + op.value.size();
  return n;
}

Status Engine::WritePoolFull() const {
  if (stop_.load()) {
    return Status::Unavailable("board " + std::to_string(opts_.self_slot) +
                               " is shutting down; retry with the same request id at the new master");
  }
  const QueueStats qs = write_pool_.Stats();
  return Status::Busy("board " + std::to_string(opts_.self_slot) + " has " + std::to_string(qs.depth) +
                      " writes (" + std::to_string(qs.bytes >> 20) + " MiB) waiting for its " +
                      std::to_string(opts_.config.write_threads) + " write threads (write_queue_limit = " +
                      std::to_string(qs.limits.max_items) + ", write_queue_mb = " +
                      std::to_string(qs.limits.max_bytes >> 20) +
                      "); retry with backoff (with the same request id), or raise write_queue_limit, "
                      "write_queue_mb or write_threads");
}

bool Engine::LocalReadsServable() const {
  const RoleView v = roles_.View();
  if (v.role == Role::kMaster) return true;
  return v.role == Role::kClient && v.startup_done && !liveness_.reinit();
}

Status Engine::NotInSync() const {
  return Status::Unavailable("board " + std::to_string(opts_.self_slot) +
                             (liveness_.reinit() ? " is re-initialising from its peers"
                                             : " is not in sync with a master yet") +
                             "; retry, or read at another board");
}

void Engine::OnPeerUp(int slot) {
  peers_.OnLinkUp(slot);
  Emit(EventKind::kPeerUp, slot);
}

void Engine::OnPeerDown(int slot) {
  peers_.OnLinkDown(slot);
  Emit(EventKind::kPeerDown, slot);
  transport_.ResendRoutedTo(slot);
  roles_.OnPeerDown(slot);  // a dead master is known now: no heartbeat timeout
}

void Engine::WorkerLoop() {
  while (auto in = rep_queue_.Pop()) {
    const int64_t pop_us = trace::Enabled() ? trace::NowMicros() : 0;
    // rep_process_message before rep_start returned is EINVAL (§2.1).
    while (!roles_.rep_started() && !stop_.load()) {
      clock_.SleepFor(Millis(1));
    }
    if (stop_.load()) break;
    if (const auto* a = in->frame()->body_as_Ack()) {  // leases: acks in order
      if (AckPlausible(in->sender(), a->gen(), {a->lsn_file(), a->lsn_offset()})) {
        durability_.OnAck(in->sender(), a->gen(), {a->lsn_file(), a->lsn_offset()});
      }
      if (held_ack_.held && rep_queue_.size() == 0) FlushAck();
      continue;
    }
    uint64_t acked = 0;
    {
      GatePass pass(roles_.message_gate());
      acked = ProcessRepMessage(*in);
    }
    if (held_ack_.held && (held_ack_.covered >= kMaxHeldAcks || rep_queue_.size() == 0)) FlushAck();
    if (pop_us) {
      const auto* m = in->frame()->body_as_RepMsg();
      trace::Apply(trace::Pack(m->lsn_file(), m->lsn_offset()), acked, in->received_us(), pop_us,
                   trace::NowMicros());
    }
    // The VOTE2 that made us win is processed here: promote from this
    // thread, now outside rep_process_message (§3.5).
    roles_.PromoteIfElected();
  }
}

// Log and page requests of boards catching up, answered next to the rep
// worker (Berkeley DB allows concurrent rep_process_message calls: repmgr
// runs several message threads). Requests are reads of this board's log and
// pages; their order relative to the master's stream does not matter.
void Engine::ServeLoop() {
  while (auto in = serve_queue_.Pop()) {
    while (!roles_.rep_started() && !stop_.load()) {
      clock_.SleepFor(Millis(1));
    }
    if (stop_.load()) break;
    GatePass pass(roles_.message_gate());
    ProcessRepMessage(*in, /*hold_ack=*/false);
  }
}

uint64_t Engine::ProcessRepMessage(const bus::InFrame& in, bool hold_ack) {
  const wire::RepMsg* m = in.frame()->body_as_RepMsg();
  DBT control = {}, rec = {};
  if (m->control()) {
    control.data = const_cast<uint8_t*>(m->control()->data());
    control.size = m->control()->size();
  }
  if (m->rec()) {
    rec.data = const_cast<uint8_t*>(m->rec()->data());
    rec.size = m->rec()->size();
  }
  DB_LSN ret_lsn = {0, 0};
  DB_ENV* env = env_->raw();
  int ret = env->rep_process_message(env, &control, &rec, in.sender(), &ret_lsn);
  ++msgs_processed_;
  HandleProcessResult(ret, in.sender(), m->gen(), {ret_lsn.file, ret_lsn.offset}, hold_ack);
  return ret == DB_REP_ISPERM ? trace::Pack(ret_lsn.file, ret_lsn.offset) : 0;
}

void Engine::HandleProcessResult(int ret, int sender, uint32_t frame_gen, const bus::Lsn& lsn,
                                 bool hold_ack) {
  switch (ret) {
    case 0:
      return;
    case DB_REP_ISPERM: {
      ++isperm_;
      int m = roles_.master();
      int to = (m > 0 && m != opts_.self_slot) ? m : sender;
      if (!hold_ack) {  // not the rep worker: held_ack_ is not ours
        SendAck(to, frame_gen, lsn);
        return;
      }
      if (held_ack_.held && (held_ack_.to != to || held_ack_.gen != frame_gen)) FlushAck();
      held_ack_ = {true, to, frame_gen, lsn, held_ack_.covered + 1};
      return;
    }
    case DB_REP_NOTPERM:
      ++notperm_;  // parked behind a gap; a later ISPERM covers it
      return;
    case DB_REP_NEWSITE:
      return;  // membership comes from the chassis configuration
    case DB_REP_HOLDELECTION:
      roles_.RequestElection("HOLDELECTION");
      return;
    case DB_REP_DUPMASTER:
      // An old master that wakes up (or a healed partition's master) sees
      // our newer generation, steps down, and broadcasts REP_DUPMASTER,
      // which Berkeley DB reports to every master whatever its generation
      // (rep_record.c). Stepping down on that would make the group elect
      // again: a master ignores DUPMASTER from a sender of an older
      // generation (that sender is the one leaving).
      Emit(EventKind::kDupMaster, sender);
      if (const RoleView v = roles_.View(); v.role == Role::kMaster && frame_gen < v.gen) {
        ++dupmaster_ignored_;
        return;
      }
      roles_.RequestDemote("DUPMASTER");
      return;
    case DB_REP_IGNORE:
      ++ignored_;
      return;
    case DB_REP_JOIN_FAILURE:
      // Cannot happen with AUTOINIT on (always set); recorded if it does.
      ++rep_errors_;
      Log("rep_process_message: JOIN_FAILURE from slot " + std::to_string(sender));
      return;
    case DB_LOCK_DEADLOCK:
      ++ignored_;  // dropped during a lockout; Berkeley DB asks again
      return;
    case DB_RUNRECOVERY:
      panicked_ = true;
      return;
    default:
      ++rep_errors_;
      if (rep_errors_.load() < 20 || rep_errors_.load() % 1000 == 0) {
        Log(std::string("rep_process_message from slot ") + std::to_string(sender) + ": " +
            db_strerror(ret));
      }
      return;
  }
}

void Engine::SendAck(int to, uint32_t gen, const bus::Lsn& lsn) {
  if (bus_->Send(to, bus::BuildAck(header_, gen, lsn))) ++acks_sent_;
}

void Engine::FlushAck() {
  if (!held_ack_.held) return;
  SendAck(held_ack_.to, held_ack_.gen, held_ack_.lsn);
  held_ack_ = HeldAck{};
}

}  // namespace bp::board
