# Sourced (not run) by the tests that run `lgsp dev` as a real process on private ports: the
# smoke test, the OpenAPI contract test and the Prometheus test.
# After sourcing: $work is a fresh temp dir, removed on exit together with every process
# listed in $pids and the stand-in (SIGKILL; a test that checks a graceful stop stops them
# itself first and takes them out of $pids).

dev_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
pids=()
standin_pid=
dev_cleanup() {
  for p in "${pids[@]}" $standin_pid; do kill -9 "$p" 2> /dev/null || true; done
  rm -rf "$work"
}
trap dev_cleanup EXIT

# dev_profile D OUT [SED_EXPR...]: config/dev.yaml with its four listeners moved from
# 127.0.0.1:8080, 9464, 9465 and 9466 to 127.0.0.1:D8080, D9464, D9465 and D9466 and its
# civil-status upstream from 127.0.0.1:8091 to D8091 (start_standin), its files in $work,
# 2,000 citizens; then the extra sed expressions.
dev_profile() {
  local d=$1 out=$2
  shift 2
  local args=(-e "s#127\.0\.0\.1:\(8080\|9464\|9465\|9466\|8091\)\b#127.0.0.1:$d\1#"
              -e "s#run/#$work/#g" -e "s#citizens: 100000#citizens: 2000#")
  local e
  for e in "$@"; do args+=(-e "$e"); done
  sed "${args[@]}" "$dev_root/config/dev.yaml" > "$out"
  local port
  for port in 8080 9464 9465 9466 8091; do
    grep -q "127.0.0.1:$d$port" "$out" || { echo "FAIL: config/dev.yaml no longer listens on $port"; exit 1; }
  done
}

# start_standin D: the Ministry of Justice stand-in as scripts/dev.sh runs it, on
# 127.0.0.1:D8091 over its own copy of civil status in $work (the profile's 2,000 citizens),
# killed on exit ($standin_pid, not in $pids); and the citizen identity provider's key and
# JWKS in $work/citizen-idp (citizen_token). Needs $lgsp (the stand-ins are built beside it).
start_standin() {
  "$(dirname "$lgsp")/lgsp-citizen-idp" --dir "$work/citizen-idp"
  sed -e "s#run/#$work/#g" -e "s#citizens: 100000#citizens: 2000#" \
    "$dev_root/config/ministry-standin.yaml" > "$work/standin.yaml"
  standin_pid=$("$dev_root/scripts/start-standin.sh" "$(dirname "$lgsp")" "$work/standin.yaml" \
    "${1}8091" "$work/standin.log")
}

# start_dev D: after dev_profile D "$work/dev.yaml": the stand-ins (start_standin D), the
# profile's keys, and `lgsp dev` in the background on it (its pid in $dev_pid and $pids, its
# log in $work/dev.log); returns once its admin port answers /readyz.
start_dev() {
  start_standin "$1"
  "$lgsp" keys init --config "$work/dev.yaml" > /dev/null 2>&1
  "$lgsp" dev --config "$work/dev.yaml" > "$work/dev.log" 2>&1 &
  dev_pid=$!
  pids+=("$dev_pid")
  wait_ready "http://127.0.0.1:${1}9464/readyz" "$work/dev.log"
}

# citizen_token ID: an access token of the citizen identity provider's stand-in for citizen
# ID (after start_standin), for the Citizen-Token header of an access-log read.
citizen_token() {
  "$(dirname "$lgsp")/lgsp-citizen-idp" --dir "$work/citizen-idp" --citizen "$1"
}

# wait_ready URL LOG: waits up to 20 s for URL to answer 2xx; otherwise shows the end of LOG
# and exits 1.
wait_ready() {
  for _ in $(seq 1 200); do
    curl -fsS "$1" > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "FAIL: not ready: $1"
  tail -n 40 "$2"
  exit 1
}

# stop_process PID NAME LOG [SECONDS]: SIGTERM, then waits up to SECONDS (default 30) for
# PID to exit with status 0. One that does not stop in time gets its threads' stacks printed
# (gdb, when installed) with the end of LOG, then SIGKILL. Returns 1 on either failure, so a
# hang fails the test with its cause instead of running into ctest's timeout.
stop_process() {
  local pid=$1 name=$2 log=$3 limit=${4:-30}
  local started=$SECONDS status=0
  kill -TERM "$pid" 2> /dev/null || true
  # An exited child stays a zombie until waited for: that counts as stopped.
  while kill -0 "$pid" 2> /dev/null && [ "$(ps -o stat= -p "$pid" | cut -c1)" != Z ]; do
    if [ $((SECONDS - started)) -ge "$limit" ]; then
      echo "FAIL: $name (pid $pid) did not stop within $limit s of SIGTERM"
      if command -v gdb > /dev/null; then
        gdb -batch -p "$pid" -ex "thread apply all bt" 2> /dev/null | grep -E '^(Thread|#)' | head -n 300
      fi
      tail -n 40 "$log"
      kill -9 "$pid" 2> /dev/null || true
      wait "$pid" 2> /dev/null || true
      return 1
    fi
    sleep 0.1
  done
  wait "$pid" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "FAIL: $name exited $status on SIGTERM"
    tail -n 20 "$log"
    return 1
  fi
  echo "ok   $name stopped in $((SECONDS - started)) s"
}
