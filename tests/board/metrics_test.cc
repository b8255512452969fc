// StatusToPrometheus (board/metrics.h): a board's status JSON as Prometheus
// text; and the metrics_endpoint key (ParseMetricsEndpoint, config.h).
#include "board/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "board/config.h"

namespace bp::board {
namespace {

using nlohmann::json;

// A master's status as the client endpoint serves it (Engine::StatusJson
// plus ClientServer's sections), trimmed from a 3-board chassis, with
// figures made non-zero.
json MasterStatus() {
  return json::parse(R"({
    "slot": 2, "chassis": 7, "role": "master", "master": 2, "generation": 3,
    "startup_complete": true, "reinit": false, "ack_policy": "quorum", "confirmed_master": true,
    "panicked": false,
    "reinit_progress": {"phase": "done", "bytes_received": 0, "pages_received": 0,
                        "total_bytes": null, "percent": null, "rate_bytes_per_s": null,
                        "eta_ms": 0},
    "rep": {"master_changes": 3, "dupmasters": 0, "txns_applied": 5, "log_records": 9,
            "msgs_send_failures": 1},
    "peers": [
      {"slot": 1, "alive": true, "connected": true, "role": "replica", "generation": 3,
       "heard_ms_ago": 4, "lag_bytes": 4096},
      {"slot": 3, "alive": false, "connected": false, "role": "unknown", "generation": 2,
       "heard_ms_ago": -1, "lag_bytes": 0}],
    "acks": {"needed": 1, "perm_waits": 40, "perm_failures": 2, "acks_sent": 0},
    "writes": {"committed": 40, "not_durable": 2, "forwarded": 0, "duplicates": 1, "throttled": 0},
    "elections": {"held": 2, "won": 1, "last_election_us": 5916, "last_promotion_us": 146,
                  "last_demotion_us": 0, "refused_would_wipe": 0,
                  "last_reason": "master heartbeats stopped"},
    "refused": {"ack_beyond_log": 3, "config_mismatch": 0, "total": 3},
    "log": {"buffer_bytes": 16777216, "since_checkpoint_bytes": 2836,
            "since_checkpoint_max_bytes": 4000, "in_flight_bytes": 0,
            "in_flight_share_bytes": 8388608, "checkpoints": 1,
            "last_checkpoint_unix_ms": 1796249252000, "budget_waits": 0, "budget_refused": 0},
    "bus": {"sent": 42, "received": 35, "dropped": 10, "malformed": 1, "unknown_slot": 0,
            "wrong_chassis": 2, "wrong_version": 0, "unauthenticated": 0,
            "dropped_partition_in": 0,
            "links": [{"slot": 1, "connected": true, "sent": 21, "received": 18,
                       "dropped_full": 0, "dropped_unconnected": 5, "dropped_fault": 0,
                       "dropped_delay_full": 0}]},
    "events": [
      {"kind": "became_client", "slot": -1, "gen": 0, "detail": "", "mono_us": 1000000,
       "wall_us": 1796249250000000},
      {"kind": "election_started", "slot": -1, "gen": 0, "mono_us": 2000000,
       "wall_us": 1796249251000000, "detail": "no master; nsites=3 nvotes=2"},
      {"kind": "new_master", "slot": 1, "gen": 1, "detail": "", "mono_us": 2010000,
       "wall_us": 1796249251010000},
      {"kind": "election_started", "slot": -1, "gen": 2, "mono_us": 5000000,
       "wall_us": 1796249254000000, "detail": "master heartbeats stopped; nsites=3 nvotes=2"},
      {"kind": "became_master", "slot": 2, "gen": 3, "detail": "promotion took 146 us",
       "mono_us": 5020000, "wall_us": 1796249254020000},
      {"kind": "peer_down", "slot": 3, "gen": 3, "detail": "", "mono_us": 6000000,
       "wall_us": 1796249255000000}],
    "memory": {"cache_bytes": 268435456, "cache_pages": 10, "cache_dirty_pages": 2,
               "data_bytes": 8192, "limit_bytes": 228170137, "refused_writes": 0,
               "tables": {"data": {"bytes": 8192}}},
    "requests": {"ids": 40, "max_ids": 372827},
    "security": {"mode": "curve", "zap_accepted": 4, "zap_refused": 1},
    "messages": {"processed": 14, "errors": 0},
    "queues": {"rep": {"depth": 0, "bytes": 0, "peak": 2, "limit": 100000,
                       "limit_bytes": 67108864, "refused": 0},
               "replica_reads": {"depth": 0, "bytes": 0, "peak": 0, "limit": 10000,
                                 "limit_bytes": null, "refused": 0}},
    "client_writes": {"latency": {
      "le_us": [100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
                1000000, 2500000, 5000000, 10000000],
      "counts": [0, 0, 10, 20, 5, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
      "count": 40, "sum_us": 61000000}}
  })");
}

// "name{labels}" -> value, for every sample line.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    m[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return m;
}

TEST(MetricsTest, RoleGenerationAndMasterSlotOfAMaster) {
  auto s = Samples(StatusToPrometheus(MasterStatus()));
  EXPECT_EQ(s["backplane_role{role=\"master\"}"], "1");
  EXPECT_EQ(s["backplane_role{role=\"replica\"}"], "0");
  EXPECT_EQ(s["backplane_role{role=\"starting\"}"], "0");
  EXPECT_EQ(s["backplane_generation"], "3");
  EXPECT_EQ(s["backplane_master_slot"], "2");
  EXPECT_EQ(s["backplane_confirmed_master"], "1");
  EXPECT_EQ(s["backplane_board_info{slot=\"2\",chassis=\"7\",ack_policy=\"quorum\",security=\"curve\"}"], "1");
}

TEST(MetricsTest, PeerLagAcksPermFailuresAndElections) {
  auto s = Samples(StatusToPrometheus(MasterStatus()));
  EXPECT_EQ(s["backplane_peer_lag_bytes{peer=\"1\"}"], "4096");
  EXPECT_EQ(s["backplane_peer_up{peer=\"3\"}"], "0");
  EXPECT_EQ(s["backplane_peer_heard_seconds{peer=\"1\"}"], "0.004");
  EXPECT_EQ(s.count("backplane_peer_heard_seconds{peer=\"3\"}"), 0u) << "never heard: no sample";
  EXPECT_EQ(s["backplane_perm_failures_total"], "2");
  EXPECT_EQ(s["backplane_perm_waits_total"], "40");
  EXPECT_EQ(s["backplane_elections_total"], "2");
  EXPECT_EQ(s["backplane_elections_won_total"], "1");
  EXPECT_EQ(s["backplane_last_election_duration_seconds"], "0.005916");
}

TEST(MetricsTest, WriteLatencyIsACumulativeHistogramInSeconds) {
  auto s = Samples(StatusToPrometheus(MasterStatus()));
  EXPECT_EQ(s["backplane_client_write_duration_seconds_bucket{le=\"0.0001\"}"], "0");
  EXPECT_EQ(s["backplane_client_write_duration_seconds_bucket{le=\"0.0005\"}"], "10");
  EXPECT_EQ(s["backplane_client_write_duration_seconds_bucket{le=\"0.001\"}"], "30");
  EXPECT_EQ(s["backplane_client_write_duration_seconds_bucket{le=\"0.005\"}"], "38");
  EXPECT_EQ(s["backplane_client_write_duration_seconds_bucket{le=\"10\"}"], "38");
  EXPECT_EQ(s["backplane_client_write_duration_seconds_bucket{le=\"+Inf\"}"], "40");
  EXPECT_EQ(s["backplane_client_write_duration_seconds_count"], "40");
  EXPECT_EQ(s["backplane_client_write_duration_seconds_sum"], "61");
}

TEST(MetricsTest, RefusedFramesCarryStageAndReason) {
  auto s = Samples(StatusToPrometheus(MasterStatus()));
  EXPECT_EQ(s["backplane_refused_frames_total{stage=\"bus\",reason=\"malformed\"}"], "1");
  EXPECT_EQ(s["backplane_refused_frames_total{stage=\"bus\",reason=\"wrong_chassis\"}"], "2");
  EXPECT_EQ(s["backplane_refused_frames_total{stage=\"engine\",reason=\"ack_beyond_log\"}"], "3");
  EXPECT_EQ(s.count("backplane_refused_frames_total{stage=\"engine\",reason=\"total\"}"), 0u);
  EXPECT_EQ(s["backplane_bus_link_frames_dropped_total{peer=\"1\",reason=\"unconnected\"}"], "5");
}

TEST(MetricsTest, LastSwitchoverComesFromTheLatestMasterChangeAndItsElection) {
  auto s = Samples(StatusToPrometheus(MasterStatus()));
  EXPECT_EQ(s["backplane_last_switchover_timestamp_seconds"], "1796249254.02");
  EXPECT_EQ(s["backplane_last_switchover_info{master=\"2\",reason=\"master heartbeats stopped\","
              "trigger=\"system_initiated\"}"], "1");
  EXPECT_EQ(s["backplane_last_failover_duration_seconds"], "0.02");
}

TEST(MetricsTest, AnAdminElectionIsUserInitiatedAndAJoinHasNoElection) {
  json st = MasterStatus();
  st["events"][3]["detail"] = "admin request; nsites=3 nvotes=2";
  auto s = Samples(StatusToPrometheus(st));
  EXPECT_EQ(s["backplane_last_switchover_info{master=\"2\",reason=\"admin request\","
              "trigger=\"user_initiated\"}"], "1");
  st["events"] = json::array({MasterStatus()["events"][2]});  // new_master only
  s = Samples(StatusToPrometheus(st));
  EXPECT_EQ(s["backplane_last_switchover_info{master=\"1\",reason=\"joined (no election held here)\","
              "trigger=\"system_initiated\"}"], "1");
  EXPECT_EQ(s.count("backplane_last_failover_duration_seconds"), 0u);
}

TEST(MetricsTest, RedundantRoleOfEveryBoardInViewAndNoneForAPeerNotHeard) {
  json st = MasterStatus();
  st["peers"][1]["role"] = "master";  // its last heartbeat, before it died (alive false)
  auto s = Samples(StatusToPrometheus(st));
  EXPECT_EQ(s["backplane_redundant_role{slot=\"2\",redundant_role=\"primary\"}"], "1");
  EXPECT_EQ(s["backplane_redundant_role{slot=\"2\",redundant_role=\"secondary\"}"], "0");
  EXPECT_EQ(s["backplane_redundant_role{slot=\"1\",redundant_role=\"secondary\"}"], "1");
  EXPECT_EQ(s["backplane_redundant_role{slot=\"3\",redundant_role=\"primary\"}"], "0");
  EXPECT_EQ(s["backplane_redundant_role{slot=\"3\",redundant_role=\"secondary\"}"], "0");
}

TEST(MetricsTest, MissingFieldsAreLeftOutNotZero) {
  json st = MasterStatus();
  for (auto& p : st["peers"]) p.erase("lag_bytes");  // a replica's view
  st.erase("client_writes");
  st["queues"]["replica_reads"]["limit_bytes"] = nullptr;
  const std::string text = StatusToPrometheus(st);
  EXPECT_EQ(text.find("backplane_peer_lag_bytes"), std::string::npos) << "no HELP, no sample";
  EXPECT_EQ(text.find("client_write_duration"), std::string::npos);
  EXPECT_EQ(text.find("backplane_queue_limit_bytes{queue=\"replica_reads\"}"), std::string::npos);
  EXPECT_NE(text.find("backplane_queue_limit_bytes{queue=\"rep\"} 67108864"), std::string::npos);
  EXPECT_EQ(StatusToPrometheus(json::object()), "");
  EXPECT_EQ(StatusToPrometheus(json()), "");
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  json st = MasterStatus();
  st["events"][3]["detail"] = "a \"quoted\" back\\slash\nnewline; nsites=3";
  const std::string text = StatusToPrometheus(st);
  EXPECT_NE(text.find(R"(reason="a \"quoted\" back\\slash\nnewline")"), std::string::npos) << text;
}

// Every line is a comment or a sample of the family its HELP and TYPE
// lines named just before; names follow Prometheus' rules and conventions.
TEST(MetricsTest, EveryFamilyIsWellFormed) {
  MetricsContext ctx;
  ctx.scrape_status_seconds = 0.0012;
  std::istringstream in(StatusToPrometheus(MasterStatus(), ctx));
  const std::regex help(R"(# HELP (backplane_[a-z_]+) \S.*)"), type(R"(# TYPE (\S+) (gauge|counter|histogram))");
  const std::regex sample(R"(([a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (\S+))");
  std::set<std::string> families, series;
  std::string family, kind;
  int samples = 0;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      family = m[1];
      EXPECT_TRUE(families.insert(family).second) << "declared twice: " << family;
      ASSERT_TRUE(std::getline(in, line) && std::regex_match(line, m, type) && m[1] == family) << line;
      kind = m[2];
      EXPECT_EQ(kind == "counter", family.ends_with("_total")) << family << " is a " << kind;
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
    const std::string name = m[1];
    const bool ok = name == family || (kind == "histogram" && (name == family + "_bucket" ||
                                                               name == family + "_sum" ||
                                                               name == family + "_count"));
    EXPECT_TRUE(ok) << name << " under family " << family;
    EXPECT_TRUE(series.insert(m[1].str() + m[2].str()).second) << "duplicate series: " << line;
    EXPECT_NO_THROW((void)std::stod(m[4] == "+Inf" ? "inf" : m[4].str())) << line;
    ++samples;
  }
  EXPECT_GT(samples, 80);
  EXPECT_TRUE(families.count("backplane_scrape_status_seconds"));
}

TEST(MetricsEndpointTest, AcceptsHostPortAndBracketedIpv6) {
  auto a = ParseMetricsEndpoint("127.0.0.1:9464");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9464);
  a = ParseMetricsEndpoint("[::1]:65535");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 65535);
  a = ParseMetricsEndpoint("localhost:1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "localhost");
  a = ParseMetricsEndpoint("");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 0) << "empty: no endpoint";
}

TEST(MetricsEndpointTest, RefusesBadValuesNamingTheKey) {
  for (const char* bad : {"9464", "127.0.0.1", "127.0.0.1:", ":9464", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:94x", "http://127.0.0.1:9464",
                          "::1:9464", "127.0.0.1:9464/metrics", "host name:1"}) {
    auto a = ParseMetricsEndpoint(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_NE(a.status().message().find("'metrics_endpoint'"), std::string::npos) << a.status().message();
    EXPECT_NE(a.status().message().find("HOST:PORT"), std::string::npos) << a.status().message();
  }
}

std::string TwoBoards(const std::string& slot1_extra) {
  return "[chassis]\nsecurity = \"none\"\n"
         "[[board]]\nslot = 1\nendpoint = \"ipc:///tmp/x1.bus\"\nclient_endpoint = \"ipc:///tmp/x1.c\"\n" +
         slot1_extra +
         "\n[[board]]\nslot = 2\nendpoint = \"ipc:///tmp/x2.bus\"\nclient_endpoint = \"ipc:///tmp/x2.c\"\n";
}

TEST(MetricsEndpointTest, ConfigurationReadsValidatesAndWritesTheKey) {
  auto c = ParseChassisConfig(TwoBoards("metrics_endpoint = \"127.0.0.1:9464\""), "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->Find(1)->metrics_endpoint, "127.0.0.1:9464");
  EXPECT_EQ(c->Find(2)->metrics_endpoint, "") << "absent: no endpoint";
  auto again = ParseChassisConfig(ToToml(*c), "round-trip");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->Find(1)->metrics_endpoint, "127.0.0.1:9464");

  auto bad = ParseChassisConfig(TwoBoards("metrics_endpoint = \"127.0.0.1\""), "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.toml:7: slot 1: 'metrics_endpoint'"), std::string::npos)
      << bad.status().message();
  bad = ParseChassisConfig(TwoBoards("metrics_endpoint = 9464"), "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'metrics_endpoint' must be a string"), std::string::npos)
      << bad.status().message();

  ChassisConfig built = *c;  // Validate checks a configuration built in code too
  built.boards[1].metrics_endpoint = "nope";
  EXPECT_FALSE(built.Validate().ok());
}

}  // namespace
}  // namespace bp::board
