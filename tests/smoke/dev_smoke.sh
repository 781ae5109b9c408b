#!/usr/bin/env bash
# Smoke test of the README's run path: `lgsp dev` as a real process on its own ports, a
# verify through the whole stack with curl, kcat listing the topics on the embedded
# cluster, then a graceful SIGTERM that must exit 0.
set -euo pipefail
lgsp=${1:?usage: dev_smoke.sh path/to/lgsp}
# shellcheck source=../support/dev_process.sh
. "$(dirname "$0")/../support/dev_process.sh"

# The shipped profile on ports 1xxxx, in a temp dir, logging at debug level.
dev_profile 1 "$work/dev.yaml" "s#level: info#level: debug#"

start_standin 1  # civil status, through the upstream backend as in scripts/dev.sh
"$lgsp" keys init --config "$work/dev.yaml"
"$lgsp" dev --config "$work/dev.yaml" > "$work/dev.log" 2>&1 &
pid=$!
pids+=("$pid")
wait_ready http://127.0.0.1:19464/readyz "$work/dev.log"

subject=$("$lgsp" seed --config "$work/dev.yaml" --samples 1 | grep '"registry":"population"')
id=$(echo "$subject" | jq -r .citizen_id)
name=$(echo "$subject" | jq -r .full_name)
dob=$(echo "$subject" | jq -r .date_of_birth)
body=$(jq -nc --arg id "$id" --arg n "$name" --arg d "$dob" \
  '{citizen_id:$id, full_name:$n, date_of_birth:$d, purpose:"smoke-test"}')
answer=$(curl -fsS -X POST http://127.0.0.1:18080/v1/population/verify \
  -H 'Authorization: Bearer demo-key-for-local-use-only' -H 'Content-Type: application/json' -d "$body")
echo "$answer"
[ "$(echo "$answer" | jq -r .match)" = "true" ] || { echo "FAIL: expected match"; exit 1; }

bootstrap=$(cat "$work/kafka-bootstrap.txt")
topics=$(kcat -b "$bootstrap" -L -m 5)
grep -q 'topic "lgsp.population.requests" with 2 partitions' <<< "$topics" || { echo "FAIL: kcat: $topics"; exit 1; }
grep -q 'topic "lgsp.replies" with 4 partitions' <<< "$topics" || { echo "FAIL: kcat: $topics"; exit 1; }
grep -q 'topic "lgsp.audit" with 1 partitions' <<< "$topics" || { echo "FAIL: kcat: $topics"; exit 1; }

# More of the API with the same subject, including refusals that could echo input.
post() {  # key path body
  curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:18080$2" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$3"
}
key=demo-key-for-local-use-only
lookup=$(jq -nc --arg id "$id" '{citizen_id:$id, purpose:"smoke-test"}')
[ "$(post $key /v1/population/lookup "$lookup")" = 200 ] || { echo "FAIL: lookup"; exit 1; }
[ "$(post $key /v1/citizen-profile "$lookup")" = 200 ] || { echo "FAIL: profile"; exit 1; }
# Civil status is answered by the stand-in ministry's system through the upstream backend:
# a registration from its copy comes back, and the stand-in saw the call.
civil=$("$lgsp" seed --config "$work/standin.yaml" --samples 1 | grep '"registry":"civil-status"' | head -1)
civil_body=$(echo "$civil" | jq -c '{citizen_id, purpose:"smoke-test"}')
events=$(curl -fsS -X POST http://127.0.0.1:18080/v1/civil-status/lookup \
  -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "$civil_body")
kind=$(echo "$civil" | jq -r .kind) on=$(echo "$civil" | jq -r .event_date)
[ "$(echo "$events" | jq --arg k "$kind" --arg d "$on" '[.events[] | select(.kind == $k and .event_date == $d)] | length')" -ge 1 ] \
  || { echo "FAIL: civil-status lookup through the upstream: $events"; exit 1; }
[ "$(curl -fsS http://127.0.0.1:18091/__stats | jq .requests)" -ge 1 ] \
  || { echo "FAIL: the stand-in ministry saw no request"; exit 1; }
[ "$(post wrong-key /v1/population/lookup "$lookup")" = 401 ] || { echo "FAIL: 401"; exit 1; }
bad=$(jq -nc --arg id "$id" --arg n "$name" '{citizen_id:$id, full_name:$n, date_of_birth:$n, purpose:"smoke-test"}')
[ "$(post $key /v1/population/verify "$bad")" = 400 ] || { echo "FAIL: 400"; exit 1; }
[ "$(post demo-verify-only-key /v1/population/verify "$body")" = 403 ] || { echo "FAIL: purpose 403"; exit 1; }

# The citizen's access log lists the ministry's lookups (the writer appends within ~1 s).
log_body=$(jq -nc --arg id "$id" '{citizen_id:$id, purpose:"citizen-self-service"}')
for _ in $(seq 1 50); do
  accesses=$(curl -fsS -X POST http://127.0.0.1:18080/v1/audit/access-log \
    -H 'Authorization: Bearer demo-citizen-app-key' -H "Citizen-Token: $(citizen_token "$id")" \
    -H 'Content-Type: application/json' -d "$log_body")
  [ "$(echo "$accesses" | jq '.accesses | length')" -ge 4 ] && break
  sleep 0.1
done
echo "$accesses" | jq -c '.accesses[] | [.partner_id, .operation, .outcome]'
[ "$(echo "$accesses" | jq '[.accesses[] | select(.partner_id == "demo-ministry")] | length')" -ge 3 ] \
  || { echo "FAIL: access log: $accesses"; exit 1; }

# No personal data in metric labels either.
if curl -fsS http://127.0.0.1:19464/metrics | grep -e "$id" -e "$name" > /dev/null; then
  echo "FAIL: personal data in /metrics"; exit 1
fi

# SIGHUP reloads the partners without a restart (and the process keeps serving).
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q '"event":"config_reloaded"' "$work/dev.log" && break; sleep 0.1; done
grep -q '"event":"config_reloaded"' "$work/dev.log" || { echo "FAIL: SIGHUP did not reload"; exit 1; }
[ "$(post $key /v1/population/lookup "$lookup")" = 200 ] || { echo "FAIL: lookup after reload"; exit 1; }

stop_process "$pid" "lgsp dev" "$work/dev.log" || exit 1
pids=()

# No personal data in the logs, at debug level, after every route above (checked after the
# stop so the shutdown lines are included). The date of birth alone is not identifying.
if grep -q -e "$id" -e "$name" "$work/dev.log"; then echo "FAIL: personal data in log"; exit 1; fi
lines=$(wc -l < "$work/dev.log")

# Every request reached the audit chain (the stop flushed it) and the chain verifies.
report=$("$lgsp" audit verify --config "$work/dev.yaml" 2>/dev/null) || { echo "FAIL: audit verify: $report"; exit 1; }
echo "$report"
# Exactly one record per API request (one http_request log line each), including refusals:
# the graceful stop flushed every event and the writer appended them before exiting.
requests=$(grep -c '"event":"http_request"' "$work/dev.log")
[ "$(echo "$report" | jq .records)" -eq "$requests" ] \
  || { echo "FAIL: $requests requests but audit records: $report"; exit 1; }
# The chain holds hashes, never the ID.
if cat "$work"/audit.db* | grep -a "$id" > /dev/null; then echo "FAIL: citizen ID in the audit store"; exit 1; fi
# The verify above also checked the writer's signed head (dev.yaml names the public key).
grep -q '"problem":""' <<< "$report" || { echo "FAIL: audit verify: $report"; exit 1; }
# A gateway process refuses to hold the audit writer's signing key.
if "$lgsp" gateway --config "$work/dev.yaml" > "$work/gw-refused.log" 2>&1 ||
   ! grep -q "must not hold the audit writer's signing key" "$work/gw-refused.log"; then
  echo "FAIL: lgsp gateway started with audit.signing_key_file:"; cat "$work/gw-refused.log"; exit 1
fi
echo "log lines scanned: $lines"
echo "smoke: 1 passed, 0 failed"
