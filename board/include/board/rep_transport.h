// RepTransport: how Berkeley DB's replication messages leave this board.
//
// Owns the body of the transport callback (rep_set_transport): the frame
// built for each message, the routing of DB_REP_ANYWHERE requests (log and
// page requests any in-sync board may answer) over the in-sync replicas,
// the record of recently routed requests, and their re-send to the master
// when the replica they went to dies before answering. On the master it
// tells Durability how far the log was sent (NoteWritten, NotePermSent) and
// leaves a PERMANENT message's LSN in the committing thread's PermOutcome
// (perm_outcome.h), for the writer's wait after the commit.
//
// Contract of the callback (bdb-base-api.md §1): Send runs synchronously on
// whatever thread is inside Berkeley DB (a committing writer, the rep
// worker, the serve worker, the election thread, the checkpointer). It
// never calls Berkeley DB and never blocks: it reads the role through the
// listener's lock-free loads, takes only routed_mu_ (never held while
// calling out) and the peer table's own lock, and hands the frame to the
// bus's non-blocking send.
//
// Callers: Engine::SendCallback (Send, any thread inside Berkeley DB);
// the bus receive thread through Engine::OnPeerDown (ResendRoutedTo); the
// engine's Open (Attach, once, before rep_start); status (stats(), any
// thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "board/durability.h"
#include "board/peers.h"
#include "board/role_machine.h"
#include "bp/clock.h"
#include "bus/bus.h"
#include "bus/frames.h"

struct __db_dbt;
struct __db_lsn;

namespace bp::board {

// What the transport reads of the rest of the engine (the Engine
// implements it). Called inside Berkeley DB's send callback: each must be
// a lock-free read, or a log line.
class TransportListener {
 public:
  virtual ~TransportListener() = default;
  virtual Role TransportRole() const = 0;
  virtual uint32_t TransportGeneration() const = 0;
  virtual int TransportMaster() const = 0;  // -1 = none known
  virtual void TransportLog(const std::string& line) = 0;
  // `dead_slot` died with requests of ours unanswered: have Berkeley DB ask
  // again at the master what it was waiting for (the REP_REREQUEST a peer
  // that cannot serve a request sends back, sent on the dead peer's
  // behalf). The bus receive thread; must not block.
  virtual void TransportRerequest(int dead_slot) = 0;
};

class RepTransport {
 public:
  // Routed requests are kept this long for a re-send, at most kMaxRouted
  // of them (the oldest go first; counted as routed_evicted).
  static constexpr size_t kMaxRouted = 4096;
  static constexpr int64_t kRoutedKeepUs = 1'000'000;

  struct Stats {
    uint64_t anywhere_routed = 0;  // ANYWHERE requests sent to a replica
    uint64_t routed_kept = 0;      // of those, kept now for a re-send
    uint64_t routed_evicted = 0;   // dropped from the record by kMaxRouted
    uint64_t routed_resent = 0;    // re-sent after their replica died
  uint64_t rerequests = 0;       // TransportRerequest calls
  uint64_t reroute_failed = 0;   // a replica's link refused: sent to the master
    uint64_t send_failed = 0;      // the bus refused the frame (counted by BDB too)
  };

  RepTransport(uint64_t chassis_id, int self_slot, const Clock& clock, const PeerTable& peers,
               Durability& durability, TransportListener& host);
  RepTransport(const RepTransport&) = delete;
  RepTransport& operator=(const RepTransport&) = delete;

  // The bus every message goes out on. Once, before rep_start (no Send can
  // run before); the bus outlives every Send.
  void Attach(bus::Bus* bus) { bus_ = bus; }

  // The transport callback's body: 0, or DB_REP_UNAVAIL when the bus
  // refused a non-PERMANENT message. Any thread inside Berkeley DB.
  int Send(const __db_dbt* control, const __db_dbt* rec, const __db_lsn* lsnp, int envid,
           uint32_t flags);

  // `dead_slot`'s link went down: the requests routed to it in the last
  // kRoutedKeepUs go to the master (or, without one, to where Berkeley DB
  // addressed them; Berkeley DB ignores pages and records it already has),
  // and the listener has Berkeley DB re-request the rest of its range
  // (TransportRerequest): a copy of an old request is answered with pages
  // the board already holds, whose REP_PAGE_MORE it ignores, and an init
  // whose stream stopped so asks one page per rep_flush (seen: 19 pages/s).
  void ResendRoutedTo(int dead_slot);

  Stats stats() const;

 private:
  struct RoutedRequest {
    int dest = 0;
    int fallback = 0;  // the envid Berkeley DB asked for
    int64_t sent_us = 0;
    bus::OutFrame frame;
  };

  // An in-sync replica for an ANYWHERE request, rotating per request; the
  // envid Berkeley DB gave when no replica is in sync.
  int RouteAnywhere(int envid);
  // An ANYWHERE request: routed, sent and remembered under routed_mu_, so
  // ResendRoutedTo (after the peer table marked the replica down) cannot
  // run between the send and the record and miss it. Returns the send.
  bool SendAnywhere(int envid, const bus::OutFrame& frame);
  void RememberRoutedLocked(int dest, int fallback, const bus::OutFrame& frame);
  // Master only: how far the log was sent (the last LSN of a bulk buffer).
  void NoteSentOnMaster(const __db_dbt* control, const __db_dbt* rec, bus::Lsn lsn);

  // Constant after construction.
  const bus::FrameHeader header_;
  const int self_slot_;
  const Clock& clock_;
  const PeerTable& peers_;
  Durability& durability_;
  TransportListener& host_;
  bus::Bus* bus_ = nullptr;  // set once by Attach, before any Send

  std::atomic<uint64_t> anywhere_next_{0};  // round-robin position
  std::atomic<uint64_t> anywhere_routed_{0}, routed_evicted_{0}, routed_resent_{0};
  std::atomic<uint64_t> rerequests_{0}, reroute_failed_{0};
  std::atomic<uint64_t> send_failed_{0};

  mutable std::mutex routed_mu_;
  std::deque<RoutedRequest> routed_;  // guarded by routed_mu_; oldest first
};

}  // namespace bp::board
