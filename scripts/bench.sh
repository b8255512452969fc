#!/usr/bin/env bash
# Runs every benchmark of the project in ONE run on this machine, so that the
# ratios between them (ours vs the zmq floor vs Berkeley DB repmgr) compare
# like with like, then the chassis failover drills, then the plots.
#
#   scripts/bench.sh                  # full mode (several minutes)
#   scripts/bench.sh --quick          # smoke: every benchmark runs, tiny counts (~1 min)
#   scripts/bench.sh --out DIR        # results to DIR (default bench/results)
#   scripts/bench.sh --no-plot        # skip bench/plot_bench.py
#
# BUILD_DIR (default build/, the tree scripts/build.sh makes) is the build
# tree; the targets are built first unless --no-build, and a tree that does
# not exist yet is configured and built by scripts/build.sh first. Outputs in
# the results dir:
#   zmq_floor.json replication.json shim.json memenv.json reinit.json repmgr.json
#   drill_kill.json drill_pause.json [drill_replace.json, full mode]
#   soak.json soak_samples.csv soak.png (full mode: `chassis soak`, see below)
#   context.json (date, nproc, load average, git commit, mode)
#   *.png and TABLE.md (bench/plot_bench.py, when matplotlib is there)
# A failed step is recorded in context.json ("failed") and makes the exit
# status non-zero, but the remaining steps still run.
# The soak (full mode only, never in --quick, so never in CI): a fresh 3-board
# QUORUM chassis, closed-loop writes over a fixed key space, every board
# sampled each second. SOAK_S (default 1800: 30 minutes measured; 0 skips it),
# SOAK_WARMUP_S (60), SOAK_CACHE_MB (32), SOAK_LOG_BUFFER_MB (8),
# SOAK_CLIENTS (8), SOAK_KEYS (1000), SOAK_VALUE_SIZE (64).
# The fuzz run (full mode only): every libFuzzer target for BENCH_FUZZ_RUNS
# inputs (default 10000000; 0 skips it; about 20 minutes on 2 cores) through
# scripts/fuzz.sh, in its own build dir (build-fuzz, clang); its summary goes
# to fuzz.txt, crashing inputs to build-fuzz/artifacts.
# The body is one function, so that bash parses all of it before running
# (editing this file during a run cannot derail the run).
main() {
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=0
OUT="$ROOT/bench/results"
PLOT=1
BUILD=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) OUT="$2"; shift ;;
    --out=*) OUT="${1#--out=}" ;;
    --no-plot) PLOT=0 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ "${BP_BENCH_QUICK:-0}" == 1 ]] && QUICK=1

BUILD_DIR=${BUILD_DIR:-build}
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
if [[ $BUILD == 1 && ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  echo "== $BUILD_DIR is not configured yet: scripts/build.sh first" >&2
  BUILD_DIR="$BUILD_DIR" BP_SANITIZE=OFF bash "$ROOT/scripts/build.sh" >&2 || {
    echo "bench.sh: scripts/build.sh failed for $BUILD_DIR" >&2; exit 1; }
fi
BENCH="$BUILD_DIR/bench"
CHASSIS="$BUILD_DIR/tools/chassis/chassis"
PY=${BENCH_PYTHON:-/usr/bin/python3}
[[ -x "$PY" ]] || PY=python3

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

TARGETS=(zmq_floor_bench replication_bench shim_bench memenv_bench reinit_bench repmgr_bench repmgr_site
         nodelay_preload chassis board)
if [[ $BUILD == 1 ]]; then
  # Build the targets this build tree has (a tree configured with
  # -DBP_BUILD_BENCHMARKS=OFF has no bench targets: its existing binaries are used).
  KNOWN=$(cmake --build "$BUILD_DIR" --target help 2>/dev/null | awk '{print $2}')
  HAVE=()
  for t in "${TARGETS[@]}"; do grep -qx "$t" <<<"$KNOWN" && HAVE+=("$t"); done
  if [[ ${#HAVE[@]} -lt ${#TARGETS[@]} ]]; then
    echo "bench.sh: $BUILD_DIR lacks some targets (BP_BUILD_BENCHMARKS=OFF?); using the binaries already there" >&2
  fi
  if [[ ${#HAVE[@]} -gt 0 ]]; then
    echo "== build ${HAVE[*]} ($BUILD_DIR)" >&2
    cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${HAVE[@]}" >/dev/null || {
      echo "bench.sh: build failed" >&2; exit 1; }
  fi
fi
for exe in zmq_floor_bench replication_bench shim_bench memenv_bench reinit_bench repmgr_bench; do
  [[ -x "$BENCH/$exe" ]] || { echo "bench.sh: missing $BENCH/$exe" >&2; exit 1; }
done
[[ -x "$CHASSIS" ]] || { echo "bench.sh: missing $CHASSIS" >&2; exit 1; }

START=$(date +%s)
FAILED=()
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# The drill chassis lives in a temp run dir and is always taken down.
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bench-chassis.XXXXXX")
cleanup() {
  if [[ -f "$RUN_DIR/pids.json" ]]; then
    "$CHASSIS" down --run-dir "$RUN_DIR" >/dev/null 2>&1 || true
  fi
  if [[ -n "${KEEP_LOGS:-}" ]]; then
    echo "chassis logs kept in $RUN_DIR/logs" >&2
  else
    rm -rf "$RUN_DIR"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() {  # step NAME CMD...: runs CMD, records NAME's wall time, a failure
  local name=$1; shift
  local t0=$(date +%s.%N)
  echo "== $name: $*" >&2
  local rc=0
  "$@" || rc=$?
  if [[ $rc != 0 ]]; then
    echo "bench.sh: step $name FAILED (exit $rc)" >&2
    FAILED+=("$name")
  fi
  local t1=$(date +%s.%N)
  STEP_TIMES+=("\"$name\": $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')")
  return $rc
}
STEP_TIMES=()

gbench() {  # gbench NAME EXE [ARGS...]
  local name=$1 exe=$2; shift 2
  step "$name" "$BENCH/$exe" --benchmark_format=json --benchmark_out_format=json \
    --benchmark_out="$OUT/$name.json" "$@"
}

# A benchmark skipped with an error (replication_bench's fixture sometimes
# reports "chassis not ready" on a loaded machine: the in-process master lost
# the first election) is run again on its own, up to RETRIES times, and the
# good run replaces the errored entry in NAME.json.
retry_errors() {  # retry_errors NAME EXE [ARGS...]
  local name=$1 exe=$2; shift 2
  local json="$OUT/$name.json" try bad b
  for ((try = 1; try <= ${RETRIES:-2}; try++)); do
    mapfile -t bad < <("$PY" -c 'import json,sys
for b in json.load(open(sys.argv[1])).get("benchmarks", []):
    if b.get("error_occurred"): print(b["run_name"])' "$json" 2>/dev/null)
    [[ ${#bad[@]} -eq 0 ]] && return 0
    for b in "${bad[@]}"; do
      echo "== $name: retry $try of $b (errored)" >&2
      "$BENCH/$exe" --benchmark_format=json --benchmark_out_format=json \
        --benchmark_out="$OUT/.retry.json" --benchmark_filter="^${b}\$" "$@" || continue
      "$PY" -c 'import json,sys
main, new = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
good = {b["run_name"]: b for b in new.get("benchmarks", []) if not b.get("error_occurred")}
main["benchmarks"] = [dict(good[b["run_name"]], retried=True) if b.get("error_occurred") and b["run_name"] in good else b
                      for b in main["benchmarks"]]
json.dump(main, open(sys.argv[1], "w"), indent=2)' "$json" "$OUT/.retry.json"
      rm -f "$OUT/.retry.json"
    done
  done
}

# Google Benchmark writes JSON to stdout too with --benchmark_format=json;
# keep the console clean (the file is what counts).
exec 3>&1 1>/dev/null

if [[ $QUICK == 1 ]]; then
  MT=(--benchmark_min_time=0.01)
  gbench zmq_floor zmq_floor_bench "${MT[@]}"
  # Each policy needs its own chassis (a few s each on a loaded machine):
  # QUORUM on 3 boards only, and the throughput run that reuses its chassis.
  gbench replication replication_bench "${MT[@]}" \
    --benchmark_filter='BM_Commit/3/3$|BM_Throughput/4/'
  RETRIES=1 retry_errors replication replication_bench "${MT[@]}"
  gbench shim shim_bench "${MT[@]}"
  gbench memenv memenv_bench "${MT[@]}"
  # repmgr --quick takes 30-45 s in all; keep QUORUM latency and throughput
  # of the best variant (one repmgr group).
  # Re-init of an empty board at the smoke size (8 MiB), and repmgr's quick
  # internal inits (best variant: 5,000 records, and 8 MiB of reinit_bench's
  # records) beside it.
  gbench reinit reinit_bench --benchmark_filter='BM_Reinit/8/'
  gbench repmgr repmgr_bench --quick \
    --benchmark_filter='commit_latency/best/ack:QUORUM|throughput/best/QUORUM/writers:4|internal_init/best'
  KILL_ROUNDS=5; PAUSE_ROUNDS=3; REPLACE=0
else
  gbench zmq_floor zmq_floor_bench --benchmark_min_time=1
  gbench replication replication_bench --benchmark_min_time=2
  retry_errors replication replication_bench --benchmark_min_time=2
  gbench shim shim_bench --benchmark_min_time=1
  gbench memenv memenv_bench --benchmark_min_time=1
  # Re-init at 100 MiB and 1 GiB (several minutes; memory: ~3 GiB cache per board at 1 GiB).
  gbench reinit reinit_bench --benchmark_filter='BM_Reinit/(100|1024)/'
  # Everything of repmgr, including its internal init at the same sizes and
  # records (internal_init/{as_shipped,best}/MiB:{100,1024}: each loads its
  # group first; at 1 GiB the 4 sites hold a 2.3 GiB cache each).
  gbench repmgr repmgr_bench
  KILL_ROUNDS=100; PAUSE_ROUNDS=20; REPLACE=1
fi
SOAK_S=${SOAK_S:-1800}
[[ $QUICK == 1 ]] && SOAK_S=0

drill() {  # drill KIND [ARGS...]: JSON report to drill_KIND.json
  local kind=$1; shift
  "$CHASSIS" drill "$kind" --run-dir "$RUN_DIR" --json "$@" >"$OUT/drill_$kind.json"
}
chassis_up() { "$CHASSIS" up --run-dir "$RUN_DIR" --boards 3 --ack-policy quorum >&2; }
chassis_down() { "$CHASSIS" down --run-dir "$RUN_DIR" >&2; }

if step chassis_up chassis_up; then
  step drill_kill drill kill --rounds "$KILL_ROUNDS"
  step drill_pause drill pause --rounds "$PAUSE_ROUNDS"
  if [[ $REPLACE == 1 ]]; then
    step drill_replace drill replace --rounds 1 --data-mb 100 --timeout-s 120
  fi
  step chassis_down chassis_down
fi

# The soak gets a chassis of its own: a small cache, as in the field report
# that found the unbounded request-id table (issue 12).
soak() {
  "$CHASSIS" soak --run-dir "$RUN_DIR" --out "$OUT" --duration-s "$SOAK_S" \
    --warmup-s "${SOAK_WARMUP_S:-60}" --clients "${SOAK_CLIENTS:-8}" \
    --key-space "${SOAK_KEYS:-1000}" --value-size "${SOAK_VALUE_SIZE:-64}" --json >/dev/null
}
soak_up() {
  "$CHASSIS" up --run-dir "$RUN_DIR" --boards 3 --ack-policy quorum \
    --cache-mb "${SOAK_CACHE_MB:-32}" --log-buffer-mb "${SOAK_LOG_BUFFER_MB:-8}" >&2
}
if [[ $SOAK_S != 0 ]] && step soak_up soak_up; then
  step soak soak
  step soak_down chassis_down
fi
FUZZ_RUNS=${BENCH_FUZZ_RUNS:-10000000}
[[ $QUICK == 1 ]] && FUZZ_RUNS=0
fuzz() { BP_FUZZ_RUNS="$FUZZ_RUNS" bash "$ROOT/scripts/fuzz.sh" >"$OUT/fuzz.txt"; }
if [[ $FUZZ_RUNS != 0 ]]; then
  step fuzz fuzz
fi
exec 1>&3 3>&-

END=$(date +%s)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
  printf '{\n'
  printf '  "date": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '  "mode": "%s",\n' "$([[ $QUICK == 1 ]] && echo quick || echo full)"
  printf '  "host": "%s",\n' "$(hostname)"
  printf '  "nproc": %s,\n' "$(nproc)"
  printf '  "cpu_model": "%s",\n' "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo | sed 's/"/\\"/g')"
  printf '  "loadavg_before": "%s",\n' "$LOAD_BEFORE"
  printf '  "loadavg_after": "%s",\n' "$LOAD_AFTER"
  printf '  "git_commit": "%s",\n' "$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  printf '  "git_dirty": %s,\n' "$([[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] && echo true || echo false)"
  printf '  "build_dir": "%s",\n' "$BUILD_DIR"
  printf '  "drill_rounds": {"kill": %s, "pause": %s, "replace": %s},\n' "$KILL_ROUNDS" "$PAUSE_ROUNDS" "$REPLACE"
  printf '  "soak_s": %s,\n' "$SOAK_S"
  printf '  "fuzz_runs": %s,\n' "$FUZZ_RUNS"
  printf '  "step_seconds": {%s},\n' "$(IFS=,; echo "${STEP_TIMES[*]}" | sed 's/,/, /g')"
  printf '  "total_seconds": %s,\n' "$((END - START))"
  printf '  "failed": [%s]\n' "$(for f in "${FAILED[@]}"; do printf '"%s",' "$f"; done | sed 's/,$//')"
  printf '}\n'
} >"$OUT/context.json"
echo "== done in $((END - START)) s; load average before $LOAD_BEFORE, after $LOAD_AFTER" >&2

if [[ $PLOT == 1 ]]; then
  if "$PY" -c 'import matplotlib' 2>/dev/null; then
    "$PY" "$ROOT/bench/plot_bench.py" --results "$OUT" || FAILED+=("plot")
  else
    echo "bench.sh: no matplotlib for $PY (apt-get install python3-matplotlib); only TABLE.md" >&2
    "$PY" "$ROOT/bench/plot_bench.py" --results "$OUT" --no-png || FAILED+=("plot")
  fi
fi

if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "bench.sh: FAILED steps: ${FAILED[*]}" >&2
  exit 1
fi
echo "results in $OUT" >&2
}
main "$@"
