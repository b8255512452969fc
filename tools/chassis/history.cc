#include "history.h"

#include <cstdio>

#include "stats.h"

namespace bp::chassis {

const char* OpKindName(OpKind kind) { return kind == OpKind::kGet ? "get" : "put"; }

const char* OpResultName(OpResult result) {
  switch (result) {
    case OpResult::kOk:
      return "ok";
    case OpResult::kFail:
      return "fail";
    case OpResult::kUnknown:
      return "unknown";
  }
  return "?";
}

namespace {

double Ms(int64_t us, int64_t origin_us) { return Round(double(us - origin_us) / 1000.0, 3); }

}  // namespace

nlohmann::json OpJson(const HistoryOp& op, int64_t origin_us) {
  nlohmann::json j = {{"client", op.client},
                      {"op", OpKindName(op.kind)},
                      {"key", op.key},
                      {"value", op.value ? nlohmann::json(*op.value) : nlohmann::json(nullptr)},
                      {"result", OpResultName(op.result)},
                      {"invoke_ms", Ms(op.invoke_us, origin_us)},
                      {"return_ms", Ms(op.return_us, origin_us)}};
  if (op.served) {
    j["served_by"] = op.served->slot;
    j["served_gen"] = op.served->gen;
    j["served_ms"] = Ms(op.served->us, origin_us);
  }
  return j;
}

std::string OpLine(const HistoryOp& op, int64_t origin_us) {
  std::string value = op.value                     ? *op.value
                      : op.result == OpResult::kOk ? "(not found)"
                                                   : "(no answer)";
  std::string what =
      op.kind == OpKind::kPut ? "put " + op.key + " = " + value : "get " + op.key + " -> " + value;
  char times[64];
  snprintf(times, sizeof times, " [%.3f, %.3f] ms ", Ms(op.invoke_us, origin_us),
           Ms(op.return_us, origin_us));
  std::string line =
      "client " + std::to_string(op.client) + " " + what + times + OpResultName(op.result);
  if (op.served) {
    char served[96];
    snprintf(served, sizeof served, " (served by slot %d, gen %u, at %.3f ms)", op.served->slot,
             op.served->gen, Ms(op.served->us, origin_us));
    line += served;
  }
  return line;
}

}  // namespace bp::chassis
