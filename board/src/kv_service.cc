// KvService (kv_service.h): writes on the master, writes forwarded from
// replicas, reads with a consistency mode per call.
//
// Writes carry a request id. The master stores the id in the replicated
// table "__requests" in the same transaction as the write, so a retry of the
// same id at the same or a new master is recognised and never applied twice.
#include <db.h>

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <memory>

#include "board/commit_trace.h"
#include "board/decode.h"
#include "bp/request_id.h"
#include "board/kv_service.h"
#include "board/lag.h"
#include "board/perm_outcome.h"

namespace bp::board {
namespace {

constexpr char kDataTable[] = "kv";
constexpr char kRequestTable[] = "__requests";

// Bytes a write's puts add at most (memory admission counts them as growth
// until the next measurement).
uint64_t PutBytes(const std::vector<memenv::BatchOp>& ops) {
  uint64_t n = 0;
  for (const auto& op : ops) {
    if (op.kind == memenv::BatchOp::Kind::kPut) n += op.key.size() + op.value.size();
  }
  return n;
}

// Test-only: BP_TEST_FORWARDED_WRITE_PAUSE_MS holds every forwarded write
// for that long between its duplicate check and its commit, so a test can
// show that two copies of one request never both apply.
void TestPauseForwardedWrite(const Clock& clock, bool forwarded) {
  static const int pause_ms = [] {
    const char* v = std::getenv("BP_TEST_FORWARDED_WRITE_PAUSE_MS");
    return v ? std::atoi(v) : 0;
  }();
  if (forwarded && pause_ms > 0) clock.SleepFor(Millis(pause_ms));
}

}  // namespace

KvService::KvService(const ChassisConfig& config, int self_slot, const Clock& clock,
                     const PeerTable& peers, const Liveness& liveness, Durability& durability,
                     RequestIds& request_ids, MemoryGauge& memory, uint64_t seed,
                     ServiceListener& host)
    : config_(config),
      self_slot_(self_slot),
      clock_(clock),
      peers_(peers),
      liveness_(liveness),
      durability_(durability),
      request_ids_(request_ids),
      memory_(memory),
      host_(host),
      header_{config.chassis_id, self_slot},
      request_id_rng_(seed),
      write_pool_(QueueLimits{config.write_queue_limit, size_t(config.write_queue_mb) << 20}) {}

void KvService::Attach(memenv::Env* env, bus::Bus* bus) {
  env_ = env;
  bus_ = bus;
}

void KvService::Start() { write_pool_.Start(config_.write_threads); }

KvService::Stats KvService::stats() const {
  Stats s;
  s.committed = writes_.load();
  s.not_durable = writes_not_durable_.load();
  s.duplicates = duplicates_.load();
  s.throttled = throttled_.load();
  s.forwarded_in = forwarded_in_.load();
  s.forwarded_in_done = forwarded_in_done_.load();
  s.lease_expired = lease_expired_.load();
  s.last_lease_expired_us = last_lease_expired_us_.load();
  s.write_pool = write_pool_.Stats();
  return s;
}

size_t KvService::OpsBytes(const std::vector<memenv::BatchOp>& ops) {
  size_t n = 0;
  for (const auto& op : ops) n += op.key.size() + op.value.size();
  return n;
}

RequestId KvService::NewRequestId() {
  RequestId id;
  MakeRequestId(uint64_t(clock_.WallMicros() / 1000), request_id_rng_.Next(),
                request_id_rng_.Next(), &id.hi, &id.lo);
  return id;
}

memenv::Table* KvService::DataTable() {
  if (!env_) return nullptr;
  auto t = env_->OpenTable(kDataTable, host_.ServiceRole() == Role::kMaster);
  return t.ok() ? *t : nullptr;
}

memenv::Table* KvService::RequestTable() {
  if (!env_) return nullptr;
  auto t = env_->OpenTable(kRequestTable, host_.ServiceRole() == Role::kMaster);
  return t.ok() ? *t : nullptr;
}

Status KvService::CheckWrite(const std::vector<memenv::BatchOp>& ops) const {
  const ChassisConfig& c = config_;
  if (ops.empty()) return Status::InvalidArgument("empty write: give at least one put or delete");
  for (const auto& op : ops) {
    if (op.key.empty()) return Status::InvalidArgument("empty key: keys must be 1 byte or more");
    if (op.key.size() > c.max_key_bytes) {
      return Status::TooLarge("key of " + std::to_string(op.key.size()) + " bytes exceeds max_key_bytes = " +
                              std::to_string(c.max_key_bytes) + "; shorten the key or raise the limit");
    }
    if (op.value.size() > c.max_value_bytes) {
      return Status::TooLarge("value of " + std::to_string(op.value.size()) +
                              " bytes exceeds max_value_bytes = " + std::to_string(c.max_value_bytes) +
                              "; split the value or raise the limit");
    }
  }
  size_t bytes = 0;
  for (const auto& op : ops) bytes += op.key.size() + op.value.size();
  BP_RETURN_IF_ERROR(CheckWriteFitsFrame(bytes, ops.size(), c));
  return env_->CheckTxnSize(bytes, ops.size());
}

// A write on the master, in four steps: admission before the api gate
// (role, shape, the lease confirmation it may wait for), the re-check inside
// the gate (a role change waits for writes inside it: gate.h), the commit,
// and the wait for the acks its ack policy needs.
WriteResult KvService::Write(const std::vector<memenv::BatchOp>& ops, RequestId id, bool forwarded) {
  const int64_t begin_us = trace::Enabled() ? trace::NowMicros() : 0;
  WriteResult r;
  r.master = self_slot_;
  r.status = AdmitWrite(ops);
  if (!r.status.ok()) return r;
  GatePass pass(host_.ServiceApiGate());
  r.status = StillWritableInsideGate();
  if (!r.status.ok()) return r;
  DB_TXN_TOKEN token;
  std::memset(&token, 0, sizeof token);
  r.status = CommitWrite(ops, id, forwarded, &token, &r.duplicate);
  if (!r.status.ok()) return r;
  AwaitWriteAcks(begin_us, &r);
  r.token.assign(reinterpret_cast<const char*>(token.buf), sizeof token.buf);
  return r;
}

Status KvService::AdmitWrite(const std::vector<memenv::BatchOp>& ops) {
  if (host_.ServiceRole() != Role::kMaster) {
    return Status::NotMaster("board " + std::to_string(self_slot_) +
                             " is not the master (master: slot " +
                             std::to_string(host_.ServiceMaster()) + ")");
  }
  BP_RETURN_IF_ERROR(CheckWrite(ops));
  // With leases a master writes only while a majority's heartbeats confirm
  // it (Berkeley DB's own lease check is skipped on commits: memenv's
  // commits_ignore_leases). A new master is confirmed within a heartbeat or
  // two of its election: wait for that here, bounded, rather than refuse
  // and leave the client to back off.
  if (config_.leases) {
    const int64_t until = clock_.NowMicros() + int64_t(config_.heartbeat_timeout_ms) * 1000;
    while (host_.ServiceRole() == Role::kMaster && !host_.ServiceConfirmedMaster(clock_.NowMicros()) &&
           clock_.NowMicros() < until && !stopping_.load()) {
      clock_.SleepFor(Millis(1));
    }
  }
  return Status::Ok();
}

Status KvService::StillWritableInsideGate() {
  if (host_.ServiceRole() != Role::kMaster) {
    return Status::NotMaster("board " + std::to_string(self_slot_) +
                             " stepped down; not applied, retry at the master");
  }
  if (config_.leases && !host_.ServiceConfirmedMaster(clock_.NowMicros())) {
    return Status::Unavailable("board " + std::to_string(self_slot_) +
                               " cannot confirm it is still master (no majority heard "
                               "recently; its lease will lapse); not applied, retry at the "
                               "master");
  }
  return Status::Ok();
}

// The write's transaction: the request id claimed and the ops applied
// (ApplyInTxn), with its commit token in *token. *duplicate: the id was
// applied before and nothing was re-applied.
Status KvService::CommitWrite(const std::vector<memenv::BatchOp>& ops, RequestId id, bool forwarded,
                           DB_TXN_TOKEN* token, bool* duplicate) {
  memenv::Table* data = DataTable();
  memenv::Table* reqs = RequestTable();
  if (!data || !reqs) return Status::Unavailable("the master cannot open its tables yet; retry");
  ThrottleForLaggingReplicas();
  const uint64_t put_bytes = PutBytes(ops);
  const bool fits = memory_.Fits(put_bytes);
  ThisThreadPermOutcome() = PermOutcome{};
  RequestIds::Claim claim = RequestIds::Claim::kNone;
  // The log budget is reserved up front (ops, the id record, and a read of
  // the old value per put when over the memory mark), so a write never
  // re-runs for room in the log ring.
  const size_t payload = OpsBytes(ops) + 16 + 8;  // + the id record
  RequestIds::WriteScope counted(request_ids_);  // a recount sees this write in flight
  Status st = env_->WithTxn(
      [&](memenv::Txn& t) { return ApplyInTxn(t, *data, *reqs, ops, id, forwarded, fits, &claim); },
      [&](DB_TXN* txn) { txn->set_commit_token(txn, token); },
      memenv::Env::EstimateTxnLogBytes(payload, ops.size() + 1));
  if (st.ok()) {
    counted.Committed(claim);
    *duplicate = claim == RequestIds::Claim::kDuplicate;
    if (!*duplicate) memory_.Admitted(put_bytes);
    return st;
  }
  if (host_.ServiceRole() != Role::kMaster) {
    st = Status::NotMaster("board " + std::to_string(self_slot_) +
                           " stepped down during the write; not applied, retry at the master");
  }
  return LeaseExpired(std::move(st), "write (not applied)");
}

// The commit's locks are released: now wait for its acks (perm_outcome.h).
void KvService::AwaitWriteAcks(int64_t begin_us, WriteResult* r) {
  PermOutcome& po = ThisThreadPermOutcome();
  if (po.seen) durability_.AwaitDurable({po.lsn_file, po.lsn_offset}, &po);
  if (begin_us && po.seen) {
    trace::Commit(trace::Pack(po.lsn_file, po.lsn_offset), begin_us, po.send_us, po.sent_us,
                  trace::NowMicros());
  }
  r->durable = po.seen ? po.met : durability_.Needed() == 0;
  ++writes_;
  if (r->duplicate) ++duplicates_;
  if (!r->durable) ++writes_not_durable_;
}

// Inside the write's transaction (re-run whole on a deadlock). The id is
// claimed first, write-locked: a second copy of the same request waits for
// this one and then finds it applied. A duplicate applies nothing; it
// re-writes only its id record, so this commit's acknowledgement covers the
// first one's. Over the memory mark, only ops that do not grow the data
// pass: deletes, and puts over an existing value at least as long.
Status KvService::ApplyInTxn(memenv::Txn& t, memenv::Table& data, memenv::Table& reqs,
                          const std::vector<memenv::BatchOp>& ops, RequestId id, bool forwarded,
                          bool fits, RequestIds::Claim* claim) {
  Result<RequestIds::Claim> c =
      request_ids_.ClaimInTxn(t, reqs, id, host_.ServiceGeneration(), clock_.WallMicros() / 1000);
  if (!c.ok()) return c.status();
  *claim = *c;
  TestPauseForwardedWrite(clock_, forwarded);
  if (*claim == RequestIds::Claim::kDuplicate) return Status::Ok();
  for (const auto& op : ops) {
    if (op.kind == memenv::BatchOp::Kind::kDelete) {
      Status s = t.Delete(data, op.key);
      if (!s.ok() && !s.IsNotFound()) return s;
      continue;
    }
    if (!fits) {
      Result<size_t> old = t.ValueSize(data, op.key);
      if (!old.ok() && !old.status().IsNotFound()) return old.status();
      if (!old.ok() || *old < op.value.size()) return memory_.Refusal();
    }
    BP_RETURN_IF_ERROR(t.Put(data, op.key, op.value));
  }
  return Status::Ok();
}

// Flow control when acks do not provide it (NONE, ONE with a slow second
// replica, ALL failing fast): a master that outruns a replica by more than
// the in-memory log holds pushes it off the ring into a full re-init, or
// exhausts its cache (bdb-base-api.md §0 item 8). So a writer waits, bounded
// by the ack timeout, while a live, caught-up replica lags by more than a
// quarter of the log buffer. Replicas in internal init are not waited for:
// the master keeps serving writes while a board is re-initialised.
void KvService::ThrottleForLaggingReplicas() {
  const int64_t limit = int64_t(config_.log_buffer_mb) << 18;  // a quarter of the ring
  const int64_t file_bytes = int64_t(env_->options().EffectiveLogFileBytes());
  const int64_t deadline = clock_.NowMicros() + int64_t(config_.ack_timeout_ms) * 1000;
  bool counted = false;
  while (true) {
    int64_t now = clock_.NowMicros();
    const bus::Lsn mine = liveness_.next_lsn();
    int64_t worst = 0;
    for (const PeerView& p : peers_.Snapshot(now)) {
      if (!p.alive || p.hb.reinit || p.hb.role != wire::Role::Client) continue;
      bus::Lsn theirs = p.hb.next_lsn;
      if (theirs.file == 0) continue;  // not started yet
      worst = std::max(worst, LagBytes(mine, theirs, file_bytes));
    }
    if (worst <= limit || now >= deadline || stopping_.load()) return;
    if (!counted) ++throttled_;
    counted = true;
    clock_.SleepFor(Millis(1));
  }
}

void KvService::SubmitWrite(std::vector<memenv::BatchOp> ops, RequestId id, Done done) {
  if (id.empty()) id = NewRequestId();
  Status st = CheckWrite(ops);
  if (!st.ok()) {
    WriteResult r;
    r.status = st;
    done(r);
    return;
  }
  if (host_.ServiceRole() == Role::kMaster) {
    WriteOnPool(std::move(ops), id, std::move(done));
    return;
  }
  int64_t now = clock_.NowMicros();
  st = host_.ServiceCheckWritable(now);
  if (!st.ok()) {
    WriteResult r;
    r.status = st;
    done(r);
    return;
  }
  host_.ServiceForward(std::move(ops), id, std::move(done), now);
}

void KvService::WriteOnPool(std::vector<memenv::BatchOp> ops, RequestId id, Done done) {
  const size_t bytes = OpsBytes(ops);
  bool queued = write_pool_.Submit([this, ops = std::move(ops), id, done] {
    WriteResult r = Write(ops, id);
    if (r.status.code() != Status::Code::kNotMaster) {
      done(r);
      return;
    }
    // Stepped down before applying: forward to the new master instead.
    SubmitWrite(ops, id, done);
  }, bytes);
  if (!queued) {
    WriteResult r;
    r.status = WritePoolFull();
    done(r);
  }
}

// The forwarder's (forwarder.h): this board took over while its own writes
// were out to the old master.
void KvService::ApplyHere(RequestId id, std::vector<memenv::BatchOp> ops, Done done) {
  WriteOnPool(std::move(ops), id, std::move(done));
}

void KvService::OnForwardedWrite(bus::InFrame in) {
  const auto* req = in.frame()->body_as_AppRequest();
  const RequestId id{req->request_id_hi(), req->request_id_lo()};
  const int sender = in.sender();
  const size_t bytes = in.size();  // about the keys and values it carries
  bool queued = write_pool_.Submit(
      [this, frame = std::make_shared<bus::InFrame>(std::move(in))] {
        HandleForwardedWrite(*frame);
      },
      bytes);
  if (!queued && !stopping_.load()) {
    WriteResult r;
    r.status = WritePoolFull();
    ReplyTo(sender, id, r);  // as HandleForwardedWrite does
  }
}

void KvService::HandleForwardedWrite(const bus::InFrame& in) {
  const wire::AppRequest* req = in.frame()->body_as_AppRequest();
  RequestId id{req->request_id_hi(), req->request_id_lo()};
  std::vector<memenv::BatchOp> ops = DecodeKvOps(req->ops());
  ++forwarded_in_;
  const WriteResult r = Write(ops, id, /*forwarded=*/true);
  ++forwarded_in_done_;  // before the reply: whoever sees the reply sees the count
  ReplyTo(in.sender(), id, r);
}

Status KvService::WritePoolFull() const {
  if (stopping_.load()) {
    return Status::Unavailable("board " + std::to_string(self_slot_) +
                               " is shutting down; retry with the same request id at the new master");
  }
  const QueueStats qs = write_pool_.Stats();
  return Status::Busy("board " + std::to_string(self_slot_) + " has " + std::to_string(qs.depth) +
                      " writes (" + std::to_string(qs.bytes >> 20) + " MiB) waiting for its " +
                      std::to_string(config_.write_threads) + " write threads (write_queue_limit = " +
                      std::to_string(qs.limits.max_items) + ", write_queue_mb = " +
                      std::to_string(qs.limits.max_bytes >> 20) +
                      "); retry with backoff (with the same request id), or raise write_queue_limit, "
                      "write_queue_mb or write_threads");
}

void KvService::ReplyTo(int slot, RequestId id, const WriteResult& r) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto msg = fbb.CreateString(r.status.message());
  auto tok = fbb.CreateVector(reinterpret_cast<const uint8_t*>(r.token.data()), r.token.size());
  auto rep = wire::CreateAppReply(fbb, id.hi, id.lo, int(r.status.code()), msg, r.durable, tok,
                                  r.duplicate);
  bus_->Send(slot, bus::FinishFrame(fbb, header_, wire::Body::AppReply, rep.Union()));
}

Result<std::string> KvService::Get(std::string_view key, ReadMode mode, std::string_view token,
                                   uint32_t timeout_ms, ServedInfo* served) {
  if (key.empty()) return Status::InvalidArgument("empty key: keys must be 1 byte or more");
  if (key.size() > config_.max_key_bytes) {
    return Status::TooLarge("key of " + std::to_string(key.size()) + " bytes exceeds max_key_bytes = " +
                            std::to_string(config_.max_key_bytes));
  }
  if (mode != ReadMode::kLinearizable && !LocalReadsServable()) return NotInSync();
  if (mode == ReadMode::kReadYourWrites && !token.empty()) {
    BP_RETURN_IF_ERROR(AwaitToken(token, timeout_ms));
  }
  if (mode == ReadMode::kLinearizable) BP_RETURN_IF_ERROR(CheckLinearizableServable());
  GatePass pass(host_.ServiceApiGate());
  memenv::Table* data = DataTable();
  if (!data) return Status::NotFound("no such key (nothing written yet)");
  Result<std::string> value = data->Get(key);
  if (!value.ok() && !value.status().IsNotFound()) return LeaseExpired(value.status(), "read");
  if (mode != ReadMode::kLinearizable) return value;
  return ConfirmLinearizableRead(std::move(value), served);
}

Status KvService::AwaitToken(std::string_view token, uint32_t timeout_ms) {
  if (token.size() != DB_TXN_TOKEN_SIZE) {
    return Status::InvalidArgument("read-your-writes token must be " +
                                   std::to_string(DB_TXN_TOKEN_SIZE) + " bytes (as returned by a write)");
  }
  DB_TXN_TOKEN t;
  std::memcpy(t.buf, token.data(), DB_TXN_TOKEN_SIZE);
  DB_ENV* env = env_->raw();
  int ret = env->txn_applied(env, &t, db_timeout_t(timeout_ms) * 1000, 0);
  if (ret == DB_TIMEOUT) {
    return Status::Timeout("your last write is not applied on board " + std::to_string(self_slot_) +
                           " after " + std::to_string(timeout_ms) + " ms; retry, or read at the master");
  }
  if (ret == DB_NOTFOUND) {
    return Status::Unavailable("your last write is not in this board's history (rolled back by a "
                               "failover?); re-read at the master");
  }
  if (ret != 0 && ret != DB_KEYEMPTY) {
    return Status::Unavailable(std::string("cannot check your last write: ") + db_strerror(ret));
  }
  return Status::Ok();
}

Status KvService::CheckLinearizableServable() {
  if (host_.ServiceRole() != Role::kMaster) {
    return Status::NotMaster("LINEARIZABLE reads are served by the master (slot " +
                             std::to_string(host_.ServiceMaster()) + "), not by board " +
                             std::to_string(self_slot_));
  }
  if (!host_.ServiceConfirmedMaster(clock_.NowMicros())) {
    return Status::Unavailable("board " + std::to_string(self_slot_) +
                               " cannot confirm it is still master (no quorum heard recently); retry");
  }
  return Status::Ok();
}

bool KvService::LocalReadsServable() const {
  const RoleView v = host_.ServiceRoleView();
  if (v.role == Role::kMaster) return true;
  return v.role == Role::kClient && v.startup_done && !liveness_.reinit();
}

Status KvService::NotInSync() const {
  return Status::Unavailable("board " + std::to_string(self_slot_) +
                             (liveness_.reinit() ? " is re-initialising from its peers"
                                                 : " is not in sync with a master yet") +
                             "; retry, or read at another board");
}

// With master leases Berkeley DB refuses reads and commits on a master
// whose lease a majority no longer backs (DB_REP_LEASE_EXPIRED, mapped to
// Unavailable "... (master lease expired)" by memenv).
Status KvService::LeaseExpired(Status st, const char* what) {
  if (st.ok() || st.message().find("master lease expired") == std::string::npos) return st;
  ++lease_expired_;
  last_lease_expired_us_ = clock_.NowMicros();
  return Status::Unavailable(
      "board " + std::to_string(self_slot_) + " refused the " + what +
      ": its master lease expired (no majority of replicas granted it within lease_timeout_ms = " +
      std::to_string(config_.lease_timeout_ms) +
      " ms: cut off, or replicas still syncing); retry in a moment, at the new master if one is "
      "elected");
}

// A read on the master can see a commit that is not durable yet: its locks
// are released after the ack wait even when the wait timed out (or it waited
// while the master was being cut off). So before answering, the master waits
// until everything it has committed so far is acknowledged under the policy,
// and checks again that it is still the confirmed master; otherwise the read
// is refused (retryable), never answered with a value a new master may not
// have.
Result<std::string> KvService::ConfirmLinearizableRead(Result<std::string> value, ServedInfo* served) {
  if (!durability_.AwaitCommitted()) {
    return Status::Unavailable("board " + std::to_string(self_slot_) +
                               " cannot serve a LINEARIZABLE read now: its latest writes are not "
                               "acknowledged by a quorum; retry");
  }
  const uint32_t gen = host_.ServiceGeneration();
  const int64_t confirmed_us = clock_.NowMicros();
  if (host_.ServiceRole() != Role::kMaster || !host_.ServiceConfirmedMaster(confirmed_us) || host_.ServiceGeneration() != gen) {
    return Status::Unavailable("board " + std::to_string(self_slot_) +
                               " lost its master confirmation during the read; retry");
  }
  if (served) *served = ServedInfo{self_slot_, gen, confirmed_us};
  return value;
}

Result<KvService::KeyValues> KvService::Scan(std::string_view start, std::string_view end,
                                             size_t limit) {
  GatePass pass(host_.ServiceApiGate());
  memenv::Table* data = DataTable();
  if (!data) return KeyValues{};
  return data->Scan(start, end, limit);
}

}  // namespace bp::board
