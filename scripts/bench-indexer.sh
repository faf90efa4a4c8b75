#!/usr/bin/env bash
# Indexer benchmark: backfill throughput of prova's indexer and of Ponder (the peer, tests/benches/ponder/) against a
# bare eth_getLogs client on the same anvil chain, round by round, and the block-to-API latency on anvil with
# --block-time 1 (polling and WebSocket). Prints the figures for BENCHMARKS.md.
#
# Usage: scripts/bench-indexer.sh   (from anywhere; needs `npm ci` for forge/anvil, Node.js and Postgres binaries)
# Environment:
#   PROVA_BENCH_EVENTS           registry events on the chain                          (default 200000)
#   PROVA_BENCH_ROUNDS           rounds of bare client then prova indexer, then a last bare (default 5)
#   PROVA_BENCH_PONDER_ROUNDS    of those rounds, how many also time Ponder (0: none)  (default 3)
#   PROVA_BENCH_SETTLE           1: drop each finished round's database and CHECKPOINT between measurements (default 1)
#   PROVA_BENCH_LATENCY_SAMPLES  model versions timed per mode                          (default 30)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

node_modules/@foundry-rs/forge-linux-amd64/bin/forge build --quiet
# The Ponder app's pinned packages (its own lock file), installed once and again whenever the lock changes.
PONDER=tests/benches/ponder
if [ "${PROVA_BENCH_PONDER_ROUNDS:-3}" != 0 ] && { [ ! -x "$PONDER/node_modules/.bin/ponder" ] ||
    [ "$PONDER/package-lock.json" -nt "$PONDER/node_modules/.package-lock.json" ]; }; then
  echo "==> npm ci in $PONDER (Ponder 1.0.0)" >&2
  (cd "$PONDER" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
eval "$(PROVA_PG_FSYNC=on scripts/pg-test-cluster.sh start)"
trap 'scripts/pg-test-cluster.sh stop "$PROVA_TEST_PGDATA"' EXIT
RUST_LOG=${RUST_LOG:-warn} cargo bench -p prova-e2e --bench indexer
