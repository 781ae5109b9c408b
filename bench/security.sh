#!/usr/bin/env bash
# Issue 4's figures: population verify through the whole stack with and without TLS, and
# with the audit trail on (every request an event on Kafka, appended to the hash chain) and
# off. Same machine, same profile (config/dev.yaml on bench ports), wrk 4.1 as the load
# generator, 64 connections (three runs) and 1 connection per configuration.
# Usage: bench/security.sh   (build first: scripts/dev.sh, which builds build/lgsp)
set -euo pipefail
cd "$(dirname "$0")/.."
lgsp=./build/lgsp
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A throwaway CA and a server certificate for localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj '/CN=bench CA' \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2> /dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=localhost' \
  -keyout "$work/server.key" -out "$work/server.csr" 2> /dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -days 1 -extfile "$work/server.ext" -out "$work/server.crt" 2> /dev/null

profile() {  # profile NAME TLS(0|1) AUDIT(true|false)
  sed -e "s#127.0.0.1:8080#127.0.0.1:28080#; s#127.0.0.1:9464#127.0.0.1:29464#" \
      -e "s#run/#$work/$1-#g" -e "s#  enabled: true#  enabled: $3#" config/dev.yaml > "$work/$1.yaml"
  if [ "$2" = 1 ]; then
    sed -i "s#^  listen: 127.0.0.1:28080#  listen: 127.0.0.1:28080\n  tls: {cert_file: $work/server.crt, key_file: $work/server.key}#" \
      "$work/$1.yaml"
  fi
  "$lgsp" keys init --config "$work/$1.yaml" 2> /dev/null
  # The citizen identity provider's keys (a stand-in) where auth.citizen.jwks_file looks.
  "$(dirname "$lgsp")/lgsp-citizen-idp" --dir "$(dirname "$(awk '/jwks_file:/{print $2}' "$work/$1.yaml")")" > /dev/null
}

wrk_row() {  # wrk_row URL THREADS CONNS SECONDS -> "rps | p50 | p99 | non-2xx"
  local out
  out=$(LGSP_ROUTE=verify wrk -t"$2" -c"$3" -d"$4"s -s bench/request.lua "$1" 2>&1)
  echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') | $(echo "$out" | awk '/^p50:/{print $2}') |" \
       "$(echo "$out" | awk '/^p99:/{print $2}') | $(echo "$out" | awk '/^non-2xx:/{print $2}')"
}

measure() {  # measure NAME TLS AUDIT LABEL
  profile "$1" "$2" "$3"
  "$lgsp" dev --config "$work/$1.yaml" > "$work/$1.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -fsS http://127.0.0.1:29464/readyz > /dev/null 2>&1 && break; sleep 0.1; done
  "$lgsp" seed --config "$work/$1.yaml" --samples 1000 | grep '"registry":"population"' > "$work/subjects.jsonl"
  export SUBJECTS_FILE="$work/subjects.jsonl"
  local url=http://127.0.0.1:28080
  [ "$2" = 1 ] && url=https://127.0.0.1:28080
  wrk_row "$url" 1 8 3 > /dev/null  # warm-up
  # Three runs each: this machine's figures move by ±20% from run to run; the rows show all
  # three so a difference can be judged against the noise.
  for run in 1 2 3; do echo "| $4 | 64 conns, 10 s, run $run | $(wrk_row "$url" 2 64 10) |"; done
  echo "| $4 | 1 conn, 10 s | $(wrk_row "$url" 1 1 10) |"
  if [ "$3" = true ]; then
    local events
    events=$(curl -fsS http://127.0.0.1:29464/metrics | awk '/^lgsp_gateway_audit_events_total\{.*result="delivered"/{print $2}')
    echo "|   | audit events delivered during the runs: ${events:-0} | | | | |"
  fi
  kill -TERM "$pid"; wait "$pid" || true; pid=""
}

echo "machine: $(nproc) cores; $(date -u +%FT%TZ); wrk keeps connections alive (one TLS handshake per connection)"
echo
echo "| configuration | load (wrk 4.1) | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|"
measure plain-audit 0 true "plain HTTP, audit on"
measure plain-noaudit 0 false "plain HTTP, audit off"
measure tls-audit 1 true "TLS 1.3, audit on"
measure tls-noaudit 1 false "TLS 1.3, audit off"
