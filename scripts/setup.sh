#!/usr/bin/env bash
# Installs everything prova needs on a fresh machine: the pinned npm toolchain (Foundry, solc, forge-std,
# OpenZeppelin) and the Postgres server binaries. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/@foundry-rs/forge-linux-amd64/bin/forge ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci (Foundry, solc, forge-std, OpenZeppelin)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "${PROVA_PG_BIN:-}" ]; then
  echo "==> installing Postgres server binaries"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
