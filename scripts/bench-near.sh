#!/usr/bin/env bash
# The near-duplicate scan's calibration and throughput, with its peer, for BENCHMARKS.md ("Near-duplicate scan and
# calibration"). Installs the null corpus from Debian packages (fortunes, fortunes-min, jargon-text; the manual pages
# and docs already on the machine are the "attested" side), datasketch into .venv, starts a Postgres test cluster
# unless DATABASE_URL is set, runs `cargo bench --bench near` and the peer on the same data, and writes the measured
# calibration to attestor/src/outputs/calibration.json (the one `prova outputs scan` ships).
#
#   scripts/bench-near.sh [bench args...]     e.g. --store 1000000 --dataset 100000 for a quick run
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ! -f /usr/share/games/fortunes/fortunes ] || [ ! -f /usr/share/doc/jargon-text/jargon.txt.gz ]; then
  echo "==> installing the null corpus (fortunes, fortunes-min, jargon-text)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fortunes fortunes-min jargon-text >/dev/null
fi
if ! .venv/bin/python -c 'import datasketch' 2>/dev/null; then
  echo "==> installing datasketch into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'datasketch==2.*'
fi

WORK="$PWD/target/near-bench"
mkdir -p "$WORK"
echo "==> building the corpora"
python3 scripts/bench-near-corpus.py "$WORK/corpus"

STARTED=""
if [ -z "${DATABASE_URL:-}" ]; then
  eval "$(PROVA_PG_FSYNC=on scripts/pg-test-cluster.sh start)"
  STARTED="$PROVA_TEST_PGDATA"
fi
cleanup() { [ -z "$STARTED" ] || scripts/pg-test-cluster.sh stop "$STARTED"; }
trap cleanup EXIT

echo "==> cargo bench -p prova-attestor --bench near"
cargo bench -p prova-attestor --bench near -- --corpus "$WORK/corpus" --export "$WORK/peer" \
  --calibration-out "$PWD/attestor/src/outputs/calibration.json" "$@"
echo "==> the peer: datasketch $(.venv/bin/python -c 'import datasketch; print(datasketch.__version__)') on the same data"
.venv/bin/python scripts/bench-near-peer.py "$WORK/peer"
