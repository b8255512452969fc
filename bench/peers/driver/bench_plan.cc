#include "driver/bench_plan.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace bp::peers {
namespace {

// Returns the value of "--name=value" if arg is that flag.
const char* FlagValue(const char* arg, std::string_view name) {
  const std::string prefix = "--" + std::string(name) + "=";
  return std::strncmp(arg, prefix.c_str(), prefix.size()) == 0 ? arg + prefix.size() : nullptr;
}

bool ParsePositive(const char* text, const char* flag, int64_t* out) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v <= 0) {
    std::fprintf(stderr, "repmgr_bench: --%s needs a positive integer, got '%s'\n", flag, text);
    return false;
  }
  *out = v;
  return true;
}

// One driver flag; returns 1 if consumed, 0 if not ours, -1 on a bad value.
int ParseOne(const char* arg, Plan* plan, Paths* paths) {
  int64_t v = 0;
  if (std::strcmp(arg, "--quick") == 0) {
    plan->quick = true;
  } else if (const char* s = FlagValue(arg, "site_exe")) {
    paths->site_exe = s;
  } else if (const char* s = FlagValue(arg, "preload_lib")) {
    paths->preload_lib = s;
  } else if (const char* s = FlagValue(arg, "init_records")) {
    if (!ParsePositive(s, "init_records", &v)) return -1;
    plan->init_records = v;
  } else if (const char* s = FlagValue(arg, "init_mib")) {
    if (!ParsePositive(s, "init_mib", &v)) return -1;
    plan->init_mib = {static_cast<int>(v)};
  } else if (const char* s = FlagValue(arg, "failover_rounds")) {
    if (!ParsePositive(s, "failover_rounds", &v)) return -1;
    plan->failover_rounds = static_cast<int>(v);
  } else if (const char* s = FlagValue(arg, "cache_mb")) {
    if (!ParsePositive(s, "cache_mb", &v)) return -1;
    plan->cache_mb = static_cast<int>(v);
  } else {
    return 0;
  }
  return 1;
}

}  // namespace

LatencyPlan Plan::Latency(Variant v, const std::string& ack) const {
  if (v == Variant::kAsShipped && ack != "NONE") return {lat_count_nagle, lat_warmup_nagle};
  return {lat_count, lat_warmup};
}

int Plan::FailoverPreload(Variant v) const {
  return v == Variant::kAsShipped ? failover_preload_nagle : failover_preload;
}

void Plan::MakeQuick() {
  quick = true;
  lat_count = 300;
  lat_warmup = 30;
  lat_count_nagle = 10;
  lat_warmup_nagle = 2;
  tput_warm_ms = 100;
  tput_meas_ms = 500;
  failover_rounds = 1;
  failover_preload = 100;
  failover_preload_nagle = 5;
  failover_idle_ms = 200;
  init_records = 5'000;
  init_reps = 1;
  init_mib = {8};  // reinit_bench's smoke size
}

bool ParsePlanFlags(int* argc, char** argv, Plan* plan, Paths* paths) {
  paths->site_exe = BP_REPMGR_SITE_PATH;
  paths->preload_lib = BP_NODELAY_PRELOAD_PATH;
  const char* env_quick = std::getenv("BP_BENCH_QUICK");
  bool quick = env_quick != nullptr && std::strcmp(env_quick, "1") == 0;
  // Quick sizes first, so that explicit flags override them.
  for (int i = 1; i < *argc; ++i) quick = quick || std::strcmp(argv[i], "--quick") == 0;
  if (quick) plan->MakeQuick();
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const int r = ParseOne(argv[i], plan, paths);
    if (r < 0) return false;
    if (r == 0) argv[kept++] = argv[i];
  }
  *argc = kept;
  argv[kept] = nullptr;
  return true;
}

}  // namespace bp::peers
