// The soak's pure logic, kept apart so unit tests reach it without a board:
//
//  - one board's once-a-second sample, parsed from its status document with
//    every field optional (a board that does not report "memory" or
//    "requests" yet leaves them unset: "not reported", not zero);
//  - the values the soak writes, which name their writer and its sequence
//    number, and the classification of a value read back against what the
//    writer knows it wrote (lost, doubled, applied though it failed);
//  - RSS drift after the warm-up and the pass/fail verdict of a run.
//
// Stateless functions; any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace bp::chassis {

// One board at one instant of a soak.
struct BoardSample {
  int slot = 0;
  pid_t pid = 0;
  bool alive = false;                 // the process runs
  bool answered = false;              // it answered the status request
  std::optional<uint64_t> rss_bytes;  // VmRSS of /proc/<pid>/status
  std::string role;
  int master = -1;
  int64_t generation = -1;
  bool panicked = false;
  std::optional<uint64_t> elections_held, elections_won;
  std::optional<uint64_t> log_since_checkpoint_bytes, log_buffer_bytes;
  // "memory" (optional until every board reports it)
  std::optional<uint64_t> cache_bytes, data_bytes, refused_writes;
  std::optional<double> high_water_pct;
  // "requests" (optional until every board reports it)
  std::optional<uint64_t> ids, max_ids, retention_ms, expired, evicted;
};

// The status fields of a sample (slot, pid, alive and rss are the caller's).
void ParseBoardStatus(const nlohmann::json& status, BoardSample* sample);
// "VmRSS:   12345 kB" of a /proc/<pid>/status text, in bytes.
std::optional<uint64_t> ParseVmRss(const std::string& proc_status);
// VmRSS of a running process; nullopt if it is gone.
std::optional<uint64_t> ReadRssBytes(pid_t pid);

// Every board at one instant; t_s counts from the start of the soak.
struct SoakSample {
  double t_s = 0;
  bool warmup = false;  // taken during the warm-up
  std::vector<BoardSample> boards;
  uint64_t acked_writes = 0;  // durable acks so far, all clients
};

nlohmann::json BoardSampleJson(const BoardSample& b);
// The CSV of the samples: a header, then one row per board per sample.
std::string SamplesCsv(const std::vector<SoakSample>& samples);
// The same in parts, for a file written as the samples come.
std::string SamplesCsvHeader();
std::string SampleCsvRows(const SoakSample& sample);

// ---- values -------------------------------------------------------------

// The value client `client` writes under `key` with its sequence number
// `seq`: "c<client>-<seq>-<key>;" repeated to `size` bytes. Needs
// size >= SoakValueMinSize(...) so the value names its writer whole.
std::string SoakValue(int client, uint64_t seq, const std::string& key, size_t size);
size_t SoakValueMinSize(int clients, const std::string& longest_key);

struct ParsedValue {
  int client = -1;
  uint64_t seq = 0;
};
// The writer of a value read under `key`; nullopt if the value is not one
// SoakValue made for this key (corrupt, truncated, another key's).
std::optional<ParsedValue> ParseSoakValue(const std::string& value, const std::string& key);

// What the key's owner knows about its writes to the key. A client writes
// one key at a time, so its writes to a key are ordered by seq, and any seq
// up to `attempted` that is in neither set was acknowledged durable.
struct KeyWrites {
  std::optional<uint64_t> acked;  // the latest seq acknowledged durable
  std::set<uint64_t> uncertain;   // seqs with no definite answer (may apply, even late)
  std::set<uint64_t> failed;      // seqs answered "not applied"
  uint64_t attempted = 0;         // the latest seq sent (0: none)
};

enum class ValueVerdict {
  kOk,             // the latest acked value, or a later write that may have applied
  kLost,           // an acknowledged value is gone: absent, or not our value
  kDoubled,        // an older acknowledged write applied again over a later one
  kFailedApplied,  // a write answered "not applied", or never sent, is there
  kLateUnknown,    // a write with no definite answer applied after a later ack
                   // (allowed: its outcome was unknown; counted, not a failure)
};
const char* ValueVerdictName(ValueVerdict v);

// `value` is what a board holds under `key` (nullopt: absent); `owner` is
// the only client writing the key. After the run `w` is the owner's final
// state; during the run, `w.acked` is taken before the read was sent and
// the rest after its answer came (a write in flight may show, or not).
ValueVerdict ClassifyValue(const std::optional<std::string>& value, const std::string& key,
                           int owner, const KeyWrites& w);

// ---- verdict ------------------------------------------------------------

struct RssDrift {
  std::optional<uint64_t> baseline_bytes;  // first sample after the warm-up
  std::optional<uint64_t> max_bytes;       // largest sample after the warm-up
  double max_drift_pct = 0;                // peak: (max - baseline) / baseline * 100
  // The verdict's figure: the median of the last `window` samples over the
  // median of the first `window` (0 when it shrank). A leak raises the level
  // the run ends at; one sample's spike (a burst of queued frames, an arena
  // not yet trimmed) raises only the peak.
  double drift_pct = 0;
  std::optional<uint64_t> start_level_bytes, end_level_bytes;
  size_t window = 0;              // samples in each median: n / 4, 1 to 5
  double slope_bytes_per_s = 0;   // least squares over the samples after warm-up
  size_t samples = 0;             // after the warm-up
};
// One board's RSS after the warm-up. A restarted board (another pid) starts
// a new baseline: drift counts from its first sample, levels over its
// samples only.
RssDrift ComputeRssDrift(const std::vector<SoakSample>& samples, int slot);

struct SoakCriteria {
  double rss_drift_pct = 5;
};

struct WriteCheck {
  uint64_t acked = 0;
  uint64_t lost = 0, doubled = 0, failed_applied = 0;
  uint64_t late_unknown = 0;          // allowed; see ValueVerdict::kLateUnknown
  uint64_t live_checks = 0;           // reads checked during the run
  uint64_t read_errors = 0;           // reads that failed (prove nothing either way)
  std::vector<std::string> examples;  // a few "slot 2: key k7: doubled (...)"
};

struct SoakVerdict {
  bool pass = true;
  std::vector<std::string> failures;  // one reason per failed criterion
  std::map<int, RssDrift> rss;
  double max_rss_drift_pct = 0;  // largest drift_pct of a board (the verdict's)
  double max_rss_peak_pct = 0;   // largest max_drift_pct of a board
  uint64_t elections = 0, failovers = 0, panics = 0;
  bool requests_reported = false;  // some board reported "requests"
  uint64_t max_ids_seen = 0;
};

// Every pass criterion over the samples and the write check.
SoakVerdict EvaluateSoak(const std::vector<SoakSample>& samples, const WriteCheck& writes,
                         const SoakCriteria& criteria);

nlohmann::json RssDriftJson(const RssDrift& d);
nlohmann::json WriteCheckJson(const WriteCheck& w);

}  // namespace bp::chassis
