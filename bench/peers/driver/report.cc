#include "driver/report.h"

#include <algorithm>
#include <map>
#include <utility>

namespace bp::peers {
namespace {

// Anchor cells, keyed by benchmark name. "best" is compared with the anchors'
// "both" rows (BULK + TCP_NODELAY). Failover anchors are the tuned rows.
const std::map<std::string, std::string>& Anchors() {
  static const std::map<std::string, std::string> kAnchors = {
      {"repmgr/commit_latency/as_shipped/ack:NONE", "p50 6.3 p99 525 p99.9 2,335 us"},
      {"repmgr/commit_latency/as_shipped/ack:ONE", "p50 44,004 p99 48,328 p99.9 52,123 us"},
      {"repmgr/commit_latency/as_shipped/ack:QUORUM", "p50 44,004 p99 48,736 p99.9 72,870 us"},
      {"repmgr/commit_latency/as_shipped/ack:ALL", "p50 44,033 p99 48,956 p99.9 53,982 us"},
      {"repmgr/commit_latency/best/ack:NONE", "p50 4.2 p99 45 p99.9 3,635 us"},
      {"repmgr/commit_latency/best/ack:ONE", "p50 100.7 p99 244 p99.9 603 us"},
      {"repmgr/commit_latency/best/ack:QUORUM", "p50 92.5 p99 269 p99.9 827 us"},
      {"repmgr/commit_latency/best/ack:ALL", "p50 116.2 p99 296 p99.9 433 us"},
      {"repmgr/throughput/as_shipped/QUORUM/writers:1", "23 commits/s, p99 48,319 us"},
      {"repmgr/throughput/as_shipped/QUORUM/writers:4", "76 commits/s, p99 220,362 us"},
      {"repmgr/throughput/best/QUORUM/writers:1", "9,460 commits/s, p99 231 us"},
      {"repmgr/throughput/best/QUORUM/writers:4", "15,398 commits/s, p99 588 us"},
      {"repmgr/failover_sigkill/as_shipped/tuned",
       "first commit 96 [48-1,095] ms, REP_MASTER 4.18 ms"},
      {"repmgr/failover_sigkill/best/tuned", "first commit 24 [23-1,004] ms, REP_MASTER 3.19 ms"},
  };
  return kAnchors;
}

// Internal-init anchors are for 100,000 records; the name carries the count.
std::string InitAnchor(const std::string& name) {
  if (name.find("records:100000") == std::string::npos) return "(anchors: 100,000 records)";
  if (name.find("/as_shipped/") != std::string::npos) {
    return "STARTUPDONE 945 ms, copy 307 ms = 59 MiB/s, overall 19 MiB/s, 2,294 pages";
  }
  return "STARTUPDONE 859 ms, copy 58 ms = 308 MiB/s, overall 21 MiB/s, 2,294 pages";
}

std::vector<std::pair<std::string, std::string>> g_rows;  // name, measured

std::string Format(const char* fmt, double a, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), fmt, a, b, c, d);
  return buf;
}

}  // namespace

void RecordSummary(const std::string& name, const Summary& s, const CommitRun& run) {
  std::string text;
  if (name.find("/throughput/") != std::string::npos) {
    const double rate =
        run.elapsed_ns > 0 ? s.count * 1e9 / static_cast<double>(run.elapsed_ns) : 0;
    text = Format("%.0f commits/s, p50 %.1f p99 %.0f us", rate, s.p50_us, s.p99_us);
  } else {
    text = Format("p50 %.1f p99 %.0f p99.9 %.0f us (n=%.0f)", s.p50_us, s.p99_us, s.p999_us,
                  static_cast<double>(s.count));
  }
  if (run.perm_failed > 0) text += " PERM_FAILED=" + std::to_string(run.perm_failed);
  g_rows.emplace_back(name, text);
}

void RecordFailover(const std::string& name, const std::vector<double>& first_commit_ms,
                    double rep_master_ms, double detect_ms) {
  std::vector<double> sorted = first_commit_ms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  g_rows.emplace_back(name, Format("first commit %.1f [%.1f-%.1f] ms, REP_MASTER %.2f ms", median,
                                   sorted.front(), sorted.back(), rep_master_ms) +
                                Format(", detect %.2f ms", detect_ms));
}

void RecordInit(const std::string& name, double startup_ms, double copy_ms, double copy_mib_per_s,
                double overall_mib_per_s, int64_t pages, double mib) {
  g_rows.emplace_back(
      name, Format("STARTUPDONE %.0f ms, copy %.0f ms = %.0f MiB/s, overall %.0f MiB/s", startup_ms,
                   copy_ms, copy_mib_per_s, overall_mib_per_s) +
                Format(", %.0f pages (%.1f MiB)", static_cast<double>(pages), mib));
}

void PrintAnchorComparison(FILE* out) {
  if (g_rows.empty()) return;
  std::fprintf(out, "\nrepmgr peer baseline vs anchors (repmgr-anchors.md; best = BULK+NODELAY)\n");
  for (const auto& [name, measured] : g_rows) {
    auto it = Anchors().find(name);
    const std::string anchor = name.find("/internal_init/") != std::string::npos
                                   ? InitAnchor(name)
                                   : (it != Anchors().end() ? it->second : "-");
    std::fprintf(out, "  %-48s measured: %s\n  %-48s anchor:   %s\n", name.c_str(),
                 measured.c_str(), "", anchor.c_str());
  }
}

}  // namespace bp::peers
