#!/usr/bin/env bash
# Contract test of docs/openapi.yaml: lint it (redocly, tests/contract/redocly.yaml), then run
# `lgsp dev` as a real process on private ports (like tests/smoke/dev_smoke.sh) and check every
# answer of a catalogue of requests against it (validate-responses.mjs). SIGTERM must exit 0.
# Needs node >= 20.19 and npm; installs the pinned toolset (package-lock.json) with `npm ci`
# when node_modules is missing.
set -euo pipefail
lgsp=$(realpath "${1:?usage: contract_test.sh path/to/lgsp}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
started=$(date +%s)

if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

echo "== redocly lint docs/openapi.yaml"
(cd "$here" && npx --no-install redocly lint --config redocly.yaml "$root/docs/openapi.yaml")

# shellcheck source=../support/dev_process.sh
. "$root/tests/support/dev_process.sh"

# The shipped profile on ports 2xxxx (every listener: API, admin, connector admin, audit
# writer admin) and in a temp dir, with a 1 s read timeout (so a 408 is quick to provoke).
# Bulk jobs hold at most 100,000 records, so that a 413 over max_records is quick to provoke.
# Two partners are added, with a tiny rate limit and a tiny daily quota, so that 429s can be
# provoked (the demo partners' limits are far too large for that); the first may also start
# birth registrations, so that a procedure's 429 can be provoked too.
dev_profile 2 "$work/dev.yaml" "s#read_timeout_ms: 10000#read_timeout_ms: 1000#" \
  "s#^  max_active_jobs_per_partner: 2\$#&\n  max_records: 100000#"
grep -q '^  max_records: 100000$' "$work/dev.yaml" || { echo "FAIL: config/dev.yaml no longer has batches.max_active_jobs_per_partner: 2"; exit 1; }
tail -n 1 "$work/dev.yaml" | grep -q '^ ' || { echo "FAIL: partners is no longer the last section of config/dev.yaml"; exit 1; }
cat >> "$work/dev.yaml" <<'EOF'
  - id: contract-rate
    name: Contract test partner with a tiny rate limit
    demo: true
    api_key_sha256: [fec181fa6da88bce290804689b68240255f9617a02505ed9feb3dafb5306ba99]  # contract-rate-key
    operations: [population.verify, procedure.birth-registration]
    rate_limit: {requests_per_second: 1, burst: 1}
  - id: contract-quota
    name: Contract test partner with a tiny daily quota and no registry to profile
    demo: true
    api_key_sha256: [7d3cafb706f8f0be913c69d236a26331ec508bb32480350645437e2deaf5685e]  # contract-quota-key
    operations: [population.verify, citizen.profile]
    daily_quota: 3
EOF

for port in 28080 29464; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "FAIL: something already listens on 127.0.0.1:$port (another contract test?)"; exit 1
  fi
done
start_dev 2  # civil status through the upstream backend, as in scripts/dev.sh
pid=$dev_pid

"$lgsp" seed --config "$work/dev.yaml" --samples 1 > "$work/samples.jsonl"
# Civil status is the stand-in ministry's (upstream backend): its samples come from its copy.
"$lgsp" seed --config "$work/standin.yaml" --samples 1 >> "$work/samples.jsonl"

echo "== validate-responses.mjs"
status=0
node "$here/validate-responses.mjs" --spec "$root/docs/openapi.yaml" \
  --api http://127.0.0.1:28080 --admin http://127.0.0.1:29464 \
  --samples "$work/samples.jsonl" --config "$work/dev.yaml" \
  --rate-key contract-rate-key --quota-key contract-quota-key \
  --citizen-idp "$(dirname "$lgsp")/lgsp-citizen-idp" --citizen-idp-dir "$work/citizen-idp" || status=$?

kill -0 "$pid" 2>/dev/null || { echo "FAIL: lgsp dev is no longer running"; tail -30 "$work/dev.log"; exit 1; }
stop_process "$pid" "lgsp dev" "$work/dev.log" || exit 1
pids=()
[ "$status" -eq 0 ] || { echo "FAIL: answers do not match docs/openapi.yaml (see FAIL lines)"; exit 1; }
echo "contract: passed in $(( $(date +%s) - started )) s"
