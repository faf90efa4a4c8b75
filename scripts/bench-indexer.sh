#!/usr/bin/env bash
# Indexer benchmark: backfill throughput against a bare eth_getLogs client on the same anvil chain, and the
# block-to-API latency on anvil with --block-time 1 (polling and WebSocket). Prints the figures for BENCHMARKS.md.
#
# Usage: scripts/bench-indexer.sh   (from anywhere; needs `npm ci` for forge/anvil and Postgres binaries)
# Environment:
#   PROVA_BENCH_EVENTS           registry events on the chain        (default 200000)
#   PROVA_BENCH_ROUNDS           indexer backfills timed, median kept (default 3)
#   PROVA_BENCH_LATENCY_SAMPLES  model versions timed per mode        (default 30)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

node_modules/@foundry-rs/forge-linux-amd64/bin/forge build --quiet
eval "$(PROVA_PG_FSYNC=on scripts/pg-test-cluster.sh start)"
trap 'scripts/pg-test-cluster.sh stop "$PROVA_TEST_PGDATA"' EXIT
RUST_LOG=${RUST_LOG:-warn} cargo bench -p prova-e2e --bench indexer
