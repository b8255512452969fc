#!/usr/bin/env bash
# bench_smoke_test.sh SOURCE_DIR BUILD_DIR
# Runs scripts/bench.sh --quick --out TMP and checks each expected JSON.
set -uo pipefail
SRC=${1:?source dir}
BUILD=${2:?build dir}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoke.XXXXXX")
CHASSIS="$BUILD/tools/chassis/chassis"

cleanup() {
  # bench.sh takes its chassis down itself; this catches a bench.sh that was
  # killed (timeout) before its own trap ran.
  for d in "$TMP"/tmp/bench-chassis.*; do
    [[ -f "$d/pids.json" ]] && "$CHASSIS" down --run-dir "$d" >/dev/null 2>&1
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$TMP/out" "$TMP/tmp"
# 200 s < the ctest TIMEOUT (240 s), so this script gets to clean up.
# The command the README gives (`scripts/bench.sh --quick --out DIR`, which
# builds what is missing), on ctest's own build tree.
TMPDIR="$TMP/tmp" BUILD_DIR="$BUILD" timeout --kill-after=10 200 \
  "$SRC/scripts/bench.sh" --quick --no-plot --out "$TMP/out"
rc=$?
echo "bench.sh --quick exited $rc" >&2

fail=0
for f in zmq_floor replication shim memenv repmgr drill_kill drill_pause context; do
  p="$TMP/out/$f.json"
  if [[ ! -s "$p" ]]; then
    echo "FAIL: $f.json missing or empty" >&2
    fail=1
  elif ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$p" 2>/dev/null; then
    echo "FAIL: $f.json is not valid JSON" >&2
    fail=1
  else
    echo "ok: $f.json ($(stat -c %s "$p") bytes)" >&2
  fi
done
# The benchmark JSONs must hold at least one benchmark each.
for f in zmq_floor replication shim memenv repmgr; do
  p="$TMP/out/$f.json"
  [[ -s "$p" ]] || continue
  python3 - "$p" <<'PY' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
n = len(d.get("benchmarks", []))
if n == 0:
    sys.exit(f"FAIL: {sys.argv[1]} has no benchmarks")
for b in d["benchmarks"]:
    if b.get("error_occurred"):  # reported, not failed: the figures are not checked here
        print(f"warning: {sys.argv[1]}: {b['name']}: {b.get('error_message')}", file=sys.stderr)
PY
done
[[ $rc == 0 ]] || { echo "FAIL: bench.sh --quick exited $rc (see failed steps above)" >&2; fail=1; }
exit $fail
