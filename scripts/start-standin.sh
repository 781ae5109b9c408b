#!/usr/bin/env bash
# scripts/start-standin.sh BUILD_DIR CONFIG PORT LOG: plays the Ministry of Justice's
# civil-status system for the dev stack (tests/standin: lgsp-ministry-standin, not part of
# the product). Seeds the stand-in's own copy of the registry from CONFIG when it is missing
# (config/ministry-standin.yaml: the dev stack's seed, so it names the same citizens), starts
# the stand-in on 127.0.0.1:PORT in the background with its output in LOG, waits until it
# answers, and prints its pid. Used by scripts/dev.sh and the tests that run `lgsp dev`.
set -euo pipefail
build=$1 config=$2 port=$3 log=$4
db=$(sed -n 's/^ *sqlite_path: *//p' "$config" | head -1)
[ -n "$db" ] || { echo "error: $config: no registries.civil-status.sqlite_path" >&2; exit 1; }
mkdir -p "$(dirname "$db")"
"$build/lgsp" seed --config "$config" >> "$log" 2>&1 ||
  { echo "error: seeding the stand-in's registry failed; see $log" >&2; exit 1; }
"$build/lgsp-ministry-standin" --port "$port" --civil-status-db "$db" >> "$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/__stats" > /dev/null 2>&1; then
    echo "$pid"
    exit 0
  fi
  kill -0 "$pid" 2> /dev/null || break
  sleep 0.1
done
echo "error: the ministry stand-in did not start on 127.0.0.1:$port; see $log" >&2
kill "$pid" 2> /dev/null || true
exit 1
