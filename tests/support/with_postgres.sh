#!/usr/bin/env bash
# Runs a command with its own throwaway PostgreSQL server on loopback (postgres_fixture.sh),
# LGSP_TEST_PG_DSN exported, and the server stopped and removed when the command ends,
# whatever its outcome. For running a test binary by hand; ctest shares one server per run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap '"$here/postgres_fixture.sh" stop "$dir"' EXIT
"$here/postgres_fixture.sh" start "$dir" > /dev/null
"$here/postgres_fixture.sh" run "$dir" "$@"
