#!/usr/bin/env bash
# README command (2): install what is missing, build with warnings as errors, check
# formatting and clang-tidy (LGSP_TIDY=0 skips it locally), then run every test with ctest: unit,
# integration (real loopback sockets, embedded Kafka-protocol cluster, real SQLite) and the
# `lgsp dev` smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLGSP_WERROR=ON > /dev/null
cmake --build build -j "$(nproc)"

echo "== clang-format"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

if [ "${LGSP_TIDY:-1}" = "1" ]; then
  echo "== clang-tidy"
  git ls-files '*.cpp' | grep -v '^tests/' | xargs -P "$(nproc)" -n 4 clang-tidy -p build --quiet
fi

echo "== ctest"
ctest --test-dir build --output-on-failure
