#include "verify.h"

#include <chrono>
#include <set>
#include <thread>

#include "board_link.h"

namespace bp::chassis {
namespace {

struct BoardCheck {
  std::vector<std::string> missing;  // acked keys absent or wrong here
  uint64_t read_errors = 0;
  uint64_t unacked_present = 0, unacked_absent = 0;  // master only
};

// Reads `keys` once; returns those not present with the expected value.
std::vector<std::string> Missing(BoardLink& link, const std::vector<std::string>& keys,
                                 size_t value_size, uint64_t* errors) {
  std::vector<std::string> out;
  for (const auto& k : keys) {
    auto v = link.GetLocal(k);
    if (v.ok() && *v == MakeValue(k, value_size)) continue;
    // A read that failed proves nothing either way: it is counted (and
    // reported as verify_read_errors), not taken as a lost write.
    if (!v.ok() && !v.status().IsNotFound()) {
      ++*errors;
      continue;
    }
    out.push_back(k);
  }
  return out;
}

BoardCheck CheckBoard(const std::string& endpoint, const std::vector<std::string>& acked,
                      const std::vector<std::string>& unacked, const VerifyOptions& o) {
  BoardCheck r;
  BoardLink link(endpoint, 2000);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.settle_ms);
  uint64_t errors = 0;
  r.missing = Missing(link, acked, o.value_size, &errors);
  while (!r.missing.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    errors = 0;
    r.missing = Missing(link, r.missing, o.value_size, &errors);
  }
  r.read_errors = errors;
  uint64_t unacked_errors = 0;
  if (!unacked.empty()) {
    r.unacked_absent = Missing(link, unacked, o.value_size, &unacked_errors).size();
    r.unacked_present = unacked.size() - r.unacked_absent;
    r.read_errors += unacked_errors;
  }
  return r;
}

}  // namespace

VerifyResult VerifyWrites(const std::vector<WriteRecord>& writes, const VerifyOptions& o) {
  std::vector<std::string> acked, unacked;
  for (const auto& w : writes) {
    if (w.outcome == Outcome::kDurable) acked.push_back(w.key);
    if (w.outcome == Outcome::kNotDurable || w.outcome == Outcome::kUnknown) {
      unacked.push_back(w.key);
    }
  }
  std::map<int, BoardCheck> checks;
  std::vector<std::thread> threads;
  for (const auto& [slot, ep] : o.endpoints) checks[slot];  // no rehash under threads
  for (const auto& [slot, ep] : o.endpoints) {
    const bool is_master = slot == o.master;
    threads.emplace_back([&, slot = slot, ep = ep, is_master] {
      checks[slot] = CheckBoard(ep, acked, is_master ? unacked : std::vector<std::string>{}, o);
    });
  }
  for (auto& t : threads) t.join();
  VerifyResult r;
  r.acked = acked.size();
  r.unacked = unacked.size();
  std::set<std::string> lost;
  for (const auto& [slot, c] : checks) {
    r.missing_by_slot[slot] = c.missing.size();
    r.read_errors += c.read_errors;
    lost.insert(c.missing.begin(), c.missing.end());
    if (slot == o.master) {
      r.rolled_back_unacked = c.unacked_absent;
      r.unacked_survived = c.unacked_present;
    }
  }
  r.lost = lost.size();
  for (auto it = lost.begin(); it != lost.end() && r.lost_examples.size() < 5; ++it) {
    r.lost_examples.push_back(*it);
  }
  return r;
}

}  // namespace bp::chassis
