// Prometheus text from a board's status JSON (metrics.h). One function per
// status section; each family's samples are written together, and a family
// whose fields the status lacks is left out.
#include "board/metrics.h"

#include <charconv>
#include <cmath>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>

namespace bp::board {
namespace {

using json = nlohmann::json;
using Labels = std::vector<std::pair<std::string, std::string>>;

// The value at `path` under `j`, or null when a step is missing.
const json* At(const json& j, std::initializer_list<std::string_view> path) {
  const json* cur = &j;
  for (std::string_view key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool Numeric(const json* v) { return v && (v->is_number() || v->is_boolean()); }

std::string Escape(std::string_view s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
  return out;
}

// The shortest text that reads back as `d` (fixed or scientific, whichever
// is shorter), or in fixed notation (bucket bounds: "0.0001", not "1e-04").
std::string FormatDouble(double d, bool fixed = false) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[400];  // fixed notation of the largest double
  auto r = fixed ? std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed)
                 : std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

// A JSON number (integers exactly) or bool (0/1), divided by `divisor`
// (a division, not a multiplication by 1e-6: 1796249254020000 us is then
// exactly 1796249254.02 s).
std::string FormatValue(const json& v, double divisor) {
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (divisor == 1.0 && v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (divisor == 1.0 && v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return FormatDouble(v.get<double>() / divisor);
}

// Text exposition 0.0.4. Family() names the family the next samples
// belong to; its HELP and TYPE lines are written with its first sample.
class Writer {
 public:
  void Family(std::string name, const char* type, const char* help) {
    name_ = "backplane_" + std::move(name);
    type_ = type;
    help_ = help;
    headed_ = false;
  }
  // A sample of the current family; `suffix` for _bucket, _sum, _count.
  void Sample(const Labels& labels, const std::string& value, const char* suffix = "") {
    if (!headed_) {
      out_ += "# HELP " + name_ + " " + Escape(help_, false) + "\n# TYPE " + name_ + " " + type_ + "\n";
      headed_ = true;
    }
    out_ += name_ + suffix;
    if (!labels.empty()) {
      out_ += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        out_ += (i ? "," : "") + labels[i].first + "=\"" + Escape(labels[i].second, true) + "\"";
      }
      out_ += '}';
    }
    out_ += " " + value + "\n";
  }
  void Sample(const Labels& labels, const json* v, double divisor = 1.0) {
    if (Numeric(v)) Sample(labels, FormatValue(*v, divisor));
  }
  // A family of one unlabelled sample.
  void One(std::string name, const char* type, const char* help, const json* v,
           double divisor = 1.0) {
    Family(std::move(name), type, help);
    Sample({}, v, divisor);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_, name_, help_;
  const char* type_ = "";
  bool headed_ = false;
};

constexpr double kUs = 1e6, kMs = 1e3;  // divisors to seconds
constexpr const char* kGauge = "gauge";
constexpr const char* kCounter = "counter";

std::string Str(const json* v) {
  if (!v) return "";
  if (v->is_string()) return v->get<std::string>();
  return v->is_null() ? "" : v->dump();
}

// One sample per name in `states`, 1 for `current` and 0 for the others.
void OneHot(Writer& w, const Labels& base, const char* label, const std::string& current,
            std::initializer_list<const char*> states) {
  for (const char* s : states) {
    Labels l = base;
    l.emplace_back(label, s);
    w.Sample(l, current == s ? "1" : "0");
  }
}

void AddIdentity(Writer& w, const json& s) {
  w.Family("board_info", kGauge, "This board: slot, chassis, ack policy and bus security (value 1).");
  w.Sample({{"slot", Str(At(s, {"slot"}))},
            {"chassis", Str(At(s, {"chassis"}))},
            {"ack_policy", Str(At(s, {"ack_policy"}))},
            {"security", Str(At(s, {"security", "mode"}))}},
           "1");
  if (const json* role = At(s, {"role"}); role && role->is_string()) {
    w.Family("role", kGauge, "This board's replication role: 1 for the current one.");
    OneHot(w, {}, "role", role->get<std::string>(), {"starting", "replica", "master", "unconfirmed"});
  }
  w.One("generation", kGauge, "Berkeley DB replication generation (election epoch) this board is in.",
        At(s, {"generation"}));
  w.One("master_slot", kGauge, "Slot of the master this board knows (-1: none).", At(s, {"master"}));
  w.One("startup_complete", kGauge, "1 when this board is in sync with the master (or is master).",
        At(s, {"startup_complete"}));
  w.One("confirmed_master", kGauge,
        "1 when this board is master and a majority's heartbeats confirm it.", At(s, {"confirmed_master"}));
  w.One("panicked", kGauge, "1 after a Berkeley DB environment panic (the board exits).",
        At(s, {"panicked"}));
}

// OpenConfig's redundancy view: every board's redundant role as this board
// hears it (its own, and each peer's heartbeats). A peer not heard now has
// none: its last heartbeat's role would show a dead master as primary next
// to the new one.
void AddRedundantRoles(Writer& w, const json& s) {
  w.Family("redundant_role", kGauge,
           "Each board's redundant role as this board sees it (primary = master, secondary = "
           "replica): 1 for the current one, 0 for both while unknown, starting or not heard.");
  auto role = [](const std::string& r) { return r == "master" ? "primary" : r == "replica" ? "secondary" : ""; };
  OneHot(w, {{"slot", Str(At(s, {"slot"}))}}, "redundant_role", role(Str(At(s, {"role"}))),
         {"primary", "secondary"});
  if (const json* peers = At(s, {"peers"}); peers && peers->is_array()) {
    for (const json& p : *peers) {
      const json* alive = At(p, {"alive"});
      const bool heard = alive && alive->is_boolean() && alive->get<bool>();
      OneHot(w, {{"slot", Str(At(p, {"slot"}))}}, "redundant_role",
             heard ? role(Str(At(p, {"role"}))) : "", {"primary", "secondary"});
    }
  }
}

// The last change of master this board saw (events ring: new_master or
// became_master), the reason of the election that preceded it (the
// election_started detail up to "; "), and how long from that election's
// start to the new master.
void AddLastSwitchover(Writer& w, const json& s) {
  const json* events = At(s, {"events"});
  if (!events || !events->is_array()) return;
  const json* last = nullptr;
  const json* election = nullptr;  // the latest election_started before `last`
  const json* candidate = nullptr;
  for (const json& e : *events) {
    const std::string kind = Str(At(e, {"kind"}));
    if (kind == "election_started") candidate = &e;
    if (kind == "new_master" || kind == "became_master") {
      last = &e;
      election = candidate;
    }
  }
  if (!last) return;
  std::string reason = election ? Str(At(*election, {"detail"})) : "joined (no election held here)";
  if (size_t cut = reason.find("; "); cut != std::string::npos) reason.resize(cut);
  w.One("last_switchover_timestamp_seconds", kGauge,
        "Unix time this board last saw the master change (OpenConfig last-switchover-time).",
        At(*last, {"wall_us"}), kUs);
  w.Family("last_switchover_info", kGauge,
           "Last master change this board saw (value 1): the new master, the reason of the "
           "election before it, and its trigger (user_initiated for an admin request).");
  w.Sample({{"master", Str(At(*last, {"slot"}))},
            {"reason", reason},
            {"trigger", reason == "admin request" ? "user_initiated" : "system_initiated"}},
           "1");
  if (election && Numeric(At(*last, {"mono_us"})) && Numeric(At(*election, {"mono_us"}))) {
    const int64_t d = At(*last, {"mono_us"})->get<int64_t>() - At(*election, {"mono_us"})->get<int64_t>();
    w.Family("last_failover_duration_seconds", kGauge,
             "From the start of this board's last election to its learning of the new master "
             "(excludes the silence before the election: heartbeat_timeout_ms).");
    w.Sample({}, FormatDouble(double(d) / kUs));
  }
}

void AddElections(Writer& w, const json& s) {
  w.One("elections_total", kCounter, "Elections this board held.", At(s, {"elections", "held"}));
  w.One("elections_won_total", kCounter, "Elections this board won.", At(s, {"elections", "won"}));
  w.One("elections_refused_total", kCounter,
        "Elections this board did not call because they would wipe peers' data.",
        At(s, {"elections", "refused_would_wipe"}));
  w.One("last_election_duration_seconds", kGauge, "How long this board's last rep_elect took.",
        At(s, {"elections", "last_election_us"}), kUs);
  w.One("last_promotion_duration_seconds", kGauge,
        "How long this board's last promotion to master took (rep_start MASTER).",
        At(s, {"elections", "last_promotion_us"}), kUs);
  w.One("last_demotion_duration_seconds", kGauge,
        "How long this board's last step-down took (rep_start CLIENT).",
        At(s, {"elections", "last_demotion_us"}), kUs);
  w.One("master_changes_total", kCounter, "Changes of master Berkeley DB saw (rep_stat).",
        At(s, {"rep", "master_changes"}));
  w.One("dupmasters_total", kCounter, "Duplicate masters Berkeley DB detected (rep_stat).",
        At(s, {"rep", "dupmasters"}));
}

void AddPeers(Writer& w, const json& s) {
  const json* peers = At(s, {"peers"});
  if (!peers || !peers->is_array()) return;
  struct Field {
    const char* name;
    const char* type;
    const char* help;
    const char* key;
  };
  static const Field fields[] = {
      {"peer_up", kGauge, "1 while the peer's heartbeats arrive.", "alive"},
      {"peer_connected", kGauge, "1 while the bus link to the peer is connected.", "connected"},
      {"peer_generation", kGauge, "The generation the peer's heartbeats carry.", "generation"},
      {"peer_lag_bytes", kGauge, "How far the peer's log is behind this master's (master only).",
       "lag_bytes"},
  };
  for (const Field& f : fields) {
    w.Family(f.name, f.type, f.help);
    for (const json& p : *peers) w.Sample({{"peer", Str(At(p, {"slot"}))}}, At(p, {f.key}));
  }
  w.Family("peer_heard_seconds", kGauge, "Seconds since the peer's last heartbeat.");
  for (const json& p : *peers) {
    const json* ago = At(p, {"heard_ms_ago"});
    if (Numeric(ago) && ago->get<double>() >= 0) w.Sample({{"peer", Str(At(p, {"slot"}))}}, ago, kMs);
  }
}

void AddAcksAndWrites(Writer& w, const json& s) {
  w.One("acks_needed", kGauge, "Acknowledgements a write needs under the ack policy now.",
        At(s, {"acks", "needed"}));
  w.One("perm_waits_total", kCounter, "Commits that waited for acknowledgements.",
        At(s, {"acks", "perm_waits"}));
  w.One("perm_failures_total", kCounter,
        "Commits whose acknowledgements did not arrive within ack_timeout_ms.",
        At(s, {"acks", "perm_failures"}));
  w.One("acks_sent_total", kCounter, "Acknowledgements this board sent to the master.",
        At(s, {"acks", "acks_sent"}));
  w.One("writes_total", kCounter, "Writes committed on this board as master.", At(s, {"writes", "committed"}));
  w.One("writes_not_durable_total", kCounter, "Committed writes that missed their ack policy.",
        At(s, {"writes", "not_durable"}));
  w.One("writes_forwarded_total", kCounter, "Writes this board forwarded to the master.",
        At(s, {"writes", "forwarded"}));
  w.One("writes_duplicate_total", kCounter, "Retried writes found already applied (exactly once).",
        At(s, {"writes", "duplicates"}));
  w.One("writes_throttled_total", kCounter, "Writes slowed down for lagging replicas.",
        At(s, {"writes", "throttled"}));
}

// status "client_writes" "latency" (latency_histogram.h) as a histogram.
void AddWriteLatency(Writer& w, const json& s) {
  const json* le = At(s, {"client_writes", "latency", "le_us"});
  const json* counts = At(s, {"client_writes", "latency", "counts"});
  const json* sum = At(s, {"client_writes", "latency", "sum_us"});
  if (!le || !counts || !le->is_array() || !counts->is_array() || counts->size() != le->size() + 1 ||
      !Numeric(sum)) {
    return;
  }
  w.Family("client_write_duration_seconds", "histogram",
           "Writes answered OK at this board's client endpoint, from request to reply (commit and "
           "acks on the master, plus forwarding on a replica).");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts->size(); ++i) {
    cumulative += (*counts)[i].get<uint64_t>();
    const std::string bound = i < le->size() ? FormatDouble((*le)[i].get<double>() / kUs, /*fixed=*/true) : "+Inf";
    w.Sample({{"le", bound}}, std::to_string(cumulative), "_bucket");
  }
  w.Sample({}, FormatValue(*sum, kUs), "_sum");
  w.Sample({}, std::to_string(cumulative), "_count");
}

void AddReinit(Writer& w, const json& s) {
  w.One("reinit", kGauge, "1 while this board is being re-initialised (internal init).", At(s, {"reinit"}));
  const json* r = At(s, {"reinit_progress"});
  if (!r) return;
  if (const json* phase = At(*r, {"phase"}); phase && phase->is_string()) {
    w.Family("reinit_phase", kGauge, "Re-init phase as status reports it, 1 for the current one (meaningful while backplane_reinit is 1).");
    OneHot(w, {}, "phase", phase->get<std::string>(), {"requesting", "pages", "logs", "done"});
  }
  w.One("reinit_received_bytes", kGauge, "Bytes of pages received by the current re-init.",
        At(*r, {"bytes_received"}));
  w.One("reinit_expected_bytes", kGauge, "Bytes the current re-init expects (the master's size).",
        At(*r, {"total_bytes"}));
  w.One("reinit_received_pages", kGauge, "Pages received by the current re-init.", At(*r, {"pages_received"}));
  w.One("reinit_progress_ratio", kGauge, "Share of the re-init done (0 to 1).", At(*r, {"percent"}), 100);
  w.One("reinit_rate_bytes_per_second", kGauge, "Re-init transfer rate.", At(*r, {"rate_bytes_per_s"}));
  w.One("reinit_eta_seconds", kGauge, "Estimated time left in the re-init.", At(*r, {"eta_ms"}), kMs);
}

void AddCache(Writer& w, const json& s) {
  w.One("cache_bytes", kGauge, "Size of this board's Berkeley DB cache.", At(s, {"memory", "cache_bytes"}));
  w.One("cache_pages", kGauge, "Pages in the cache.", At(s, {"memory", "cache_pages"}));
  w.One("cache_dirty_pages", kGauge, "Dirty pages in the cache.", At(s, {"memory", "cache_dirty_pages"}));
  w.One("data_bytes", kGauge, "Bytes of live data pages (all tables).", At(s, {"memory", "data_bytes"}));
  w.One("data_limit_bytes", kGauge,
        "Data size beyond which the master refuses writes (cache_high_water_pct of the smallest cache).",
        At(s, {"memory", "limit_bytes"}));
  w.One("memory_refused_writes_total", kCounter, "Writes refused for memory (over the limit).",
        At(s, {"memory", "refused_writes"}));
  const json* tables = At(s, {"memory", "tables"});
  if (!tables || !tables->is_object()) return;
  w.Family("table_bytes", kGauge, "Bytes of live pages per table.");
  for (const auto& [name, t] : tables->items()) w.Sample({{"table", name}}, At(t, {"bytes"}));
}

void AddLog(Writer& w, const json& s) {
  const json* l = At(s, {"log"});
  if (!l) return;
  w.One("log_ring_bytes", kGauge, "Size of the in-memory log ring (log_buffer_mb).", At(*l, {"buffer_bytes"}));
  w.One("log_since_checkpoint_bytes", kGauge, "Log written since the last checkpoint (ring use).",
        At(*l, {"since_checkpoint_bytes"}));
  w.One("log_since_checkpoint_max_bytes", kGauge, "Largest log since a checkpoint seen.",
        At(*l, {"since_checkpoint_max_bytes"}));
  w.One("log_in_flight_bytes", kGauge, "Log reserved by writes in flight.", At(*l, {"in_flight_bytes"}));
  w.One("log_in_flight_limit_bytes", kGauge, "Log budget writes in flight may span (half the ring).",
        At(*l, {"in_flight_share_bytes"}));
  w.One("checkpoints_total", kCounter, "Checkpoints taken.", At(*l, {"checkpoints"}));
  const json* last = At(*l, {"last_checkpoint_unix_ms"});
  if (Numeric(last) && last->get<double>() > 0) {
    w.One("last_checkpoint_timestamp_seconds", kGauge, "Unix time of the last checkpoint.", last, kMs);
  }
  w.One("log_budget_waits_total", kCounter, "Transactions that waited for room in the log budget.",
        At(*l, {"budget_waits"}));
  w.One("log_budget_refused_total", kCounter, "Transactions refused for lack of log budget.",
        At(*l, {"budget_refused"}));
}

// Frames refused, by where (the bus's envelope checks, the engine's frame
// checks) and why.
void AddRefusedFrames(Writer& w, const json& s) {
  w.Family("refused_frames_total", kCounter,
           "Frames refused: stage bus (envelope checks) or engine (frame checks), by reason.");
  for (const char* r : {"malformed", "unknown_slot", "wrong_chassis", "wrong_version", "unauthenticated"}) {
    w.Sample({{"stage", "bus"}, {"reason", r}}, At(s, {"bus", r}));
  }
  if (const json* refused = At(s, {"refused"}); refused && refused->is_object()) {
    for (const auto& [reason, n] : refused->items()) {
      if (reason != "total") w.Sample({{"stage", "engine"}, {"reason", reason}}, &n);
    }
  }
}

void AddBus(Writer& w, const json& s) {
  w.One("bus_frames_sent_total", kCounter, "Frames this board sent on the bus.", At(s, {"bus", "sent"}));
  w.One("bus_frames_received_total", kCounter, "Frames this board received.", At(s, {"bus", "received"}));
  w.One("bus_frames_dropped_total", kCounter, "Outgoing frames dropped (all links).", At(s, {"bus", "dropped"}));
  w.One("bus_partition_dropped_in_total", kCounter, "Incoming frames dropped by an emulated cut.",
        At(s, {"bus", "dropped_partition_in"}));
  AddRefusedFrames(w, s);
  const json* links = At(s, {"bus", "links"});
  if (!links || !links->is_array()) return;
  w.Family("bus_link_connected", kGauge, "1 while the bus link to the peer is connected.");
  for (const json& l : *links) w.Sample({{"peer", Str(At(l, {"slot"}))}}, At(l, {"connected"}));
  w.Family("bus_link_frames_sent_total", kCounter, "Frames sent to the peer.");
  for (const json& l : *links) w.Sample({{"peer", Str(At(l, {"slot"}))}}, At(l, {"sent"}));
  w.Family("bus_link_frames_received_total", kCounter, "Frames received from the peer.");
  for (const json& l : *links) w.Sample({{"peer", Str(At(l, {"slot"}))}}, At(l, {"received"}));
  w.Family("bus_link_frames_dropped_total", kCounter, "Frames to the peer dropped, by reason.");
  for (const json& l : *links) {
    for (const char* r : {"full", "unconnected", "fault", "delay_full"}) {
      w.Sample({{"peer", Str(At(l, {"slot"}))}, {"reason", r}}, At(l, {std::string("dropped_") + r}));
    }
  }
}

void AddQueues(Writer& w, const json& s) {
  const json* queues = At(s, {"queues"});
  if (!queues || !queues->is_object()) return;
  struct Field {
    const char* name;
    const char* type;
    const char* help;
    const char* key;
  };
  static const Field fields[] = {
      {"queue_depth", kGauge, "Items waiting in the bounded queue.", "depth"},
      {"queue_bytes", kGauge, "Bytes waiting in the bounded queue.", "bytes"},
      {"queue_peak_depth", kGauge, "Most items the queue held.", "peak"},
      {"queue_limit", kGauge, "The queue's bound in items.", "limit"},
      {"queue_limit_bytes", kGauge, "The queue's bound in bytes.", "limit_bytes"},
      {"queue_refused_total", kCounter, "Items refused because the queue was full.", "refused"},
  };
  for (const Field& f : fields) {
    w.Family(f.name, f.type, f.help);
    for (const auto& [name, q] : queues->items()) w.Sample({{"queue", name}}, At(q, {f.key}));
  }
}

void AddReplication(Writer& w, const json& s) {
  w.One("rep_messages_processed_total", kCounter, "Replication messages processed.",
        At(s, {"messages", "processed"}));
  w.One("rep_message_errors_total", kCounter, "Replication messages Berkeley DB failed on.",
        At(s, {"messages", "errors"}));
  w.One("rep_txns_applied_total", kCounter, "Transactions applied as a replica (rep_stat).",
        At(s, {"rep", "txns_applied"}));
  w.One("rep_log_records_total", kCounter, "Log records received (rep_stat).", At(s, {"rep", "log_records"}));
  w.One("rep_send_failures_total", kCounter, "Replication messages the transport failed to send.",
        At(s, {"rep", "msgs_send_failures"}));
  w.One("request_ids", kGauge, "Request ids remembered for exactly-once writes.", At(s, {"requests", "ids"}));
  w.One("request_ids_limit", kGauge, "Most request ids the budget allows.", At(s, {"requests", "max_ids"}));
  w.One("zap_accepted_total", kCounter, "Bus CURVE handshakes accepted.", At(s, {"security", "zap_accepted"}));
  w.One("zap_refused_total", kCounter, "Bus CURVE handshakes refused.", At(s, {"security", "zap_refused"}));
}

}  // namespace

std::string StatusToPrometheus(const nlohmann::json& status, const MetricsContext& ctx) {
  Writer w;
  if (!Numeric(At(status, {"slot"}))) return "";  // not a board's status
  AddIdentity(w, status);
  AddRedundantRoles(w, status);
  AddLastSwitchover(w, status);
  AddElections(w, status);
  AddPeers(w, status);
  AddAcksAndWrites(w, status);
  AddWriteLatency(w, status);
  AddReinit(w, status);
  AddCache(w, status);
  AddLog(w, status);
  AddBus(w, status);
  AddQueues(w, status);
  AddReplication(w, status);
  if (ctx.scrape_status_seconds >= 0) {
    w.Family("scrape_status_seconds", kGauge, "How long building this scrape's status took.");
    w.Sample({}, FormatDouble(ctx.scrape_status_seconds));
  }
  return w.Take();
}

}  // namespace bp::board
