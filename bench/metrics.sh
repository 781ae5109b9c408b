#!/usr/bin/env bash
# Issue 5's figure: what metrics cost. Population verify through the whole stack (`lgsp dev`,
# audit on) under wrk 4.1 (2 threads, 64 connections, 10 s), alternately without any scraper
# and while Debian's Prometheus scrapes the admin port every second (15 s to 60 s is usual in
# production: this is the heavy end). Three runs each, interleaved so drift hits both alike.
# Also prints what one scrape costs: size and time of GET /metrics under load.
# Usage: bench/metrics.sh   (build first: scripts/dev.sh, which builds build/lgsp)
set -euo pipefail
cd "$(dirname "$0")/.."
lgsp=./build/lgsp
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

sed -e "s#127.0.0.1:8080#127.0.0.1:38080#; s#127.0.0.1:9464#127.0.0.1:39464#" \
    -e "s#127.0.0.1:9465#127.0.0.1:39465#; s#127.0.0.1:9466#127.0.0.1:39466#" \
    -e "s#run/#$work/#g" -e "s#citizens: 100000#citizens: 20000#" config/dev.yaml > "$work/dev.yaml"
"$lgsp" keys init --config "$work/dev.yaml" 2> /dev/null
# The citizen identity provider's keys (a stand-in) where auth.citizen.jwks_file looks.
"$(dirname "$lgsp")/lgsp-citizen-idp" --dir "$(dirname "$(awk '/jwks_file:/{print $2}' "$work/dev.yaml")")" > /dev/null
"$lgsp" dev --config "$work/dev.yaml" > "$work/dev.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do curl -fsS http://127.0.0.1:39464/readyz > /dev/null 2>&1 && break; sleep 0.1; done
"$lgsp" seed --config "$work/dev.yaml" --samples 1000 | grep '"registry":"population"' > "$work/subjects.jsonl"
export SUBJECTS_FILE="$work/subjects.jsonl"

cat > "$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: lgsp-gateway
    static_configs: [{targets: ["127.0.0.1:39464"]}]
YAML

wrk_row() {  # -> "rps | p50 | p99 | non-2xx"
  local out
  out=$(LGSP_ROUTE=verify wrk -t2 -c64 -d10s -s bench/request.lua http://127.0.0.1:38080 2>&1)
  echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') | $(echo "$out" | awk '/^p50:/{print $2}') |" \
       "$(echo "$out" | awk '/^p99:/{print $2}') | $(echo "$out" | awk '/^non-2xx:/{print $2}')"
}

LGSP_ROUTE=verify wrk -t1 -c8 -d3s -s bench/request.lua http://127.0.0.1:38080 > /dev/null  # warm-up
echo "machine: $(nproc) cores; $(date -u +%FT%TZ)"
echo
echo "| scraping | run | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|"
for run in 1 2 3; do
  echo "| none | $run | $(wrk_row) |"
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb-$run" \
    --web.listen-address=127.0.0.1:39090 > "$work/prometheus.log" 2>&1 &
  prom=$!
  for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:39090/-/ready > /dev/null 2>&1 && break; sleep 0.1; done
  sleep 2  # first scrapes done
  echo "| Prometheus, every 1 s | $run | $(wrk_row) |"
  scrapes=$(curl -fsS http://127.0.0.1:39090/api/v1/query --data-urlencode 'query=count_over_time(up[15s])' | jq -r '.data.result[0].value[1]')
  kill "$prom"; wait "$prom" 2> /dev/null || true
  echo "|   | scrapes in the last 15 s: $scrapes | | | | |"
done

# One scrape while under load: bytes and seconds.
LGSP_ROUTE=verify wrk -t2 -c64 -d6s -s bench/request.lua http://127.0.0.1:38080 > /dev/null &
load=$!
sleep 2
echo
for i in 1 2 3; do
  curl -s -o /dev/null -w "GET /metrics under load: %{size_download} bytes in %{time_total} s\n" http://127.0.0.1:39464/metrics
  sleep 1
done
wait "$load" || true
echo "series exported: $(curl -fsS http://127.0.0.1:39464/metrics | grep -vc '^#')"
