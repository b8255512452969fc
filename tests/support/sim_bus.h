// SimNetwork and SimBus: the bus::Bus contract in one process, without
// ZeroMQ, for the simulation tier (tests/sim) and unit tests.
//
// A SimNetwork stands for the backplane of one simulated chassis. Every
// SimBus made on it (one per engine; a restarted engine gets a new SimBus
// for the same slot) registers its slot while started. A frame sent on a
// SimBus goes into the network's queue for its directed link (from, to):
// one FIFO per link, each frame stamped with a delivery time drawn from the
// link's seeded delay (never earlier than the frame before it on that link,
// so order is kept), and the receiving bus's own receive thread hands it to
// the handler when it is due, verified by InFrame::FromOutFrame.
//
// Faults, in the manner of TigerBeetle's src/testing/packet_simulator.zig
// and NuRaft's tests/unit/fake_network.hxx, all changeable at run time:
//   - delay: uniform in [min, max] per frame, per link FIFO kept;
//   - loss and duplication: a probability per frame (a duplicate is queued
//     right behind its original; Berkeley DB tolerates duplicate
//     replication messages and the engine dedupes writes by request id);
//   - cut (from, to): frames sent on that directed link are dropped
//     (Partition cuts both directions between two groups, Cut one);
//   - pause (slot): nothing is delivered to or from the slot; frames wait in
//     their (bounded) queues and flow again on Resume, the burst a stopped
//     process sends when it is continued;
//   - pull (slot): silent death: the slot's frames vanish both ways, queued
//     ones too, and no OnPeerDown is reported (heartbeats must notice);
//     Plug puts it back.
// The per-bus link emulation (SetLinkFault: delay, loss, cut_out, cut_in)
// is applied on top, as the ZeroMQ bus applies it.
//
// Peer liveness as the ZeroMQ bus reports it over ipc://: when a bus
// starts, every started bus that has it as a peer gets OnPeerUp for it, and
// it gets OnPeerUp for each of its started peers; when a bus stops, its
// peers get OnPeerDown. Partitions, pauses and pulls change neither.
//
// Randomness: each directed link draws from its own generator seeded from
// the network seed and the link, so the drops and delays of a link depend
// only on the frames sent on it (one sender thread: the same every run).
//
// Locking: one mutex, the network's, guards every queue, registry, fault
// and counter of the network and of its buses (a chassis has a handful of
// boards; one lock keeps the lock order trivial). Handler callbacks run
// without it, on the receiving bus's own thread, one at a time. Send never
// blocks beyond that lock. Every public method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "bus/bus.h"

namespace bp::testing {

class SimBus;

// The network's own figures (the buses count theirs in Links/Counters).
struct SimNetworkStats {
  uint64_t queued = 0;        // frames that entered a link queue
  uint64_t delivered = 0;     // handed to a handler (after verification)
  uint64_t lost = 0;          // network loss
  uint64_t duplicated = 0;    // extra copies queued
  uint64_t cut = 0;           // dropped by a network cut (partition)
  uint64_t pulled = 0;        // vanished because an end was pulled
  uint64_t full = 0;          // link queue bound reached
  uint64_t unregistered = 0;  // queued for a bus that stopped before delivery
};

class SimNetwork {
 public:
  explicit SimNetwork(uint64_t seed, const Clock* clock = &Clock::Real());
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // A bus for `options` on this network (the engine's BusFactory calls it).
  // InvalidArgument for a zero chassis id, a self slot among the peers, or
  // a duplicate peer slot. The network must outlive the bus.
  Result<std::unique_ptr<bus::Bus>> CreateBus(bus::BusOptions options);
  // A factory for EngineOptions::bus_factory.
  std::function<Result<std::unique_ptr<bus::Bus>>(bus::BusOptions)> Factory();

  // ---- faults (any thread) ----
  void SetDelay(uint32_t min_us, uint32_t max_us);
  void SetLoss(double p);         // [0, 1]
  void SetDuplication(double p);  // [0, 1]
  void Cut(int from, int to, bool cut = true);
  // Cuts (or heals) both directions between every slot of `a` and of `b`.
  void Partition(const std::vector<int>& a, const std::vector<int>& b, bool cut = true);
  void Pause(int slot);
  void Resume(int slot);
  void Pull(int slot);
  void Plug(int slot);
  // Heals cuts, pauses and pulls; loss and duplication back to 0 (the
  // delay stays). Buses' own SetLinkFault settings are theirs.
  void HealAll();

  // Raw bytes to `to_slot` as if sent by `from_slot` (malformed-frame tests):
  // verified on delivery with FromBytes. False if no bus holds `to_slot`.
  bool Inject(int from_slot, int to_slot, std::span<const uint8_t> bytes);

  SimNetworkStats Stats() const;
  bool Registered(int slot) const;

 private:
  friend class SimBus;
  struct Pending {
    bus::OutFrame frame;           // shared with the sender's other copies
    std::vector<uint8_t> raw;      // Inject: bytes to verify with FromBytes
    int64_t due_us = 0;
  };
  struct LinkQueue {
    std::deque<Pending> q;
    std::mt19937_64 rng;
    int64_t last_due_us = 0;
  };
  using LinkKey = std::pair<int, int>;  // (from, to)

  LinkQueue& LinkLocked(int from, int to);
  bool BlockedLocked(int from, int to) const;
  double Draw(LinkQueue& l);
  // Queues `p` on (from, to) for the bus registered at `to`; counts drops.
  // Returns false when it was dropped.
  bool EnqueueLocked(int from, int to, Pending p, size_t bound);
  void RegisterLocked(SimBus* b);
  void UnregisterLocked(SimBus* b);
  void NotifyAllLocked();

  const uint64_t seed_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::map<int, SimBus*> buses_;         // started buses by slot
  std::map<LinkKey, LinkQueue> links_;
  std::set<LinkKey> cuts_;
  std::set<int> paused_, pulled_;
  uint32_t delay_min_us_ = 0, delay_max_us_ = 0;
  double loss_ = 0, dup_ = 0;
  SimNetworkStats stats_;
};

// One board's bus on a SimNetwork. Owns its receive thread (started by
// Start, joined by Stop or the destructor), its peer list and its figures,
// all guarded by the network's mutex.
class SimBus final : public bus::Bus {
 public:
  SimBus(SimNetwork* net, bus::BusOptions options);
  ~SimBus() override;

  Status Start(bus::Handler* handler) override;
  void Stop() override;
  bool Send(int slot, const bus::OutFrame& frame) override;
  Status AddPeer(const bus::SlotAddress& peer) override;
  Status RemovePeer(int slot) override;
  Status SetLinkFault(int slot, const bus::LinkFault& fault) override;
  bool IsConnected(int slot) const override;
  std::vector<bus::LinkStats> Links() const override;
  bus::BusCounters Counters() const override;
  bus::ZapAuthenticator::Stats ZapStats() const override { return {}; }
  const bus::BusOptions& options() const override { return opts_; }

  int slot() const { return opts_.self_slot; }

 private:
  friend class SimNetwork;
  struct Peer {
    bus::SlotAddress addr;
    bus::LinkStats stats;
    std::mt19937_64 rng;  // the per-bus loss emulation (fault_seed)
  };
  struct Event {
    bool up = false;
    int slot = 0;
  };

  bool SendOneLocked(Peer& p, const bus::OutFrame& frame);
  void ReceiveLoop();
  // Under the lock: the next due frame from an unblocked link (popped into
  // *out, *from), or the time the next one falls due (INT64_MAX: none).
  bool TakeDueLocked(int64_t now, SimNetwork::Pending* out, int* from, int64_t* next_due);
  int64_t NextDueLocked() const;  // INT64_MAX: nothing queued and unblocked
  void DeliverFrame(SimNetwork::Pending&& p);
  void PeerEventLocked(int slot, bool up);

  SimNetwork* const net_;
  bus::BusOptions opts_;
  const Clock* const clock_;
  bus::Handler* handler_ = nullptr;
  // Guarded by net_->mu_:
  bool started_ = false, stopped_ = false;
  std::map<int, Peer> peers_;
  std::deque<Event> events_;
  bus::BusCounters counters_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace bp::testing
