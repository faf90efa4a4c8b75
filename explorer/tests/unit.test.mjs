// Unit tests of the explorer's chain code, run with node's test runner (`npm test`): the in-browser Merkle tree
// agrees with @openzeppelin/merkle-tree and with the Rust fixtures, the receipt checks give `prova verify`'s
// reasons, and the ABI fragments match the compiled contract interfaces (when `forge build` has written them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { toEventSelector, toFunctionSelector } from 'viem';

const root = new URL('..', import.meta.url).pathname;
const repo = join(root, '..');

/** Bundles a TypeScript module of src/ for node and imports it. */
async function load(entry) {
  const out = join(mkdtempSync(join(tmpdir(), 'explorer-unit-')), 'bundle.mjs');
  await build({ entryPoints: [join(root, entry)], bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'error' });
  return import(pathToFileURL(out).href);
}

const merkle = await load('src/chain/merkle.ts');
const verify = await load('src/chain/verify.ts');
const abi = await load('src/chain/abi.ts');

const hex32 = (n) => `0x${n.toString(16).padStart(64, '0')}`;

test('version hashes and proofs match @openzeppelin/merkle-tree for 1 to 40 files', () => {
  for (let n = 1; n <= 40; n++) {
    const files = Array.from({ length: n }, (_, i) => ({ path: `dir/file-${i}.bin`, size: i * 1000 + n, sha256: hex32(BigInt(i * 7919 + n)) }));
    const oz = StandardMerkleTree.of(files.map((f) => [f.path, String(f.size), f.sha256]), ['string', 'uint64', 'bytes32']);
    const tree = new merkle.MerkleTree(files.map(merkle.fileLeaf));
    assert.equal(tree.root, oz.root, `n=${n}`);
    assert.equal(merkle.versionHash(files), oz.root);
    for (const [i, value] of oz.entries()) {
      const proof = tree.proof(merkle.fileLeaf(files[i]));
      assert.deepEqual(proof, oz.getProof(value), `n=${n} i=${i}`);
      assert.equal(merkle.processProof(merkle.fileLeaf(files[i]), proof), oz.root);
    }
  }
});

test('the Rust fixtures (core/tests/fixtures/merkle.json) give the same roots and proofs', () => {
  const fixtures = JSON.parse(readFileSync(join(repo, 'core/tests/fixtures/merkle.json'), 'utf8'));
  for (const m of fixtures.manifests) {
    assert.equal(merkle.versionHash(m.entries), m.root, m.name);
    const tree = new merkle.MerkleTree(m.entries.map(merkle.fileLeaf));
    for (const e of m.entries) assert.deepEqual(tree.proof(merkle.fileLeaf(e)), e.proof, `${m.name}: ${e.path}`);
  }
  const outputs = fixtures.output_leaves;
  for (const leaf of outputs.leaves) {
    const [version_hash, request_hash, response_hash, timestamp, salt] = leaf.values;
    const hash = merkle.outputLeaf({ version_hash, request_hash, response_hash, timestamp: Number(timestamp), salt });
    assert.equal(merkle.processProof(hash, leaf.proof), outputs.root);
  }
});

test('receipt checks give the reasons of prova verify output', () => {
  const request = new TextEncoder().encode('q');
  const response = new TextEncoder().encode('a');
  const leaves = [0, 1, 2].map((i) => ({
    version_hash: hex32(1n),
    request_hash: hex32(BigInt(10 + i)),
    response_hash: hex32(BigInt(20 + i)),
    timestamp: 1_700_000_000 + i,
    salt: hex32(BigInt(30 + i)),
  }));
  const tree = new merkle.MerkleTree(leaves.map(merkle.outputLeaf));
  const receipt = { format: 'prova.output-receipt/v1', chain_id: 31337, registry: '0x' + '99'.repeat(20), root: tree.root, leaf: leaves[0], proof: tree.proof(merkle.outputLeaf(leaves[0])), tx_hash: hex32(7n), block_number: 12 };
  assert.equal(verify.checkReceiptOffline(receipt), undefined);
  assert.match(verify.checkReceiptOffline(receipt, request), /^the request does not match the receipt: keccak256 is 0x[0-9a-f]{64}, the receipt says /);
  assert.match(verify.checkReceiptOffline(receipt, undefined, response), /^the response does not match the receipt/);
  assert.equal(verify.checkReceiptOffline({ ...receipt, leaf: { ...leaves[0], timestamp: leaves[0].timestamp + 1 } }), `the Merkle proof does not link this leaf to root ${tree.root}`);
  assert.equal(verify.checkReceiptOffline({ ...receipt, format: 'other' }), 'not a prova output receipt (format "other")');
  assert.throws(() => verify.parseReceipt('{"format":1}'), /not a prova output receipt/);
});

test('dates are printed as prova_core::time::iso8601 prints them', () => {
  assert.equal(verify.iso8601(0), '1970-01-01T00:00:00Z');
  assert.equal(verify.iso8601(1_700_000_000), '2023-11-14T22:13:20Z');
});

test('a manifest whose files do not hash to its version hash is refused', () => {
  const files = [{ path: 'a', size: 1, sha256: hex32(1n) }];
  const good = { format: 'prova.manifest/v1', version_hash: merkle.versionHash(files), files };
  assert.equal(verify.parseManifest(JSON.stringify(good)).versionHash, good.version_hash);
  assert.throws(() => verify.parseManifest(JSON.stringify({ ...good, version_hash: hex32(5n) })), /but its files hash to/);
  const diff = verify.diffFiles([{ path: 'a', size: 1, sha256: hex32(2n) }, { path: 'b', size: 1, sha256: hex32(3n) }], files);
  assert.deepEqual(diff, { unchanged: 0, added: ['b'], removed: [], changed: ['a'] });
});

const compiled = (name) => {
  const path = join(repo, `contracts/out/${name}.sol/${name}.json`);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')).abi : undefined;
};

for (const [name, fragments] of [['IProvenanceRegistry', abi.registryAbi], ['IIdentityRegistry', abi.identityAbi], ['IReputationRegistry', abi.reputationAbi]]) {
  const interfaceAbi = compiled(name);
  test(`the explorer's ${name} fragments match the compiled interface`, { skip: !interfaceAbi && 'run forge build first' }, () => {
    const selectors = new Set(interfaceAbi.filter((i) => i.type === 'function' || i.type === 'event').map((i) => (i.type === 'event' ? toEventSelector(i) : toFunctionSelector(i))));
    for (const item of fragments.filter((i) => i.type === 'function' || i.type === 'event')) {
      const selector = item.type === 'event' ? toEventSelector(item) : toFunctionSelector(item);
      assert.ok(selectors.has(selector), `${item.type} ${item.name} is not in ${name}`);
    }
  });
}
