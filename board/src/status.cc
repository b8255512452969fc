// Status (JSON and a human view) and admin commands.
#include <db.h>

#include <sstream>

#include "board/decode.h"
#include "board/engine.h"
#include "board/lag.h"

namespace bp::board {
namespace {

nlohmann::json LinkJson(const bus::LinkStats& l) {
  return {{"slot", l.slot},
          {"connected", l.connected},
          {"sent", l.sent},
          {"received", l.received},
          {"dropped_full", l.dropped_full},
          {"dropped_unconnected", l.dropped_unconnected},
          {"dropped_fault", l.dropped_fault},
          {"dropped_delay_full", l.dropped_delay_full},
          {"fault",
           {{"delay_us", l.fault.delay_us},
            {"loss", l.fault.loss},
            {"cut_out", l.fault.cut_out},
            {"cut_in", l.fault.cut_in}}}};
}

}  // namespace

nlohmann::json QueueJson(const QueueStats& q, std::vector<std::string> keys) {
  auto limit = [](size_t v) { return v == SIZE_MAX ? nlohmann::json(nullptr) : nlohmann::json(v); };
  return {{"depth", q.depth},         {"bytes", q.bytes},
          {"peak", q.peak_depth},     {"limit", limit(q.limits.max_items)},
          {"limit_bytes", limit(q.limits.max_bytes)}, {"refused", q.refused},
          {"keys", keys}};
}

// Status, assembled section by section (each below owns its keys; tools and
// tests read them, so a key is renamed only with its readers).
nlohmann::json Engine::StatusJson() {
  using nlohmann::json;
  const int64_t now = clock_.NowMicros();
  json j;
  j["slot"] = opts_.self_slot;
  j["chassis"] = opts_.config.chassis_id;
  j["seed"] = seed_;
  const RoleView v = roles_.View();
  // "role" is what the operator and the shim see (Liveness::PresentedRole:
  // "unconfirmed" for a master no majority follows); "bdb_role" is Berkeley DB's.
  j["role"] = PresentedRole();
  j["bdb_role"] = RoleName(v.role);
  j["master"] = v.master;
  j["generation"] = v.gen;
  j["startup_complete"] = v.startup_done;
  j["reinit"] = liveness_.reinit();
  j["reinit_progress"] = ReinitProgressJson();
  j["ack_policy"] = AckPolicyName(opts_.config.ack_policy);
  j["confirmed_master"] = ConfirmedMaster(now);
  const bus::Lsn next = liveness_.next_lsn();
  j["next_lsn"] = {next.file, next.offset};
  AddRepStatJson(now, &j);
  j["peers"] = PeersJson(now, next);
  j["acks"] = durability_.Stats();
  j["acks"]["acks_sent"] = applier_.stats().acks_sent;
  j["writes"] = WritesJson();
  j["elections"] = roles_.ElectionsJson();
  j["refused"] = guard_.RefusedJson();  // frame checks (frame_checks.h)
  j["config"] = guard_.ConfigJson(now, int64_t(opts_.config.heartbeat_timeout_ms) * 1000);
  j["messages"] = MessagesJson();
  j["log"] = LogJson(env_->Stats());
  const bus::BusCounters bc = bus_->Counters();
  j["bus"] = BusJson(bc);
  j["events"] = EventsJson();
  j["memory"] = memory_.Stats();
  j["memory"]["refusing_to_join"] = UnfitReason();
  j["requests"] = request_ids_.Stats();
  j["panicked"] = panicked_.load();
  j["queues"] = QueuesJson(bc);
  j["security"] = SecurityJson();
  if (opts_.config.security == SecurityMode::kNone) {
    j["warning"] = "security none: the bus accepts frames from any process that can reach it; "
                   "set security = \"curve\" with keys (README \"Security\")";
  }
  return j;
}

// Berkeley DB's replication figures ("rep") and the lease view ("leases"),
// both from one rep_stat; neither key is set when rep_stat fails.
void Engine::AddRepStatJson(int64_t now, nlohmann::json* j) {
  DB_REP_STAT* sp = nullptr;
  DB_ENV* env = env_->raw();
  if (env->rep_stat(env, &sp, 0) != 0 || sp == nullptr) return;
  (*j)["rep"] = {{"max_perm_lsn", {sp->st_max_perm_lsn.file, sp->st_max_perm_lsn.offset}},
                 {"elections", sp->st_elections},
                 {"elections_won", sp->st_elections_won},
                 {"master_changes", sp->st_master_changes},
                 {"dupmasters", sp->st_dupmasters},
                 {"outdated", sp->st_outdated},
                 {"pages_received", sp->st_pg_records},
                 {"pages_requested", sp->st_pg_requested},
                 {"log_records", sp->st_log_records},
                 {"log_requested", sp->st_log_requested},
                 {"txns_applied", sp->st_txns_applied},
                 {"client_served", sp->st_client_svc_req},
                 {"client_missed", sp->st_client_svc_miss},
                 {"msgs_send_failures", sp->st_msgs_send_failures},
                 {"next_page", sp->st_next_pg},
                 {"waiting_page", sp->st_waiting_pg}};
  // Master leases: Berkeley DB's lease counters, and whether this master
  // may serve LINEARIZABLE reads now (confirmed by a majority's heartbeats
  // and no lease refusal from Berkeley DB within the last lease timeout).
  const bool leases = opts_.config.leases;
  const KvService::Stats ks = service_.stats();
  const int64_t last_exp = ks.last_lease_expired_us;
  const int64_t lease_us = int64_t(opts_.config.lease_timeout_ms) * 1000;
  (*j)["leases"] = {{"enabled", leases},
                    {"lease_timeout_ms", opts_.config.lease_timeout_ms},
                    {"lease_chk", sp->st_lease_chk},
                    {"lease_chk_misses", sp->st_lease_chk_misses},
                    {"lease_chk_refresh", sp->st_lease_chk_refresh},
                    {"lease_sends", sp->st_lease_sends},
                    {"expired_refusals", ks.lease_expired},
                    {"last_expired_ms_ago", last_exp ? (now - last_exp) / 1000 : -1},
                    {"valid", leases && ConfirmedMaster(now) &&
                                  (last_exp == 0 || now - last_exp > lease_us)}};
  free(sp);
}

// Every peer as this board hears it; on a master, how far behind it is.
nlohmann::json Engine::PeersJson(int64_t now, bus::Lsn next) {
  const int64_t file_bytes = int64_t(env_->options().EffectiveLogFileBytes());
  nlohmann::json peers = nlohmann::json::array();
  for (const PeerView& p : peers_.Snapshot(now)) {
    nlohmann::json pj = {{"slot", p.slot},
                         {"alive", p.alive},
                         {"connected", p.connected},
                         {"electable", p.electable},
                         {"role", p.hb.role == wire::Role::Master   ? "master"
                                  : p.hb.role == wire::Role::Client ? "replica"
                                                                    : "unknown"},
                         {"generation", p.hb.gen},
                         {"startup_complete", p.hb.startup_done},
                         {"reinit", p.hb.reinit},
                         {"heard_ms_ago",
                          p.last_heartbeat_us ? (now - p.last_heartbeat_us) / 1000 : -1}};
    if (roles_.role() == Role::kMaster) pj["lag_bytes"] = LagBytes(next, p.hb.next_lsn, file_bytes);
    peers.push_back(pj);
  }
  return peers;
}

nlohmann::json Engine::WritesJson() const {
  const KvService::Stats ks = service_.stats();
  return {{"committed", ks.committed},
          {"not_durable", ks.not_durable},
          {"forwarded", forwarder_.forwarded()},
          {"duplicates", ks.duplicates},
          {"throttled", ks.throttled},
          {"forwarded_in", ks.forwarded_in},
          {"forwarded_in_done", ks.forwarded_in_done}};
}

nlohmann::json Engine::MessagesJson() const {
  const RepTransport::Stats ts = transport_.stats();
  const ReplicaApplier::Stats as = applier_.stats();
  return {{"processed", as.processed},
          {"isperm", as.isperm},
          {"notperm", as.notperm},
          {"ignored", as.ignored},
          {"dupmaster_ignored", as.dupmaster_ignored},
          {"errors", as.errors},
          {"queued", as.rep.depth},
          {"anywhere_routed", ts.anywhere_routed},
          {"routed_kept", ts.routed_kept},
          {"routed_max", RepTransport::kMaxRouted},
          {"routed_evicted", ts.routed_evicted},
          {"routed_resent", ts.routed_resent},
          {"rerequests", ts.rerequests},
          {"reroute_failed", ts.reroute_failed},
          {"send_failed", ts.send_failed}};
}

nlohmann::json Engine::LogJson(const memenv::EnvStats& es) {
  return {{"buffer_bytes", es.log_buffer_bytes},
          {"since_checkpoint_bytes", es.log_since_checkpoint_bytes},
          {"since_checkpoint_max_bytes", es.log_since_checkpoint_max_bytes},
          {"checkpoints", es.checkpoints},
          {"last_checkpoint_unix_ms", es.last_checkpoint_unix_ms},
          {"in_flight_share_bytes", es.log_in_flight_share_bytes},
          {"in_flight_bytes", es.log_in_flight_bytes},
          {"in_flight_max_bytes", es.log_in_flight_max_bytes},
          {"budget_waits", es.log_budget_waits},
          {"budget_refused", es.log_budget_refused},
          {"budget_reruns", es.log_budget_reruns}};
}

nlohmann::json Engine::BusJson(const bus::BusCounters& bc) {
  nlohmann::json links = nlohmann::json::array();
  for (const auto& l : bus_->Links()) links.push_back(LinkJson(l));
  return {{"sent", bc.sent},
          {"received", bc.received},
          {"dropped", bc.dropped},
          {"malformed", bc.malformed},
          {"unknown_slot", bc.unknown_slot},
          {"wrong_chassis", bc.wrong_chassis},
          {"wrong_version", bc.wrong_version},
          {"dropped_partition_in", bc.dropped_fault_in},
          {"unauthenticated", bc.unauthenticated},
          {"links", links}};
}

nlohmann::json Engine::EventsJson() {
  nlohmann::json evs = nlohmann::json::array();
  for (const BoardEvent& e : events_.Recent()) {
    evs.push_back({{"mono_us", e.mono_us},
                   {"wall_us", e.wall_us},
                   {"kind", EventKindName(e.kind)},
                   {"slot", e.slot},
                   {"gen", e.gen},
                   {"detail", e.detail}});
  }
  return evs;
}

// Every bounded queue: depth, bytes, limits, refused (client_send and
// subscribers are added by the client endpoint, client_server.cc).
nlohmann::json Engine::QueuesJson(const bus::BusCounters& bc) {
  QueueStats delay;
  delay.depth = bc.delay_line_depth;
  delay.bytes = bc.delay_line_bytes;
  delay.peak_depth = bc.delay_line_peak;
  delay.limits = {size_t(opts_.config.delay_line_frames), size_t(opts_.config.delay_line_mb) << 20};
  delay.refused = bc.delay_line_refused;
  const ReplicaApplier::Stats as = applier_.stats();
  return {{"rep", QueueJson(as.rep, {"rep_queue_frames", "rep_queue_mb"})},
          {"serve", QueueJson(as.serve, {"serve_queue_frames", "serve_queue_mb"})},
          {"write_pool", QueueJson(service_.stats().write_pool, {"write_queue_limit", "write_queue_mb"})},
          {"delay_line", QueueJson(delay, {"delay_line_frames", "delay_line_mb"})}};
}

std::string Engine::StatusText() {
  nlohmann::json j = StatusJson();
  std::ostringstream o;
  o << "board " << j["slot"] << "  role " << j["role"].get<std::string>() << "  master "
    << j["master"] << "  gen " << j["generation"] << "  in sync "
    << (j["startup_complete"].get<bool>() ? "yes" : "no") << "\n" << ReinitProgressText(ReinitProgressNow());
  o << "  acks needed " << j["acks"]["needed"] << ", perm failures " << j["acks"]["perm_failures"]
    << ", writes " << j["writes"]["committed"] << " (" << j["writes"]["not_durable"]
    << " not durable)\n";
  o << "  bus sent " << j["bus"]["sent"] << " received " << j["bus"]["received"] << " dropped "
    << j["bus"]["dropped"] << " malformed " << j["bus"]["malformed"] << "\n";
  o << "  security " << j["security"]["mode"].get<std::string>() << ": zap accepted "
    << j["security"]["zap_accepted"] << " refused " << j["security"]["zap_refused"]
    << ", unauthenticated frames " << j["security"]["unauthenticated"] << "\n";
  if (j.contains("warning")) o << "  WARNING: " << j["warning"].get<std::string>() << "\n";
  if (j["refused"]["total"].get<uint64_t>() > 0) {
    o << "  refused frames " << j["refused"]["total"] << ":";
    for (const auto& [reason, n] : j["refused"].items()) {
      if (reason != "total" && n.get<uint64_t>() > 0) o << " " << reason << " " << n;
    }
    o << "\n";
  }
  if (!j["config"]["out"].get<std::string>().empty()) o << "  " << j["config"]["out"].get<std::string>() << "\n";
  for (const auto& p : j["peers"]) {
    o << "  peer " << p["slot"] << ": " << p["role"].get<std::string>()
      << (p["alive"].get<bool>() ? " alive" : " DOWN") << " gen " << p["generation"];
    if (p.contains("lag_bytes")) o << " lag " << p["lag_bytes"] << " B";
    o << "\n";
  }
  return o.str();
}

// Admin commands:
//   {"cmd":"status"}                     -> the status JSON
//   {"cmd":"link","slot":N,"delay_us":..,"loss":..,"cut_out":..,"cut_in":..}
//   {"cmd":"partition"}                  -> cut every link both ways ("slots": [..] for some)
//   {"cmd":"heal"}                       -> clear every link fault
//   {"cmd":"elect"}                      -> ask for an election now
//   {"cmd":"reload_keys"}                -> re-read the peers' public keys (rotation)
nlohmann::json Engine::Admin(const nlohmann::json& c) {
  using nlohmann::json;
  // Not c.value("cmd", ""): it throws on a non-object or a non-string
  // "cmd", outside any handler (that ended the board: fuzz/admin_regression_test).
  const std::string cmd = AdminCommandName(c);
  auto fail = [](const std::string& m) { return json{{"ok", false}, {"error", m}}; };
  if (!c.is_object() || !c.contains("cmd") || !c["cmd"].is_string()) {
    return fail("an admin command is a JSON object with a string \"cmd\", e.g. {\"cmd\":\"status\"}");
  }
  try {
    if (cmd == "status") return StatusJson();
    if (cmd == "text") return json{{"ok", true}, {"text", StatusText()}};
    if (cmd == "link") {
      // Typed first: json::value converts a float such as 1e300 to an
      // integer with undefined behaviour.
      for (const char* k : {"slot", "delay_us"}) {
        if (c.contains(k) && !c[k].is_number_integer()) return fail(std::string("'") + k + "' must be an integer");
      }
      if (c.contains("loss") && !c["loss"].is_number()) return fail("'loss' must be a number");
      bus::LinkFault f;
      f.delay_us = c.value("delay_us", 0u);
      f.loss = c.value("loss", 0.0);
      f.cut_out = c.value("cut_out", false);
      f.cut_in = c.value("cut_in", false);
      Status s = bus_->SetLinkFault(c.at("slot").get<int>(), f);
      return s.ok() ? json{{"ok", true}} : fail(s.ToString());
    }
    if (cmd == "partition" || cmd == "heal") {
      bool cut = cmd == "partition";
      std::vector<int> slots;
      if (c.contains("slots")) {
        slots = c["slots"].get<std::vector<int>>();
      } else {
        for (const auto& b : opts_.config.boards) {
          if (b.slot != opts_.self_slot) slots.push_back(b.slot);
        }
      }
      for (int s : slots) {
        bus::LinkFault f;
        f.cut_out = f.cut_in = cut;
        Status st = bus_->SetLinkFault(s, f);
        if (!st.ok()) return fail(st.ToString());
      }
      return json{{"ok", true}, {"slots", slots}};
    }
    if (cmd == "reload_keys") {
      auto changed = ReloadPeerKeys();
      if (!changed.ok()) return fail(changed.status().ToString());
      return json{{"ok", true}, {"changed", changed.value()}};
    }
    if (cmd == "elect") {
      roles_.RequestElection("admin request");
      return json{{"ok", true}};
    }
  } catch (const std::exception& e) {
    return fail(std::string("bad admin command: ") + e.what());
  }
  return fail("unknown admin command '" + cmd + "'; use status, text, link, partition, heal, elect, reload_keys");
}

}  // namespace bp::board
