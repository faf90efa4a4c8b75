//! OpenZeppelin `StandardMerkleTree`, written to give byte-identical roots and proofs.
//!
//! Leaves are `keccak256(bytes.concat(keccak256(abi.encode(values))))`, sorted by hash; inner nodes hash the
//! sorted pair. The tree is laid out as OpenZeppelin's flat array, so proofs match `@openzeppelin/merkle-tree`
//! and verify with `MerkleProof.verify` on-chain.

use alloy::primitives::{B256, keccak256};
use alloy::sol_types::abi::TokenSeq;
use alloy::sol_types::{SolType, SolValue};

/// Hashes ABI-encodable leaf values the way `StandardMerkleTree` does: a double keccak256 of `abi.encode`.
pub fn leaf_hash<T>(values: &T) -> B256
where
    T: SolValue,
    for<'a> <T::SolType as SolType>::Token<'a>: TokenSeq<'a>,
{
    keccak256(keccak256(values.abi_encode_params()))
}

/// Hashes two nodes in sorted order (OpenZeppelin's commutative keccak256).
pub fn hash_pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// A complete `StandardMerkleTree` over leaf hashes.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    /// Flat array: the root at 0, children of `i` at `2i+1` and `2i+2`, leaves at the end in reverse order.
    nodes: Vec<B256>,
    /// Number of leaves.
    leaves: usize,
}

impl MerkleTree {
    /// Builds the tree from leaf hashes in any order; they are sorted as OpenZeppelin does.
    ///
    /// Returns `None` for an empty set of leaves, which has no root.
    pub fn from_leaf_hashes(mut leaves: Vec<B256>) -> Option<Self> {
        if leaves.is_empty() {
            return None;
        }
        leaves.sort_unstable();
        let n = leaves.len();
        let mut nodes = vec![B256::ZERO; 2 * n - 1];
        let len = nodes.len();
        for (i, leaf) in leaves.into_iter().enumerate() {
            nodes[len - 1 - i] = leaf;
        }
        for i in (0..len - n).rev() {
            nodes[i] = hash_pair(nodes[2 * i + 1], nodes[2 * i + 2]);
        }
        Some(Self { nodes, leaves: n })
    }

    /// The root.
    pub fn root(&self) -> B256 {
        self.nodes[0]
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.leaves
    }

    /// Always false: a tree has at least one leaf.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The proof for a leaf hash, or `None` if the leaf is not in the tree.
    pub fn proof(&self, leaf: B256) -> Option<Vec<B256>> {
        let first_leaf = self.nodes.len() - self.leaves;
        let mut i = (first_leaf..self.nodes.len()).find(|&i| self.nodes[i] == leaf)?;
        let mut proof = Vec::new();
        while i > 0 {
            let sibling = if i % 2 == 1 { i + 1 } else { i - 1 };
            proof.push(self.nodes[sibling]);
            i = (i - 1) / 2;
        }
        Some(proof)
    }
}

/// Folds a proof from a leaf hash up to a root, as `MerkleProof.processProof` does.
pub fn process_proof(leaf: B256, proof: &[B256]) -> B256 {
    proof.iter().fold(leaf, |acc, sibling| hash_pair(acc, *sibling))
}

/// True if `proof` links `leaf` to `root`.
pub fn verify_proof(root: B256, leaf: B256, proof: &[B256]) -> bool {
    process_proof(leaf, proof) == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::b256;

    fn h(n: u8) -> B256 {
        keccak256([n])
    }

    #[test]
    fn single_leaf_root_is_the_leaf() {
        let tree = MerkleTree::from_leaf_hashes(vec![h(1)]).unwrap();
        assert_eq!(tree.root(), h(1));
        assert_eq!(tree.proof(h(1)).unwrap(), Vec::<B256>::new());
    }

    #[test]
    fn empty_has_no_tree() {
        assert!(MerkleTree::from_leaf_hashes(vec![]).is_none());
    }

    #[test]
    fn every_proof_verifies_for_many_sizes() {
        for n in 1..=33u8 {
            let leaves: Vec<B256> = (0..n).map(h).collect();
            let tree = MerkleTree::from_leaf_hashes(leaves.clone()).unwrap();
            for leaf in &leaves {
                let proof = tree.proof(*leaf).unwrap();
                assert!(verify_proof(tree.root(), *leaf, &proof), "n={n}");
            }
            assert!(tree.proof(h(200)).is_none());
        }
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let leaves: Vec<B256> = (0..10).map(h).collect();
        let mut reversed = leaves.clone();
        reversed.reverse();
        let a = MerkleTree::from_leaf_hashes(leaves).unwrap();
        let b = MerkleTree::from_leaf_hashes(reversed).unwrap();
        assert_eq!(a.root(), b.root());
    }

    #[test]
    fn hash_pair_is_commutative_and_matches_known_value() {
        assert_eq!(hash_pair(h(1), h(2)), hash_pair(h(2), h(1)));
        // keccak256(bytes32(0) ++ bytes32(0))
        assert_eq!(
            hash_pair(B256::ZERO, B256::ZERO),
            b256!("ad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5")
        );
    }
}
