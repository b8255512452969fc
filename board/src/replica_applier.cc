// ReplicaApplier (replica_applier.h): the rep and serve workers and what
// each rep_process_message return code means here.
#include "board/replica_applier.h"

#include <db.h>

#include "board/commit_trace.h"

namespace bp::board {

ReplicaApplier::ReplicaApplier(const ChassisConfig& config, int self_slot, const Clock& clock,
                               ApplierListener& host)
    : self_slot_(self_slot),
      clock_(clock),
      host_(host),
      header_{config.chassis_id, self_slot},
      rep_queue_(QueueLimits{config.rep_queue_frames, size_t(config.rep_queue_mb) << 20}),
      serve_queue_(QueueLimits{config.serve_queue_frames, size_t(config.serve_queue_mb) << 20}) {}

ReplicaApplier::~ReplicaApplier() {
  Close();
  Join();
}

void ReplicaApplier::Attach(bus::Bus* bus, RepProcessFn process) {
  bus_ = bus;
  process_ = std::move(process);
}

void ReplicaApplier::Start() {
  rep_worker_ = std::thread([this] { RepLoop(); });
  serve_worker_ = std::thread([this] { ServeLoop(); });
}

void ReplicaApplier::Close() {
  stop_ = true;
  rep_queue_.Close();
  serve_queue_.Close();
}

void ReplicaApplier::Join() {
  if (rep_worker_.joinable()) rep_worker_.join();
  if (serve_worker_.joinable()) serve_worker_.join();
}

bool ReplicaApplier::QueueRep(bus::InFrame&& in) { return Queue(rep_queue_, "rep", std::move(in)); }

bool ReplicaApplier::QueueServe(bus::InFrame&& in) {
  return Queue(serve_queue_, "serve", std::move(in));
}

bool ReplicaApplier::Queue(WorkQueue<bus::InFrame>& q, const char* which, bus::InFrame&& in) {
  const int sender = in.sender();
  const size_t bytes = in.size();
  if (q.Push(std::move(in), bytes)) return true;
  if (stop_.load()) return false;
  const QueueStats qs = q.Stats();
  // Logged the first time and every 1000th after: a flood must not become
  // a flood of log lines.
  if (qs.refused == 1 || qs.refused % 1000 == 0) {
    const std::string key = which;
    host_.ApplierLog(key + " queue full (" + std::to_string(qs.depth) + " frames, " +
                     std::to_string(qs.bytes >> 20) + " MiB; " + key + "_queue_frames = " +
                     std::to_string(qs.limits.max_items) + ", " + key + "_queue_mb = " +
                     std::to_string(qs.limits.max_bytes >> 20) +
                     "): dropped a replication message from slot " + std::to_string(sender) + " (" +
                     std::to_string(qs.refused) +
                     " so far; Berkeley DB re-requests it). This board cannot keep up; raise the "
                     "limit or lower the write rate");
  }
  return false;
}

bool ReplicaApplier::WaitForRepStart() {
  while (!host_.ApplierRepStarted() && !stop_.load()) clock_.SleepFor(Millis(1));
  return !stop_.load();
}

void ReplicaApplier::RepLoop() {
  while (auto in = rep_queue_.Pop()) {
    const int64_t pop_us = trace::Enabled() ? trace::NowMicros() : 0;
    if (!WaitForRepStart()) break;
    if (in->frame()->body_type() == wire::Body::Ack) {  // leases: acks in order
      host_.ApplierAck(*in);
      if (held_ack_.held && rep_queue_.size() == 0) FlushAck();
      continue;
    }
    uint64_t acked = 0;
    {
      GatePass pass(host_.ApplierGate());
      acked = Process(*in, /*hold_ack=*/true);
    }
    if (held_ack_.held && (held_ack_.covered >= kMaxHeldAcks || rep_queue_.size() == 0)) FlushAck();
    if (pop_us) {
      const auto* m = in->frame()->body_as_RepMsg();
      trace::Apply(trace::Pack(m->lsn_file(), m->lsn_offset()), acked, in->received_us(), pop_us,
                   trace::NowMicros());
    }
    host_.ApplierAfterMessage();
  }
}

// Requests are reads of this board's log and pages: Berkeley DB allows
// concurrent rep_process_message calls (repmgr runs several message
// threads), and their order relative to the master's stream does not matter.
void ReplicaApplier::ServeLoop() {
  while (auto in = serve_queue_.Pop()) {
    if (!WaitForRepStart()) break;
    GatePass pass(host_.ApplierGate());
    Process(*in, /*hold_ack=*/false);
  }
}

uint64_t ReplicaApplier::Process(const bus::InFrame& in, bool hold_ack) {
  const wire::RepMsg* m = in.frame()->body_as_RepMsg();
  if (!m) return 0;
  auto bytes = [](const flatbuffers::Vector<uint8_t>* v) {
    return v ? std::span<const uint8_t>(v->data(), v->size()) : std::span<const uint8_t>();
  };
  bus::Lsn ret_lsn;
  const int ret = process_(bytes(m->control()), bytes(m->rec()), in.sender(), &ret_lsn);
  ++processed_;
  OnResult(ret, in.sender(), m->gen(), ret_lsn, hold_ack);
  return ret == DB_REP_ISPERM ? trace::Pack(ret_lsn.file, ret_lsn.offset) : 0;
}

void ReplicaApplier::OnResult(int ret, int sender, uint32_t frame_gen, const bus::Lsn& lsn,
                              bool hold_ack) {
  switch (ret) {
    case 0:
    case DB_REP_NEWSITE:  // membership comes from the chassis configuration
      return;
    case DB_REP_ISPERM: {
      ++isperm_;
      const int m = host_.ApplierMaster();
      const int to = (m > 0 && m != self_slot_) ? m : sender;
      if (!hold_ack) {  // the serve worker: held_ack_ is not its own
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
    case DB_REP_HOLDELECTION:
      host_.ApplierHoldElection();
      return;
    case DB_REP_DUPMASTER:
      OnDupMaster(sender, frame_gen);
      return;
    case DB_REP_IGNORE:
    case DB_LOCK_DEADLOCK:  // dropped during a lockout; Berkeley DB asks again
      ++ignored_;
      return;
    case DB_RUNRECOVERY:
      host_.ApplierPanicked();
      return;
    default:
      // JOIN_FAILURE cannot happen with AUTOINIT on (always set).
      const uint64_t n = ++errors_;
      if (n < 20 || n % 1000 == 0) {
        host_.ApplierLog("rep_process_message from slot " + std::to_string(sender) + ": " +
                         db_strerror(ret) + " (" + std::to_string(n) + " errors so far)");
      }
      return;
  }
}

// An old master that wakes up (or a healed partition's master) sees our
// newer generation, steps down, and broadcasts REP_DUPMASTER, which
// Berkeley DB reports to every master whatever its generation
// (rep_record.c). Stepping down on that would make the group elect again:
// a master ignores DUPMASTER from a sender of an older generation (that
// sender is the one leaving).
void ReplicaApplier::OnDupMaster(int sender, uint32_t frame_gen) {
  const RoleView v = host_.ApplierRoleView();
  const bool ignore = v.role == Role::kMaster && frame_gen < v.gen;
  if (ignore) ++dupmaster_ignored_;
  host_.ApplierDupMaster(sender, !ignore);
}

void ReplicaApplier::SendAck(int to, uint32_t gen, const bus::Lsn& lsn) {
  if (bus_ && bus_->Send(to, bus::BuildAck(header_, gen, lsn))) ++acks_sent_;
}

void ReplicaApplier::FlushAck() {
  if (!held_ack_.held) return;
  SendAck(held_ack_.to, held_ack_.gen, held_ack_.lsn);
  held_ack_ = HeldAck{};
}

ReplicaApplier::Stats ReplicaApplier::stats() const {
  Stats s;
  s.processed = processed_.load();
  s.acks_sent = acks_sent_.load();
  s.errors = errors_.load();
  s.isperm = isperm_.load();
  s.notperm = notperm_.load();
  s.ignored = ignored_.load();
  s.dupmaster_ignored = dupmaster_ignored_.load();
  s.rep = rep_queue_.Stats();
  s.serve = serve_queue_.Stats();
  return s;
}

}  // namespace bp::board
