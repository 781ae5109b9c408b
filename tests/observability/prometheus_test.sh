#!/usr/bin/env bash
# Metrics proven on a real Prometheus. Starts the stack as separate processes the way it is
# deployed (`lgsp dev`: embedded cluster, gateway, audit writer and connectors; plus a
# standalone population connector sharing the work; plus a partner whose change feed is
# pushed to a webhook receiver on loopback), starts Debian's prometheus on loopback
# scraping both admin ports with our alert rules loaded, drives traffic (requests of every
# kind, then a small bulk job run to completion, three procedures to their end, the last a
# death whose changes reach the webhook, and consent checks refused), then:
#  - runs every PromQL expression of the Grafana dashboard and of the rules through the
#    query API and fails if any is invalid or returns no series (and checks the
#    dashboard's layout);
#  - proves that check fails on a dashboard query naming a metric the code does not export
#    (an interactive one, a bulk-job one, a procedure one, a change-feed one, a webhook one
#    and a consent one);
#  - checks the connector logs carry the trace id a partner sent in `traceparent`.
# `promtool check config|rules` and `promtool test rules` run first.
set -euo pipefail
lgsp=${1:?usage: prometheus_test.sh path/to/lgsp}
cd "$(dirname "$0")/../.."
# shellcheck source=../support/dev_process.sh
. tests/support/dev_process.sh
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "== $f"; tail -n 30 "$f"; done; exit 1; }

echo "== promtool (at $SECONDS s)"
promtool check rules observability/prometheus/lgsp-alerts.yaml
(cd observability/prometheus && promtool test rules lgsp-alerts.test.yaml)

# The shipped profile on ports 1xxxx, statistics every second (consumer lag), debug logs.
# Below 32768: ports in the kernel's ephemeral range (4xxxx, as before) can already be the
# local end of one of the many loopback Kafka connections, and the listen then fails. The
# smoke test uses the same ports; ctest runs the two one after the other (RESOURCE_LOCK).
api=18080 admin=19464 conn_admin=19465 prom=19090
dev_profile 1 "$work/dev.yaml" "s#level: info#level: debug#" \
  's#^\(    fetch.wait.max.ms: "1"\)$#\1\n    statistics.interval.ms: "1000"#'
grep -q 'statistics.interval.ms: "1000"' "$work/dev.yaml" || fail "could not set statistics.interval.ms"

# The dev profile has no webhook (partners[].webhook), so its series would not exist: a
# partner granted the changes demo-electricity reads gets them pushed to a receiver on a
# free loopback port (check_prometheus.py receive: 204 to a correctly signed POST, 401
# otherwise), killed on exit. The partner is appended to the profile's last section.
export LGSP_TEST_WEBHOOK_SECRET=observability-test-webhook-secret-$RANDOM$RANDOM
receiver_pid=
trap 'if [ -n "$receiver_pid" ]; then kill "$receiver_pid" 2> /dev/null || true; fi; dev_cleanup' EXIT
/usr/bin/python3 tests/observability/check_prometheus.py receive --port-file "$work/webhook.port" \
  > "$work/webhook.log" 2>&1 &
receiver_pid=$!
for _ in $(seq 1 50); do [ -s "$work/webhook.port" ] && break; sleep 0.1; done
[ -s "$work/webhook.port" ] || fail "the webhook receiver did not start"
[ "$(grep '^[a-z]' "$work/dev.yaml" | tail -n 1)" = "partners:" ] ||
  fail "partners: is no longer the last section of config/dev.yaml"
cat >> "$work/dev.yaml" <<YAML
  - id: demo-electricity-push
    name: Demo electricity company, its feed pushed to a webhook
    purposes: [customer-account-closure]
    changes:
      civil-status.record-death: [date_of_death]
      population.deregister-residence: [date_of_death]
    webhook:
      url: http://127.0.0.1:$(cat "$work/webhook.port")/lgsp/changes
      secret_env: LGSP_TEST_WEBHOOK_SECRET
      purpose: customer-account-closure
YAML

start_standin 1  # civil status, through the upstream backend as in scripts/dev.sh
"$lgsp" keys init --config "$work/dev.yaml" 2> /dev/null
"$lgsp" dev --config "$work/dev.yaml" > "$work/dev.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$admin/readyz" "$work/dev.log"
"$lgsp" connector --registry population --config "$work/dev.yaml" > "$work/connector.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$conn_admin/readyz" "$work/connector.log"

# Rules evaluated every second here (30 s in production) so a short run has samples.
sed 's/interval: 30s/interval: 1s/' observability/prometheus/lgsp-alerts.yaml > "$work/rules.yaml"
cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [$work/rules.yaml]
scrape_configs:
  - job_name: lgsp-gateway
    static_configs: [{targets: ["127.0.0.1:$admin"]}]
  - job_name: lgsp-connector
    static_configs: [{targets: ["127.0.0.1:$conn_admin"]}]
YAML
promtool check config "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom" > "$work/prometheus.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$prom/-/ready" "$work/prometheus.log"

echo "== traffic (at $SECONDS s)"
"$lgsp" seed --config "$work/dev.yaml" --samples 1 > "$work/samples.jsonl"
/usr/bin/python3 tests/observability/check_prometheus.py drive --api "http://127.0.0.1:$api" \
  --samples "$work/samples.jsonl" --seconds 12 \
  --admin "http://127.0.0.1:$admin" --webhook-partner demo-electricity-push || fail "traffic"

# A partner's trace id reaches the connector's log lines (W3C traceparent over Kafka).
trace=4bf92f3577b34da6a3ce929d0e0e4736
pop=$(grep '"registry":"population"' "$work/samples.jsonl")
answer_tp=$(curl -sS -o /dev/null -D - -X POST "http://127.0.0.1:$api/v1/population/lookup" \
  -H 'Authorization: Bearer demo-key-for-local-use-only' -H 'Content-Type: application/json' \
  -H "traceparent: 00-$trace-00f067aa0ba902b7-01" \
  -d "$(echo "$pop" | jq -c '{citizen_id, purpose:"trace-test"}')" | tr -d '\r' | grep -i '^traceparent:')
grep -q -- "-$trace-" <<< "$answer_tp" || fail "response traceparent lost the trace id: $answer_tp"
sleep 0.5
grep -h '"event":"connector_request"' "$work/dev.log" "$work/connector.log" | grep "\"trace_id\":\"$trace\"" > /dev/null \
  || fail "no connector log line carries trace id $trace"
echo "ok   trace id $trace in the response and in a connector log line"

# Let the last samples be scraped and the rules evaluate on them.
sleep 3
for job in lgsp-gateway lgsp-connector; do
  up=$(curl -fsS "http://127.0.0.1:$prom/api/v1/query" --data-urlencode "query=up{job=\"$job\"}" | jq -r '.data.result[0].value[1]')
  [ "$up" = 1 ] || fail "target $job is not up ($up)"
done

echo "== queries (at $SECONDS s)"
/usr/bin/python3 tests/observability/check_prometheus.py check --prometheus "http://127.0.0.1:$prom" \
  --dashboard observability/grafana/lgsp-overview.json \
  --rules "$work/rules.yaml" || fail "dashboard or rule queries"
cp observability/grafana/lgsp-overview.json "$work/dashboard.json"
/usr/bin/python3 tests/observability/check_prometheus.py selftest --prometheus "http://127.0.0.1:$prom" \
  --dashboard "$work/dashboard.json" || fail "selftest"

echo "== stop (at $SECONDS s)"
# The standalone connector first, then lgsp dev (whose cluster the connector talks to),
# each within 30 s; Prometheus's exit status does not matter, but it must not hang the test.
stop_process "${pids[1]}" "connector" "$work/connector.log" || exit 1
stop_process "${pids[0]}" "lgsp dev" "$work/dev.log" || exit 1
stop_process "${pids[2]}" "prometheus" "$work/prometheus.log" 30 || true
pids=()
echo "PASS"
