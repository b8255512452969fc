#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds, and
# runs every test (labels unit, integration, drill, sim), then the unit,
# integration and sim suites again under ASan+UBSan, then each libFuzzer target for
# BP_FUZZ_SECONDS (default 30) s (scripts/fuzz.sh; BP_SKIP_FUZZ=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure --timeout 600 ${CTEST_ARGS:-})
if [ "${BP_SKIP_ASAN:-0}" != 1 ]; then
  BP_SANITIZE=ON bash scripts/build.sh
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure --timeout 600 -L 'unit|integration|sim' ${CTEST_ARGS:-})
fi
if [ "${BP_SKIP_FUZZ:-0}" != 1 ]; then
  bash scripts/fuzz.sh
fi
