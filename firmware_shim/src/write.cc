// Writes: one logical write, one request id, a bounded number of attempts.
//
// Outcome bookkeeping across attempts: once any attempt may have reached
// the master without a definite answer (no reply, or the board's own
// Timeout), a later refusal does not prove the write was not applied, so
// the final answer becomes FW_ERR_UNKNOWN_OUTCOME unless some attempt
// succeeds (the master then reports the original outcome: the id dedupes).
#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "board.h"
#include "errors.h"

namespace {

constexpr uint32_t kBackoffCapMs = 1000;

// Exponential backoff with jitter, so replicas' shims retrying after a
// failover do not all hit the new master in the same millisecond.
void Backoff(uint32_t base_ms, uint32_t attempt) {
  static thread_local std::minstd_rand rng(std::random_device{}());
  uint32_t ms = std::min<uint32_t>(kBackoffCapMs, base_ms << std::min<uint32_t>(attempt, 10));
  ms = ms / 2 + rng() % (ms / 2 + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string IdText(fw_request_id_t id) {
  char buf[40];
  snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(id.hi),
           static_cast<unsigned long long>(id.lo));
  return buf;
}

}  // namespace

// One attempt. Returns the final code when the write is decided (*retry
// false), or the code to report if no later attempt decides it.
fw_err_t fw_board::WriteAttempt(const fw_op_t* ops, size_t n, fw_request_id_t id,
                                uint64_t first_seq, bool* maybe_applied, bool* retry,
                                fw_write_result_t* result) {
  *retry = false;
  uint64_t seq = next_seq_++;
  fw::CallResult r =
      channel_->Call(fw::EncodeWrite(seq, id, ops, n), first_seq, opts_.request_timeout_ms);
  if (r.kind == fw::CallResult::Kind::kNotSent) return NoBoard("write");
  result->attempts++;
  if (r.kind == fw::CallResult::Kind::kNoReply) {
    *maybe_applied = *retry = true;
    return fw::Fail(FW_ERR_TIMEOUT, Where("write") + "no reply within " +
                                        std::to_string(opts_.request_timeout_ms) + " ms");
  }
  if (r.kind == fw::CallResult::Kind::kBadFrame) {
    *maybe_applied = true;
    return fw::Fail(FW_ERR_PROTOCOL, Where("write") + "unreadable reply from the board");
  }
  const fw::Reply& rep = r.reply;
  if (rep.code == fw::kBoardOk) {
    token_ = rep.token;
    result->durable = rep.durable ? 1 : 0;
    if (rep.durable) return fw::Succeed();
    return fw::Fail(FW_ERR_NOT_DURABLE,
                    Where("write") +
                        "applied on the master but the ack policy was not met "
                        "(too few replicas acknowledged in time); a master failure "
                        "now may lose it. Retrying with fw_batch_with_id (request " +
                        IdText(id) + ") applies nothing twice and re-checks durability");
  }
  if (rep.code == fw::kBoardTimeout) *maybe_applied = true;
  *retry = fw::IsRetryableBoardCode(rep.code);
  return fw::Fail(fw::FromBoardCode(rep.code), Where("write") + rep.message);
}

fw_err_t fw_board::Write(const fw_op_t* ops, size_t n, fw_request_id_t id,
                         fw_write_result_t* result) {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return fw::Fail(FW_ERR_CLOSED, "handle is closing");
  const uint64_t first_seq = next_seq_;
  bool maybe_applied = false;
  fw_err_t e = FW_ERR_INTERNAL;
  for (uint32_t attempt = 0; attempt <= opts_.write_retries; ++attempt) {
    if (attempt > 0) Backoff(opts_.retry_backoff_ms, attempt - 1);
    if (closed_) break;
    bool retry = false;
    e = WriteAttempt(ops, n, id, first_seq, &maybe_applied, &retry, result);
    if (!retry) break;
  }
  // FULL on a retry means the id is not recorded, so no attempt applied;
  // ID_EXPIRED says itself that the outcome is unknown (and why).
  bool deterministic = e == FW_OK || e == FW_ERR_NOT_DURABLE || e == FW_ERR_INVALID_ARG ||
                       e == FW_ERR_TOO_LARGE || e == FW_ERR_FULL || e == FW_ERR_ID_EXPIRED;
  if (!maybe_applied || deterministic) return e;
  return fw::Fail(FW_ERR_UNKNOWN_OUTCOME,
                  "write may or may not be applied (request " + IdText(id) + ", " +
                      std::to_string(result->attempts) + " attempts; last: " + fw::LastError() +
                      "); retrying with fw_batch_with_id and the same request id is safe: it is "
                      "applied at most once");
}
