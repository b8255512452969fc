#include "single_master.h"

#include <algorithm>

namespace bp::chassis {

SingleMasterResult CheckSingleMaster(const std::vector<HistoryOp>& history) {
  SingleMasterResult r;
  std::vector<const HistoryOp*> served;
  for (const HistoryOp& op : history) {
    if (op.kind == OpKind::kGet && op.result == OpResult::kOk && op.served && op.served->slot > 0)
      served.push_back(&op);
  }
  // By the confirmation instant; at one instant, older generations first so
  // a tie alone is not reported as going back.
  std::stable_sort(served.begin(), served.end(), [](const HistoryOp* a, const HistoryOp* b) {
    if (a->served->us != b->served->us) return a->served->us < b->served->us;
    return a->served->gen < b->served->gen;
  });
  r.reads = served.size();
  std::map<uint32_t, const HistoryOp*> first_of_gen;
  const HistoryOp* prev = nullptr;
  for (const HistoryOp* op : served) {
    const ServedBy& s = *op->served;
    ++r.by_slot[s.slot];
    auto [it, fresh] = first_of_gen.emplace(s.gen, op);
    if (fresh) r.gen_slot[s.gen] = s.slot;
    if (r.single_master) {
      if (prev && s.gen < prev->served->gen) {
        r.single_master = false;
        r.first = *prev;
        r.second = *op;
        r.reason = "slot " + std::to_string(prev->served->slot) + " answered as master of generation " +
                   std::to_string(prev->served->gen) + ", then slot " + std::to_string(s.slot) +
                   " still answered as master of the older generation " + std::to_string(s.gen) +
                   ": two masters served LINEARIZABLE reads at once";
      } else if (!fresh && it->second->served->slot != s.slot) {
        r.single_master = false;
        r.first = *it->second;
        r.second = *op;
        r.reason = "generation " + std::to_string(s.gen) + " was served by slot " +
                   std::to_string(it->second->served->slot) + " and by slot " +
                   std::to_string(s.slot) + ": two masters of one generation";
      }
    }
    prev = op;
  }
  return r;
}

nlohmann::json SingleMasterJson(const SingleMasterResult& r, int64_t origin_us) {
  nlohmann::json slots = nlohmann::json::object();
  for (const auto& [slot, n] : r.by_slot) slots[std::to_string(slot)] = n;
  nlohmann::json gens = nlohmann::json::object();
  for (const auto& [gen, slot] : r.gen_slot) gens[std::to_string(gen)] = slot;
  nlohmann::json j = {{"single_master", r.single_master},
                      {"reads", r.reads},
                      {"slots", slots},
                      {"generations", gens}};
  if (!r.single_master && r.first && r.second) {
    j["reason"] = r.reason;
    j["pair"] = {OpJson(*r.first, origin_us), OpJson(*r.second, origin_us)};
  }
  return j;
}

}  // namespace bp::chassis
