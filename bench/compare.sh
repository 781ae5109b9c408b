#!/usr/bin/env bash
# Issue 6's table: our path side by side with this machine's ceilings, in one run.
#  - HTTP ceilings: nginx (Debian) answering a static 200 on loopback, and a bare Boost.Beast
#    server answering a fixed reply (bench/ceilings/bare_beast.cpp);
#  - bus ceiling: raw request-reply over the same embedded cluster with our bus code
#    (bench/ceilings/bus_ceiling.cpp);
#  - ours: population verify, lookup and citizen profile through `lgsp dev` (audit on).
# Saturation: wrk 4.1, 2 threads, 64 connections, 10 s. Fixed offered loads (25/50/90% of
# our verify maximum, and 5,000 req/s): hey, 64 workers with a per-worker rate limit.
# CPU per request from /proc/PID/stat; peak RSS from VmHWM; memory over a 60 s run.
# Usage: bench/compare.sh [--quick]   (build first: scripts/dev.sh; the ceilings' targets are
# built here, in the same build/)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --bench > /dev/null
lgsp=./build/lgsp
bare=./build/bench/lgsp_bare_beast
ceiling=./build/bench/lgsp_bus_ceiling
if [ ! -f build/CMakeCache.txt ]; then
  echo "bench/compare.sh: no build/ yet: run scripts/dev.sh once (it configures and builds it)" >&2
  exit 2
fi
source scripts/ccache-env.sh
cmake --build build -j2 --target lgsp lgsp-citizen-idp lgsp_bare_beast lgsp_bus_ceiling > /dev/null
secs=10; soak=60
[ "${1:-}" = "--quick" ] && { secs=5; soak=20; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cpu_ticks() {  # total user+system ticks of the given pids
  local t=0
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
# thread_ticks PID -> "name ticks" per thread name (our threads are named: lgsp-http,
# lgsp-bus-send, lgsp-population, lgsp-audit, ...; rdk:broker* are librdkafka's client I/O
# threads, rdk:mock the embedded broker)
thread_ticks() {
  for t in /proc/"$1"/task/*; do echo "$(tr ' ' '_' < "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done |
    awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
}
hwm_mib() { awk '/VmHWM/{printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
rss_mib() { awk '/VmRSS/{printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# wrk_row NAME URL SCRIPT PIDS... -> one table row; sets $rps
wrk_row() {
  local name=$1 url=$2 script=$3; shift 3
  local t0 t1 out reqs
  t0=$(cpu_ticks "$@")
  out=$(wrk -t2 -c64 -d"${secs}"s -s "$script" "$url" 2>&1)
  t1=$(cpu_ticks "$@")
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  local cpu_us
  cpu_us=$(awk -v d=$((t1 - t0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f", d / hz * 1e6 / n}')
  echo "| $name | wrk -t2 -c64 | $(printf '%.0f' "$rps") | $(echo "$out" | awk '/^p50:/{print $2}') |" \
       "$(echo "$out" | awk '/^p99:/{print $2}') | $(echo "$out" | awk '/^p99.9:/{print $2}') |" \
       "$(echo "$out" | awk '/^non-2xx:/{print $2}') | $cpu_us | $(hwm_mib "$1") |"
}

# hey_row NAME RATE BODY -> a fixed offered load; hey's percentiles (no p99.9)
hey_row() {
  local name=$1 rate=$2 body=$3 per out
  per=$(awk -v r="$rate" 'BEGIN{printf "%.2f", r / 64}')
  out=$(hey -z "${secs}s" -c 64 -q "$per" -m POST -T application/json \
        -H "Authorization: Bearer demo-key-for-local-use-only" -d "$body" \
        http://127.0.0.1:38080/v1/population/verify 2>&1)
  local got p50 p99 errs
  got=$(echo "$out" | awk '/Requests\/sec/{printf "%.0f", $2}')
  p50=$(echo "$out" | awk '/ 50% in /{printf "%.2f", $3 * 1000}')
  p99=$(echo "$out" | awk '/ 99% in /{printf "%.2f", $3 * 1000}')
  errs=$(echo "$out" | awk '/^ *\[[0-9]+\]/{gsub(/[\[\]]/,"",$1); if ($1 != "200") n += $2} END{print n + 0}')
  echo "| $name | hey, $rate req/s offered | $got | $p50 | $p99 | - | $errs | | |"
}

echo "machine: $(nproc) cores; $(date -u +%FT%TZ); load generator on the same cores"
echo
echo "| target | load | req/s | p50 ms | p99 ms | p99.9 ms | non-2xx | CPU µs/req | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|"

# 1. nginx: a static 200.
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:38081;
    location / { default_type application/json; return 200 '{"match":true,"subject_found":true}'; }
  }
}
NGINX
/usr/sbin/nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)
sleep 1
nginx_pids=$(pgrep -f "nginx: worker process" | tr '\n' ' ')
# shellcheck disable=SC2086
wrk_row "nginx static 200" http://127.0.0.1:38081/ bench/latency.lua $nginx_pids
nginx_rps=$rps
kill "${pids[-1]}"; wait "${pids[-1]}" 2> /dev/null || true; unset 'pids[-1]'

# 2. bare Beast.
"$bare" 38082 2 &
pids+=($!)
sleep 0.5
wrk_row "bare Beast, fixed reply" http://127.0.0.1:38082/ bench/latency.lua "${pids[-1]}"
kill "${pids[-1]}"; wait "${pids[-1]}" 2> /dev/null || true; unset 'pids[-1]'

# 3. Bus ceiling (our bus code, embedded cluster, window 64).
bus=$("$ceiling" "$secs" 64)
echo "| bus ceiling: raw request-reply, embedded cluster | 64 in flight | $(echo "$bus" | awk '/round_trips/{printf "%.0f", $2}') |" \
     "$(echo "$bus" | awk '/p50_ms/{printf "%.2f", $2}') | $(echo "$bus" | awk '/^p99_ms/{printf "%.2f", $2}') |" \
     "$(echo "$bus" | awk '/p999_ms/{printf "%.2f", $2}') | 0 | | |"

# 4. Our path.
sed -e "s#127.0.0.1:8080#127.0.0.1:38080#; s#127.0.0.1:9464#127.0.0.1:39464#" \
    -e "s#127.0.0.1:9465#127.0.0.1:39465#; s#127.0.0.1:9466#127.0.0.1:39466#" \
    -e "s#run/#$work/#g" -e "s#level: info#level: warn#" config/dev.yaml > "$work/dev.yaml"
"$lgsp" keys init --config "$work/dev.yaml" 2> /dev/null
# The citizen identity provider's keys (a stand-in) where auth.citizen.jwks_file looks.
"$(dirname "$lgsp")/lgsp-citizen-idp" --dir "$(dirname "$(awk '/jwks_file:/{print $2}' "$work/dev.yaml")")" > /dev/null
"$lgsp" dev --config "$work/dev.yaml" > "$work/dev.log" 2>&1 &
dev=$!
pids+=($dev)
for _ in $(seq 1 900); do curl -fsS http://127.0.0.1:39464/readyz > /dev/null 2>&1 && break; sleep 0.1; done
"$lgsp" seed --config "$work/dev.yaml" --samples 1000 | grep '"registry":"population"' > "$work/subjects.jsonl"
export SUBJECTS_FILE="$work/subjects.jsonl"
LGSP_ROUTE=verify wrk -t1 -c8 -d3s -s bench/request.lua http://127.0.0.1:38080 > /dev/null  # warm-up
for route in verify lookup profile; do
  export LGSP_ROUTE=$route
  [ "$route" = verify ] && thread_ticks "$dev" > "$work/threads.0"
  wrk_row "ours: $route (lgsp dev)" http://127.0.0.1:38080 bench/request.lua "$dev"
  if [ "$route" = verify ]; then
    verify_rps=$rps
    thread_ticks "$dev" > "$work/threads.1"
  fi
done
unset LGSP_ROUTE
body=$(head -1 "$work/subjects.jsonl" | jq -c '{citizen_id, full_name, date_of_birth, purpose:"benchmark"}')
for pct in 25 50 90; do
  hey_row "ours: verify at $pct% of its maximum" "$(awk -v r="$verify_rps" -v p="$pct" 'BEGIN{printf "%.0f", r * p / 100}')" "$body"
done
hey_row "ours: verify at 5,000 req/s" 5000 "$body"

echo
echo "where a verify's CPU goes at saturation (µs per request, by thread of lgsp dev):"
join "$work/threads.0" "$work/threads.1" |
  awk -v rps="$verify_rps" -v s="$secs" -v hz="$(getconf CLK_TCK)" '
    { us = ($3 - $2) / hz * 1e6 / (rps * s); if (us >= 0.5) { printf "  %-16s %6.1f\n", $1, us; t += us } }
    $1 ~ /^rdk:mock/ { b += ($3 - $2) / hz * 1e6 / (rps * s) }
    $1 ~ /^rdk:/ { k += ($3 - $2) / hz * 1e6 / (rps * s) }
    END { printf "  %-16s %6.1f  (the embedded broker %.0f%%, all of librdkafka %.0f%%)\n", "total", t, 100 * b / t, 100 * k / t }'
echo
echo "ours / ceiling (verify req/s): $(awk -v a="$verify_rps" -v b="$nginx_rps" 'BEGIN{printf "%.1f%%", 100 * a / b}') of nginx (target ≥ 25%)"
echo
echo "memory of lgsp dev over a ${soak} s run at 50% of the verify maximum (RSS MiB every 5 s):"
per=$(awk -v r="$verify_rps" 'BEGIN{printf "%.2f", r / 2 / 64}')
hey -z "${soak}s" -c 64 -q "$per" -m POST -T application/json \
  -H "Authorization: Bearer demo-key-for-local-use-only" -d "$body" \
  http://127.0.0.1:38080/v1/population/verify > /dev/null 2>&1 &
load=$!
samples=""
for _ in $(seq 1 $((soak / 5))); do sleep 5; samples="$samples $(rss_mib "$dev")"; done
wait "$load" || true
echo " $samples"
