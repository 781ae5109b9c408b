#!/usr/bin/env bash
# Smoke test of the README's run path: `lgsp dev` as a real process on its own ports, a
# verify through the whole stack with curl, kcat listing the topics on the embedded
# cluster, then a graceful SIGTERM that must exit 0.
set -euo pipefail
lgsp=${1:?usage: dev_smoke.sh path/to/lgsp}
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The shipped profile on other ports and in a temp dir.
sed -e "s#127.0.0.1:8080#127.0.0.1:18080#; s#127.0.0.1:9464#127.0.0.1:19464#; s#127.0.0.1:9465#127.0.0.1:19465#" \
    -e "s#run/#$work/#g" -e "s#citizens: 100000#citizens: 5000#" config/dev.yaml > "$work/dev.yaml"

"$lgsp" keys secret "$work/audit-subject.key"
"$lgsp" dev --config "$work/dev.yaml" > "$work/dev.log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
  curl -fsS http://127.0.0.1:19464/readyz > /dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS http://127.0.0.1:19464/readyz || { echo "FAIL: not ready"; cat "$work/dev.log"; exit 1; }
echo

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
echo "$topics" | grep -q 'topic "lgsp.population.requests" with 4 partitions' || { echo "FAIL: kcat: $topics"; exit 1; }
echo "$topics" | grep -q 'topic "lgsp.replies" with 4 partitions' || { echo "FAIL: kcat: $topics"; exit 1; }

# No personal data in the logs.
if grep -q -e "$id" -e "$name" "$work/dev.log"; then echo "FAIL: personal data in log"; exit 1; fi

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || { echo "FAIL: lgsp dev exited $status on SIGTERM"; tail -20 "$work/dev.log"; exit 1; }
echo "smoke: 1 passed, 0 failed"
