// What arrives from the bus (the bus receive thread), and what the
// replica applier asks of the engine.
//
// Acks and heartbeats are handled inline on the bus thread: a committing
// writer waits for acks, so they must never queue behind replication
// traffic. Replication messages go to the ReplicaApplier's workers
// (replica_applier.h), which call rep_process_message and act on every
// return code.
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
#include "board/frame_checks.h"

namespace bp::board {

void Engine::OnFrame(bus::InFrame&& in) {
  const wire::Frame* f = in.frame();
  int sender = in.sender();
  switch (f->body_type()) {
    case wire::Body::RepMsg:
      if (!RepFramePlausible(in)) break;  // refusals.cc: never reaches Berkeley DB
      if (f->body_as_RepMsg()->flags() & DB_REP_ANYWHERE) {
        applier_.QueueServe(std::move(in));
      } else {
        applier_.QueueRep(std::move(in));
      }
      break;
    case wire::Body::Ack: {
      // With master leases an ack must be counted only after the same
      // replica's preceding lease grant was processed, or every commit's
      // lease check misses and sleeps 50 ms (bdb-base-api.md §1.7): so acks
      // then take the replication queue, in order.
      if (opts_.config.leases) {
        applier_.QueueRep(std::move(in));
        break;
      }
      if (trace::Enabled()) {
        const auto* a = f->body_as_Ack();
        trace::Ack(sender, trace::Pack(a->lsn_file(), a->lsn_offset()), in.received_us());
      }
      ApplierAck(in);  // the same check and count as the in-order path
      break;
    }
    case wire::Body::Heartbeat:
      OnHeartbeatFrame(sender, *f->body_as_Heartbeat(),
                       in.received_us() ? in.received_us() : clock_.NowMicros());
      break;
    case wire::Body::AppRequest: {
      if (!ForwardedWritePlausible(in)) break;  // refusals.cc
      service_.OnForwardedWrite(std::move(in));
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

bool Engine::SendForward(int slot, const bus::OutFrame& frame) { return bus_->Send(slot, frame); }

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

// A replica that served our re-init or catch-up died with requests of ours
// unanswered. A live peer that cannot serve a request answers REP_REREQUEST
// and Berkeley DB asks the master for everything it still waits for (the
// whole rest of the file's pages, or of the log); a dead one cannot, so the
// same message is queued here on its behalf, in order with the stream.
void Engine::TransportRerequest(int dead_slot) {
  const RoleView v = roles_.View();
  if (v.role != Role::kClient || v.gen == 0) return;
  bus::OutFrame out = bus::BuildRepMsg({opts_.config.chassis_id, dead_slot},
                                       RerequestControl(v.gen), {}, {0, 0}, 0, v.gen);
  applier_.QueueRep(bus::InFrame::FromOutFrame(out, opts_.config.chassis_id, clock_.NowMicros()));
}

void Engine::ApplierDupMaster(int sender, bool demote) {
  Emit(EventKind::kDupMaster, sender);
  if (demote) roles_.RequestDemote("DUPMASTER");
}

// An ack, inline on the bus thread, or in order on the rep worker with
// leases: counted only when plausible (refusals.cc).
void Engine::ApplierAck(const bus::InFrame& in) {
  const wire::Ack* a = in.frame()->body_as_Ack();
  if (a && AckPlausible(in.sender(), a->gen(), {a->lsn_file(), a->lsn_offset()})) {
    durability_.OnAck(in.sender(), a->gen(), {a->lsn_file(), a->lsn_offset()});
  }
}

int Engine::ProcessRepMessage(std::span<const uint8_t> control, std::span<const uint8_t> rec,
                              int sender, bus::Lsn* ret_lsn) {
  DBT c = {}, r = {};
  c.data = const_cast<uint8_t*>(control.data());
  c.size = uint32_t(control.size());
  r.data = const_cast<uint8_t*>(rec.data());
  r.size = uint32_t(rec.size());
  DB_LSN lsn = {0, 0};
  DB_ENV* env = env_->raw();
  const int ret = env->rep_process_message(env, &c, &r, sender, &lsn);
  *ret_lsn = {lsn.file, lsn.offset};
  return ret;
}

}  // namespace bp::board
