#!/usr/bin/env bash
# README command (2): install what is missing, build with AddressSanitizer + UBSan and
# warnings as errors (the `asan` preset, in build-asan/; the README's run command keeps its
# own RelWithDebInfo build in build/), check formatting and clang-tidy (LGSP_TIDY=0 skips it
# locally), run every test with ctest under the sanitizers (unit, integration with fault
# tests, the `lgsp dev` smoke test, the OpenAPI contract, metrics on a real Prometheus, the
# offline Helm/Dockerfile checks, the committed fuzz corpus replayed through each fuzz
# target linked with a plain main()).
# LGSP_EXTENDED=1 also fuzzes each target for 60 s with libFuzzer (tests/fuzz/run.sh 60:
# a clang build in build-fuzz/).
# Compiles go through ccache and clang-tidy through scripts/tidy.py, which both skip what
# they already did for identical input (under ~/.cache, shared by every clone on the
# machine): a first run takes the full time, a run after a small change a fraction of it.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
took() { echo "   ($(( SECONDS - start )) s so far)"; }
scripts/install-deps.sh
source scripts/ccache-env.sh
cmake --preset asan -DLGSP_WERROR=ON > /dev/null
cmake --build build-asan -j "$(nproc)"
took

echo "== clang-format"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

# clang-tidy runs beside ctest, at the lowest CPU priority: the test entries mostly wait
# (on Kafka, timeouts, child processes), and clang-tidy takes the cores they leave idle, so
# a cold run's ~9 minutes of clang-tidy no longer come on top of the tests' wall time.
tidy_pid=""
tidy_log=build-asan/clang-tidy.log
if [ "${LGSP_TIDY:-1}" = "1" ]; then
  echo "== clang-tidy (beside ctest, nice 19; its report follows the tests)"
  git ls-files '*.cpp' | grep -v '^tests/' |
    nice -n 19 xargs scripts/tidy.py build-asan > "$tidy_log" 2>&1 &
  tidy_pid=$!
fi

echo "== ctest (AddressSanitizer + UndefinedBehaviorSanitizer)"
# Four entries at once: the suites mostly wait (on Kafka, timeouts, child processes), so on
# 2 cores four run in ~40 % of the serial time. Entries share nothing: free ports, their own
# topic prefixes and PostgreSQL databases; the two on fixed ports hold a RESOURCE_LOCK.
ctest_status=0
ctest --test-dir build-asan --output-on-failure -j 4 || ctest_status=$?
took

tidy_status=0
if [ -n "$tidy_pid" ]; then
  echo "== clang-tidy report"
  wait "$tidy_pid" || tidy_status=$?
  cat "$tidy_log"
  took
fi
if [ "$ctest_status" != 0 ] || [ "$tidy_status" != 0 ]; then
  echo "FAILED: ctest exit $ctest_status, clang-tidy exit $tidy_status" >&2
  exit 1
fi

if [ "${LGSP_EXTENDED:-0}" = "1" ]; then
  echo "== fuzzing, 60 s per target"
  tests/fuzz/run.sh 60
fi
