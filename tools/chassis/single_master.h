// Single-master check: at no instant do two boards answer LINEARIZABLE reads
// as master. Each successful LINEARIZABLE get carries who served it
// (HistoryOp::served: slot, master generation, and the CLOCK_MONOTONIC
// instant the board last confirmed it was master for that read). Sorted by
// that instant, the answers must never go back to an older generation, and
// each generation must be served by one slot only. Two masters answering at
// once (the old one not knowing it was replaced) shows up as a newer
// generation's answer confirmed before an older one's, or as two slots
// answering under one generation.
//
// A pure function over a history; the clock is the one every process on the
// machine shares, so instants from different boards compare.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "history.h"

namespace bp::chassis {

struct SingleMasterResult {
  bool single_master = true;
  size_t reads = 0;                // successful gets with served fields, checked
  std::map<int, size_t> by_slot;   // of those, answered by each slot
  std::map<uint32_t, int> gen_slot;  // generation -> the slot that served it
  // When false: the first offending pair in served order (`first` was
  // confirmed no later than `second`) and why.
  std::optional<HistoryOp> first, second;
  std::string reason;
};

SingleMasterResult CheckSingleMaster(const std::vector<HistoryOp>& history);

// {single_master, reads, slots: {"1": n, ...}, generations} and, when false,
// {reason, pair: [op, op]} with times in ms since `origin_us`.
nlohmann::json SingleMasterJson(const SingleMasterResult& result, int64_t origin_us);

}  // namespace bp::chassis
