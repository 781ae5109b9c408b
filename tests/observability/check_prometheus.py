#!/usr/bin/python3
"""Drives traffic through a running gateway and checks PromQL against a real Prometheus.

  check_prometheus.py drive --api URL --samples FILE --seconds N
  check_prometheus.py check --prometheus URL --dashboard FILE... --rules FILE...
  check_prometheus.py selftest --prometheus URL --dashboard FILE

`check` runs every expression of the Grafana dashboards (panel targets and template
variables) and of the Prometheus rule files through Prometheus's HTTP query API. It fails
when an expression is invalid or returns no series: a query naming a metric the code does
not export returns nothing. Alert expressions follow the convention of
observability/prometheus/lgsp-alerts.yaml (`<signal> <op> <threshold>`): the signal is
evaluated with `bool`, so a quiet alert still proves its inputs exist. `selftest` renames
one metric in a copy of the dashboard and requires `check` to fail on it.
Standard library and PyYAML (Debian's python3-yaml) only.
"""
import argparse
import http.client
import json
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


def check(prom, dashboards, rules):
    failures = 0
    items = []
    for d in dashboards:
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


def drive(api, samples_path, seconds):
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
    return 0


def selftest(prom, dashboard):
    """The check must fail when a dashboard query names a metric the code does not export."""
    dash = json.load(open(dashboard))
    target = next(t for p in dash["panels"] for t in p.get("targets", [])
                  if "lgsp_gateway_requests_total" in t.get("expr", ""))
    target["expr"] = target["expr"].replace("lgsp_gateway_requests_total", "lgsp_gateway_request_total")
    broken = dashboard + ".broken.json"
    with open(broken, "w") as f:
        json.dump(dash, f)
    print("-- selftest: a dashboard with one misspelt metric must fail")
    failures = check(prom, [broken], [])
    if failures != 1:
        print(f"FAIL selftest: expected exactly 1 failure, got {failures}")
        return 1
    print("ok   selftest: the misspelt metric was caught")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--api", required=True)
    d.add_argument("--samples", required=True)
    d.add_argument("--seconds", type=float, default=10)
    c = sub.add_parser("check")
    c.add_argument("--prometheus", required=True)
    c.add_argument("--dashboard", nargs="*", default=[])
    c.add_argument("--rules", nargs="*", default=[])
    t = sub.add_parser("selftest")
    t.add_argument("--prometheus", required=True)
    t.add_argument("--dashboard", required=True)
    a = ap.parse_args()
    if a.cmd == "drive":
        return drive(a.api, a.samples, a.seconds)
    if a.cmd == "check":
        return 1 if check(a.prometheus, a.dashboard, a.rules) else 0
    return selftest(a.prometheus, a.dashboard)


if __name__ == "__main__":
    sys.exit(main())
