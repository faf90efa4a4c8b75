#!/usr/bin/env bash
# Runs every test: Solidity (forge), Rust unit tests, and end-to-end tests on a real anvil and a real Postgres.
# Does its own set-up on a fresh machine (npm packages, Postgres binaries, builds). Used by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
STARTED=$SECONDS
phase() { echo "==> $1 (at $((SECONDS - STARTED)) s)"; }
scripts/setup.sh

FORGE=node_modules/@foundry-rs/forge-linux-amd64/bin/forge

phase "formatting (cargo fmt, forge fmt)"
cargo fmt --all --check || { echo "Rust code is not formatted: run cargo fmt --all" >&2; exit 1; }
"$FORGE" fmt --check >/dev/null || { echo "Solidity is not formatted: run $FORGE fmt" >&2; exit 1; }

phase "forge test"
"$FORGE" test

phase "generated files are up to date"
scripts/export-abi.sh
npm run -s fixtures
git diff --exit-code -- core/artifacts core/tests/fixtures \
  || { echo "generated files changed: run scripts/export-abi.sh and npm run fixtures, then commit" >&2; exit 1; }

phase "explorer: TypeScript checked against the API's OpenAPI document, unit tests"
(cd explorer && npm run -s check && npm test)

phase "cargo build, linted by clippy (warnings are errors)"
# One compilation both lints and builds: clippy-driver compiles the workspace's own crates (as `cargo clippy` does,
# through RUSTC_WORKSPACE_WRAPPER) while dependencies build once, with no separate check pass. Kept exported so that
# the test run below reuses these artifacts instead of rebuilding the workspace without the wrapper.
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo build --workspace --all-targets --locked
# The end-to-end tests run this binary (building it from inside a test could wait on cargo's lock).
export PROVA_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/prova"

eval "$(scripts/pg-test-cluster.sh start)"
trap 'scripts/pg-test-cluster.sh stop "$PROVA_TEST_PGDATA"' EXIT

phase "cargo tests (unit and end-to-end)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
phase "done"
