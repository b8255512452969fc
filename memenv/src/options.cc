// Derived sizes and the configuration checks that keep Berkeley DB from
// panicking at open or at run time (see options.h for the reasoning).
#include "memenv/options.h"

#include <db.h>

#include <string>

#include "format.h"

namespace bp::memenv {

namespace {

// Below this the ring holds too few "files" for checkpoints, concurrent
// transactions and reclaim granularity to coexist (BDB's own default is 1 MB).
constexpr size_t kMinLogBuffer = 1u << 20;

Status Refuse(const std::string& field, const std::string& value, const std::string& why) {
  return Status::InvalidArgument("EnvOptions." + field + " = " + value + ": " + why);
}

bool ValidPolicy(uint32_t policy) {
  return policy == 0 || (policy >= DB_LOCK_DEFAULT && policy <= DB_LOCK_YOUNGEST);
}

Status ValidateSizes(const EnvOptions& o) {
  if (o.cache_bytes == 0) {
    return Refuse("cache_bytes", "0", "the cache holds all data; set it to >= 2x the data set");
  }
  if (o.log_buffer_bytes < kMinLogBuffer) {
    return Refuse("log_buffer_bytes", FormatBytes(o.log_buffer_bytes),
                  "the in-memory log ring must be at least 1 MiB; raise log_buffer_bytes");
  }
  if (o.EffectiveLogFileBytes() >= o.log_buffer_bytes) {
    return Refuse("log_file_bytes", FormatBytes(o.log_file_bytes),
                  "must be smaller than log_buffer_bytes (" + FormatBytes(o.log_buffer_bytes) +
                      ") or Berkeley DB panics at open; use 0 to derive log_buffer_bytes/8");
  }
  if (o.cache_bytes < 2 * o.log_buffer_bytes) {
    return Refuse("cache_bytes", FormatBytes(o.cache_bytes),
                  "smaller than 2x log_buffer_bytes (" + FormatBytes(o.log_buffer_bytes) +
                      "); raise cache_bytes or lower log_buffer_bytes");
  }
  return Status::Ok();
}

Status ValidateRing(const EnvOptions& o) {
  const size_t half = o.log_buffer_bytes / 2;
  if (uint64_t{o.EffectiveCheckpointKbytes()} * 1024 > half) {
    return Refuse("checkpoint_kbytes", std::to_string(o.checkpoint_kbytes),
                  "a checkpoint must always sit inside the log ring: keep checkpoint_kbytes*1024 "
                  "<= log_buffer_bytes/2 (" +
                      FormatBytes(half) + "), or use 0 to derive it");
  }
  if (o.EffectiveMaxTxnBytes() > half) {
    return Refuse("max_txn_bytes", FormatBytes(o.max_txn_bytes),
                  "a transaction larger than half the log ring (" + FormatBytes(half) +
                      ") can fill it and panic a master; lower it or use 0 to derive "
                      "log_buffer_bytes/4");
  }
  if (o.EffectiveLogInFlightBytes() < o.EffectiveMaxTxnBytes() ||
      o.EffectiveLogInFlightBytes() > o.log_buffer_bytes * 3 / 4) {
    return Refuse("log_in_flight_bytes", FormatBytes(o.log_in_flight_bytes),
                  "must be between the largest transaction (" +
                      FormatBytes(o.EffectiveMaxTxnBytes()) + ") and 3/4 of log_buffer_bytes (" +
                      FormatBytes(o.log_buffer_bytes * 3 / 4) +
                      "); use 0 to derive log_buffer_bytes/2");
  }
  if (o.run_checkpointer && o.checkpoint_poll_ms == 0) {
    return Refuse("checkpoint_poll_ms", "0", "the checkpointer would spin; use e.g. 20");
  }
  return Status::Ok();
}

Status ValidateLocks(const EnvOptions& o) {
  if (o.max_locks == 0) return Refuse("max_locks", "0", "set it to e.g. 100000");
  if (o.max_lock_objects == 0) return Refuse("max_lock_objects", "0", "set it to e.g. 100000");
  if (o.max_lockers == 0) return Refuse("max_lockers", "0", "set it to e.g. 10000");
  if (!ValidPolicy(o.deadlock_policy)) {
    return Refuse("deadlock_policy", std::to_string(o.deadlock_policy),
                  "not a DB_LOCK_* detection policy; use 0 for DB_LOCK_DEFAULT");
  }
  if (o.deadlock_retries < 1) {
    return Refuse("deadlock_retries", std::to_string(o.deadlock_retries),
                  "every deadlock victim would fail at once; use >= 1 (default 20)");
  }
  return Status::Ok();
}

}  // namespace

size_t EnvOptions::EffectiveLogFileBytes() const {
  return log_file_bytes != 0 ? log_file_bytes : log_buffer_bytes / 8;
}

uint32_t EnvOptions::EffectiveCheckpointKbytes() const {
  if (checkpoint_kbytes != 0) return checkpoint_kbytes;
  const size_t kbytes = log_buffer_bytes / 8 / 1024;
  return kbytes == 0 ? 1 : static_cast<uint32_t>(kbytes);
}

size_t EnvOptions::EffectiveMaxTxnBytes() const {
  return max_txn_bytes != 0 ? max_txn_bytes : log_buffer_bytes / 4;
}

size_t EnvOptions::EffectiveLogInFlightBytes() const {
  return log_in_flight_bytes != 0 ? log_in_flight_bytes : log_buffer_bytes / 2;
}

Status EnvOptions::Validate() const {
  BP_RETURN_IF_ERROR(ValidateSizes(*this));
  BP_RETURN_IF_ERROR(ValidateRing(*this));
  return ValidateLocks(*this);
}

}  // namespace bp::memenv
