#!/usr/bin/env bash
# Prints the walking skeleton's figures on this machine:
#   - seeding time for 1 M (and with --big, 10 M) citizens;
#   - verify through the whole path (HTTP -> Kafka protocol -> connector -> SQLite -> back)
#     sequentially (wrk, 1 connection) and under load (wrk, 2 threads, 64 connections).
# Usage: bench/run.sh [--big]   (build first: scripts/dev.sh, which builds build/lgsp)
set -euo pipefail
cd "$(dirname "$0")/.."
lgsp=./build/lgsp
big=0; [ "${1:-}" = "--big" ] && big=1
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

profile() {  # profile NAME CITIZENS: the shipped dev profile on bench ports in $work
  sed -e "s#127.0.0.1:8080#127.0.0.1:28080#; s#127.0.0.1:9464#127.0.0.1:29464#" \
      -e "s#run/#$work/$1-#g" -e "s#citizens: 100000#citizens: $2#" \
      config/dev.yaml > "$work/$1.yaml"
  "$lgsp" keys init --config "$work/$1.yaml" 2> /dev/null
  # The citizen identity provider's keys (a stand-in) where auth.citizen.jwks_file looks.
  "$(dirname "$lgsp")/lgsp-citizen-idp" --dir "$(dirname "$(awk '/jwks_file:/{print $2}' "$work/$1.yaml")")" > /dev/null
}

seed_time() {  # prints seconds to seed N citizens
  profile "seed$1" "$1"
  local t0 t1
  t0=$(date +%s.%N)
  "$lgsp" seed --config "$work/seed$1.yaml" > /dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}'
  rm -f "$work/seed$1-population.db"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%FT%TZ)"
echo
echo "| seeding | citizens | seconds |"
echo "|---|---|---|"
echo "| SQLite population + insurance + vehicle registries | 1,000,000 | $(seed_time 1000000) |"
[ "$big" = 1 ] && echo "| SQLite population + insurance + vehicle registries | 10,000,000 | $(seed_time 10000000) |"
echo

profile load 100000
"$lgsp" dev --config "$work/load.yaml" > "$work/dev.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do curl -fsS http://127.0.0.1:29464/readyz > /dev/null 2>&1 && break; sleep 0.1; done
"$lgsp" seed --config "$work/load.yaml" --samples 1000 | grep '"registry":"population"' > "$work/subjects.jsonl"
export SUBJECTS_FILE="$work/subjects.jsonl"

run_wrk() {  # run_wrk THREADS CONNS SECONDS -> "rps p50 p99 p99.9 non2xx"
  local out
  out=$(wrk -t"$1" -c"$2" -d"$3"s --latency -s bench/request.lua http://127.0.0.1:28080 2>&1)
  local rps p50 p99 p999 errs
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  p50=$(echo "$out" | awk '/^p50:/{print $2}')
  p99=$(echo "$out" | awk '/^p99:/{print $2}')
  p999=$(echo "$out" | awk '/^p99.9:/{print $2}')
  errs=$(echo "$out" | awk '/^non-2xx:/{print $2}')
  echo "$rps | $p50 | $p99 | $p999 | $errs"
}

run_wrk 1 8 3 > /dev/null  # warm-up
echo "| verify, whole path (load generator: wrk 4.1) | req/s | p50 ms | p99 ms | p99.9 ms | non-2xx |"
echo "|---|---|---|---|---|---|"
echo "| sequential: 1 connection, 15 s | $(run_wrk 1 1 15) |"
echo "| 2 threads, 16 connections, 15 s | $(run_wrk 2 16 15) |"
echo "| 2 threads, 64 connections, 15 s | $(run_wrk 2 64 15) |"
rss=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
echo
echo "lgsp dev peak RSS: $((rss / 1024)) MiB"
