// Bus-wide counters, shared by the bus and its links (a link may briefly
// outlive its removal while a sender or the delay line still holds it).
#pragma once

#include <atomic>
#include <cstdint>

#include "bus/bus.h"

namespace bp::bus {

struct AtomicCounters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> unknown_slot{0};
  std::atomic<uint64_t> wrong_chassis{0};
  std::atomic<uint64_t> wrong_version{0};
  std::atomic<uint64_t> dropped_fault_in{0};
  std::atomic<uint64_t> unauthenticated{0};
  std::atomic<uint64_t> handshake_failed{0};

  BusCounters Snapshot() const {
    constexpr auto r = std::memory_order_relaxed;
    BusCounters c;
    c.sent = sent.load(r);
    c.received = received.load(r);
    c.dropped = dropped.load(r);
    c.malformed = malformed.load(r);
    c.unknown_slot = unknown_slot.load(r);
    c.wrong_chassis = wrong_chassis.load(r);
    c.wrong_version = wrong_version.load(r);
    c.dropped_fault_in = dropped_fault_in.load(r);
    c.unauthenticated = unauthenticated.load(r);
    c.handshake_failed = handshake_failed.load(r);
    return c;
  }
};

}  // namespace bp::bus
