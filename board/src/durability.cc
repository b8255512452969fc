// Durability (durability.h): the master's ack waits and what bounds acks.
#include "board/durability.h"

namespace bp::board {
namespace {

uint64_t Pack(bus::Lsn l) { return uint64_t(l.file) << 32 | l.offset; }
bus::Lsn Unpack(uint64_t packed) { return {uint32_t(packed >> 32), uint32_t(packed)}; }

// Raises `a` to at least `v`.
void RaiseTo(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t prev = a.load();
  while (v > prev && !a.compare_exchange_weak(prev, v)) {
  }
}

}  // namespace

Durability::Durability(const ChassisConfig& config, int self_slot, const PeerTable& peers,
                       const Clock& clock, std::function<void(const std::string&)> on_perm_failed)
    : ack_timeout_ms_(config.ack_timeout_ms),
      on_perm_failed_(std::move(on_perm_failed)),
      acks_(
          config, self_slot,
          [&peers, &clock](int slot) { return peers.IsAlive(slot, clock.NowMicros()); },
          [&peers, &clock](int slot) { return peers.IsCaughtUp(slot, clock.NowMicros()); }, clock) {}

void Durability::NoteWritten(bus::Lsn last) { RaiseTo(written_end_, Pack(last) + 1); }

void Durability::NotePermSent(bus::Lsn lsn) { RaiseTo(last_perm_lsn_, Pack(lsn)); }

void Durability::BeginMastership(uint32_t gen) {
  acks_.SetGeneration(gen);
  // What a LINEARIZABLE read waits for is this mastership's commits: an
  // earlier mastership's tail may have been rolled back, and the new log
  // may never reach its LSN.
  last_perm_lsn_ = 0;
}

bool Durability::AwaitDurable(bus::Lsn lsn, PermOutcome* po) {
  ++perm_waits_;
  AckOutcome out = acks_.Wait(lsn, ack_timeout_ms_);
  po->met = out.met;
  po->needed = out.needed;
  po->got = out.got;
  if (out.met) return true;
  ++perm_failures_;
  on_perm_failed_(std::string(out.fail_fast ? "fail-fast: " : "timeout: ") +
                  std::to_string(out.got) + "/" + std::to_string(out.needed) + " acks for " +
                  std::to_string(lsn.file) + "/" + std::to_string(lsn.offset));
  return false;
}

bool Durability::AwaitCommitted() {
  const uint64_t packed = last_perm_lsn_.load();
  if (packed == 0) return true;
  const bus::Lsn lsn = Unpack(packed);
  return acks_.IsMet(lsn) || acks_.Wait(lsn, ack_timeout_ms_).met;
}

nlohmann::json Durability::Stats() const {
  return {{"needed", acks_.Needed()},
          {"perm_waits", perm_waits_.load()},
          {"perm_failures", perm_failures_.load()}};
}

}  // namespace bp::board
