// BusOptions validation (see options_check.h).
#include "options_check.h"

#include <set>
#include <string>
#include <string_view>

#include "bus/curve.h"

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

// kCurve: CURVE in libzmq, a matching key pair for self, a valid and
// distinct key per peer (one key speaks for one slot only), no inproc://.
Status CheckSecurity(const BusOptions& o) {
  if (o.security != BusSecurity::kCurve) return Status::Ok();
  if (!CurveAvailable()) {
    return Status::InvalidArgument(
        "security curve: this libzmq has no CURVE (build it with libsodium), or choose "
        "security = \"none\" explicitly");
  }
  const std::string self = "slot " + std::to_string(o.self_slot);
  Result<std::string> derived = CurvePublicFromSecret(o.keys.secret_z85);
  if (!derived.ok() || !IsValidCurveKey(o.keys.public_z85)) {
    return Status::InvalidArgument(self + ": security curve needs this board's key pair "
                                   "(BusOptions::keys, 40 Z85 characters each)");
  }
  if (derived.value() != o.keys.public_z85) {
    return Status::InvalidArgument(self + ": the public key " + o.keys.public_z85 +
                                   " does not belong to the secret key (its public key is " +
                                   derived.value() + ")");
  }
  if (o.zap_domain.empty()) {
    return Status::InvalidArgument("BusOptions::zap_domain is empty; leave the default");
  }
  std::set<std::string> keys{o.keys.public_z85};
  for (const SlotAddress& p : o.peers) {
    if (!IsValidCurveKey(p.public_key)) {
      return Status::InvalidArgument(SlotName(p) + ": security curve needs the slot's public_key "
                                     "(40 Z85 characters); generate one with chassis keygen");
    }
    if (!keys.insert(p.public_key).second) {
      return Status::InvalidArgument(SlotName(p) + ": public_key " + p.public_key +
                                     " is also another slot's; every board needs its own key");
    }
  }
  if (UsesInproc(o)) {
    return Status::InvalidArgument(
        "security curve cannot run over inproc:// (ZeroMQ has no CURVE on inproc); use ipc:// "
        "endpoints, or security none for in-process tests");
  }
  return Status::Ok();
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
  if (o.dead_link_ms < 0) {
    return Status::InvalidArgument("BusOptions::dead_link_ms must be >= 0 (0 = off)");
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
  return CheckSecurity(o);
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
