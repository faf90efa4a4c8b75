#!/usr/bin/env bash
# Installs everything prova needs on a fresh machine: the pinned npm toolchain (Foundry, solc, forge-std,
# OpenZeppelin), the Postgres server binaries and schemathesis (in .venv). Safe to run again: it skips what is
# already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/@foundry-rs/forge-linux-amd64/bin/forge ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci (Foundry, solc, forge-std, OpenZeppelin, agent0-sdk)"
  # --ignore-scripts: no package needs its install script (the Foundry packages ship their binaries), and an
  # optional native dependency of agent0-sdk (node-datachannel) would otherwise try to build with cmake.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "${PROVA_PG_BIN:-}" ]; then
  echo "==> installing Postgres server binaries"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# schemathesis fuzzes the API from its OpenAPI document (tests/api_fuzz.rs runs .venv/bin/schemathesis).
if ! .venv/bin/schemathesis --version 2>/dev/null | grep -q 'version 4\.'; then
  echo "==> installing schemathesis 4 into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'schemathesis==4.*'
fi
