#!/usr/bin/env bash
# Configures and builds into $BUILD_DIR (default build/). Pass BP_SANITIZE=ON
# in the environment for the ASan+UBSan build (default dir build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=${BP_SANITIZE:-OFF}
if [ "$SANITIZE" = ON ]; then BUILD_DIR=${BUILD_DIR:-build-asan}; else BUILD_DIR=${BUILD_DIR:-build}; fi
# The sanitizer build skips the benchmarks: it exists to run the test suites.
BENCH=ON
if [ "$SANITIZE" = ON ]; then BENCH=OFF; fi
# It is also built with -O1 and line tables only (-g1): about half the
# compile time of -O2 -g on these 2 cores, and sanitizer reports still name
# file and line.
EXTRA=()
if [ "$SANITIZE" = ON ]; then
  EXTRA=(-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1")
fi
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} -DBP_SANITIZE="$SANITIZE" \
  -DBP_BUILD_BENCHMARKS="${BP_BUILD_BENCHMARKS:-$BENCH}" "${EXTRA[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
