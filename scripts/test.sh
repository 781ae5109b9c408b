#!/usr/bin/env bash
# README command (2): install what is missing, build with AddressSanitizer + UBSan and
# warnings as errors (the `asan` preset, in build-asan/; the README's run command keeps its
# own Release build in build/), check formatting and clang-tidy (LGSP_TIDY=0 skips it
# locally), run every test with ctest under the sanitizers (unit, integration with fault
# tests, the `lgsp dev` smoke test, the OpenAPI contract, metrics on a real Prometheus, the
# offline Helm/Dockerfile checks), then replay the committed fuzz corpus through the
# libFuzzer targets (clang, build-fuzz/).
# LGSP_EXTENDED=1 also fuzzes each target for 60 s (tests/fuzz/run.sh 60).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset asan -DLGSP_WERROR=ON > /dev/null
cmake --build build-asan -j "$(nproc)"

echo "== clang-format"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

if [ "${LGSP_TIDY:-1}" = "1" ]; then
  echo "== clang-tidy"
  git ls-files '*.cpp' | grep -v '^tests/' | xargs -P "$(nproc)" -n 4 clang-tidy -p build-asan --quiet
fi

echo "== ctest (AddressSanitizer + UndefinedBehaviorSanitizer)"
ctest --test-dir build-asan --output-on-failure

echo "== fuzz corpus replay"
if [ "${LGSP_EXTENDED:-0}" = "1" ]; then
  tests/fuzz/run.sh 60
else
  tests/fuzz/run.sh --replay
fi
