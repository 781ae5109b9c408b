#!/usr/bin/env bash
# Issue 3's figures on this machine:
#   - citizen-profile (3 registries fanned out and joined) vs a single population lookup,
#     sequential (wrk, 1 connection): p50/p99;
#   - verify throughput with the SQLite backend vs the PostgreSQL backend (wrk, 64
#     connections), PostgreSQL being a throwaway server on loopback (tests/support/with_postgres.sh).
# Usage: bench/registries.sh   (build first: scripts/dev.sh, which builds build/lgsp)
set -euo pipefail
cd "$(dirname "$0")/.."
lgsp=$PWD/build/lgsp
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# profile NAME BACKEND: the shipped dev profile on bench ports, registries in $work or PostgreSQL.
profile() {
  sed -e "s#127.0.0.1:8080#127.0.0.1:28080#; s#127.0.0.1:9464#127.0.0.1:29464#" \
      -e "s#run/#$work/$1-#g" config/dev.yaml > "$work/$1.yaml"
  "$lgsp" keys init --config "$work/$1.yaml" 2> /dev/null
  # The citizen identity provider's keys (a stand-in) where auth.citizen.jwks_file looks.
  "$(dirname "$lgsp")/lgsp-citizen-idp" --dir "$(dirname "$(awk '/jwks_file:/{print $2}' "$work/$1.yaml")")" > /dev/null
  if [ "$2" = postgres ]; then
    sed -i -e "s#    backend: sqlite#    backend: postgres\n    postgres_dsn_env: LGSP_TEST_PG_DSN#" "$work/$1.yaml"
  fi
}

wrk_row() {  # wrk_row ROUTE CONNS SECONDS -> "rps | p50 | p99 | non-2xx"
  local out
  out=$(LGSP_ROUTE=$1 wrk -t"$([ "$2" = 1 ] && echo 1 || echo 2)" -c"$2" -d"$3"s -s bench/request.lua \
        http://127.0.0.1:28080 2>&1)
  echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') | $(echo "$out" | awk '/^p50:/{print $2}') |" \
       "$(echo "$out" | awk '/^p99:/{print $2}') | $(echo "$out" | awk '/^non-2xx:/{print $2}')"
}

run_stack() {  # run_stack NAME: start lgsp dev on $work/NAME.yaml and wait until ready
  "$lgsp" dev --config "$work/$1.yaml" > "$work/$1.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -fsS http://127.0.0.1:29464/readyz > /dev/null 2>&1 && break; sleep 0.1; done
  "$lgsp" seed --config "$work/$1.yaml" --samples 1000 | grep '"registry":"population"' > "$work/subjects.jsonl"
  export SUBJECTS_FILE="$work/subjects.jsonl"
  LGSP_ROUTE=verify wrk -t1 -c8 -d3s -s bench/request.lua http://127.0.0.1:28080 > /dev/null 2>&1  # warm-up
}
stop_stack() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }

echo "| backend | measurement (wrk 4.1) | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|"
profile sqlite sqlite
run_stack sqlite
echo "| SQLite | population lookup, 1 connection, 15 s | $(wrk_row lookup 1 15) |"
echo "| SQLite | citizen-profile (3 registries), 1 connection, 15 s | $(wrk_row profile 1 15) |"
echo "| SQLite | verify, 64 connections, 15 s | $(wrk_row verify 64 15) |"
stop_stack

# PostgreSQL: a throwaway server for this run, seeded with the same 100,000 citizens.
export -f profile run_stack stop_stack wrk_row
export lgsp work
tests/support/with_postgres.sh bash -c '
  set -euo pipefail
  profile pg postgres
  "$lgsp" seed --config "$work/pg.yaml" --force > /dev/null 2>&1
  run_stack pg
  echo "| PostgreSQL | population lookup, 1 connection, 15 s | $(wrk_row lookup 1 15) |"
  echo "| PostgreSQL | verify, 64 connections, 15 s | $(wrk_row verify 64 15) |"
  stop_stack'
