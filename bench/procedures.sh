#!/usr/bin/env bash
# Issue 18's figures on the embedded default (`lgsp dev` with config/dev.yaml on private
# ports, 100,000 citizens, SQLite registries, civil status through the Ministry of Justice
# stand-in, the embedded Kafka-protocol cluster, audit on):
# - procedures per second: N birth registrations (three registry commands each) submitted by
#   C concurrent clients, from the first submission until every one is completed;
# - the time from a registry change to its delivery in a partner's change feed: a reader
#   long-polls GET /v1/changes (wait=25) as the demo electricity company while D death
#   registrations run one after the other; for each death delivered, the gap between the
#   change's occurred_at (when the registry applied it) and the moment the reader got it.
#   Prints p50, p99 and max.
# Usage: bench/procedures.sh [N [C [D]]]   (defaults 300, 8, 200; build first: scripts/dev.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
lgsp=$(pwd)/build/lgsp
n=${1:-300}
clients=${2:-8}
deaths=${3:-200}
# shellcheck source=../tests/support/dev_process.sh
. tests/support/dev_process.sh
dev_profile 4 "$work/dev.yaml" "s#citizens: 2000#citizens: 100000#"
start_dev 4
"$lgsp" seed --config "$work/dev.yaml" --samples "$deaths" 2> /dev/null \
  | grep '"registry":"population"' > "$work/people.ndjson"

python3 - "$n" "$clients" "$deaths" "$work/people.ndjson" <<'PY'
import concurrent.futures, datetime, http.client, json, sys, threading, time
n, clients, deaths, people_file = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
HOST, PORT = "127.0.0.1", 48080

def call(method, path, key, body=None, extra=None):
    c = http.client.HTTPConnection(HOST, PORT, timeout=60)
    headers = {"Authorization": "Bearer " + key}
    if body is not None:
        headers["Content-Type"] = "application/json"
    headers.update(extra or {})
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)

def wait_final(pid):
    while True:
        s, p = call("GET", "/v1/procedures/" + pid, "demo-commune-key")
        if s == 200 and p["state"] in ("completed", "failed"):
            return p["state"]
        time.sleep(0.02)

def birth(i):
    body = {"purpose": "birth-registration", "on_behalf_of": "bench",
            "input": {"child_full_name": "Trần Minh Khôi", "date_of_birth": "2026-11-28",
                      "gender": "nam" if i % 2 else "nữ", "birth_province_code": "079",
                      "place_of_origin": "Quảng Nam", "province": "Hồ Chí Minh",
                      "district": "Quận 3", "commune": "Phường Võ Thị Sáu",
                      "place_of_registration": "UBND phường Võ Thị Sáu",
                      "hospital_facility_code": "79024"}}
    while True:
        s, p = call("POST", "/v1/procedures/birth-registration", "demo-commune-key", body,
                    {"Idempotency-Key": "bench-%d-%d" % (time.time_ns() // 10**9, i)})
        if s in (200, 202):
            return wait_final(p["id"])
        time.sleep(0.05)

t0 = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    states = list(pool.map(birth, range(n)))
elapsed = time.monotonic() - t0
print("procedures: %d birth registrations (3 commands each), %d clients: %.1f s, %.1f procedures/s "
      "(%.1f commands/s); completed %d, failed %d"
      % (n, clients, elapsed, n / elapsed, 3 * n / elapsed,
         states.count("completed"), states.count("failed")))

# The feed: a reader long-polls from the current end while deaths are registered.
_, first = call("GET", "/v1/changes?purpose=customer-account-closure", "demo-electricity-key")
cursor = first["next"]
delays, stop = [], threading.Event()
def reader():
    global cursor
    while not stop.is_set():
        q = "/v1/changes?purpose=customer-account-closure&wait=25&limit=1000"
        if cursor is not None:
            q += "&after=" + cursor
        s, page = call("GET", q, "demo-electricity-key")
        got = time.time()
        if s != 200:
            continue
        for c in page["changes"]:
            if c["kind"] == "record-death":
                at = datetime.datetime.fromisoformat(c["occurred_at"].replace("Z", "+00:00")).timestamp()
                delays.append(got - at)
        cursor = page["next"]
t = threading.Thread(target=reader, daemon=True)
t.start()
people = [json.loads(l) for l in open(people_file)]
started = 0
for p in people[:deaths]:
    s, proc = call("POST", "/v1/procedures/death-registration", "demo-commune-key",
                   {"purpose": "death-registration",
                    "input": {"citizen_id": p["citizen_id"], "date_of_death": "2026-12-01",
                              "place_of_registration": "UBND phường Bến Nghé"}})
    if s == 202:
        started += 1
        wait_final(proc["id"])
until = time.monotonic() + 10
while len(delays) < started and time.monotonic() < until:
    time.sleep(0.1)
stop.set()
delays.sort()
if delays:
    pct = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000
    print("change feed: %d deaths registered, %d delivered to a long-polling reader; registry "
          "change -> delivery p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (started, len(delays), pct(0.5), pct(0.99), delays[-1] * 1000))
else:
    print("change feed: no death delivered")
PY
