// Dead-connection detection on tcp:// sockets (BusOptions::dead_link_ms).
//
// A board pulled from the chassis (or powered off) closes no socket: its
// peers' TCP connections to it stay established while the kernel backs off
// its retransmissions for many minutes, and the pulled board's own
// connections do the same. Without a bound, a link comes back only when
// TCP's backoff next retries, seconds after the board returned. So on tcp://
// sockets, with dead_link_ms = T:
//   - ZMTP heartbeats: a PING every T/4; no traffic from the peer for T
//     closes the connection (HEARTBEAT_TIMEOUT), and the peer is told to do
//     the same (HEARTBEAT_TTL);
//   - TCP_USER_TIMEOUT (ZMQ_TCP_MAXRT): sent data unacknowledged for T
//     closes it too, which catches a dead peer under a steady send stream;
//   - a connect attempt is abandoned after T (ZMQ_CONNECT_TIMEOUT): a SYN
//     lost while the link was down is not left to its 1 s, 3 s, 7 s retries.
// A closed connection is dialled again every reconnect_ms (with backoff up
// to 8x), so a returning board is found within about T.
// ipc:// and inproc:// sockets are left alone: a process that dies there
// closes its sockets, and a paused one must not lose its links.
#pragma once

#include <algorithm>
#include <string>
#include <zmq.hpp>

namespace bp::bus {

inline bool IsTcpEndpoint(const std::string& endpoint) { return endpoint.rfind("tcp://", 0) == 0; }

// Throws zmq::error_t like any other option.
inline void SetDeadLinkOptions(zmq::socket_t& s, int dead_link_ms) {
  if (dead_link_ms <= 0) return;
  s.set(zmq::sockopt::heartbeat_ivl, std::max(dead_link_ms / 4, 5));
  s.set(zmq::sockopt::heartbeat_timeout, dead_link_ms);
  // The TTL travels in the PING in units of 100 ms (at least one).
  s.set(zmq::sockopt::heartbeat_ttl, std::max(dead_link_ms / 100, 1) * 100);
  s.set(zmq::sockopt::tcp_maxrt, dead_link_ms);
  s.set(zmq::sockopt::connect_timeout, dead_link_ms);
}

}  // namespace bp::bus
