// Request ids kept for a bounded window and budget (request_ids.h).
#include "board/request_ids.h"

#include <algorithm>
#include <cstring>

#include "board/engine.h"
#include "bp/request_id.h"

namespace bp::board {
namespace {

// The eviction mark lives under the all-zero key: no id is all zero, and
// it sorts before every id, so expiry scans start right after it.
const std::string kMarkKey(16, '\0');
std::string FirstIdKey() {
  std::string k(16, '\0');
  k[15] = '\1';
  return k;
}

std::string Stamp(int64_t ms) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char(uint64_t(ms) >> (56 - 8 * i));
  return s;
}

int64_t ReadStamp(std::string_view s) {
  if (s.size() != 8) return 0;
  uint64_t v = 0;
  for (unsigned char c : s) v = v << 8 | c;
  return int64_t(v);
}

// The first key of ids issued at `ms`: every id issued earlier sorts below.
std::string KeyAtMs(int64_t ms) {
  RequestId id{uint64_t(std::max<int64_t>(ms, 0)) << kRequestIdTimeShift, 0};
  return RequestIds::Key(id);
}

int64_t IssuedMs(std::string_view key) {
  uint64_t hi = 0;
  for (int i = 0; i < 8; ++i) hi = hi << 8 | uint8_t(key[i]);
  return int64_t(RequestIdIssuedMs(hi));
}

}  // namespace

RequestIds::Limits RequestIds::LimitsFor(uint32_t retention_s, uint32_t cache_mb, uint32_t budget_pct) {
  Limits l;
  l.retention_ms = int64_t(retention_s) * 1000;
  l.max_ids = (uint64_t(cache_mb) << 20) * budget_pct / 100 / kBytesPerId;
  return l;
}

std::string RequestIds::Key(const RequestId& id) {
  std::string k(16, '\0');
  for (int i = 0; i < 8; ++i) {
    k[i] = char(id.hi >> (56 - 8 * i));
    k[8 + i] = char(id.lo >> (56 - 8 * i));
  }
  return k;
}

Result<RequestIds::Claim> RequestIds::ClaimInTxn(memenv::Txn& t, memenv::Table& reqs,
                                                 const RequestId& id, uint32_t gen,
                                                 int64_t now_wall_ms) {
  if (id.empty()) return Claim::kNone;
  const int64_t issued = int64_t(RequestIdIssuedMs(id.hi));
  if (issued > now_wall_ms + limits_.retention_ms) {
    ++future_;
    return Status::InvalidArgument(
        "request id issued " + std::to_string((issued - now_wall_ms) / 1000) +
        " s in the future by this master's clock: ids carry their issue time (make them with "
        "fw_new_request_id) and the boards' clocks must agree within request_retention_s; check "
        "the clocks (NTP)");
  }
  const std::string key = Key(id);
  const std::string stamp = Stamp(now_wall_ms);
  Result<bool> inserted = t.PutIfAbsent(reqs, key, stamp);
  if (!inserted.ok()) return inserted.status();
  if (!*inserted) {
    BP_RETURN_IF_ERROR(t.Put(reqs, key, stamp));
    return Claim::kDuplicate;
  }
  // Absent: new, unless it is a retry of an id already forgotten.
  Result<int64_t> mark = EvictionMark(t, reqs, gen);
  if (!mark.ok()) return mark.status();
  if (issued < now_wall_ms - limits_.retention_ms || issued <= *mark) {
    return RefusedAsExpired(id, now_wall_ms, *mark);
  }
  return Claim::kNew;
}

Status RequestIds::RefusedAsExpired(const RequestId& id, int64_t now_wall_ms, int64_t mark_ms) {
  ++too_old_;
  const int64_t issued = int64_t(RequestIdIssuedMs(id.hi));
  const std::string why =
      issued <= mark_ms && issued >= now_wall_ms - limits_.retention_ms
          ? "the request-id table reached its budget (request_budget_pct of cache_mb) and its "
            "oldest ids were forgotten early; raise request_budget_pct or cache_mb"
          : "it is older than the window of request_retention_s = " +
                std::to_string(limits_.retention_ms / 1000) + " s";
  return Status::Expired("request id issued " + std::to_string((now_wall_ms - issued) / 1000) +
                         " s ago is no longer remembered (" + why +
                         "): whether its first attempt applied is unknown and it cannot be "
                         "deduplicated, so it was not applied now; read the keys to learn the "
                         "state, then write again with a new id");
}

Result<int64_t> RequestIds::EvictionMark(memenv::Txn& t, memenv::Table& reqs, uint32_t gen) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (mark_gen_ == gen && mark_ms_ >= 0) return mark_ms_;
  }
  Result<std::string> v = t.Get(reqs, kMarkKey);
  if (!v.ok() && !v.status().IsNotFound()) return v.status();
  const int64_t mark = v.ok() ? ReadStamp(*v) : 0;
  std::lock_guard<std::mutex> l(mu_);
  if (mark_gen_ != gen || mark > mark_ms_) {
    mark_gen_ = gen;
    mark_ms_ = mark;
  }
  evicted_through_ms_ = mark_ms_;
  return mark_ms_;
}

void RequestIds::Committed(Claim c) {
  if (c == Claim::kNew) ++ids_;
}

Result<bool> RequestIds::Expire(memenv::Env& env, memenv::Table& reqs, int64_t now_wall_ms) {
  const int64_t cutoff = now_wall_ms - limits_.retention_ms;
  for (int i = 0; i < kMaxBatchesPerPass; ++i) {
    bool more = false;
    BP_RETURN_IF_ERROR(ExpireBatch(env, reqs, cutoff, &more));
    if (!more) return false;
  }
  return true;
}

// One transaction: the expired ids first; when none are left and the table
// is over its budget, the oldest ids (eviction, recorded in the mark).
Status RequestIds::ExpireBatch(memenv::Env& env, memenv::Table& reqs, int64_t cutoff_ms, bool* more) {
  auto expired = reqs.Scan(FirstIdKey(), KeyAtMs(cutoff_ms), kExpireBatch);
  if (!expired.ok()) return expired.status();
  bool evict = false;
  auto batch = std::move(*expired);
  const uint64_t held = ids();
  // Eviction starts at 90 % of the budget and goes down to 80 %, so the
  // writes between two passes (100 ms) stay under the budget itself up to
  // a rate of max_ids / 10 per 100 ms.
  if (batch.empty() && held > limits_.max_ids * 9 / 10) {
    const uint64_t over = held - limits_.max_ids * 8 / 10;
    auto oldest = reqs.Scan(FirstIdKey(), "", std::min<uint64_t>(over, kExpireBatch));
    if (!oldest.ok()) return oldest.status();
    batch = std::move(*oldest);
    evict = true;
  }
  if (batch.empty()) return Status::Ok();
  const int64_t newest = IssuedMs(batch.back().first);
  Status st = env.WithTxn([&](memenv::Txn& t) -> Status {
    for (const auto& kv : batch) {
      Status s = t.Delete(reqs, kv.first);
      if (!s.ok() && !s.IsNotFound()) return s;
    }
    return evict ? t.Put(reqs, kMarkKey, Stamp(newest)) : Status::Ok();
  });
  if (!st.ok()) return st;
  const uint64_t n = batch.size();
  ids_ -= int64_t(n);
  (evict ? evicted_ : expired_) += n;
  if (evict) {
    std::lock_guard<std::mutex> l(mu_);
    mark_ms_ = std::max(mark_ms_, newest);
    evicted_through_ms_ = mark_ms_;
  }
  *more = n == kExpireBatch || (evict && ids() > limits_.max_ids * 8 / 10);
  return Status::Ok();
}

Status RequestIds::Recount(memenv::Table& reqs) {
  const uint64_t begun = writes_begun_.load();
  const uint64_t ended = writes_ended_.load();
  Result<uint64_t> n = reqs.Count();
  if (!n.ok()) return n.status();
  recount_wanted_ = ended != begun || writes_begun_.load() != begun;
  Result<std::string> mark = reqs.Get(kMarkKey, /*ignore_lease=*/true);
  const bool has_mark = mark.ok();
  ids_ = int64_t(*n) - (has_mark ? 1 : 0);
  if (has_mark) evicted_through_ms_ = std::max(evicted_through_ms_.load(), ReadStamp(*mark));
  return Status::Ok();
}

nlohmann::json RequestIds::Stats() const {
  return {{"ids", ids()},
          {"max_ids", limits_.max_ids},
          {"retention_ms", limits_.retention_ms},
          {"bytes_per_id", kBytesPerId},
          {"expired", expired_.load()},
          {"evicted", evicted_.load()},
          {"evicted_through_unix_ms", evicted_through_ms_.load()},
          {"refused_too_old", too_old_.load()},
          {"refused_future", future_.load()}};
}

}  // namespace bp::board
