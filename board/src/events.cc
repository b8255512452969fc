#include "board/events.h"

namespace bp::board {

const char* EventKindName(EventKind k) {
  switch (k) {
    case EventKind::kBecameClient: return "became_client";
    case EventKind::kBecameMaster: return "became_master";
    case EventKind::kNewMaster: return "new_master";
    case EventKind::kStartupDone: return "startup_done";
    case EventKind::kPermFailed: return "perm_failed";
    case EventKind::kElectionStarted: return "election_started";
    case EventKind::kElectionWon: return "election_won";
    case EventKind::kElectionLost: return "election_lost";
    case EventKind::kPeerUp: return "peer_up";
    case EventKind::kPeerDown: return "peer_down";
    case EventKind::kInitDone: return "init_done";
    case EventKind::kDupMaster: return "dup_master";
    case EventKind::kPanic: return "panic";
    case EventKind::kReinitStarted: return "reinit_started";
  }
  return "?";
}

void EventLog::Add(BoardEvent e) {
  std::vector<std::function<void(const BoardEvent&)>> subs;
  {
    std::lock_guard<std::mutex> l(mu_);
    ring_.push_back(e);
    if (ring_.size() > capacity_) ring_.pop_front();
    size_t k = static_cast<size_t>(e.kind);
    if (k < counts_.size()) ++counts_[k];
    subs = subscribers_;
  }
  for (auto& fn : subs) fn(e);
}

std::vector<BoardEvent> EventLog::Recent() const {
  std::lock_guard<std::mutex> l(mu_);
  return {ring_.begin(), ring_.end()};
}

uint64_t EventLog::Count(EventKind k) const {
  std::lock_guard<std::mutex> l(mu_);
  size_t i = static_cast<size_t>(k);
  return i < counts_.size() ? counts_[i] : 0;
}

void EventLog::Subscribe(std::function<void(const BoardEvent&)> fn) {
  std::lock_guard<std::mutex> l(mu_);
  subscribers_.push_back(std::move(fn));
}

}  // namespace bp::board
