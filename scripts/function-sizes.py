#!/usr/bin/env python3
"""The longest functions of the product's sources, as clang-tidy measures them.

usage: scripts/function-sizes.py BUILD_DIR [--top N] [--limit L] [--under DIR]... [FILE...]

Runs clang-tidy's readability-function-size (lines of a function's body, whitespace and
comments included) over the given sources, or over every tracked .cpp outside tests/ and
bench/, with the compile commands of BUILD_DIR (any configured build: the generated
protobuf headers must exist). Prints the N longest (default 10) and every function over L
lines (default 60) in the request path (--under, default: http gateway bus connectors batch
registries audit), longest first. Exit status 1 when any is over L, so it can gate.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys

NOTE = re.compile(r"^(.*):(\d+):\d+: note: (\d+) lines including whitespace")
WARN = re.compile(r"^(.*):(\d+):\d+: warning: function '([^']*)' exceeds")


def sizes(build_dir, source, threshold):
    config = ("{Checks: '-*,readability-function-size', CheckOptions: "
              "[{key: readability-function-size.LineThreshold, value: %d}]}" % threshold)
    run = subprocess.run(["clang-tidy", "-p", build_dir, "--quiet", "--config=" + config, source],
                         capture_output=True, text=True, check=False)
    if "error:" in run.stdout or "Error:" in run.stderr:
        raise RuntimeError(f"clang-tidy on {source}:\n{run.stdout}{run.stderr}")
    out = run.stdout
    found, name = [], None
    for line in out.splitlines():
        w = WARN.match(line)
        if w:
            name = (os.path.relpath(w.group(1)), int(w.group(2)), w.group(3))
            continue
        n = NOTE.match(line)
        if n and name:
            found.append((int(n.group(3)), *name))
            name = None
    return found


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--under", action="append")
    p.add_argument("files", nargs="*")
    a = p.parse_args()
    under = a.under or ["http", "gateway", "bus", "connectors", "registries", "audit", "batch"]
    files = a.files or [f for f in subprocess.run(["git", "ls-files", "*.cpp"], capture_output=True,
                                                  text=True, check=True).stdout.split()
                        if not f.startswith(("tests/", "bench/"))]
    with open(os.path.join(a.build_dir, "compile_commands.json"), encoding="utf-8") as f:
        known = {os.path.realpath(os.path.join(e["directory"], e["file"])) for e in json.load(f)}
    files = [f for f in files if os.path.realpath(f) in known]
    found = set()
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for result in pool.map(lambda f: sizes(a.build_dir, f, 20), files):
            found.update(result)  # a header's function reported by several sources counts once
    ranked = sorted(found, key=lambda x: (-x[0], x[1], x[2]))
    print(f"longest functions ({len(files)} sources):")
    for lines, path, line, name in ranked[:a.top]:
        print(f"  {lines:4d}  {path}:{line}  {name}")
    over = [x for x in ranked if x[0] > a.limit and x[1].split("/")[0] in under]
    print(f"over {a.limit} lines in {', '.join(under)}: {len(over)}")
    for lines, path, line, name in over:
        print(f"  {lines:4d}  {path}:{line}  {name}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
