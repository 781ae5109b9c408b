#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for a whole ctest run (the `postgres` fixture,
# tests/CMakeLists.txt), or for one command (with_postgres.sh):
#   postgres_fixture.sh start DIR   initdb into DIR, start on a free port (no network, no
#                                   fsync), write the connection string to DIR/dsn
#   postgres_fixture.sh stop DIR    stop it and remove DIR, whatever state it is in
#   postgres_fixture.sh run DIR CMD...  CMD with LGSP_TEST_PG_DSN naming a new database of its
#                                   own on that server (so ctest may run entries in parallel);
#                                   fails when the server was not started (tests would
#                                   otherwise skip)
set -euo pipefail
action=${1:?usage: postgres_fixture.sh start|stop|run DIR [CMD...]}
dir=${2:?usage: postgres_fixture.sh start|stop|run DIR [CMD...]}
shift 2
bin=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)  # initdb refuses to run as root

case "$action" in
  start)
    [ -x "$bin/initdb" ] || { echo "postgres_fixture: server binaries not found (install: postgresql)" >&2; exit 1; }
    "$0" stop "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 > "$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    for _ in 1 2 3 4 5; do
      port=$((20000 + RANDOM % 12000))
      if "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
           -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" \
           start > /dev/null 2>&1; then
        echo "host=127.0.0.1 port=$port user=postgres dbname=postgres" > "$dir/dsn"
        echo "postgres_fixture: started on 127.0.0.1:$port"
        exit 0
      fi
    done
    echo "postgres_fixture: server did not start" >&2
    cat "$dir/server.log" >&2
    exit 1
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  run)
    [ -s "$dir/dsn" ] || { echo "postgres_fixture: no server in $dir (run: postgres_fixture.sh start $dir)" >&2; exit 1; }
    port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' "$dir/dsn")
    db="t$$_$RANDOM"
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db" \
      || { echo "postgres_fixture: cannot create database $db" >&2; exit 1; }
    # Left for `stop`, which removes the whole server: exec keeps the test the process ctest
    # times out and kills.
    LGSP_TEST_PG_DSN="host=127.0.0.1 port=$port user=postgres dbname=$db"
    export LGSP_TEST_PG_DSN
    exec "$@"
    ;;
  *)
    echo "usage: postgres_fixture.sh start|stop|run DIR [CMD...]" >&2
    exit 2
    ;;
esac
