#!/usr/bin/env bash
# README command (1): install what is missing, build, and run the whole stack on the
# embedded default (Kafka-protocol cluster in-process, SQLite registry seeded on first run).
# Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/ccache-env.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j "$(nproc)" --target lgsp
# The audit trail's subject-hash key: created once, kept across runs (run/ is not committed).
./build/lgsp keys secret run/audit-subject.key
exec ./build/lgsp dev --config "${LGSP_CONFIG:-config/dev.yaml}"
