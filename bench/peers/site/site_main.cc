// repmgr_site: one Berkeley DB Replication Manager site, fully in memory,
// driven by repmgr_bench over stdin/stdout (protocol: peer_proto.h).
//
//   repmgr_site --home DIR --port P --peer P2 --peer P3 [--master] [--ack QUORUM]
//               [--bulk] [--tuned] [--cache-mb 512]
//
// Exit status: 0 after an orderly close with an empty home; 2 on bad
// arguments or a failed start; 3 if files were left in the home directory.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <string>

#include "peer_proto.h"
#include "site/site.h"
#include "site/workload.h"

namespace bp::peers {
namespace {

std::string Join(const std::vector<int64_t>& values) {
  std::string out;
  out.reserve(values.size() * 8);
  for (int64_t v : values) out += " " + std::to_string(v);
  return out;
}

// "R <cmd> ok ..." or "R <cmd> err <reason>".
void Reply(std::string_view cmd, bool ok, const std::string& rest) {
  EmitLine("R " + std::string(cmd) + (ok ? " ok" : " err") + (rest.empty() ? "" : " " + rest));
}

int ToInt(std::string_view word) { return std::atoi(std::string(word).c_str()); }

void ReplyRun(std::string_view cmd, const Site& site, const LatencyRun& run, int64_t pf_before) {
  Reply(cmd, true,
        "elapsed_ns=" + std::to_string(run.elapsed_ns) +
            " failures=" + std::to_string(run.failures) + " perm_failed=" +
            std::to_string(site.perm_failed() - pf_before) + " |" + Join(run.latency_ns));
}

void CmdStat(Site& site) {
  DB_REP_STAT* rep = nullptr;
  DB_REPMGR_STAT* mgr = nullptr;
  std::string rest = "master=" + std::to_string(site.is_master() ? 1 : 0);
  u_int32_t nsites = 0;
  if (site.env()->rep_get_nsites(site.env(), &nsites) == 0) {
    rest += " nsites=" + std::to_string(nsites);
  }
  if (site.env()->rep_stat(site.env(), &rep, 0) == 0) {
    rest += " pg_records=" + std::to_string(rep->st_pg_records) +
            " log_records=" + std::to_string(rep->st_log_records);
    free(rep);
  }
  if (site.env()->repmgr_stat(site.env(), &mgr, 0) == 0) {
    rest += " perm_failed=" + std::to_string(mgr->st_perm_failed);
    free(mgr);
  }
  if (DB* db = site.db(); db != nullptr) {
    DB_BTREE_STAT* bt = nullptr;
    if (db->stat(db, nullptr, &bt, 0) == 0) {
      rest += " db_pages=" + std::to_string(bt->bt_pagecnt) +
              " db_pagesize=" + std::to_string(bt->bt_pagesize) +
              " db_keys=" + std::to_string(bt->bt_nkeys);
      free(bt);
    }
  }
  Reply("stat", true, rest);
}

// Runs one command line; returns false on "quit".
bool Dispatch(Site& site, std::string_view line) {
  const auto words = SplitWords(line);
  if (words.empty()) return true;
  const std::string_view cmd = words[0];
  const int64_t pf_before = site.perm_failed();
  if (cmd == "quit") return false;
  if (cmd == "stat") {
    CmdStat(site);
  } else if (cmd == "sock") {
    const SocketCensus census = CountTcpSockets();
    Reply(cmd, true,
          "tcp=" + std::to_string(census.tcp) + " nodelay=" + std::to_string(census.nodelay));
  } else if (cmd == "ack" && words.size() == 2) {
    const uint32_t policy = AckPolicyFromName(std::string(words[1]));
    const int ret = policy == 0 ? EINVAL : site.env()->repmgr_set_ack_policy(site.env(), policy);
    Reply(cmd, ret == 0, ret == 0 ? "" : db_strerror(ret));
  } else if (site.db() == nullptr || !site.is_master()) {
    Reply(cmd, false, "not-master");  // every remaining command writes
  } else if (cmd == "lat" && words.size() == 3) {
    ReplyRun(cmd, site, RunLatency(site.env(), site.db(), ToInt(words[1]), ToInt(words[2])),
             pf_before);
  } else if (cmd == "tput" && words.size() == 4) {
    ReplyRun(
        cmd, site,
        RunThroughput(site.env(), site.db(), ToInt(words[1]), ToInt(words[2]), ToInt(words[3])),
        pf_before);
  } else if (cmd == "load" && (words.size() == 3 || words.size() == 6)) {
    LoadSpec spec;
    spec.records = std::atoll(std::string(words[1]).c_str());
    spec.per_txn = ToInt(words[2]);
    if (words.size() == 6) {
      spec.value_bytes = ToInt(words[3]);
      spec.ckpt_every_bytes = int64_t{ToInt(words[4])} << 20;
      spec.sequential = words[5] == "seq";
    }
    const int64_t start_ns = MonoNs();
    const LoadResult r = RunLoad(site.env(), site.db(), spec);
    Reply(cmd, r.ret == 0,
          "elapsed_ns=" + std::to_string(MonoNs() - start_ns) + " ret=" + std::to_string(r.ret) +
              " checkpoints=" + std::to_string(r.checkpoints));
  } else if (cmd == "ckpt") {
    const int64_t start_ns = MonoNs();
    const int ret = site.env()->txn_checkpoint(site.env(), 0, 0, DB_FORCE);
    Reply(cmd, ret == 0, "elapsed_ns=" + std::to_string(MonoNs() - start_ns));
  } else {
    Reply(cmd, false, "unknown-command");
  }
  return true;
}

int Run(const SiteConfig& config) {
  auto site = Site::Open(config);
  if (!site.ok()) {
    std::fprintf(stderr, "repmgr_site: %s\n", site.status().ToString().c_str());
    EmitLine("EV START_FAILED " + std::to_string(MonoNs()));
    return 2;
  }
  // EOF on stdin (the driver closed the pipe) is an orderly quit as well.
  std::string line;
  while (std::getline(std::cin, line) && Dispatch(**site, line)) {
  }
  const int files_left = (*site)->Close();
  EmitLine("EV CLOSED " + std::to_string(MonoNs()) + " home_files=" + std::to_string(files_left));
  return files_left == 0 ? 0 : 3;
}

}  // namespace
}  // namespace bp::peers

int main(int argc, char** argv) {
  bp::peers::SiteConfig config;
  std::string ack = "QUORUM";
  CLI::App app{"One Berkeley DB 5.3 repmgr site, fully in memory, driven over stdin"};
  app.add_option("--home", config.home, "existing empty home directory")->required();
  app.add_option("--port", config.port, "TCP port on 127.0.0.1")->required();
  app.add_option("--peer", config.peer_ports, "port of another site (repeat)");
  app.add_flag("--master", config.start_master, "repmgr_start as DB_REP_MASTER");
  app.add_option("--ack", ack, "NONE|ONE|QUORUM|ALL")
      ->check(CLI::IsMember({"NONE", "ONE", "QUORUM", "ALL"}));
  app.add_flag("--bulk", config.bulk, "DB_REP_CONF_BULK");
  app.add_flag("--tuned", config.tuned, "50/150 ms heartbeats, 200 ms elections");
  app.add_option("--cache-mb", config.cache_mb, "cache size in MiB")->check(CLI::Range(16, 65535));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  config.ack_policy = bp::peers::AckPolicyFromName(ack);
  return bp::peers::Run(config);
}
