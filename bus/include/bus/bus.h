// bus: the ZeroMQ backplane between boards.
//
// Every board has a slot id (its Berkeley DB environment id) and an endpoint
// (ipc:// on one machine, tcp:// across machines, inproc:// in tests). A board
// binds one receiving socket at its own endpoint and keeps one sending link
// per peer. Frames are FlatBuffers (bus/schema/frames.fbs), verified on
// receipt: malformed frames, frames from an unknown slot, another chassis or
// another protocol version are dropped and counted, never delivered.
//
// Sending never blocks the caller (it may be committing a transaction):
// each link has a bounded queue; a frame that does not fit, or a link that is
// not connected, is dropped and counted (Berkeley DB re-requests what it
// misses). Frames on one link are never reordered or corrupted.
//
// Link emulation (drills): per-link added latency, loss probability, and
// partition in either direction, changeable at run time.
//
// Peer liveness: the bus watches its links with ZeroMQ socket monitors; a
// peer process that dies is reported down at once (OnPeerDown; about 1 ms
// over ipc:// and tcp:// on one machine), and up again when its link
// reconnects. "Up" means the ZMTP handshake on our link to the peer is done,
// so frames sent from then on flow; each transition is reported once. A frame
// sent in the moment after the peer died may still be accepted (and lost).
// A peer that vanishes without closing its connection (power cut, cable)
// is not detected here: the replication heartbeats cover that.
// inproc:// links (tests) report up once opened and never down.
//
// Security (README "Security"): with BusSecurity::kCurve the receiving
// socket is a CURVE server and every link a CURVE client; a ZAP handler
// (bus/zap.h) admits only the configured peers' public keys and names the
// connection's slot (ZAP user id). A received frame whose `sender` is not
// the slot its connection authenticated as is dropped and counted
// (BusCounters::unauthenticated). kNone: no authentication (status warns).
//
// Thread-safety: every public method may be called from any thread.
// Handler callbacks run on the bus's receive thread, one at a time, and
// never after Stop returns (unless Stop was called from a callback).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bp/clock.h"
#include "bp/status.h"
#include "bus/curve.h"
#include "bus/frames.h"
#include "bus/zap.h"

namespace zmq {
class context_t;
}

namespace bp::bus {

constexpr int kBroadcast = -1;  // == DB_EID_BROADCAST

struct SlotAddress {
  SlotAddress() = default;
  // Not an aggregate, so {slot, endpoint} without a key stays warning-free.
  SlotAddress(int s, std::string ep, std::string key = "")
      : slot(s), endpoint(std::move(ep)), public_key(std::move(key)) {}
  int slot = 0;
  std::string endpoint;
  std::string public_key;  // Z85 CURVE key of the slot; required with BusSecurity::kCurve
};

enum class BusSecurity { kNone, kCurve };
const char* BusSecurityName(BusSecurity mode);  // "none" / "curve"

struct BusOptions {
  uint64_t chassis_id = 0;          // must be set (non-zero)
  int self_slot = 0;
  std::string self_endpoint;        // bound by this board; tcp:// needs a fixed port
  std::vector<SlotAddress> peers;   // every other slot of the chassis
  int send_queue_frames = 10000;    // per-link bound (ZMQ_SNDHWM); beyond it frames drop
  int reconnect_ms = 5;             // how fast a link retries a dead peer
  // tcp:// sockets: a connection silent, or with data unacknowledged, this
  // long is closed and re-dialled; a connect is abandoned after it
  // (src/dead_link.h). 0 = ZeroMQ's and the kernel's defaults (minutes).
  int dead_link_ms = 500;
  // A ZeroMQ context to share (required for inproc:// between buses in one
  // process); null = the bus makes its own.
  std::shared_ptr<zmq::context_t> context;
  uint64_t fault_seed = 1;          // seeds the loss PRNG: drills are repeatable
  // Bound of the emulated delay line (every link of this bus together):
  // beyond either, a delayed frame is dropped (LinkStats::dropped_delay_full).
  size_t delay_line_frames = 100000;
  size_t delay_line_bytes = size_t(256) << 20;
  const Clock* clock = &Clock::Real();
  // Security. kCurve needs `keys` (this board's pair) and every peer's
  // public_key, and refuses inproc:// (ZeroMQ has no CURVE on inproc).
  BusSecurity security = BusSecurity::kNone;
  CurveKeyPair keys;
  std::string zap_domain = "bp-bus";  // the ZAP domain of the receiving socket
  // The ZAP handler of `context` (one per context); null = with kCurve the
  // bus starts its own at Start (Unavailable if the context has one already).
  std::shared_ptr<ZapAuthenticator> zap;
};

// A received, verified frame. Owns its bytes: the handler may keep it (for
// example hand it to a worker thread) and read `frame()` later.
class InFrame {
 public:
  InFrame();
  ~InFrame();
  InFrame(InFrame&&) noexcept;
  InFrame& operator=(InFrame&&) noexcept;
  const wire::Frame* frame() const;  // verified; never null for a delivered frame
  int sender() const;
  int64_t received_us() const { return received_us_; }
  const uint8_t* data() const;
  size_t size() const;

  // A frame that did not come through ZeroMQ (the in-process simulation
  // bus, tests): `bytes` are verified as the bus verifies what it receives
  // (CheckFrame: FlatBuffers verifier, protocol version, chassis id) and
  // copied. On rejection the InFrame is empty (frame() null) and *why, if
  // given, says why. Slot membership is the caller's check, as on the bus.
  static InFrame FromBytes(std::span<const uint8_t> bytes, uint64_t chassis_id,
                           int64_t received_us, Reject* why = nullptr);
  // The same for a frame built in this process: shares the OutFrame's
  // buffer instead of copying it (copied only if it is not 8-byte aligned).
  static InFrame FromOutFrame(const OutFrame& out, uint64_t chassis_id, int64_t received_us,
                              Reject* why = nullptr);

 private:
  friend class Bus;
  friend class BusImpl;
  struct Storage;
  static InFrame Adopt(std::unique_ptr<Storage> s, uint64_t chassis_id, int64_t received_us,
                       Reject* why);
  std::unique_ptr<Storage> storage_;
  int64_t received_us_ = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void OnFrame(InFrame&& frame) = 0;
  virtual void OnPeerUp(int /*slot*/) {}
  virtual void OnPeerDown(int /*slot*/) {}
};

struct LinkFault {
  uint32_t delay_us = 0;     // added one-way latency on frames we send to the peer
  double loss = 0.0;         // probability [0,1] of dropping a frame we send
  bool cut_out = false;      // partition: drop everything we send to the peer
  bool cut_in = false;       // partition: drop everything we receive from the peer
};

struct LinkStats {
  int slot = 0;
  std::string endpoint;
  bool connected = false;
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t dropped_full = 0;        // queue bound reached
  uint64_t dropped_unconnected = 0; // no connection to the peer
  uint64_t dropped_fault = 0;       // link emulation (loss / partition)
  uint64_t dropped_delay_full = 0;  // link emulation: the delay line was full
  int64_t last_received_us = 0;
  LinkFault fault;
};

struct BusCounters {
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t dropped = 0;             // every send-side drop (sum of the link figures)
  uint64_t malformed = 0;           // failed the FlatBuffers verifier
  uint64_t unknown_slot = 0;
  uint64_t wrong_chassis = 0;
  uint64_t wrong_version = 0;
  uint64_t dropped_fault_in = 0;    // cut_in partition on receipt
  // The emulated delay line: frames and bytes held now, the most held,
  // and frames refused because it was full (also counted in `dropped`).
  uint64_t delay_line_depth = 0;
  uint64_t delay_line_bytes = 0;
  uint64_t delay_line_peak = 0;
  uint64_t delay_line_refused = 0;
  // kCurve: frames whose `sender` is not the slot their connection
  // authenticated as (or that carry no User-Id): dropped.
  uint64_t unauthenticated = 0;
  // Connections to our receiving socket whose security handshake failed
  // (a NULL-mechanism or wrong-key peer, a key ZAP refused).
  uint64_t handshake_failed = 0;
};

class Bus {
 public:
  // Validates the options (chassis id set, self slot >= 0 and not among
  // peers, no duplicate slot or endpoint, endpoints with a supported scheme,
  // a shared context for inproc://). InvalidArgument names the offending
  // slot or endpoint and the fix. Creates no socket yet.
  static Result<std::unique_ptr<Bus>> Create(BusOptions options);
  virtual ~Bus() = default;

  // Binds the endpoint, connects to every peer and starts the receive thread.
  // Once per Bus: FailedPrecondition after a Start or Stop; Unavailable when
  // the endpoint cannot be bound (a failed Start may be retried).
  virtual Status Start(Handler* handler) = 0;
  // Stops the threads and closes every socket; frames still in a delay line
  // are dropped (counted). Idempotent; may be called from a handler callback
  // (it then does not wait for the receive thread, the destructor does).
  virtual void Stop() = 0;

  // Sends one finished frame (see frames.h builders) to `slot`, or to every
  // peer for kBroadcast. Never blocks. Returns false when (all copies were)
  // dropped; the reason is counted. Also false before Start, after Stop, for
  // a slot that is not a peer, and for a broadcast with no peer. A frame
  // accepted into an emulated delay line returns true.
  virtual bool Send(int slot, const OutFrame& frame) = 0;

  // Adds / removes a peer at run time (hot insertion). AddPeer of a known slot
  // with a new endpoint replaces its link (the link fault carries over, the
  // figures restart); with the same endpoint it does nothing. A removed peer
  // that was up is reported down (OnPeerDown). RemovePeer of an unknown slot
  // is NotFound. With kCurve a new public_key of a known slot (rotation)
  // replaces the ZAP table entry and the link (new server key), and the
  // receiving socket is re-bound so every incoming connection authenticates
  // again under the new table.
  virtual Status AddPeer(const SlotAddress& peer) = 0;
  virtual Status RemovePeer(int slot) = 0;

  // NotFound for an unknown slot; InvalidArgument for loss outside [0, 1].
  virtual Status SetLinkFault(int slot, const LinkFault& fault) = 0;
  virtual bool IsConnected(int slot) const = 0;
  virtual std::vector<LinkStats> Links() const = 0;  // ordered by slot
  virtual BusCounters Counters() const = 0;
  // The ZAP handler's figures (accepted / refused, last refused keys);
  // empty with kNone.
  virtual ZapAuthenticator::Stats ZapStats() const = 0;
  // The options given to Create (with `context` filled in when it was null).
  // Peers added or removed later show in Links(), not here.
  virtual const BusOptions& options() const = 0;
};

}  // namespace bp::bus
