#!/usr/bin/env bash
# Before/after: two builds of lgsp, run in turns (A, B, A, B, ...) so that drift on this
# shared machine hits both alike. Each round per build: lgsp dev on a fresh audit trail,
# verify with wrk at 1 connection (5 s) and 64 connections (10 s, with CPU per request),
# hey at 3,000 req/s offered (10 s), then 5 s idle (CPU of the idle process).
#   bench/ab.sh DIR_A DIR_B [ROUNDS]
# Each DIR holds `lgsp` and a `dev.yaml` that build accepts, listening on 127.0.0.1:38080
# (admin 39464, connector 39465, audit writer 39466) with its run files in DIR/run/, e.g.
#   sed -e 's#127.0.0.1:8080#127.0.0.1:38080#; s#127.0.0.1:9464#127.0.0.1:39464#' \
#       -e 's#127.0.0.1:9465#127.0.0.1:39465#; s#127.0.0.1:9466#127.0.0.1:39466#' \
#       -e "s#run/#$DIR/run/#g" -e 's#level: info#level: warn#' config/dev.yaml > $DIR/dev.yaml
#   $DIR/lgsp keys init --config $DIR/dev.yaml   (older builds: keys secret $DIR/run/audit-subject.key)
# DIR/lgsp may be a wrapper that execs a build with other settings, e.g. another allocator:
#   exec env LD_PRELOAD=libjemalloc.so.2 /path/to/build/lgsp "$@"
# To compare with a build older than 348d27a, run that one through bench/nodelay_shim.c.
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:?usage: bench/ab.sh DIR_A DIR_B [ROUNDS]}
b=${2:?usage: bench/ab.sh DIR_A DIR_B [ROUNDS]}
rounds=${3:-3}
work=$(mktemp -d)
trap 'pkill -f "lgsp dev --config $a/dev.yaml" || true; pkill -f "lgsp dev --config $b/dev.yaml" || true; rm -rf "$work"' EXIT

one() {
  local dir=$1
  rm -f "$dir"/run/audit.db* "$dir"/run/batches.db*
  "$dir/lgsp" dev --config "$dir/dev.yaml" > "$dir/dev.log" 2>&1 &
  local dev=$!
  for _ in $(seq 1 1200); do curl -fsS http://127.0.0.1:39464/readyz > /dev/null 2>&1 && break; sleep 0.1; done
  if [ ! -s "$work/subjects.jsonl" ]; then
    "$dir/lgsp" seed --config "$dir/dev.yaml" --samples 1000 | grep '"registry":"population"' > "$work/subjects.jsonl"
  fi
  export SUBJECTS_FILE="$work/subjects.jsonl" LGSP_ROUTE=verify
  local body
  body=$(head -1 "$work/subjects.jsonl" | jq -c '{citizen_id, full_name, date_of_birth, purpose:"benchmark"}')
  wrk -t1 -c8 -d3s -s bench/request.lua http://127.0.0.1:38080 > /dev/null 2>&1
  local seq t0 t1 out reqs cpu hey i0 i1
  seq=$(wrk -t1 -c1 -d5s -s bench/request.lua http://127.0.0.1:38080 2>&1 | awk '/^p50:/{print $2}')
  t0=$(awk '{print $14 + $15}' /proc/$dev/stat)
  out=$(wrk -t2 -c64 -d10s -s bench/request.lua http://127.0.0.1:38080 2>&1)
  t1=$(awk '{print $14 + $15}' /proc/$dev/stat)
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  cpu=$(awk -v d=$((t1 - t0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f", d / hz * 1e6 / n}')
  hey=$(hey -z 10s -c 64 -q 46.88 -m POST -T application/json \
        -H "Authorization: Bearer demo-key-for-local-use-only" -d "$body" \
        http://127.0.0.1:38080/v1/population/verify 2>&1)
  i0=$(awk '{print $14 + $15}' /proc/$dev/stat); sleep 5; i1=$(awk '{print $14 + $15}' /proc/$dev/stat)
  local rss
  rss=$(awk '/^VmHWM:/{printf "%.0f", $2 / 1024}' /proc/$dev/status)
  printf "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s%% | %s |\n" "$dir" "$seq" \
    "$(echo "$out" | awk '/Requests\/sec/{print $2}')" "$(echo "$out" | awk '/^p50:/{print $2}')" \
    "$(echo "$out" | awk '/^p99:/{print $2}')" "$cpu" \
    "$(echo "$hey" | awk '/Requests\/sec/{printf "%.0f", $2}')" \
    "$(echo "$hey" | awk '/ 50% in /{printf "%.2f", $3 * 1000}')" \
    "$(echo "$hey" | awk '/ 99% in /{printf "%.2f", $3 * 1000}')" \
    "$(( (i1 - i0) * 100 / (5 * $(getconf CLK_TCK)) ))" "$rss"
  kill "$dev"; wait "$dev" 2> /dev/null || true
}

echo "| build | sequential p50 ms | verify req/s (wrk -c64) | p50 ms | p99 ms | CPU µs/req | hey 3,000/s offered: got | p50 ms | p99 ms | idle CPU | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for _ in $(seq 1 "$rounds"); do one "$a"; one "$b"; done
