#!/usr/bin/env bash
# Regenerates core/artifacts/<Contract>.bin for ProvenanceRegistry and the ERC-8004 registries (IdentityRegistry,
# ReputationRegistry, ValidationRegistry): each contract's creation bytecode (forge's `.bytecode.object`), as
# 0x-prefixed hex with no trailing newline. The Rust code embeds them (core/src/bindings.rs); scripts/test.sh checks
# they are current.
# Usage: scripts/export-abi.sh   (from anywhere; needs `npm ci` to have installed forge)
set -euo pipefail
cd "$(dirname "$0")/.."

node_modules/@foundry-rs/forge-linux-amd64/bin/forge build --quiet

mkdir -p core/artifacts
for contract in ProvenanceRegistry IdentityRegistry ReputationRegistry ValidationRegistry; do
  node -e '
const fs = require("fs");
const [src, dst] = process.argv.slice(1);
const hex = JSON.parse(fs.readFileSync(src, "utf8")).bytecode.object;
if (!/^0x([0-9a-fA-F]{2})+$/.test(hex)) throw new Error(`${src}: no bytecode in .bytecode.object`);
fs.writeFileSync(dst, hex);
' "contracts/out/$contract.sol/$contract.json" "core/artifacts/$contract.bin"
  echo "wrote core/artifacts/$contract.bin"
done
