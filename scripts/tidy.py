#!/usr/bin/env python3
"""clang-tidy over the given sources, skipping those it already passed unchanged.

usage: scripts/tidy.py BUILD_DIR FILE...

A source is checked with the compile command BUILD_DIR/compile_commands.json gives it. It
is skipped when its preprocessed text (so every header it includes, ours and the
libraries'), its compile command, the clang-tidy version and .clang-tidy are all exactly
as they were the last time it passed: clang-tidy would say the same again. Passes are
remembered under $LGSP_TIDY_CACHE (default ~/.cache/lgsp-tidy), one empty file per key.
A cold run costs what plain clang-tidy costs (about 8 minutes on 2 cores here); a run
after a small change checks only the sources that change reaches.

Exit status: 0 when every file passed, 1 when clang-tidy reported anything (its output is
printed), 2 on bad usage.
"""
import concurrent.futures
import hashlib
import json
import os
import pathlib
import shlex
import subprocess
import sys


def compile_commands(build_dir):
    with open(os.path.join(build_dir, "compile_commands.json"), encoding="utf-8") as f:
        entries = json.load(f)
    return {os.path.realpath(os.path.join(e["directory"], e["file"])): e for e in entries}


def preprocess_args(entry):
    """The entry's compiler command, turned into one that preprocesses to stdout."""
    args = entry.get("arguments") or shlex.split(entry["command"])
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a == "-c":
            continue
        out.append(a)
    # -C keeps comments: NOLINT comments change what clang-tidy reports.
    return out + ["-E", "-P", "-C"]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    build_dir, files = sys.argv[1], sys.argv[2:]
    root = os.getcwd()
    commands = compile_commands(build_dir)
    cache = pathlib.Path(os.environ.get("LGSP_TIDY_CACHE",
                                        pathlib.Path.home() / ".cache" / "lgsp-tidy"))
    cache.mkdir(parents=True, exist_ok=True)
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True, text=True,
                             check=True).stdout
    salt = version + pathlib.Path(".clang-tidy").read_text(encoding="utf-8")

    def check(path):
        entry = commands.get(os.path.realpath(path))
        if entry is None:
            return path, False, f"{path}: not in {build_dir}/compile_commands.json\n"
        pre = subprocess.run(preprocess_args(entry), cwd=entry["directory"],
                             capture_output=True)
        key = None
        if pre.returncode == 0:
            h = hashlib.sha256(salt.encode())
            # Relative to the checkout, so another clone on the machine (CI's) shares the
            # cache (__FILE__ puts the checkout's path into the preprocessed text too).
            command = " ".join(entry.get("arguments") or [entry["command"]])
            h.update(command.replace(root, "<root>").encode())
            h.update(pre.stdout.replace(root.encode(), b"<root>"))
            key = cache / h.hexdigest()
            if key.exists():
                return path, True, None
        run = subprocess.run(["clang-tidy", "-p", build_dir, "--quiet", path],
                             capture_output=True, text=True)
        if run.returncode == 0 and key is not None:
            key.touch()
        report = "\n".join(line for line in (run.stdout + run.stderr).splitlines()
                           if "warnings generated" not in line and
                           not line.startswith("Suppressed ") and
                           "Use -header-filter" not in line)
        return path, run.returncode == 0, report

    failed = skipped = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, ok, report in pool.map(check, files):
            if report:
                print(report)
            if report is None:
                skipped += 1
            if not ok:
                failed += 1
                print(f"clang-tidy: {path}: FAILED", file=sys.stderr)
    print(f"clang-tidy: {len(files)} files, {skipped} unchanged since they passed, "
          f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
