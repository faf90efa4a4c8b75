// Writes a gzip twin of every built file (the prova binary serves it to browsers that accept gzip) and prints the
// bundle's size: what a first visit downloads.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url).pathname;
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (!name.endsWith('.gz')) files.push(path);
  }
};
walk(dist);
let raw = 0;
let gzipped = 0;
for (const path of files.sort()) {
  const bytes = readFileSync(path);
  const gz = gzipSync(bytes, { level: 9 });
  writeFileSync(`${path}.gz`, gz);
  raw += bytes.length;
  gzipped += gz.length;
  console.log(`${relative(dist, path).padEnd(40)} ${String(bytes.length).padStart(8)} B  ${String(gz.length).padStart(7)} B gzip`);
}
console.log(`${'total'.padEnd(40)} ${String(raw).padStart(8)} B  ${String(gzipped).padStart(7)} B gzip`);
