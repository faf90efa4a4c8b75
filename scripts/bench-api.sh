#!/usr/bin/env bash
# API benchmarks: load on GET /v1/model-versions/{hash} (wrk, 64 connections, 30 s) against pgbench running the
# route's statements on the same Postgres, the reputation route under load, reputation latencies over 100,000
# feedback entries, and normal clients' latency while attackers send issue 16's expensive requests at their rate
# limit (loopback only, 60 s alone then 60 s under attack). Prints the figures for BENCHMARKS.md.
#
# Usage: scripts/bench-api.sh   (installs wrk from Debian's packages if missing; needs the Postgres binaries)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if ! command -v wrk >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq wrk >/dev/null
fi
export PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
eval "$(PROVA_PG_FSYNC=on scripts/pg-test-cluster.sh start)"
trap 'scripts/pg-test-cluster.sh stop "$PROVA_TEST_PGDATA"' EXIT
echo "==> load: API vs pgbench"
cargo bench -p prova-api --bench load
echo "==> reputation latencies"
cargo bench -p prova-api --bench reputation
echo "==> hostile load: normal clients alone, then under attack"
PROVA_BENCH_SECONDS=${PROVA_BENCH_SECONDS:-60} cargo bench -p prova-api --bench hostile
