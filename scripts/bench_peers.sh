#!/usr/bin/env bash
# Builds and runs the peer baseline: Berkeley DB 5.3's own Replication Manager
# measured on this machine (bench/peers/, target repmgr_bench).
#
#   scripts/bench_peers.sh                 # full mode (about 2 minutes)
#   scripts/bench_peers.sh --quick         # tiny counts, CI smoke (30-45 s); or BP_BENCH_QUICK=1
#   scripts/bench_peers.sh --benchmark_format=json --benchmark_out=repmgr.json
#   scripts/bench_peers.sh --benchmark_filter='best'
#
# BUILD_DIR (default build/) selects the build tree. Only the three peer
# targets are built, so other folders need not compile.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target repmgr_bench repmgr_site nodelay_preload >/dev/null
exec "$BUILD_DIR/bench/repmgr_bench" "$@"
