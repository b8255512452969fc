// A history of operations on a set of registers (keys), as the clients saw
// them: when each call was made and when its answer came, on one monotonic
// clock shared by every process on the machine (CLOCK_MONOTONIC), and what
// the answer was. It is the input of the linearizability checker.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace bp::chassis {

enum class OpKind { kGet, kPut };

enum class OpResult {
  kOk,       // the answer is definite: a put was applied, a get read `value`
  kFail,     // definitely not applied (a get that failed has no effect either)
  kUnknown,  // a put with no definite answer: it may take effect, or never
};

// Who answered a LINEARIZABLE get (ClientReply served_by/served_gen/
// served_us): the master's slot, its generation, and the CLOCK_MONOTONIC
// instant it last confirmed it was master for this read.
struct ServedBy {
  int slot = 0;
  uint32_t gen = 0;
  int64_t us = 0;
};

struct HistoryOp {
  int client = 0;
  OpKind kind = OpKind::kGet;
  std::string key;
  // put: the value written. get (ok): the value read; nullopt = not found.
  std::optional<std::string> value;
  OpResult result = OpResult::kOk;
  int64_t invoke_us = 0;  // CLOCK_MONOTONIC when the call was made
  int64_t return_us = 0;  // ... when its answer came (for kUnknown: came back without one)
  std::optional<ServedBy> served;  // get answered by a confirmed master (LINEARIZABLE)
};

const char* OpKindName(OpKind kind);        // "get" / "put"
const char* OpResultName(OpResult result);  // "ok" / "fail" / "unknown"

// One op for a report; times in ms since `origin_us`.
nlohmann::json OpJson(const HistoryOp& op, int64_t origin_us);

// "client 2 put k3 = c2-17 [10.210, 10.530] ms ok" (times since origin).
std::string OpLine(const HistoryOp& op, int64_t origin_us);

}  // namespace bp::chassis
