#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset, build-fuzz/) and runs them.
#
#   tests/fuzz/run.sh [SECONDS]   fuzz each target SECONDS (default 60) from its committed
#                                 corpus; fails if any target crashes, leaks, hits UB, times
#                                 out (5 s) or goes past 2 GB
#   tests/fuzz/run.sh --replay    run the committed corpus once through each target (seconds):
#                                 a regression test for the regular test command
#   tests/fuzz/run.sh --merge     fold what earlier runs found (build-fuzz/fuzz-corpus/) into
#                                 the committed corpus, minimised to < 200 inputs per target
#
# FUZZ_TARGETS="fuzz_config fuzz_envelope" picks targets; CMAKE_BUILD_PARALLEL_LEVEL bounds
# the build. New inputs go to build-fuzz/fuzz-corpus/<target>/, logs to build-fuzz/fuzz-logs/,
# reproducers of failures to tests/fuzz/crashes/<target>-crash-<sha1> (README.md: what next).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build-fuzz"
targets=(${FUZZ_TARGETS:-fuzz_http_request fuzz_json_body fuzz_identifiers fuzz_envelope fuzz_config})

mode=fuzz
seconds=60
case "${1:-}" in
  --replay) mode=replay ;;
  --merge) mode=merge ;;
  "") ;;
  *[!0-9]* | -*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
  *) seconds="$1" ;;
esac

dict_of() {
  case "$1" in
    fuzz_http_request) echo "$here/dict/http_request.dict" ;;
    fuzz_json_body) echo "$here/dict/json_body.dict" ;;
    fuzz_config) echo "$here/dict/config.dict" ;;
    *) echo "$here/dict/identifiers.dict" ;;
  esac
}

cd "$root"
configure_log="$(mktemp)"
cmake --preset fuzz > "$configure_log" 2>&1 || { cat "$configure_log" >&2; exit 1; }
rm -f "$configure_log"
cmake --build --preset fuzz --target "${targets[@]}"

mkdir -p "$build/fuzz-logs" "$here/crashes"
failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  corpus="$here/corpus/$t"
  scratch="$build/fuzz-corpus/$t"
  log="$build/fuzz-logs/$t.log"
  mkdir -p "$scratch"
  # The config loader opens the files a YAML names; relative ones resolve in an empty dir.
  work="$(mktemp -d)"
  common=(-rss_limit_mb=2048 -timeout=5 -artifact_prefix="$here/crashes/$t-")
  status=0
  case "$mode" in
    replay)
      (cd "$work" && "$bin" "${common[@]}" -runs=0 "$corpus") > "$log" 2>&1 || status=$?
      ;;
    fuzz)
      (cd "$work" && "$bin" "${common[@]}" -max_total_time="$seconds" -dict="$(dict_of "$t")" \
        -print_final_stats=1 "$scratch" "$corpus") > "$log" 2>&1 || status=$?
      ;;
    merge)
      # libFuzzer's merge first (drops inputs that add nothing), then a greedy set cover
      # over each survivor's edges (minimise.py); hand-written seeds (seed-*) always stay.
      merged="$(mktemp -d)"
      minimal="$(mktemp -d)"
      (cd "$work" && "$bin" "${common[@]}" -merge=1 -use_counters=0 "$merged" "$corpus" \
        "$scratch") > "$log" 2>&1 || status=$?
      cp "$corpus"/seed-* "$merged"/
      if [ "$status" -eq 0 ] && python3 "$here/minimise.py" "$bin" "$merged" "$minimal" >> "$log"
      then
        rm -rf "$corpus" && mv "$minimal" "$corpus" && chmod 755 "$corpus"
      else
        status=1
        rm -rf "$minimal"
      fi
      rm -rf "$merged"
      ;;
  esac
  rm -rf "$work"
  summary="$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)|^minimise: ' "$log" | tail -1 || true)"
  if [ "$status" -eq 0 ]; then
    printf '%-18s ok    %s\n' "$t" "$summary"
  else
    printf '%-18s FAIL  (exit %s) see %s\n' "$t" "$status" "$log"
    grep -E 'ERROR: |SUMMARY: |invariant broken|contract broken|Test unit written' "$log" | sed 's/^/    /' || true
    failed+=("$t")
  fi
done

if [ "$mode" = merge ]; then
  for t in "${targets[@]}"; do
    printf '%-18s %4s files %6s\n' "$t" "$(ls "$here/corpus/$t" | wc -l)" \
      "$(du -sh --apparent-size "$here/corpus/$t" | cut -f1)"
  done
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets passed ($mode)"
