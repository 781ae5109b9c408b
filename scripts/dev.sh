#!/usr/bin/env bash
# README command (1): install what is missing, build, and run the whole stack on the
# embedded default (Kafka-protocol cluster in-process, SQLite registries seeded on first run,
# and the civil-status registry served through the upstream backend by a stand-in for the
# Ministry of Justice's system on 127.0.0.1:8091). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/ccache-env.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j "$(nproc)" --target lgsp lgsp-ministry-standin lgsp-citizen-idp
# The citizen identity provider's stand-in: its signing key (created once) and the JWKS that
# config/dev.yaml's auth.citizen trusts; `./build/lgsp-citizen-idp --citizen ID` prints a token.
./build/lgsp-citizen-idp --dir run/citizen-idp
# The secrets config/dev.yaml names, created once and kept across runs (run/ is not
# committed): the audit subject-hash key, the envelope sealing keys (one per registry and
# one for audit events) and the audit writer's signing key pair.
./build/lgsp keys init --config config/dev.yaml
mkdir -p run
echo "starting the Ministry of Justice stand-in (civil status) on 127.0.0.1:8091"
standin=$(scripts/start-standin.sh build config/ministry-standin.yaml 8091 run/ministry-standin.log)
trap 'kill "$standin" 2> /dev/null || true' EXIT
./build/lgsp dev --config "${LGSP_CONFIG:-config/dev.yaml}"
