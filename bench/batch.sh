#!/usr/bin/env bash
# Issue 7's bulk-job benchmark: one population verify job of 1,000,000 records (or N) on the
# embedded default (`lgsp dev` with config/dev.yaml: 100,000 seeded citizens, SQLite
# registries, the embedded Kafka-protocol cluster, audit on), submitted with
# `lgsp batch submit`, followed to completion, results downloaded with `lgsp batch results`.
# Prints: upload time, job time and records/s, the projected time for 42 million records,
# peak RSS of each process (lgsp dev runs gateway, connectors, broker and audit writer in one
# process; the CLI is the other), and interactive verify latency at a fixed 200 req/s
# (hey, 10 workers) while idle and while the job runs.
# Usage: bench/batch.sh [RECORDS [MAX_CHUNKS_IN_FLIGHT [CHUNK_RECORDS]]]
#   (defaults 1000000, and config/dev.yaml's batches settings; build first: scripts/dev.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --bench > /dev/null
lgsp=$(pwd)/build/lgsp
records=${1:-1000000}
work=$(mktemp -d)
dev_pid=
cleanup() {
  [ -n "$dev_pid" ] && kill "$dev_pid" 2> /dev/null || true
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# The embedded default on ports of its own (5xxxx), so a running `lgsp dev` is not disturbed.
sed -e 's/127.0.0.1:8080/127.0.0.1:58080/; s/127.0.0.1:9464/127.0.0.1:59464/' \
    -e 's/127.0.0.1:9465/127.0.0.1:59465/; s/127.0.0.1:9466/127.0.0.1:59466/' \
    "$OLDPWD/config/dev.yaml" > dev.yaml
[ -n "${2:-}" ] && sed -i "s/^  max_chunks_in_flight: .*/  max_chunks_in_flight: $2/" dev.yaml
[ -n "${3:-}" ] && sed -i "s/^  chunk_records: .*/  chunk_records: $3/" dev.yaml
grep -E '^  (max_chunks_in_flight|chunk_records):' dev.yaml | tr -d ' ' | tr '\n' ' '; echo
"$lgsp" keys init --config dev.yaml > /dev/null 2>&1
# The citizen identity provider's keys that dev.yaml's auth.citizen names.
"$(dirname "$lgsp")/lgsp-citizen-idp" --dir run/citizen-idp > /dev/null
"$lgsp" dev --config dev.yaml > dev.log 2>&1 &
dev_pid=$!
for _ in $(seq 1 600); do
  curl -sf http://127.0.0.1:59464/readyz > /dev/null 2>&1 && break
  sleep 0.2
done
curl -sf http://127.0.0.1:59464/readyz > /dev/null || { echo "lgsp dev did not start"; tail dev.log; exit 1; }

# The job: seeded subjects over and over; every 10th claims a wrong name, every 50th an
# unknown citizen ID, every 1000th is not valid at all.
"$lgsp" seed --config dev.yaml --samples 20000 2> /dev/null | grep '"registry":"population"' > subjects.ndjson
python3 - "$records" > job.ndjson <<'PY'
import json, sys
n = int(sys.argv[1])
subjects = [json.loads(l) for l in open("subjects.ndjson")]
out = sys.stdout
for i in range(1, n + 1):
    s = subjects[i % len(subjects)]
    if i % 1000 == 999:
        out.write('{"citizen_id":"12345"}\n')
        continue
    rec = {"citizen_id": s["citizen_id"], "full_name": s["full_name"],
           "date_of_birth": s["date_of_birth"], "gender": s["gender"]}
    if i % 50 == 7:
        rec["citizen_id"] = "001099999999"
    elif i % 10 == 3:
        rec["full_name"] = "Ai Khác Hẳn"
    out.write(json.dumps(rec, ensure_ascii=False) + "\n")
PY
body=$(head -1 subjects.ndjson | python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); print(json.dumps({"citizen_id":s["citizen_id"],"full_name":s["full_name"],"purpose":"electricity-contract"},ensure_ascii=False))')

# hey_p NAME -> "req/s p50 p99 non-200" at a fixed 200 req/s for 10 s
hey_p() {
  hey -z 10s -c 10 -q 20 -m POST -T application/json \
      -H "Authorization: Bearer demo-key-for-local-use-only" -d "$body" \
      http://127.0.0.1:58080/v1/population/verify > "hey-$1.txt" 2>&1
  awk '/Requests\/sec/{r=$2} / 50% in /{p50=$3*1000} / 99% in /{p99=$3*1000}
       /^ *\[[0-9]+\]/{gsub(/[\[\]]/,"",$1); if ($1 != "200") e += $2}
       END{printf "%.0f %.2f %.2f %d", r, p50, p99, e}' "hey-$1.txt"
}
read -r idle_rps idle_p50 idle_p99 idle_err <<< "$(hey_p idle)"

export LGSP_API_KEY=demo-verify-only-key LGSP_GATEWAY=http://127.0.0.1:58080
size_mib=$(du -m job.ndjson | cut -f1)
t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o cli-rss.txt "$lgsp" batch submit job.ndjson --registry population \
    --purpose telecom-subscriber-verification > submit.txt 2> submit.err
t1=$(date +%s.%N)
job=$(grep -o 'job-[0-9a-f]*' submit.txt | head -1)
[ -n "$job" ] || { echo "submission failed:"; cat submit.err; exit 1; }
read -r busy_rps busy_p50 busy_p99 busy_err <<< "$(hey_p busy)"
state=
for _ in $(seq 1 7200); do
  status=$(curl -s -H "Authorization: Bearer $LGSP_API_KEY" "http://127.0.0.1:58080/v1/batches/$job")
  state=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  [ "$state" = running ] || [ "$state" = queued ] || break
  sleep 0.5
done
[ "$state" = completed ] || { echo "job ended $state: $status"; exit 1; }
t2=$(date +%s.%N)
dev_hwm=$(awk '/VmHWM/{printf "%.0f", $2 / 1024}' "/proc/$dev_pid/status")
/usr/bin/time -f '%M' -o results-rss.txt "$lgsp" batch results "$job" -o results.ndjson > /dev/null
t3=$(date +%s.%N)
lines=$(wc -l < results.ndjson)
[ "$lines" = "$records" ] || { echo "results: $lines lines for $records records"; exit 1; }

echo "$status" | python3 -c '
import json, sys
from datetime import datetime
s = json.load(sys.stdin)
c = s["counts"]
t = lambda k: datetime.fromisoformat(s[k].replace("Z", "+00:00")).timestamp()
print("job counts:", ", ".join(f"{k} {v:,}" for k, v in c.items()))
created, started, finished = t("created_at"), t("started_at"), t("finished_at")
print(f"job: created → finished {finished - created:.1f} s (running {finished - started:.1f} s)")'
awk -v n="$records" -v mib="$size_mib" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" \
    -v dev="$dev_hwm" -v cli="$(cat cli-rss.txt)" -v res="$(cat results-rss.txt)" \
    -v ir="$idle_rps" -v i50="$idle_p50" -v i99="$idle_p99" -v ie="$idle_err" \
    -v br="$busy_rps" -v b50="$busy_p50" -v b99="$busy_p99" -v be="$busy_err" 'BEGIN {
  up = t1 - t0; all = t2 - t0; dl = t3 - t2
  printf "machine: %d cores; load generator and client on the same cores\n\n", '"$(nproc)"'
  printf "| step | figure |\n|---|---|\n"
  printf "| upload (%d MiB NDJSON, lgsp batch submit) | %.1f s, %.0f records/s |\n", mib, up, n / up
  printf "| submit → completed | %.1f s, **%.0f records/s** |\n", all, n / all
  printf "| projected for 42,000,000 records | %.1f h (%.0f min) |\n", 42e6 / (n / all) / 3600, 42e6 / (n / all) / 60
  printf "| results download (lgsp batch results) | %.1f s, %d lines |\n", dl, n
  printf "| peak RSS: lgsp dev (gateway + connectors + broker + audit writer) | %d MiB |\n", dev
  printf "| peak RSS: lgsp batch submit / results | %.0f / %.0f MiB |\n", cli / 1024, res / 1024
  printf "\n| interactive verify, hey 200 req/s offered | req/s | p50 ms | p99 ms | non-200 |\n|---|---|---|---|---|\n"
  printf "| idle | %s | %s | %s | %s |\n", ir, i50, i99, ie
  printf "| while the job runs | %s | %s | %s | %s |\n", br, b50, b99, be
}'
