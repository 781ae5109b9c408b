#!/usr/bin/python3
"""Drives traffic through a running gateway and checks PromQL against a real Prometheus.

  check_prometheus.py drive --api URL --samples FILE --seconds N [--admin URL --webhook-partner ID]
  check_prometheus.py check --prometheus URL --dashboard FILE... --rules FILE...
  check_prometheus.py selftest --prometheus URL --dashboard FILE
  check_prometheus.py receive --port-file FILE

`drive` sends interactive requests of every kind for N seconds, then runs a small bulk
job (POST /v1/batches) to completion, two birth registrations (POST /v1/procedures/...)
to their end, one completed and one failed, and the death registration of the newborn
(refused at the funeral allowance, so undone: a death and a residence ended, then both
taken back, on the change feed), and has consent checks refused (a missing and an unknown
consent), so that the bulk-job, procedure, change-feed and consent series exist too. With
--admin (the gateway's admin URL) it waits until the webhook of partner --webhook-partner
has been delivered those changes (lgsp_changes_webhook_deliveries_total{outcome="delivered"}).

`check` runs every expression of the Grafana dashboards (panel targets and template
variables) and of the Prometheus rule files through Prometheus's HTTP query API. It fails
when an expression is invalid or returns no series: a query naming a metric the code does
not export returns nothing. Alert expressions follow the convention of
observability/prometheus/lgsp-alerts.yaml (`<signal> <op> <threshold>`): the signal is
evaluated with `bool`, so a quiet alert still proves its inputs exist. It also checks each
dashboard's layout: unique panel ids, panels inside the 24-column grid, none overlapping.
`selftest` misspells one metric at a time (an interactive one, a bulk-job one, a
procedure one, a change-feed one, a webhook one, a consent one) in a copy of the dashboard
and requires `check` to fail on exactly that query.
`receive` is the test's webhook receiver: it listens on a free loopback port (written to
FILE), answers a POST 204 when its X-LGSP-Signature is the HMAC-SHA256 of the secret in
LGSP_TEST_WEBHOOK_SECRET, 401 otherwise, and logs one line per delivery.
Standard library and PyYAML (Debian's python3-yaml) only.
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

import yaml

# Grafana variables, as Grafana would expand them for "All" over a short range.
VARIABLES = {"$__rate_interval": "15s", "$__interval": "5s", "$partner": ".*", "$registry": ".*"}
ALERT = re.compile(r"^(?P<signal>.*\S)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<threshold>-?[0-9.eE+]+)\s*$", re.S)


def expand(expr):
    for k in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace("${" + k[1:] + "}", VARIABLES[k]).replace(k, VARIABLES[k])
    return expr


def query(prom, expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:  # 400/422: invalid expression
        body = json.load(e)
    if body.get("status") != "success":
        return None, body.get("error", "query failed")
    return body["data"]["result"], None


def dashboard_expressions(path):
    """(where, expr) for every panel target (rows included) and query variable."""
    dash = json.load(open(path))
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f'{path}: panel "{p.get("title")}" {t.get("refId")}', t["expr"]))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"label_values\((.+),\s*(\w+)\)$", q or "")
        if v.get("type") == "query" and m:
            # label_values(metric, label): the metric must have series carrying the label.
            out.append((f"{path}: variable ${v['name']}", f'count by ({m.group(2)}) ({m.group(1)})'))
    return out


def rule_expressions(path):
    out = []
    for g in yaml.safe_load(open(path))["groups"]:
        for r in g["rules"]:
            if "record" in r:
                out.append((f"{path}: record {r['record']}", r["expr"], None))
            else:
                out.append((f"{path}: alert {r['alert']}", r["expr"], r["alert"]))
    return out


def dashboard_layout_problems(path):
    """Grafana lays out panels by gridPos: ids must be unique, panels within 24 columns,
    and no two may overlap (Grafana would push one down, and a row header overlapping a
    panel takes it into the wrong row when collapsed)."""
    dash = json.load(open(path))
    problems = []
    ids = {}

    def collect(panels):
        for p in panels:
            ids.setdefault(p.get("id"), []).append(p.get("title"))
            collect(p.get("panels", []))

    collect(dash.get("panels", []))
    for pid, titles in ids.items():
        if pid is None or len(titles) > 1:
            problems.append(f"panel id {pid} is used by {titles}")
    boxes = []
    for p in dash.get("panels", []):
        g = p.get("gridPos", {})
        x, y, w, h = (g.get(k) for k in ("x", "y", "w", "h"))
        if None in (x, y, w, h) or x < 0 or y < 0 or w < 1 or h < 1 or x + w > 24:
            problems.append(f'panel "{p.get("title")}": gridPos {g} is outside the 24-column grid')
            continue
        for other, (ox, oy, ow, oh) in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                problems.append(f'panels "{other}" and "{p.get("title")}" overlap')
        boxes.append((p.get("title"), (x, y, w, h)))
    return problems


def check(prom, dashboards, rules):
    failures = 0
    items = []
    for d in dashboards:
        for problem in dashboard_layout_problems(d):
            print(f"FAIL {d}: layout: {problem}")
            failures += 1
        items += [(w, expand(e), None) for w, e in dashboard_expressions(d)]
    for r in rules:
        items += rule_expressions(r)
    for where, expr, alert in items:
        result, error = query(prom, expr)
        if error:
            print(f"FAIL {where}: invalid: {error}\n     {expr}")
            failures += 1
            continue
        shown = expr
        if alert:
            m = ALERT.match(expr.strip())
            if not m:
                print(f"FAIL {where}: not of the form '<signal> <op> <threshold>'\n     {expr}")
                failures += 1
                continue
            shown = f"({m['signal']}) {m['op']} bool {m['threshold']}"
            result, error = query(prom, shown)
            if error:
                print(f"FAIL {where}: signal invalid: {error}\n     {shown}")
                failures += 1
                continue
        if not result:
            print(f"FAIL {where}: no series\n     {shown}")
            failures += 1
        else:
            firing = " (firing)" if alert and any(s["value"][1] == "1" for s in result) else ""
            print(f"ok   {where}: {len(result)} series{firing}")
    print(f"{len(items)} expressions, {failures} failed")
    return failures


def drive(api, samples_path, seconds, admin=None, webhook_partner=None):
    """Traffic of every kind the dashboard shows: each registry, successes, refusals."""
    s = {}
    for line in open(samples_path):
        rec = json.loads(line)
        s[rec["registry"]] = rec
    pop, ins, veh = s["population"], s["insurance"], s["vehicle"]
    ministry, telecom = "demo-key-for-local-use-only", "demo-verify-only-key"
    calls = [
        (telecom, "/v1/population/verify", {"citizen_id": pop["citizen_id"], "full_name": pop["full_name"],
                                           "date_of_birth": pop["date_of_birth"],
                                           "purpose": "telecom-subscriber-registration"}),
        (ministry, "/v1/population/lookup", {"citizen_id": pop["citizen_id"], "purpose": "observability-test"}),
        (ministry, "/v1/insurance/lookup", {"social_insurance_number": ins["social_insurance_number"],
                                           "purpose": "observability-test"}),
        (ministry, "/v1/vehicle/lookup", {"plate_number": veh["plate_number"], "purpose": "observability-test"}),
        (ministry, "/v1/citizen-profile", {"citizen_id": pop["citizen_id"], "purpose": "observability-test"}),
        ("wrong-key", "/v1/population/lookup", {"citizen_id": pop["citizen_id"], "purpose": "x"}),  # 401
        (telecom, "/v1/population/lookup", {"citizen_id": pop["citizen_id"], "purpose": "x"}),      # 403
        (ministry, "/v1/population/verify", {"citizen_id": "12", "purpose": "x"}),                 # 400
    ]
    u = urllib.parse.urlparse(api)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    statuses = {}
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        key, path, body = calls[n % len(calls)]
        conn.request("POST", path, json.dumps(body),
                     {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        statuses[r.status] = statuses.get(r.status, 0) + 1
        n += 1
        time.sleep(0.005)
    print(f"drove {n} requests: {dict(sorted(statuses.items()))}")
    for want in (200, 400, 401, 403):
        if want not in statuses:
            print(f"FAIL: no {want} among the answers")
            return 1
    if drive_batch(conn, ministry, pop) != 0:
        return 1
    if drive_procedures(conn) != 0:
        return 1
    if admin and wait_for_webhook(admin, webhook_partner) != 0:
        return 1
    if drive_consents(conn, pop) != 0:
        return 1
    # Guessing a birth date: the failed-verify guard stops the sixth different wrong date
    # (the series behind LgspVerifyGuessing). Last: it stops this partner's verifications
    # of this citizen, bulk ones too.
    year = pop["date_of_birth"][:4]
    guesses = [f"{year}-01-0{d}" for d in range(1, 10) if f"{year}-01-0{d}" != pop["date_of_birth"]][:6]
    last = 0
    for date in guesses:
        conn.request("POST", "/v1/population/verify",
                     json.dumps({"citizen_id": pop["citizen_id"], "date_of_birth": date,
                                 "purpose": "observability-test"}),
                     {"Authorization": "Bearer " + ministry, "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        last = r.status
    if last != 429:
        print(f"FAIL: the sixth wrong birth date was answered {last}, not 429")
        return 1
    print("ok   the failed-verify guard stopped a guessing sequence (429)")
    return 0


def drive_batch(conn, key, pop):
    """One small bulk job, run to completion: one record of each outcome, so that every
    bulk-job series the dashboard and the rules read exists (lgsp_batch_records_total and
    lgsp_batch_chunks_total appear with the first answered chunk)."""
    records = [
        {"citizen_id": pop["citizen_id"], "full_name": pop["full_name"],
         "date_of_birth": pop["date_of_birth"]},                                   # matched
        {"citizen_id": pop["citizen_id"], "full_name": pop["full_name"] + " Khác"},  # mismatched
        {"citizen_id": pop["citizen_id"][:6] + "999999", "full_name": "Không Có"},  # not_found
        {"citizen_id": "12", "full_name": "x"},                                    # invalid
    ]
    expected = ["matched", "mismatched", "not_found", "invalid"]
    auth = {"Authorization": "Bearer " + key}

    def call(method, path, body=None, headers=None):
        conn.request(method, path, body, {**auth, **(headers or {})})
        r = conn.getresponse()
        return r.status, r.read()

    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    status, answer = call("POST", "/v1/batches?registry=population&operation=verify&purpose=observability-test",
                          body, {"Content-Type": "application/x-ndjson"})
    if status != 202:
        print(f"FAIL: POST /v1/batches answered {status}: {answer[:300]!r}")
        return 1
    job = json.loads(answer)
    end = time.monotonic() + 30
    while job.get("state") not in ("completed", "failed", "cancelled") and time.monotonic() < end:
        time.sleep(0.2)
        status, answer = call("GET", f"/v1/batches/{job['id']}")
        if status != 200:
            print(f"FAIL: GET /v1/batches/{job['id']} answered {status}: {answer[:300]!r}")
            return 1
        job = json.loads(answer)
    if job.get("state") != "completed":
        print(f"FAIL: bulk job {job.get('id')} is {job.get('state')} after 30 s: {job}")
        return 1
    status, answer = call("GET", f"/v1/batches/{job['id']}/results")
    lines = [json.loads(x) for x in answer.decode().splitlines() if x.strip()]
    got = [x.get("status") for x in lines]
    if status != 200 or got != expected:
        print(f"FAIL: results of bulk job {job['id']}: {status}, statuses {got}, expected {expected}")
        return 1
    print(f"bulk job {job['id']}: {len(records)} records, {job['counts']}")
    return 0


def drive_procedures(conn):
    """Two birth registrations as the demo commune, each to its end: a newborn's completes
    (every command applied); a child of 7's fails (no child's card: insurance refuses, the
    first two steps are undone), so that lgsp_procedures_finished_total has both states and
    lgsp_procedure_commands_total has applied and refused verdicts. Then the newborn's death
    registration, which fails at the funeral allowance (a child's card carries none): the
    death recorded and the residence ended, then both undone, four changes on the feed for
    the partners granted deaths and ended residences (demo-electricity, the webhook's)."""
    auth = {"Authorization": "Bearer demo-commune-key", "Content-Type": "application/json"}
    today = datetime.date.today()

    def birth(days_old):
        born = (today - datetime.timedelta(days=days_old)).isoformat()
        return {"purpose": "birth-registration", "input": {
            "child_full_name": "Lê Văn An", "date_of_birth": born, "gender": "nam",
            "birth_province_code": "001", "place_of_origin": "Hà Nội", "province": "Thành phố Hà Nội",
            "district": "Quận Ba Đình", "commune": "Phường Kim Mã",
            "place_of_registration": "UBND Phường Kim Mã", "hospital_facility_code": "01-001"}}

    def death(citizen_id):
        return {"purpose": "death-registration", "input": {
            "citizen_id": citizen_id, "date_of_death": today.isoformat(),
            "place_of_registration": "UBND Phường Kim Mã"}}

    newborn = None  # the first birth's child, once it is registered (the death's body reads it late)
    runs = [("birth-registration", lambda: birth(3), "completed"),
            ("birth-registration", lambda: birth(7 * 366), "failed"),
            ("death-registration", lambda: death(newborn), "failed")]
    for name, body, expected in runs:
        conn.request("POST", f"/v1/procedures/{name}", json.dumps(body()), auth)
        r = conn.getresponse()
        answer = r.read()
        if r.status != 202:
            print(f"FAIL: POST /v1/procedures/{name} answered {r.status}: {answer[:300]!r}")
            return 1
        procedure = json.loads(answer)
        end = time.monotonic() + 30
        while procedure.get("state") in ("running", "compensating") and time.monotonic() < end:
            time.sleep(0.1)
            conn.request("GET", f"/v1/procedures/{procedure['id']}", headers=auth)
            r = conn.getresponse()
            answer = r.read()
            if r.status != 200:
                print(f"FAIL: GET /v1/procedures/{procedure['id']} answered {r.status}: {answer[:300]!r}")
                return 1
            procedure = json.loads(answer)
        if procedure.get("state") != expected:
            print(f"FAIL: procedure {procedure.get('id')} is {procedure.get('state')}, expected {expected}: {procedure}")
            return 1
        print(f"procedure {procedure['id']} ({name}): {expected}")
        if newborn is None:
            newborn = procedure["steps"][0]["result"]["citizen_id"]
    return 0


def wait_for_webhook(admin, partner, timeout=30):
    """Waits until the gateway has delivered changes to `partner`'s webhook (answered 2xx by
    `receive`, which checks the signature), so that the webhook panels and the alert read a
    delivery rather than counters at 0."""
    pattern = re.compile(r'^lgsp_changes_webhook_deliveries_total\{([^}]*)\} (\S+)$', re.M)
    end = time.monotonic() + timeout
    counts = {}
    while time.monotonic() < end:
        with urllib.request.urlopen(admin + "/metrics", timeout=10) as r:
            text = r.read().decode()
        counts = {}
        for labels, value in pattern.findall(text):
            if f'partner="{partner}"' in labels:
                counts[re.search(r'outcome="([^"]*)"', labels).group(1)] = float(value)
        if counts.get("delivered", 0) >= 1:
            print(f"ok   webhook of {partner}: {counts}")
            return 0
        time.sleep(0.2)
    print(f"FAIL: no webhook delivery to {partner} within {timeout} s: {counts or 'no series'}")
    return 1


def receive(port_file):
    """A partner's webhook receiver, until killed: 204 to a POST whose signature checks out,
    401 to any other."""
    secret = os.environ["LGSP_TEST_WEBHOOK_SECRET"].encode()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            # X-LGSP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
            sig = dict(p.split("=", 1) for p in self.headers.get("X-LGSP-Signature", "").split(",") if "=" in p)
            mac = hmac.new(secret, sig.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(mac, sig.get("v1", ""))
            changes = len(json.loads(body).get("changes", [])) if ok else 0
            print(f"{self.headers.get('X-LGSP-Delivery')}: {changes} change(s), signature "
                  f"{'ok: 204' if ok else 'wrong: 401'}", flush=True)
            self.send_response(204 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)  # whole, or not there yet
    server.serve_forever()


def drive_consents(conn, pop):
    """The demo bank states credit-scoring, a purpose that needs the citizen's consent
    (config/dev.yaml consents.purposes), without a consent_id and then with one that does
    not exist: both refused (403), so that lgsp_consent_checks_total has series (missing,
    unknown) for the dashboard's consent panels and the consent alerts' signals.
    lgsp_consent_changes_total is present at 0 from the start."""
    auth = {"Authorization": "Bearer demo-bank-key", "Content-Type": "application/json"}
    base = {"citizen_id": pop["citizen_id"], "purpose": "credit-scoring"}
    for body, outcome in ((base, "missing"), ({**base, "consent_id": "cs-" + "0" * 32}, "unknown")):
        for _ in range(3):
            conn.request("POST", "/v1/population/lookup", json.dumps(body), auth)
            r = conn.getresponse()
            answer = r.read()
            if r.status != 403:
                print(f"FAIL: a credit-scoring lookup with consent {outcome} answered {r.status}: {answer[:300]!r}")
                return 1
    print("ok   consent checks refused a missing and an unknown consent (403)")
    return 0


# (metric, misspelling): an interactive metric, a bulk-job one, a procedure one, a
# change-feed one, a webhook one (its series exist only through the test's webhook partner)
# and a consent one.
MISSPELLINGS = [("lgsp_gateway_requests_total", "lgsp_gateway_request_total"),
                ("lgsp_batch_records_total", "lgsp_batch_record_total"),
                ("lgsp_procedures_finished_total", "lgsp_procedure_finished_total"),
                ("lgsp_changes_ingested_total", "lgsp_change_ingested_total"),
                ("lgsp_changes_webhook_deliveries_total", "lgsp_changes_webhook_delivery_total"),
                ("lgsp_consent_checks_total", "lgsp_consent_check_total")]


def selftest(prom, dashboard):
    """The check must fail when a dashboard query names a metric the code does not export."""
    for metric, wrong in MISSPELLINGS:
        dash = json.load(open(dashboard))
        target = next(t for p in dash["panels"] for t in p.get("targets", [])
                      if metric in t.get("expr", ""))
        target["expr"] = target["expr"].replace(metric, wrong)
        broken = dashboard + f".{wrong}.json"
        with open(broken, "w") as f:
            json.dump(dash, f)
        print(f"-- selftest: a dashboard naming {wrong} instead of {metric} must fail")
        failures = check(prom, [broken], [])
        if failures != 1:
            print(f"FAIL selftest: expected exactly 1 failure, got {failures}")
            return 1
        print(f"ok   selftest: the misspelt {wrong} was caught")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--api", required=True)
    d.add_argument("--samples", required=True)
    d.add_argument("--seconds", type=float, default=10)
    d.add_argument("--admin", help="the gateway's admin URL: wait for a webhook delivery")
    d.add_argument("--webhook-partner", help="with --admin: the partner whose webhook is awaited")
    c = sub.add_parser("check")
    c.add_argument("--prometheus", required=True)
    c.add_argument("--dashboard", nargs="*", default=[])
    c.add_argument("--rules", nargs="*", default=[])
    t = sub.add_parser("selftest")
    t.add_argument("--prometheus", required=True)
    t.add_argument("--dashboard", required=True)
    w = sub.add_parser("receive")
    w.add_argument("--port-file", required=True)
    a = ap.parse_args()
    if a.cmd == "drive":
        if bool(a.admin) != bool(a.webhook_partner):
            ap.error("--admin and --webhook-partner go together")
        return drive(a.api, a.samples, a.seconds, a.admin, a.webhook_partner)
    if a.cmd == "check":
        return 1 if check(a.prometheus, a.dashboard, a.rules) else 0
    if a.cmd == "receive":
        return receive(a.port_file)
    return selftest(a.prometheus, a.dashboard)


if __name__ == "__main__":
    sys.exit(main())
