// Builds Merkle test vectors with @openzeppelin/merkle-tree, independently of prova's Rust code.
// Usage: npm run fixtures   (writes core/tests/fixtures/merkle.json)
import { createHash } from 'node:crypto';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';

const sha256 = (text) => '0x' + createHash('sha256').update(text).digest('hex');
const file = (path, content) => [path, String(Buffer.byteLength(content)), sha256(content)];

const manifests = [
  { name: 'single file', entries: [file('model.safetensors', 'weights')] },
  {
    name: 'three files',
    entries: [file('config.json', '{}'), file('tokenizer.json', '{"vocab":1}'), file('weights/part-0.bin', 'abc')],
  },
  {
    name: 'unicode and nesting',
    entries: [file('a/b/c.txt', 'deep'), file('données/modèle.bin', 'é'), file('z.bin', ''), file('README.md', '# hi')],
  },
  {
    name: 'nine files (odd, unbalanced)',
    entries: Array.from({ length: 9 }, (_, i) => file(`shard-${String(i).padStart(5, '0')}.bin`, 'x'.repeat(i * 37))),
  },
];

const outputLeafTypes = ['bytes32', 'bytes32', 'bytes32', 'uint64', 'bytes32'];
const word = (n) => '0x' + n.toString(16).padStart(64, '0');
const outputs = Array.from({ length: 5 }, (_, i) => [word(1), word(100 + i), word(200 + i), String(1_700_000_000 + i), word(300 + i)]);

const result = {
  generator: 'scripts/merkle-fixtures.mjs with @openzeppelin/merkle-tree',
  manifests: manifests.map(({ name, entries }) => {
    const tree = StandardMerkleTree.of(entries, ['string', 'uint64', 'bytes32']);
    return {
      name,
      root: tree.root,
      entries: entries.map((values) => ({
        path: values[0],
        size: Number(values[1]),
        sha256: values[2],
        proof: tree.getProof(values),
      })),
    };
  }),
  output_leaves: (() => {
    const tree = StandardMerkleTree.of(outputs, outputLeafTypes);
    return { types: outputLeafTypes, root: tree.root, leaves: outputs.map((values) => ({ values, proof: tree.getProof(values) })) };
  })(),
};
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
