// OpenZeppelin StandardMerkleTree, as prova's Rust `prova_core::merkle` builds it: leaves are
// keccak256(keccak256(abi.encode(values))), sorted; inner nodes hash the sorted pair; the tree is OpenZeppelin's
// flat array, so roots and proofs match `@openzeppelin/merkle-tree` (tests/unit.test.mjs checks that) and
// `MerkleProof.verify` on-chain.
import { concatHex, encodeAbiParameters, keccak256, parseAbiParameters, type Hex } from 'viem';

/** Solidity types of a manifest leaf: (path, size, sha256). */
export const FILE_LEAF_TYPES = ['string', 'uint64', 'bytes32'] as const;
/** Solidity types of an output leaf: (versionHash, requestHash, responseHash, timestamp, salt). */
export const OUTPUT_LEAF_TYPES = ['bytes32', 'bytes32', 'bytes32', 'uint64', 'bytes32'] as const;

/** A manifest entry. */
export interface FileEntry {
  path: string;
  size: number;
  sha256: Hex;
}

/** An output leaf, as receipts hold it. */
export interface OutputLeaf {
  version_hash: Hex;
  request_hash: Hex;
  response_hash: Hex;
  timestamp: number;
  salt: Hex;
}

/** The leaf hash of ABI-encodable values. */
export function leafHash(types: readonly string[], values: readonly unknown[]): Hex {
  const encoded = encodeAbiParameters(parseAbiParameters(types.join(',')), values as never);
  return keccak256(keccak256(encoded));
}

/** The leaf of a manifest entry. */
export function fileLeaf(entry: FileEntry): Hex {
  return leafHash(FILE_LEAF_TYPES, [entry.path, BigInt(entry.size), entry.sha256]);
}

/** The leaf of an output. */
export function outputLeaf(leaf: OutputLeaf): Hex {
  return leafHash(OUTPUT_LEAF_TYPES, [
    leaf.version_hash,
    leaf.request_hash,
    leaf.response_hash,
    BigInt(leaf.timestamp),
    leaf.salt,
  ]);
}

/** Hashes two nodes in sorted order (OpenZeppelin's commutative keccak256). */
export function hashPair(a: Hex, b: Hex): Hex {
  const [lo, hi] = a.toLowerCase() <= b.toLowerCase() ? [a, b] : [b, a];
  return keccak256(concatHex([lo, hi]));
}

/** Folds a proof from a leaf up to a root, as `MerkleProof.processProof` does. */
export function processProof(leaf: Hex, proof: readonly Hex[]): Hex {
  return proof.reduce<Hex>((acc, sibling) => hashPair(acc, sibling), leaf);
}

/** A complete tree over leaf hashes. */
export class MerkleTree {
  private readonly nodes: Hex[];
  private readonly leafCount: number;

  constructor(leaves: readonly Hex[]) {
    if (leaves.length === 0) throw new Error('an empty set of leaves has no root');
    const sorted = leaves.map((l) => l.toLowerCase() as Hex).sort();
    const n = sorted.length;
    const nodes = new Array<Hex>(2 * n - 1);
    sorted.forEach((leaf, i) => (nodes[nodes.length - 1 - i] = leaf));
    for (let i = nodes.length - n - 1; i >= 0; i--) nodes[i] = hashPair(nodes[2 * i + 1], nodes[2 * i + 2]);
    this.nodes = nodes;
    this.leafCount = n;
  }

  get root(): Hex {
    return this.nodes[0];
  }

  /** The proof of a leaf, or undefined when it is not in the tree. */
  proof(leaf: Hex): Hex[] | undefined {
    const first = this.nodes.length - this.leafCount;
    let i = this.nodes.indexOf(leaf.toLowerCase() as Hex, first);
    if (i < 0) return undefined;
    const proof: Hex[] = [];
    while (i > 0) {
      proof.push(this.nodes[i % 2 === 1 ? i + 1 : i - 1]);
      i = Math.floor((i - 1) / 2);
    }
    return proof;
  }
}

/** The version hash of a manifest's files: the root over their leaves. */
export function versionHash(files: readonly FileEntry[]): Hex {
  return new MerkleTree(files.map(fileLeaf)).root;
}
