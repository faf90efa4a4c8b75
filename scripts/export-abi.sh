#!/usr/bin/env bash
# Regenerates core/artifacts/ProvenanceRegistry.bin: the registry's creation bytecode (forge's `.bytecode.object`),
# as 0x-prefixed hex with no trailing newline. core/src/bindings.rs embeds it; scripts/test.sh checks it is current.
# Usage: scripts/export-abi.sh   (from anywhere; needs `npm ci` to have installed forge)
set -euo pipefail
cd "$(dirname "$0")/.."

node_modules/@foundry-rs/forge-linux-amd64/bin/forge build --quiet

mkdir -p core/artifacts
node -e '
const fs = require("fs");
const [src, dst] = process.argv.slice(1);
const hex = JSON.parse(fs.readFileSync(src, "utf8")).bytecode.object;
if (!/^0x([0-9a-fA-F]{2})+$/.test(hex)) throw new Error(`${src}: no bytecode in .bytecode.object`);
fs.writeFileSync(dst, hex);
' contracts/out/ProvenanceRegistry.sol/ProvenanceRegistry.json core/artifacts/ProvenanceRegistry.bin
echo "wrote core/artifacts/ProvenanceRegistry.bin"
