#!/usr/bin/env bash
# Starts a throwaway Postgres cluster for the test suite and prints `export DATABASE_URL=...` and the data folder.
# fsync is off (tests need no crash durability of the server itself); PROVA_PG_FSYNC=on for benchmarks.
# Usage: eval "$(scripts/pg-test-cluster.sh start)"; ...; scripts/pg-test-cluster.sh stop "$PROVA_TEST_PGDATA"
set -euo pipefail

bin_dir() {
  if [ -n "${PROVA_PG_BIN:-}" ]; then echo "$PROVA_PG_BIN"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    BIN=$(bin_dir)
    DATA=$(mktemp -d /tmp/prova-test-pg.XXXXXX)
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DATA"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres --no-sync >/dev/null
    as_pg "$BIN/pg_ctl" -D "$DATA" -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${PROVA_PG_FSYNC:-off}" \
      -l "$DATA/postgres.log" -w start >/dev/null
    echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    echo "export PROVA_TEST_PGDATA=$DATA"
    ;;
  stop)
    DATA=${2:?data folder}
    as_pg "$(bin_dir)/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true
    rm -rf "$DATA"
    ;;
  *) echo "usage: $0 start | stop DATA" >&2; exit 2 ;;
esac
