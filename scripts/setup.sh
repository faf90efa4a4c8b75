#!/usr/bin/env bash
# Installs everything prova needs on a fresh machine: the pinned npm toolchain (Foundry, solc, forge-std,
# OpenZeppelin), the explorer's packages and build, the Postgres server binaries, chromium and schemathesis (in
# .venv). Safe to run again: it skips what is already there.
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

# The explorer (explorer/): its own pinned npm packages, and its build (explorer/dist), which the prova binary embeds
# (api/build.rs), so it is built before cargo builds.
if [ ! -d explorer/node_modules/vite ] || [ explorer/package-lock.json -nt explorer/node_modules/.package-lock.json ]; then
  echo "==> npm ci in explorer/ (Vite, TypeScript, Preact, viem, playwright-core)"
  (cd explorer && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
if [ ! -f explorer/dist/index.html ] || [ -n "$(find explorer/src explorer/index.html explorer/package-lock.json \
    explorer/vite.config.ts -newer explorer/dist/index.html -not -name schema.d.ts -print -quit)" ]; then
  echo "==> building the explorer into explorer/dist"
  (cd explorer && npm run -s build)
fi

# Debian's chromium runs the explorer's browser test (tests/e2e/explorer.rs drives it with playwright-core).
if ! command -v chromium >/dev/null 2>&1 && [ -z "${PROVA_CHROMIUM:-}" ]; then
  echo "==> installing chromium"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# schemathesis fuzzes the API from its OpenAPI document (tests/api_fuzz.rs runs .venv/bin/schemathesis).
if ! .venv/bin/schemathesis --version 2>/dev/null | grep -q 'version 4\.'; then
  echo "==> installing schemathesis 4 into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'schemathesis==4.*'
fi
