// The origin side of forwarded writes (forwarder.h).
#include "board/forwarder.h"

#include <algorithm>
#include <string>
#include <utility>

#include "bus/kv_op.h"

namespace bp::board {

Forwarder::Forwarder(const ChassisConfig& config, int self_slot, const Clock& clock,
                     ForwardListener& listener)
    : config_(config),
      self_slot_(self_slot),
      clock_(clock),
      listener_(listener),
      header_{config.chassis_id, self_slot} {}

void Forwarder::Forward(std::vector<memenv::BatchOp> ops, RequestId id, Done done,
                        int64_t now_us) {
  {
    std::lock_guard<std::mutex> l(mu_);
    Pending& p = pending_[id];
    p.ops = std::move(ops);
    p.done = std::move(done);
    p.deadline_us = now_us + int64_t(config_.forward_timeout_ms) * 1000;
  }
  ++forwarded_;
  Send(id);
}

bus::OutFrame Forwarder::BuildRequest(RequestId id, const Pending& p, int64_t now_us) const {
  flatbuffers::FlatBufferBuilder fbb(256);
  std::vector<flatbuffers::Offset<wire::KvOp>> ops;
  for (const auto& op : p.ops) {
    ops.push_back(bus::EncodeKvOp(fbb, op.kind == memenv::BatchOp::Kind::kPut, op.key, op.value));
  }
  // The master is told how long the origin still waits, so it does not
  // apply a write whose caller has given up.
  auto req = wire::CreateAppRequest(fbb, id.hi, id.lo, self_slot_, fbb.CreateVector(ops),
                                    uint64_t(std::max<int64_t>(0, p.deadline_us - now_us)));
  return bus::FinishFrame(fbb, header_, wire::Body::AppRequest, req.Union());
}

void Forwarder::Send(RequestId id) {
  const int m = listener_.ForwardMaster();
  bus::OutFrame frame;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending& p = it->second;
    if (m <= 0 || m == self_slot_) {
      p.sent_to = -1;  // no master known: Retry sends it when there is one
      return;
    }
    const int64_t now = clock_.NowMicros();
    frame = BuildRequest(id, p, now);
    p.attempts++;
    p.sent_us = now;
    p.sent_to = m;
  }
  listener_.SendForward(m, frame);
}

Status Forwarder::GiveUpStatus(uint32_t attempts) const {
  return Status::Timeout(
      "no answer from a master after " + std::to_string(attempts) + " attempts in " +
      std::to_string(config_.forward_timeout_ms) +
      " ms; the outcome is unknown: retry with the same request id (applied at most once)");
}

void Forwarder::Retry(int64_t now) {
  // An attempt unanswered this long is presumed lost: the deadline shared
  // among the allowed attempts, but never under 20 ms (a busy master).
  const int64_t attempt_us = std::max<int64_t>(
      int64_t(config_.forward_timeout_ms) * 1000 / (config_.forward_retries + 1), 20000);
  std::vector<RequestId> resend;
  std::vector<std::pair<Done, WriteResult>> expired;
  std::vector<std::pair<RequestId, Pending>> apply_here;
  {
    std::lock_guard<std::mutex> l(mu_);
    const int m = listener_.ForwardMaster();
    const bool self_master = m == self_slot_ && listener_.ForwardSelfIsMaster();
    for (auto it = pending_.begin(); it != pending_.end();) {
      Pending& p = it->second;
      if (self_master) {
        // This board took over while its own writes were out to the old
        // master: apply them here now, not after the forward times out.
        apply_here.emplace_back(it->first, std::move(p));
        it = pending_.erase(it);
        continue;
      }
      if (now >= p.deadline_us || p.attempts > config_.forward_retries) {
        WriteResult r;
        r.status = GiveUpStatus(p.attempts);
        expired.emplace_back(std::move(p.done), r);
        it = pending_.erase(it);
        continue;
      }
      const bool master_changed = m > 0 && m != self_slot_ && p.sent_to != m;
      const bool silent = p.sent_to > 0 && now - p.sent_us > attempt_us;
      if (master_changed || silent) resend.push_back(it->first);
      ++it;
    }
  }
  for (auto& [done, r] : expired) done(r);
  for (RequestId id : resend) Send(id);
  for (auto& [id, p] : apply_here) listener_.ApplyForwardHere(id, std::move(p.ops), std::move(p.done));
}

void Forwarder::OnReply(AppReplyFields reply) {
  const RequestId id{reply.id_hi, reply.id_lo};
  const Status::Code code = reply.status.code();
  Done done;
  WriteResult r;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // late duplicate reply
    if (code == Status::Code::kNotMaster || code == Status::Code::kBusy) {
      // It stepped down, or its write queue was full: resend (at the next
      // tick, to the master known then). A refusal is not a lost attempt;
      // the deadline still bounds the whole request. A Busy is never handed
      // to the caller as "not applied": an earlier copy of this request may
      // still be queued at the master and apply.
      it->second.sent_to = -1;
      if (it->second.attempts > 0) it->second.attempts--;
      return;
    }
    done = std::move(it->second.done);
    r.master = it->second.sent_to;
    pending_.erase(it);
  }
  r.status = std::move(reply.status);
  r.durable = reply.durable;
  r.duplicate = reply.duplicate;
  r.token = std::move(reply.token);
  done(r);
}

void Forwarder::AbandonAll(const Status& why) {
  std::map<RequestId, Pending> left;
  {
    std::lock_guard<std::mutex> l(mu_);
    left.swap(pending_);
  }
  for (auto& [id, p] : left) {
    WriteResult r;
    r.status = why;
    p.done(r);
  }
}

size_t Forwarder::pending() const {
  std::lock_guard<std::mutex> l(mu_);
  return pending_.size();
}

}  // namespace bp::board
