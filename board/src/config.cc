// Chassis configuration: TOML parsing (toml++) and validation.
#include "board/config.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace bp::board {
namespace {

std::string At(const std::string& source, int line) {
  return source + ":" + std::to_string(line) + ": ";
}

int LineOf(const toml::node* n) { return n ? static_cast<int>(n->source().begin.line) : 0; }

// Reads an optional unsigned integer key of table `t` into `out`. Integers
// are read with value_exact: toml++ 3.3 value<int64_t>() converts a float
// and casts it before its range check (UB on 4e96; fuzz_chassis_config).
Status ReadUint(const toml::table& t, const char* key, uint32_t* out, const std::string& src,
                uint64_t max = UINT32_MAX) {
  const toml::node* n = t.get(key);
  if (!n) return Status::Ok();
  auto v = n->value_exact<int64_t>();
  if (!v || *v < 0 || static_cast<uint64_t>(*v) > max) {
    return Status::InvalidArgument(At(src, LineOf(n)) + "'" + key +
                                   "' must be an integer between 0 and " + std::to_string(max));
  }
  *out = static_cast<uint32_t>(*v);
  return Status::Ok();
}

Status CheckRange(const UintKeyRange& k, uint32_t v, const std::string& where) {
  if (v >= k.min && v <= k.max) return Status::Ok();
  return Status::InvalidArgument(where + "'" + k.key + "' = " + std::to_string(v) +
                                 " is out of range: allowed " + std::to_string(k.min) + " to " +
                                 std::to_string(k.max) + " (" + k.why + ")");
}

Status ReadBool(const toml::table& t, const char* key, bool* out, const std::string& src) {
  const toml::node* n = t.get(key);
  if (!n) return Status::Ok();
  auto v = n->value_exact<bool>();
  if (!v) return Status::InvalidArgument(At(src, LineOf(n)) + "'" + key + "' must be true or false");
  *out = *v;
  return Status::Ok();
}

// The client endpoint's access keys (README "Client endpoint security").
Status ReadClientAccess(const toml::table& c, const std::string& src, ChassisConfig* cfg) {
  if (const toml::node* n = c.get("client_socket_group")) {
    auto v = n->value<std::string>();
    if (!v) return Status::InvalidArgument(At(src, LineOf(n)) + "'client_socket_group' must be a group name (a string)");
    cfg->client_socket_group = *v;
  }
  if (const toml::node* n = c.get("client_socket_mode")) {
    auto v = n->value<std::string>();
    auto mode = ParseSocketMode(v.value_or(""));
    if (!v || !mode.ok()) {
      return Status::InvalidArgument(At(src, LineOf(n)) + "'client_socket_mode' must be an octal "
                                     "string such as \"0660\"" + (v ? ": " + mode.status().message() : ""));
    }
    cfg->client_socket_mode = *mode;
  }
  if (const toml::node* n = c.get("client_public_keys")) {
    const toml::array* a = n->as_array();
    if (!a) return Status::InvalidArgument(At(src, LineOf(n)) + "'client_public_keys' must be an array of Z85 public keys");
    for (const toml::node& k : *a) {
      auto v = k.value<std::string>();
      if (!v) return Status::InvalidArgument(At(src, LineOf(&k)) + "'client_public_keys' entries must be strings (Z85 public keys)");
      cfg->client_public_keys.push_back(*v);
    }
  }
  return Status::Ok();
}

Status ReadChassis(const toml::table& c, const std::string& src, ChassisConfig* cfg) {
  if (const toml::node* n = c.get("id")) {
    auto v = n->value_exact<int64_t>();
    if (!v || *v <= 0) return Status::InvalidArgument(At(src, LineOf(n)) + "'id' must be a positive integer");
    cfg->chassis_id = static_cast<uint64_t>(*v);
  }
  if (const toml::node* n = c.get("ack_policy")) {
    auto s = n->value<std::string>();
    auto p = ParseAckPolicy(s.value_or(""));
    if (!p.ok()) return Status::InvalidArgument(At(src, LineOf(n)) + p.status().message());
    cfg->ack_policy = *p;
  }
  if (const toml::node* n = c.get("two_board_mode")) {
    std::string s = n->value<std::string>().value_or("");
    if (s == "strict") cfg->two_board_mode = TwoBoardMode::kStrict;
    else if (s == "failover") cfg->two_board_mode = TwoBoardMode::kFailover;
    else if (s == "preferred") cfg->two_board_mode = TwoBoardMode::kPreferred;
    else return Status::InvalidArgument(At(src, LineOf(n)) + "two_board_mode '" + s +
                                        "' is unknown; use strict, failover or preferred");
  }
  uint32_t preferred = 0;
  BP_RETURN_IF_ERROR(ReadUint(c, "preferred_slot", &preferred, src, 1000));
  cfg->preferred_slot = static_cast<int>(preferred);
  for (const UintKeyRange& k : ChassisUintKeys()) {
    BP_RETURN_IF_ERROR(ReadUint(c, k.key, &(cfg->*k.field), src));
    BP_RETURN_IF_ERROR(CheckRange(k, cfg->*k.field, At(src, LineOf(c.get(k.key)))));
  }
  BP_RETURN_IF_ERROR(ReadBool(c, "bulk", &cfg->bulk, src));
  BP_RETURN_IF_ERROR(ReadBool(c, "leases", &cfg->leases, src));
  BP_RETURN_IF_ERROR(ReadBool(c, "allow_no_failover", &cfg->allow_no_failover, src));
  if (const toml::node* n = c.get("security")) {
    std::string s = n->value<std::string>().value_or("");
    if (s == "curve") cfg->security = SecurityMode::kCurve;
    else if (s == "none") cfg->security = SecurityMode::kNone;
    else return Status::InvalidArgument(At(src, LineOf(n)) + "security '" + s +
                                        "' is unknown; use \"curve\" (the default) or \"none\"");
  }
  BP_RETURN_IF_ERROR(ReadClientAccess(c, src, cfg));
  for (auto&& [k, v] : c) {
    static const std::set<std::string> known = {
        "id", "ack_policy", "two_board_mode", "preferred_slot", "ack_timeout_ms",
        "heartbeat_interval_ms", "heartbeat_timeout_ms", "election_timeout_ms", "startup_wait_ms",
        "flush_interval_ms", "rep_request_min_ms", "rep_request_max_ms", "rep_limit_kb", "bulk",
        "leases", "lease_timeout_ms", "cache_mb", "log_buffer_mb", "max_key_bytes",
        "max_value_bytes", "write_threads", "forward_timeout_ms", "forward_retries",
        "request_retention_s", "client_retry_horizon_ms", "request_budget_pct",
        "cache_high_water_pct", "allow_no_failover",
        "rep_queue_frames", "rep_queue_mb", "serve_queue_frames", "serve_queue_mb",
        "write_queue_limit", "write_queue_mb", "client_send_queue_limit", "client_send_queue_mb", "max_subscribers",
        "delay_line_frames", "delay_line_mb", "dead_link_ms",
        "log_wait_ms", "max_read_timeout_ms",
        "security",
        "client_socket_group", "client_socket_mode", "client_public_keys"};
    if (!known.count(std::string(k.str()))) {
      return Status::InvalidArgument(At(src, LineOf(&v)) + "unknown key '" + std::string(k.str()) +
                                     "' in [chassis]; see README 'Configuration' for the keys");
    }
  }
  return Status::Ok();
}

Status ReadBoard(const toml::table& b, const std::string& src, int line, SlotConfig* s) {
  s->line = line;
  const toml::node* slot = b.get("slot");
  auto sv = slot ? slot->value_exact<int64_t>() : std::nullopt;
  if (!sv || *sv < 1 || *sv > 1000) {
    return Status::InvalidArgument(At(src, line) + "[[board]] needs 'slot' = an integer from 1 to 1000");
  }
  s->slot = static_cast<int>(*sv);
  s->endpoint = b["endpoint"].value_or(std::string());
  s->client_endpoint = b["client_endpoint"].value_or(std::string());
  if (s->endpoint.empty()) {
    return Status::InvalidArgument(At(src, line) + "board slot " + std::to_string(s->slot) +
                                   " has no 'endpoint' (for example \"ipc:///tmp/chassis/slot" +
                                   std::to_string(s->slot) + ".bus\")");
  }
  BP_RETURN_IF_ERROR(ReadUint(b, "priority", &s->priority, src, 1000000));
  BP_RETURN_IF_ERROR(ReadBool(b, "electable", &s->electable, src));
  for (const char* key : {"public_key", "secret_key_file", "metrics_endpoint"}) {
    const toml::node* n = b.get(key);
    if (n != nullptr && !n->is_string()) {
      return Status::InvalidArgument(At(src, LineOf(n)) + "'" + key + "' must be a string");
    }
  }
  s->public_key = b["public_key"].value_or(std::string());
  s->secret_key_file = b["secret_key_file"].value_or(std::string());
  s->metrics_endpoint = b["metrics_endpoint"].value_or(std::string());
  if (auto ep = ParseMetricsEndpoint(s->metrics_endpoint); !ep.ok()) {
    return Status::InvalidArgument(At(src, LineOf(b.get("metrics_endpoint"))) + "slot " +
                                   std::to_string(s->slot) + ": " + ep.status().message());
  }
  for (auto&& [k, v] : b) {
    static const std::set<std::string> known = {"slot", "endpoint", "client_endpoint", "priority",
                                                "electable", "public_key", "secret_key_file",
                                                "metrics_endpoint"};
    if (!known.count(std::string(k.str()))) {
      return Status::InvalidArgument(At(src, LineOf(&v)) + "unknown key '" + std::string(k.str()) +
                                     "' in [[board]]; known: slot, endpoint, client_endpoint, "
                                     "priority, electable, public_key, secret_key_file, "
                                     "metrics_endpoint");
    }
  }
  return Status::Ok();
}

// A TOML basic string: quoted, with backslash, quote and control
// characters escaped, so that any endpoint ParseChassisConfig accepted is
// written back as the same string (found by fuzz_chassis_config).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

Status BadEndpoint(const std::string& value, const std::string& why) {
  return Status::InvalidArgument("'metrics_endpoint' = \"" + value + "\" " + why +
                                 "; use HOST:PORT such as \"127.0.0.1:9464\" (or \"[::1]:9464\"), "
                                 "or \"\" for no metrics endpoint");
}

}  // namespace

const char* AckPolicyName(AckPolicy p) {
  switch (p) {
    case AckPolicy::kNone: return "none";
    case AckPolicy::kOne: return "one";
    case AckPolicy::kOnePeer: return "one_peer";
    case AckPolicy::kQuorum: return "quorum";
    case AckPolicy::kAllAvailable: return "all_available";
    case AckPolicy::kAll: return "all";
  }
  return "?";
}

Result<AckPolicy> ParseAckPolicy(const std::string& s) {
  for (AckPolicy p : {AckPolicy::kNone, AckPolicy::kOne, AckPolicy::kOnePeer, AckPolicy::kQuorum,
                      AckPolicy::kAllAvailable, AckPolicy::kAll}) {
    if (s == AckPolicyName(p)) return p;
  }
  return Status::InvalidArgument("ack_policy '" + s +
                                 "' is unknown; use none, one, one_peer, quorum, all_available or all");
}

const char* TwoBoardModeName(TwoBoardMode m) {
  switch (m) {
    case TwoBoardMode::kStrict: return "strict";
    case TwoBoardMode::kFailover: return "failover";
    case TwoBoardMode::kPreferred: return "preferred";
  }
  return "?";
}

const char* SecurityModeName(SecurityMode m) {
  return m == SecurityMode::kCurve ? "curve" : "none";
}

Result<MetricsAddress> ParseMetricsEndpoint(const std::string& value) {
  MetricsAddress a;
  if (value.empty()) return a;
  if (value.find("://") != std::string::npos) return BadEndpoint(value, "has a scheme");
  for (unsigned char c : value) {
    if (c <= ' ' || c == '/' || c >= 0x7f) {
      return BadEndpoint(value, "has a space, a slash or a non-ASCII character");
    }
  }
  const size_t colon = value.rfind(':');
  if (colon == std::string::npos) return BadEndpoint(value, "has no port");
  std::string host = value.substr(0, colon);
  const std::string port = value.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of("[]:") != std::string::npos) {
    return BadEndpoint(value, "has an IPv6 address without brackets");
  }
  if (host.empty()) return BadEndpoint(value, "has no host");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return BadEndpoint(value, "has no port number after the last ':'");
  }
  a.port = std::stoi(port);
  if (a.port < 1 || a.port > 65535) return BadEndpoint(value, "has a port outside 1 to 65535");
  a.host = host;
  return a;
}

const SlotConfig* ChassisConfig::Find(int slot) const {
  for (const auto& b : boards) {
    if (b.slot == slot) return &b;
  }
  return nullptr;
}

int ChassisConfig::ElectableCount() const {
  int n = 0;
  for (const auto& b : boards) n += b.electable && b.priority > 0 ? 1 : 0;
  return n;
}

Status ChassisConfig::Validate() const {
  for (const UintKeyRange& k : ChassisUintKeys()) BP_RETURN_IF_ERROR(CheckRange(k, this->*k.field, ""));
  if (rep_request_min_ms > rep_request_max_ms) {
    return Status::InvalidArgument("rep_request_min_ms (" + std::to_string(rep_request_min_ms) +
                                   ") must be at most rep_request_max_ms (" +
                                   std::to_string(rep_request_max_ms) + ")");
  }
  BP_RETURN_IF_ERROR(ValidateBoards());
  BP_RETURN_IF_ERROR(ValidateElectorate());
  BP_RETURN_IF_ERROR(ValidateTimersAndSizes());
  BP_RETURN_IF_ERROR(ValidateClientSecurity());
  BP_RETURN_IF_ERROR(ValidateQueueBounds());
  BP_RETURN_IF_ERROR(ValidateMemoryKeys());
  return ValidateSecurity();
}

// Every [[board]]: its own slot and endpoints, of a supported scheme; an
// electable board has a priority.
Status ChassisConfig::ValidateBoards() const {
  if (boards.empty()) {
    return Status::InvalidArgument("no [[board]] entries; declare one [[board]] table per slot");
  }
  std::set<int> slots;
  std::set<std::string> endpoints;
  for (const auto& b : boards) {
    std::string where = "line " + std::to_string(b.line) + ": ";
    if (!slots.insert(b.slot).second) {
      return Status::InvalidArgument(where + "slot " + std::to_string(b.slot) +
                                     " is declared twice; give every board its own slot id");
    }
    for (const std::string& ep : {b.endpoint, b.client_endpoint}) {
      if (ep.empty()) continue;
      if (ep.rfind("ipc://", 0) != 0 && ep.rfind("tcp://", 0) != 0 && ep.rfind("inproc://", 0) != 0) {
        return Status::InvalidArgument(where + "endpoint '" + ep +
                                       "' must start with ipc://, tcp:// or inproc://");
      }
      if (!endpoints.insert(ep).second) {
        return Status::InvalidArgument(where + "endpoint '" + ep +
                                       "' is used twice; every board needs its own endpoints");
      }
    }
    if (auto ep = ParseMetricsEndpoint(b.metrics_endpoint); !ep.ok()) {
      return Status::InvalidArgument(where + "slot " + std::to_string(b.slot) + ": " +
                                     ep.status().message());
    }
    if (b.electable && b.priority == 0) {
      return Status::InvalidArgument(where + "slot " + std::to_string(b.slot) +
                                     " is electable with priority 0; give it priority >= 1 or set "
                                     "electable = false");
    }
  }
  return Status::Ok();
}

// The electable boards can keep a strict majority through a failure (or the
// operator said otherwise), and a preferred board can win its hand-back.
Status ChassisConfig::ValidateElectorate() const {
  int e = ElectableCount();
  if (e == 0) {
    return Status::InvalidArgument("no electable board; set electable = true on at least one "
                                   "[[board]] (three for failover)");
  }
  if (two_board_mode == TwoBoardMode::kPreferred) {
    const SlotConfig* p = Find(preferred_slot);
    if (!p || !p->electable) {
      // A non-electable preferred board can never win the hand-over
      // election: the master would hand over and take back forever.
      return Status::InvalidArgument(
          "two_board_mode = \"preferred\" needs preferred_slot = the slot of an electable "
          "[[board]]; preferred_slot = " + std::to_string(preferred_slot) +
          (p ? " is electable = false" : " is not a configured slot") +
          ": set it to one of the two electable boards' slots");
    }
  }
  if (e == 1 && boards.size() > 1 && !allow_no_failover) {
    return Status::InvalidArgument(
        "only one electable board among " + std::to_string(boards.size()) +
        " boards: when it fails no replica can take over, and QUORUM then needs no "
        "acknowledgement at all (a write survives no failure); make more boards electable = true "
        "(three electable boards keep a majority after one fails), or set allow_no_failover = true "
        "in [chassis] to accept this");
  }
  if (e % 2 == 0 && e != 2) {
    return Status::InvalidArgument(
        std::to_string(e) + " electable boards: an even number gives no strict majority after a "
        "split; make one board non-electable (electable = false) or add one");
  }
  return Status::Ok();
}

// Timers that depend on each other, and sizes that must fit the log buffer
// and the cache.
Status ChassisConfig::ValidateTimersAndSizes() const {
  if (heartbeat_interval_ms == 0 || heartbeat_timeout_ms < 2 * heartbeat_interval_ms) {
    return Status::InvalidArgument("heartbeat_timeout_ms must be at least 2 x heartbeat_interval_ms "
                                   "(and the interval > 0), or a single late heartbeat triggers an "
                                   "election");
  }
  if (ack_timeout_ms == 0) return Status::InvalidArgument("ack_timeout_ms must be > 0");
  if (election_timeout_ms == 0) return Status::InvalidArgument("election_timeout_ms must be > 0");
  if (cache_mb < 2 * log_buffer_mb) {
    return Status::InvalidArgument("cache_mb (" + std::to_string(cache_mb) +
                                   ") must be at least 2 x log_buffer_mb (" +
                                   std::to_string(log_buffer_mb) + "); raise cache_mb");
  }
  if (max_key_bytes == 0 || max_value_bytes == 0) {
    return Status::InvalidArgument("max_key_bytes and max_value_bytes must be > 0");
  }
  if (uint64_t(max_value_bytes) * 4 > uint64_t(log_buffer_mb) << 20) {
    return Status::InvalidArgument("max_value_bytes (" + std::to_string(max_value_bytes) +
                                   ") must be at most a quarter of the log buffer (log_buffer_mb = " +
                                   std::to_string(log_buffer_mb) + "); raise log_buffer_mb");
  }
  if (write_threads == 0) return Status::InvalidArgument("write_threads must be >= 1");
  return Status::Ok();
}

// security curve: every board has its own valid public key and a CURVE
// transport (no inproc://). Key files are checked by the board that reads
// its own (LoadSlotKeys): other slots' files live on other boards.
Status ChassisConfig::ValidateSecurity() const {
  if (security != SecurityMode::kCurve) return Status::Ok();
  std::map<std::string, int> slot_of_key;
  for (const auto& b : boards) {
    std::string where = "line " + std::to_string(b.line) + ": slot " + std::to_string(b.slot);
    if (b.public_key.empty()) {
      return Status::InvalidArgument(
          where + " has no public_key, and security is curve (the default when [chassis] has no "
          "'security' key): generate its keys with `chassis keygen --config <file> --slot " +
          std::to_string(b.slot) + "`, or set security = \"none\" in [chassis] to run without "
          "authentication");
    }
    if (!bus::IsValidCurveKey(b.public_key)) {
      return Status::InvalidArgument(where + ": public_key '" + b.public_key +
                                     "' is not a CURVE key (40 Z85 characters); copy the one "
                                     "`chassis keygen` printed");
    }
    auto [it, fresh] = slot_of_key.emplace(b.public_key, b.slot);
    if (!fresh) {
      return Status::InvalidArgument(where + ": public_key is also slot " +
                                     std::to_string(it->second) +
                                     "'s; every board needs its own key pair");
    }
    if (b.endpoint.rfind("inproc://", 0) == 0) {
      return Status::InvalidArgument(where + ": security curve cannot run over inproc:// "
                                     "(ZeroMQ has no CURVE there); use ipc:// or tcp://");
    }
  }
  return Status::Ok();
}

Status ChassisConfig::ValidateMemoryKeys() const {
  const uint64_t horizon_ms = RetryHorizonMs();
  if (uint64_t(request_retention_s) * 1000 < 2 * horizon_ms) {
    return Status::InvalidArgument(
        "request_retention_s = " + std::to_string(request_retention_s) +
        " is shorter than twice the retry horizon (client_retry_horizon_ms + forward_timeout_ms + "
        "ack_timeout_ms = " + std::to_string(horizon_ms) + " ms): a retry could arrive after its "
        "id is forgotten; raise request_retention_s to at least " +
        std::to_string((2 * horizon_ms + 999) / 1000) + " or shorten the retries");
  }
  if (request_retention_s > 7 * 24 * 3600) {
    return Status::InvalidArgument("request_retention_s must be at most 604800 (a week)");
  }
  if (request_budget_pct < 1 || request_budget_pct > 50) {
    return Status::InvalidArgument("request_budget_pct = " + std::to_string(request_budget_pct) +
                                   " must be between 1 and 50 (% of cache_mb for request ids)");
  }
  if (cache_high_water_pct < 10 || cache_high_water_pct > 95) {
    return Status::InvalidArgument("cache_high_water_pct = " + std::to_string(cache_high_water_pct) +
                                   " must be between 10 and 95 (% of the smallest cache_mb)");
  }
  if (request_budget_pct >= cache_high_water_pct) {
    return Status::InvalidArgument("request_budget_pct must be below cache_high_water_pct: the "
                                   "request ids would leave no room for data");
  }
  return Status::Ok();
}

// Queue bounds: each must hold at least one item, and a byte bound must
// hold the largest legal item (a bulk frame, a write batch's reply).
Status ChassisConfig::ValidateQueueBounds() const {
  struct { const char* key; uint32_t value; } nonzero[] = {
      {"rep_queue_frames", rep_queue_frames},     {"rep_queue_mb", rep_queue_mb},
      {"serve_queue_frames", serve_queue_frames}, {"serve_queue_mb", serve_queue_mb},
      {"write_queue_limit", write_queue_limit},   {"write_queue_mb", write_queue_mb},
      {"client_send_queue_limit", client_send_queue_limit},
      {"client_send_queue_mb", client_send_queue_mb}, {"max_subscribers", max_subscribers},
      {"delay_line_frames", delay_line_frames},   {"delay_line_mb", delay_line_mb}};
  for (const auto& n : nonzero) {
    if (n.value == 0) {
      return Status::InvalidArgument(std::string(n.key) + " must be >= 1 (0 would refuse everything); "
                                     "see README 'Configuration' for its default");
    }
  }
  for (const auto& [key, mb] : {std::pair<const char*, uint32_t>{"rep_queue_mb", rep_queue_mb},
                                {"serve_queue_mb", serve_queue_mb}}) {
    if (uint64_t(mb) << 20 < uint64_t(rep_limit_kb) << 10) {
      return Status::InvalidArgument(std::string(key) + " (" + std::to_string(mb) +
                                     " MiB) must hold one bulk frame (rep_limit_kb = " +
                                     std::to_string(rep_limit_kb) + "); raise " + key);
    }
  }
  if (uint64_t(write_queue_mb) << 20 < uint64_t(max_value_bytes) + max_key_bytes) {
    return Status::InvalidArgument("write_queue_mb (" + std::to_string(write_queue_mb) +
                                   " MiB) must hold a write of max_value_bytes (" +
                                   std::to_string(max_value_bytes) + "); raise write_queue_mb");
  }
  if (uint64_t(client_send_queue_mb) << 20 < uint64_t(max_value_bytes) * 2) {
    return Status::InvalidArgument("client_send_queue_mb (" + std::to_string(client_send_queue_mb) +
                                   " MiB) must hold a reply of max_value_bytes (" +
                                   std::to_string(max_value_bytes) + ") twice; raise client_send_queue_mb");
  }
  return Status::Ok();
}

Result<ChassisConfig> ParseChassisConfig(const std::string& text, const std::string& src,
                                         bool validate) {
  toml::table root;
  try {
    root = toml::parse(text, src);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(At(src, static_cast<int>(e.source().begin.line)) +
                                   std::string(e.description()));
  }
  ChassisConfig cfg;
  if (const toml::table* c = root["chassis"].as_table()) {
    BP_RETURN_IF_ERROR(ReadChassis(*c, src, &cfg));
  }
  const toml::array* boards = root["board"].as_array();
  if (!boards) {
    return Status::InvalidArgument(src + ": no [[board]] tables; declare one per slot");
  }
  for (const toml::node& n : *boards) {
    const toml::table* t = n.as_table();
    if (!t) return Status::InvalidArgument(At(src, LineOf(&n)) + "[[board]] must be a table");
    SlotConfig s;
    BP_RETURN_IF_ERROR(ReadBoard(*t, src, LineOf(&n), &s));
    cfg.boards.push_back(s);
  }
  for (auto&& [k, v] : root) {
    if (k.str() != "chassis" && k.str() != "board") {
      return Status::InvalidArgument(At(src, LineOf(&v)) + "unknown section '" +
                                     std::string(k.str()) + "'; use [chassis] and [[board]]");
    }
  }
  Status st = validate ? cfg.Validate() : Status::Ok();
  if (!st.ok()) return st.WithContext(src);
  return cfg;
}

Result<ChassisConfig> LoadChassisConfig(const std::string& path, bool validate) {
  std::ifstream in(path);
  if (!in) {
    return Status::InvalidArgument("cannot read chassis configuration '" + path +
                                   "'; check the path (chassis up writes one to <run-dir>/chassis.toml)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseChassisConfig(ss.str(), path, validate);
}

ChassisConfig MakeLocalChassis(int boards, const std::string& run_dir, uint64_t chassis_id) {
  ChassisConfig cfg;
  cfg.chassis_id = chassis_id;
  cfg.security = SecurityMode::kNone;
  for (int i = 1; i <= boards; ++i) {
    SlotConfig s;
    s.slot = i;
    s.endpoint = "ipc://" + run_dir + "/slot" + std::to_string(i) + ".bus";
    s.client_endpoint = "ipc://" + run_dir + "/slot" + std::to_string(i) + ".client";
    s.priority = 100;
    s.electable = true;
    cfg.boards.push_back(s);
  }
  return cfg;
}

Result<ChassisConfig> MakeLocalChassis(int boards, const std::string& run_dir,
                                       uint64_t chassis_id, bool write_keys) {
  ChassisConfig cfg = MakeLocalChassis(boards, run_dir, chassis_id);
  if (!write_keys) return cfg;
  cfg.security = SecurityMode::kCurve;
  for (int slot = 1; slot <= boards; ++slot) {
    BP_RETURN_IF_ERROR(GenerateSlotKey(&cfg, slot,
                                       run_dir + "/slot" + std::to_string(slot) + ".key",
                                       /*replace=*/true));
  }
  return cfg;
}

Status GenerateSlotKey(ChassisConfig* c, int slot, const std::string& key_file, bool replace) {
  SlotConfig* board = nullptr;
  for (auto& b : c->boards) {
    if (b.slot == slot) board = &b;
  }
  if (board == nullptr) {
    return Status::NotFound("slot " + std::to_string(slot) + " is not in the configuration");
  }
  auto pair = bus::GenerateCurveKeyPair();
  if (!pair.ok()) return pair.status();
  BP_RETURN_IF_ERROR(bus::WriteSecretKeyFile(key_file, pair.value(), replace));
  board->public_key = pair->public_z85;
  board->secret_key_file = key_file;
  return Status::Ok();
}

Result<bus::CurveKeyPair> LoadSlotKeys(const ChassisConfig& c, int self_slot) {
  const SlotConfig* self = c.Find(self_slot);
  const std::string who = "slot " + std::to_string(self_slot);
  if (self == nullptr) return Status::NotFound(who + " is not in the configuration");
  if (self->secret_key_file.empty()) {
    return Status::InvalidArgument(who + " has no secret_key_file in its [[board]] (security "
                                   "curve); generate one with `board --keygen <path>` and set "
                                   "secret_key_file and public_key");
  }
  auto pair = bus::ReadSecretKeyFile(self->secret_key_file);
  if (!pair.ok()) return pair.status().WithContext(who);
  if (pair->public_z85 != self->public_key) {
    return Status::InvalidArgument(
        who + ": the key file " + self->secret_key_file + " holds public key " +
        pair->public_z85 + " but the configuration lists public_key = \"" + self->public_key +
        "\"; put the file's public key in the configuration (every board's copy) or use the "
        "matching key file");
  }
  return pair;
}

std::string ToToml(const ChassisConfig& c) {
  std::ostringstream o;
  o << "[chassis]\n"
    << "id = " << c.chassis_id << "\n"
    << "ack_policy = \"" << AckPolicyName(c.ack_policy) << "\"\n"
    << "two_board_mode = \"" << TwoBoardModeName(c.two_board_mode) << "\"\n";
  if (c.preferred_slot) o << "preferred_slot = " << c.preferred_slot << "\n";
  o << "ack_timeout_ms = " << c.ack_timeout_ms << "\n"
    << "heartbeat_interval_ms = " << c.heartbeat_interval_ms << "\n"
    << "heartbeat_timeout_ms = " << c.heartbeat_timeout_ms << "\n"
    << "election_timeout_ms = " << c.election_timeout_ms << "\n"
    << "startup_wait_ms = " << c.startup_wait_ms << "\n"
    << "flush_interval_ms = " << c.flush_interval_ms << "\n"
    << "bulk = " << (c.bulk ? "true" : "false") << "\n"
    << "leases = " << (c.leases ? "true" : "false") << "\n"
    << "lease_timeout_ms = " << c.lease_timeout_ms << "\n"
    << "cache_mb = " << c.cache_mb << "\n"
    << "log_buffer_mb = " << c.log_buffer_mb << "\n"
    << "max_key_bytes = " << c.max_key_bytes << "\n"
    << "max_value_bytes = " << c.max_value_bytes << "\n"
    << "write_threads = " << c.write_threads << "\n"
    << "rep_request_min_ms = " << c.rep_request_min_ms << "\n"
    << "rep_request_max_ms = " << c.rep_request_max_ms << "\n"
    << "rep_limit_kb = " << c.rep_limit_kb << "\n"
    << "forward_timeout_ms = " << c.forward_timeout_ms << "\n"
    << "forward_retries = " << c.forward_retries << "\n"
    << "request_retention_s = " << c.request_retention_s << "\n"
    << "client_retry_horizon_ms = " << c.client_retry_horizon_ms << "\n"
    << "request_budget_pct = " << c.request_budget_pct << "\n"
    << "cache_high_water_pct = " << c.cache_high_water_pct << "\n"
    << "rep_queue_frames = " << c.rep_queue_frames << "\n"
    << "rep_queue_mb = " << c.rep_queue_mb << "\n"
    << "serve_queue_frames = " << c.serve_queue_frames << "\n"
    << "serve_queue_mb = " << c.serve_queue_mb << "\n"
    << "write_queue_limit = " << c.write_queue_limit << "\n"
    << "write_queue_mb = " << c.write_queue_mb << "\n"
    << "client_send_queue_limit = " << c.client_send_queue_limit << "\n"
    << "client_send_queue_mb = " << c.client_send_queue_mb << "\n"
    << "max_subscribers = " << c.max_subscribers << "\n"
    << "delay_line_frames = " << c.delay_line_frames << "\n"
    << "delay_line_mb = " << c.delay_line_mb << "\n"
    << "dead_link_ms = " << c.dead_link_ms << "\n"
    << "log_wait_ms = " << c.log_wait_ms << "\n"
    << "max_read_timeout_ms = " << c.max_read_timeout_ms << "\n";
  if (c.allow_no_failover) o << "allow_no_failover = true\n";
  o << "security = \"" << SecurityModeName(c.security) << "\"\n";
  if (!c.client_socket_group.empty()) o << "client_socket_group = \"" << c.client_socket_group << "\"\n";
  o << "client_socket_mode = \"" << SocketModeString(c.client_socket_mode) << "\"\n";
  if (!c.client_public_keys.empty()) {
    o << "client_public_keys = [";
    for (size_t i = 0; i < c.client_public_keys.size(); ++i) {
      o << (i ? ", " : "") << "\"" << c.client_public_keys[i] << "\"";
    }
    o << "]\n";
  }
  for (const auto& b : c.boards) {
    o << "\n[[board]]\n"
      << "slot = " << b.slot << "\n"
      << "endpoint = " << Quote(b.endpoint) << "\n"
      << "client_endpoint = " << Quote(b.client_endpoint) << "\n"
      << "priority = " << b.priority << "\n"
      << "electable = " << (b.electable ? "true" : "false") << "\n";
    if (!b.public_key.empty()) o << "public_key = \"" << b.public_key << "\"\n";
    if (!b.secret_key_file.empty()) o << "secret_key_file = \"" << b.secret_key_file << "\"\n";
    if (!b.metrics_endpoint.empty()) o << "metrics_endpoint = " << Quote(b.metrics_endpoint) << "\n";
  }
  return o.str();
}

uint64_t MaxClientRequestBytes(const ChassisConfig& c) {
  const uint64_t twice_log = uint64_t(c.log_buffer_mb) << 21;
  return std::max<uint64_t>(twice_log, uint64_t(16) << 20) + (uint64_t(1) << 20);
}

// Millisecond keys stay far below 2^32 / 1000 (4,294,967 ms): every one is
// converted to microseconds somewhere, often in 32 bits (Berkeley DB's
// db_timeout_t). Sizes stay below what their conversions to bytes hold.
const std::vector<UintKeyRange>& ChassisUintKeys() {
  using C = ChassisConfig;
  static const std::vector<UintKeyRange> keys = {
      {"ack_timeout_ms", &C::ack_timeout_ms, 1, 60000, "a PERM send waits this long for acks"},
      {"heartbeat_interval_ms", &C::heartbeat_interval_ms, 1, 10000, "heartbeat period"},
      {"heartbeat_timeout_ms", &C::heartbeat_timeout_ms, 2, 60000, "silence before an election"},
      {"election_timeout_ms", &C::election_timeout_ms, 1, 60000, "DB_REP_ELECTION_TIMEOUT"},
      {"startup_wait_ms", &C::startup_wait_ms, 0, 600000, "wait for a master after start"},
      {"flush_interval_ms", &C::flush_interval_ms, 1, 60000, "master rep_flush period"},
      {"rep_request_min_ms", &C::rep_request_min_ms, 1, 60000, "rep_set_request, in microseconds"},
      {"rep_request_max_ms", &C::rep_request_max_ms, 1, 600000, "rep_set_request, in microseconds"},
      {"rep_limit_kb", &C::rep_limit_kb, 1, 8192,
       "one replication reply must fit a 16 MiB bus frame with room to spare"},
      {"lease_timeout_ms", &C::lease_timeout_ms, 1, 60000, "DB_REP_LEASE_TIMEOUT"},
      {"cache_mb", &C::cache_mb, 2, 1048576, "the cache holds all data; at most 1 TiB"},
      {"log_buffer_mb", &C::log_buffer_mb, 1, 4095,
       "Berkeley DB takes the log ring size in 32 bits"},
      {"max_key_bytes", &C::max_key_bytes, 1, 65536, "keys of at most 64 KiB"},
      {"max_value_bytes", &C::max_value_bytes, 1, 8u << 20,
       "a value must fit a 16 MiB bus frame with room to spare"},
      {"write_threads", &C::write_threads, 1, 256, "threads serving writes on the master"},
      {"forward_timeout_ms", &C::forward_timeout_ms, 1, 600000, "a forwarded write's deadline"},
      {"forward_retries", &C::forward_retries, 0, 100, "re-sends of a forwarded write"},
      {"log_wait_ms", &C::log_wait_ms, 0, 60000, "wait for room in the log budget"},
      {"max_read_timeout_ms", &C::max_read_timeout_ms, 1, 600000,
       "longest wait of a read, whatever the client asks"},
      {"request_retention_s", &C::request_retention_s, 1, 604800,
       "a week at most; also at least twice the retry horizon"},
      {"client_retry_horizon_ms", &C::client_retry_horizon_ms, 0, 3600000,
       "the longest a client retries one write"},
      {"request_budget_pct", &C::request_budget_pct, 1, 50, "% of cache_mb for request ids"},
      {"cache_high_water_pct", &C::cache_high_water_pct, 10, 95,
       "% of the smallest cache the data may fill"},
      {"rep_queue_frames", &C::rep_queue_frames, 1, 10000000, "queued replication messages"},
      {"rep_queue_mb", &C::rep_queue_mb, 1, 65536, "queued replication messages, MiB"},
      {"serve_queue_frames", &C::serve_queue_frames, 1, 10000000, "queued log/page requests"},
      {"serve_queue_mb", &C::serve_queue_mb, 1, 65536, "queued log/page requests, MiB"},
      {"write_queue_limit", &C::write_queue_limit, 1, 1000000, "writes waiting for a thread"},
      {"write_queue_mb", &C::write_queue_mb, 1, 65536, "writes waiting for a thread, MiB"},
      {"client_send_queue_limit", &C::client_send_queue_limit, 1, 10000000, "queued replies"},
      {"client_send_queue_mb", &C::client_send_queue_mb, 1, 65536, "queued replies, MiB"},
      {"max_subscribers", &C::max_subscribers, 1, 100000, "role-event subscribers"},
      {"delay_line_frames", &C::delay_line_frames, 1, 10000000, "frames held by a link delay"},
      {"delay_line_mb", &C::delay_line_mb, 1, 65536, "frames held by a link delay, MiB"},
      {"dead_link_ms", &C::dead_link_ms, 20, 600000,
       "tcp:// links: silence or unacknowledged data before a connection is re-dialled"},
  };
  return keys;
}

}  // namespace bp::board
