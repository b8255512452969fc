// The board's event stream: Berkeley DB's replication events
// (set_event_notify) plus the engine's own (elections, peers, perm failures),
// timestamped, kept in a bounded ring for status pages and pushed to
// subscribers (the firmware shim's role-event subscription).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace bp::board {

// Values are part of the shim ABI (fw_event_kind): never change or reuse.
enum class EventKind : int {
  kBecameClient = 1,
  kBecameMaster = 2,
  kNewMaster = 3,
  kStartupDone = 4,
  kPermFailed = 5,
  kElectionStarted = 6,
  kElectionWon = 7,
  kElectionLost = 8,
  kPeerUp = 9,
  kPeerDown = 10,
  kInitDone = 11,
  kDupMaster = 12,
  kPanic = 13,
  kReinitStarted = 14,
};
const char* EventKindName(EventKind k);

struct BoardEvent {
  int64_t mono_us = 0;   // monotonic clock
  int64_t wall_us = 0;   // for logs
  EventKind kind = EventKind::kBecameClient;
  int slot = -1;         // the peer / master concerned, if any
  uint32_t gen = 0;
  std::string detail;
};

class EventLog {
 public:
  explicit EventLog(size_t capacity = 256) : capacity_(capacity) {}
  void Add(BoardEvent e);
  std::vector<BoardEvent> Recent() const;
  uint64_t Count(EventKind k) const;
  // Called (outside the lock) for every event after it is recorded.
  void Subscribe(std::function<void(const BoardEvent&)> fn);

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<BoardEvent> ring_;
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(32, 0);
  std::vector<std::function<void(const BoardEvent&)>> subscribers_;
};

}  // namespace bp::board
