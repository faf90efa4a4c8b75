// Checks a `prova model prove-file` proof with @openzeppelin/merkle-tree, independently of prova's Rust code.
// Usage: prova model prove-file PATH --dir DIR | node scripts/verify-file-proof.mjs   (prints true or false)
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const p = JSON.parse(input);
const ok = StandardMerkleTree.verify(p.version_hash, p.leaf_types, [p.path, String(p.size), p.sha256], p.proof);
console.log(ok);
process.exit(ok ? 0 : 1);
