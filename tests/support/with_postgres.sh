#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on loopback: initdb into a temp dir,
# start on a free port (no network, no fsync), export LGSP_TEST_PG_DSN, and stop and
# remove everything when the command ends, whatever its outcome.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "with_postgres: PostgreSQL server binaries not found (install: postgresql)" >&2; exit 1; }
dir=$(mktemp -d)
as_pg=()
if [ "$(id -u)" = 0 ]; then  # initdb refuses to run as root
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
stop() {
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 > "$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
started=0
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 30000))
  if "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
       -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" \
       start > /dev/null 2>&1; then
    started=1
    break
  fi
done
[ "$started" = 1 ] || { echo "with_postgres: server did not start" >&2; cat "$dir/server.log" >&2; exit 1; }
export LGSP_TEST_PG_DSN="host=127.0.0.1 port=$port user=postgres dbname=postgres"
"$@"
