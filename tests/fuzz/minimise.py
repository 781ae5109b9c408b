#!/usr/bin/env python3
"""Picks a small corpus for one fuzz target (run.sh --merge calls this after -merge=1).

libFuzzer's -merge=1 adds inputs smallest first, so it keeps hundreds of tiny inputs that
each add an edge or two. This measures each input's full edge coverage (one
`-merge_inner=1` run per input, ~0.2 s) and does a greedy set cover instead: the
hand-written seeds (seed-*) always stay, then the input covering the most edges not yet
covered, and so on until every edge any input reached is covered.

Usage: minimise.py FUZZ_BINARY IN_DIR OUT_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile


def edges_of(binary: str, path: str, work: str) -> set[int]:
    control = os.path.join(work, "control")
    with open(control, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(f"1\n0\n{path}\n")
    subprocess.run([binary, "-merge_inner=1", f"-merge_control_file={control}",
                    "-rss_limit_mb=2048", "-timeout=5"], cwd=work,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    with open(control, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] == "COV":
                return set(map(int, parts[2:]))
    return set()  # crashed or timed out: never chosen


def main() -> int:
    binary, in_dir, out_dir = sys.argv[1:4]
    max_files = int(sys.argv[4]) if len(sys.argv) > 4 else 190
    in_dir = os.path.abspath(in_dir)
    files = sorted(os.path.join(in_dir, n) for n in os.listdir(in_dir))
    with tempfile.TemporaryDirectory() as work:
        edges = {f: edges_of(binary, f, work) for f in files}

    chosen = [f for f in files if os.path.basename(f).startswith("seed-")]
    covered: set[int] = set().union(*(edges[f] for f in chosen))
    candidates = {f: e - covered for f, e in edges.items() if f not in chosen and e - covered}
    while candidates and len(chosen) < max_files:
        best = max(candidates, key=lambda f: (len(candidates[f]), -os.path.getsize(f), f))
        gain = candidates.pop(best)
        chosen.append(best)
        covered |= gain
        candidates = {f: e - gain for f, e in candidates.items() if e - gain}

    os.makedirs(out_dir, exist_ok=True)
    for f in chosen:
        shutil.copyfile(f, os.path.join(out_dir, os.path.basename(f)))
    reached = len(set().union(*edges.values()))
    print(f"minimise: {len(chosen)} of {len(files)} inputs cover {len(covered)} of {reached} edges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
