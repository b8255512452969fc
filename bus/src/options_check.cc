// BusOptions validation (see options_check.h).
#include "options_check.h"

#include <set>
#include <string>
#include <string_view>

namespace bp::bus {
namespace {

// sun_path is 108 bytes including the terminating NUL.
constexpr size_t kMaxIpcPathBytes = 107;

std::string SlotName(const SlotAddress& a) {
  return "slot " + std::to_string(a.slot) + " (" + a.endpoint + ")";
}

Status CheckTcp(std::string_view address, const std::string& what) {
  size_t colon = address.rfind(':');
  std::string_view port = colon == std::string_view::npos ? "" : address.substr(colon + 1);
  bool numeric = !port.empty() && port.find_first_not_of("0123456789") == std::string_view::npos;
  if (colon == 0 || !numeric) {
    return Status::InvalidArgument(what +
                                   ": tcp endpoint needs host:port with a fixed port "
                                   "(peers must know it in advance), e.g. tcp://10.0.0.2:7400");
  }
  return Status::Ok();
}

Status CheckSlotList(const BusOptions& o) {
  std::set<int> slots{o.self_slot};
  std::set<std::string> endpoints{o.self_endpoint};
  for (const SlotAddress& p : o.peers) {
    if (p.slot < 0) {
      return Status::InvalidArgument(SlotName(p) + ": slot ids are >= 0; fix BusOptions::peers");
    }
    if (!slots.insert(p.slot).second) {
      return Status::InvalidArgument(SlotName(p) + ": slot listed twice or equal to self_slot " +
                                     std::to_string(o.self_slot) +
                                     "; give every board its own slot");
    }
    BP_RETURN_IF_ERROR(CheckEndpoint(p.endpoint, SlotName(p)));
    if (!endpoints.insert(p.endpoint).second) {
      return Status::InvalidArgument(SlotName(p) +
                                     ": endpoint already used by another slot or "
                                     "by self_endpoint; give every board its own endpoint");
    }
  }
  return Status::Ok();
}

bool UsesInproc(const BusOptions& o) {
  if (o.self_endpoint.starts_with("inproc://")) return true;
  for (const SlotAddress& p : o.peers) {
    if (p.endpoint.starts_with("inproc://")) return true;
  }
  return false;
}

}  // namespace

Status CheckEndpoint(const std::string& endpoint, const std::string& what) {
  std::string_view e = endpoint;
  for (std::string_view scheme : {"ipc://", "tcp://", "inproc://"}) {
    if (!e.starts_with(scheme)) continue;
    std::string_view address = e.substr(scheme.size());
    if (address.empty()) {
      return Status::InvalidArgument(what + ": endpoint has no address after " +
                                     std::string(scheme));
    }
    if (scheme == "tcp://") return CheckTcp(address, what);
    if (scheme == "ipc://" && address.size() > kMaxIpcPathBytes) {
      return Status::InvalidArgument(what +
                                     ": ipc path longer than 107 bytes (the unix socket "
                                     "limit); use a shorter directory");
    }
    return Status::Ok();
  }
  return Status::InvalidArgument(what +
                                 ": unsupported endpoint; use ipc://<path> (one machine), "
                                 "tcp://<host>:<port> or inproc://<name> (tests)");
}

Status CheckOptions(const BusOptions& o) {
  if (o.chassis_id == 0) {
    return Status::InvalidArgument(
        "BusOptions::chassis_id is 0; set the chassis id so frames of "
        "another chassis are told apart");
  }
  if (o.self_slot < 0) {
    return Status::InvalidArgument("BusOptions::self_slot " + std::to_string(o.self_slot) +
                                   " is negative; slot ids are >= 0 (Berkeley DB env ids)");
  }
  BP_RETURN_IF_ERROR(
      CheckEndpoint(o.self_endpoint, "self_endpoint of slot " + std::to_string(o.self_slot)));
  if (o.send_queue_frames <= 0 || o.reconnect_ms <= 0) {
    return Status::InvalidArgument("BusOptions::send_queue_frames and reconnect_ms must be > 0");
  }
  if (o.clock == nullptr) {
    return Status::InvalidArgument("BusOptions::clock is null; leave the default real clock");
  }
  BP_RETURN_IF_ERROR(CheckSlotList(o));
  if (UsesInproc(o) && o.context == nullptr) {
    return Status::InvalidArgument(
        "inproc:// endpoints only work inside one ZeroMQ context; set "
        "BusOptions::context to a context shared by every bus");
  }
  return Status::Ok();
}

Status CheckNewPeer(const BusOptions& o, const std::vector<SlotAddress>& others,
                    const SlotAddress& peer) {
  BusOptions probe = o;
  probe.peers.clear();
  for (const SlotAddress& p : others) {
    if (p.slot != peer.slot) probe.peers.push_back(p);
  }
  probe.peers.push_back(peer);
  return CheckOptions(probe);
}

}  // namespace bp::bus
