// LoadGen: the workload generator. Each client is a thread with its own
// firmware-shim handle to one board (client i -> endpoints[i % n]), the way
// firmware on each board reaches its own board; writes are forwarded to the
// master by the board. Closed loop (rate 0) or paced to a total rate.
//
// In drill mode (unique_prefix set) every write goes to a fresh key
// "<prefix>-<client>-<seq>" and is recorded with its outcome, so that each
// write can be checked afterwards; the value is derived from the key
// (MakeValue) so a read-back also checks the content.
//
// In check mode (history_prefix set) the clients do gets and puts on a few
// keys "<prefix>-k<i>", so ops on one key overlap, each put writing a unique
// value "c<client>-<seq>" so a get names the put it saw, and every op goes
// into a history for the linearizability checker. Each client holds a handle
// to every board and moves to the next board when one refuses or fails (a
// LINEARIZABLE get is served by the master only).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "firmware_shim/fw_shim.h"
#include "history.h"
#include "stats.h"

namespace bp::chassis {

enum class Outcome {
  kDurable,     // FW_OK: committed, ack policy met
  kNotDurable,  // FW_ERR_NOT_DURABLE: committed on the master only
  kUnknown,     // FW_ERR_UNKNOWN_OUTCOME / TIMEOUT: may or may not be applied
  kFailed,      // not applied (board down, unavailable, ...)
};

struct WriteRecord {
  std::string key;
  Outcome outcome = Outcome::kFailed;
  int64_t done_us = 0;  // CLOCK_MONOTONIC when the answer came
};

struct LoadOptions {
  int clients = 4;
  double rate = 0;  // total operations per second; 0 = closed loop
  uint64_t key_space = 100000;
  size_t value_size = 128;
  double read_ratio = 0;  // fraction of operations that are reads
  fw_read_mode_t read_mode = FW_READ_LOCAL;
  std::string unique_prefix;   // drill mode: unique keys, every write recorded
  std::string history_prefix;  // check mode: a few shared keys, every op recorded
  int history_keys = 5;
  uint32_t request_timeout_ms = 1000;
  uint32_t retry_backoff_ms = 10;
};

struct LoadTotals {
  double elapsed_s = 0;
  uint64_t reads = 0, read_errors = 0, read_not_found = 0;
  uint64_t durable = 0, not_durable = 0, unknown = 0, failed = 0;
  Summary write_latency_us, read_latency_us;
  std::map<std::string, uint64_t> errors;  // fw_strerror -> count
};

// The value written under `key`: the key repeated to `size` bytes.
std::string MakeValue(const std::string& key, size_t size);

class LoadGen {
 public:
  LoadGen(std::vector<std::string> endpoints, LoadOptions options);
  ~LoadGen();
  LoadGen(const LoadGen&) = delete;
  LoadGen& operator=(const LoadGen&) = delete;

  void Start();
  void Stop();  // joins the clients; idempotent

  // While running or after Stop: the earliest durable ack at or after
  // `after_us` (CLOCK_MONOTONIC), 0 if none.
  int64_t FirstDurableAfter(int64_t after_us) const;
  uint64_t durable_count() const { return durable_.load(); }

  // After Stop.
  LoadTotals Totals() const;
  std::vector<WriteRecord> Writes() const;
  std::vector<HistoryOp> History() const;  // check mode: every client's ops

 private:
  struct Client;
  class Pacer;
  void Run(Client& c);
  void DoWrite(Client& c, fw_board_t* h);
  void DoRead(Client& c, fw_board_t* h);
  void RunHistory(Client& c);
  bool DoHistoryOp(Client& c, fw_board_t* h);
  fw_err_t HistoryPut(Client& c, fw_board_t* h, HistoryOp& op);
  fw_err_t HistoryGet(fw_board_t* h, HistoryOp& op) const;
  void Record(Client& c, const HistoryOp& op, fw_err_t e);
  fw_board_t* Open(const std::string& endpoint) const;
  fw_board_t* Open(const Client& c) const;

  const std::vector<std::string> endpoints_;
  const LoadOptions opts_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> durable_{0};
  int64_t start_us_ = 0, stop_us_ = 0;
};

}  // namespace bp::chassis
