#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang + -DBP_FUZZ=ON, its own
# build dir) and runs each one, bounded, on a copy of its committed corpus
# (the tree is never written). A crash, leak, timeout or sanitizer report
# fails the run and prints the input that caused it.
#
#   scripts/fuzz.sh                     # each target BP_FUZZ_SECONDS (default 30) s
#   BP_FUZZ_RUNS=10000000 scripts/fuzz.sh   # each target that many inputs instead
#   BP_FUZZ_TARGETS="fuzz_shim_reply" scripts/fuzz.sh   # some targets only
#
# FUZZ_BUILD_DIR (default build-fuzz), BP_FUZZ_ARTIFACTS (default
# $FUZZ_BUILD_DIR/artifacts: crashing inputs), BP_FUZZ_TIMEOUT_S (10: one
# input slower than this is a hang).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_EACH=${BP_FUZZ_SECONDS:-30}
RUNS=${BP_FUZZ_RUNS:-}
TARGETS=(${BP_FUZZ_TARGETS:-fuzz_bus_frame fuzz_client_request fuzz_chassis_config fuzz_shim_reply})
ARTIFACTS=${BP_FUZZ_ARTIFACTS:-$BUILD_DIR/artifacts}
CC_FUZZ=${FUZZ_CC:-clang-14}
CXX_FUZZ=${FUZZ_CXX:-clang++-14}
command -v "$CXX_FUZZ" >/dev/null || {
  echo "fuzz.sh: $CXX_FUZZ not found: apt-get install clang-14 libclang-rt-14-dev (scripts/setup.sh)" >&2
  exit 1
}

# Largest input per target: real frames and files are far smaller than the
# limits the decoders enforce; short inputs keep executions fast.
max_len() {
  case "$1" in
    fuzz_chassis_config) echo 8192 ;;
    fuzz_client_request) echo 16384 ;;
    *) echo 65536 ;;
  esac
}

LAUNCHER=()
if command -v ccache >/dev/null; then
  LAUNCHER=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
t0=$(date +%s)
CC=$CC_FUZZ CXX=$CXX_FUZZ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBP_FUZZ=ON \
  -DBP_BUILD_BENCHMARKS=OFF "${LAUNCHER[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${TARGETS[@]}" >/dev/null
echo "fuzz: built ${TARGETS[*]} in $(($(date +%s) - t0)) s ($BUILD_DIR)"

mkdir -p "$ARTIFACTS"
ARTIFACTS=$(cd "$ARTIFACTS" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bp-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILED=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$WORK/$t"
  cp tests/fuzz/corpus/"$t"/* "$WORK/$t/"
  # Inputs that once failed are run too (read-only: libFuzzer adds new
  # inputs to the first directory only).
  extra=()
  [[ -d tests/fuzz/regressions/$t ]] && extra=("tests/fuzz/regressions/$t")
  bound=(-max_total_time="$SECONDS_EACH")
  [[ -n "$RUNS" ]] && bound=(-runs="$RUNS")
  log="$WORK/$t.log"
  rc=0
  "$BUILD_DIR/tests/fuzz/$t" "${bound[@]}" -max_len="$(max_len "$t")" -timeout="${BP_FUZZ_TIMEOUT_S:-10}" \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t-" \
    "$WORK/$t" "${extra[@]}" >"$log" 2>&1 || rc=$?
  runs=$(awk '/stat::number_of_executed_units/{print $NF}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/{print $NF}' "$log")
  if [[ $rc != 0 ]]; then
    FAILED+=("$t")
    tail -n 60 "$log" >&2
    art=$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -1)
    echo "fuzz: $t FAILED (exit $rc) after ${runs:-?} inputs; the input: ${art:-see the log above}" >&2
    echo "fuzz:   reproduce: $BUILD_DIR/tests/fuzz/$t ${art:-<input>}" >&2
    echo "fuzz:   then add it to tests/fuzz/regressions/$t/ and a test to tests/fuzz/regression_test.cc" >&2
  else
    echo "fuzz: $t ok: ${runs:-?} inputs, ${rate:-?} exec/s"
  fi
done
echo "fuzz: done in $(($(date +%s) - t0)) s"
if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${FAILED[*]} (inputs in $ARTIFACTS)" >&2
  exit 1
fi
