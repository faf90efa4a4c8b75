//! Output attestation: salted output leaves, their normalization for distillation scans, and receipts that anyone
//! can verify against the chain alone.
//!
//! A leaf is `(versionHash, requestHash, responseHash, timestamp, salt)` with StandardMerkleTree leaf types
//! `["bytes32","bytes32","bytes32","uint64","bytes32"]`; the request and response hashes are keccak256 of the exact
//! bytes, and the salt is 32 fresh random bytes so that short texts cannot be brute-forced from a public root.

use alloy::primitives::{Address, B256, keccak256};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::error::Result;
use crate::merkle::verify_proof;

/// Solidity types of an output leaf, as passed to `StandardMerkleTree.of`.
pub const OUTPUT_LEAF_TYPES: [&str; 5] = ["bytes32", "bytes32", "bytes32", "uint64", "bytes32"];

/// Receipt format tag.
pub const RECEIPT_FORMAT: &str = "prova.output-receipt/v1";

/// One attested model output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OutputLeaf {
    /// The model version that produced the output.
    pub version_hash: B256,
    /// keccak256 of the exact request bytes.
    pub request_hash: B256,
    /// keccak256 of the exact response bytes.
    pub response_hash: B256,
    /// When the output was produced (unix seconds).
    pub timestamp: u64,
    /// 32 random bytes.
    pub salt: B256,
}

impl OutputLeaf {
    /// A leaf for an exact request and response, with a fresh random salt.
    pub fn new(version_hash: B256, request: &[u8], response: &[u8], timestamp: u64) -> Self {
        // A thread-local CSPRNG (seeded from the OS): no system call per salt on the ingest hot path.
        let mut salt = B256::ZERO;
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), salt.as_mut_slice());
        Self { version_hash, request_hash: keccak256(request), response_hash: keccak256(response), timestamp, salt }
    }

    /// The StandardMerkleTree leaf hash: `keccak256(keccak256(abi.encode(leaf)))`.
    pub fn hash(&self) -> B256 {
        // `abi.encode` of five static words, written in place: no allocation, bit for bit what `leaf_hash` hashes
        // (the test `leaf_hash_is_the_standard_merkle_tree_hash` holds them equal). Ingest hashes every leaf.
        let mut words = [0u8; 160];
        words[..32].copy_from_slice(self.version_hash.as_slice());
        words[32..64].copy_from_slice(self.request_hash.as_slice());
        words[64..96].copy_from_slice(self.response_hash.as_slice());
        words[120..128].copy_from_slice(&self.timestamp.to_be_bytes());
        words[128..].copy_from_slice(self.salt.as_slice());
        keccak256(keccak256(words))
    }
}

/// The documented normalization for near-exact matching: Unicode NFC, every run of whitespace collapsed to one
/// space, and leading and trailing whitespace trimmed.
pub fn normalize(text: &str) -> String {
    let nfc: String = text.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// True when [`normalize`] would return `text` unchanged: already NFC, no leading or trailing whitespace, and
/// no whitespace other than single spaces. Checking is much cheaper than normalizing.
fn is_normalized(text: &str) -> bool {
    let nfc = text.is_ascii()
        || unicode_normalization::is_nfc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes;
    let bytes = text.as_bytes();
    let trimmed =
        !bytes.first().is_some_and(u8::is_ascii_whitespace) && !bytes.last().is_some_and(u8::is_ascii_whitespace);
    let spaces = !bytes.windows(2).any(|w| w[0] == b' ' && w[1] == b' ')
        && !bytes.iter().any(|b| b.is_ascii_whitespace() && *b != b' ')
        && (text.is_ascii() || !text.chars().any(|c| c.is_whitespace() && !c.is_ascii()));
    nfc && trimmed && spaces
}

/// keccak256 of the normalized text (for non-UTF-8 bytes, of the bytes themselves). `exact` is the keccak256 of
/// the bytes, reused when normalizing would change nothing.
pub fn normalized_hash_with(bytes: &[u8], exact: B256) -> B256 {
    match std::str::from_utf8(bytes) {
        Ok(text) if is_normalized(text) => exact,
        Ok(text) => keccak256(normalize(text).as_bytes()),
        Err(_) => exact,
    }
}

/// keccak256 of the normalized text (for non-UTF-8 bytes, of the bytes themselves).
pub fn normalized_hash(bytes: &[u8]) -> B256 {
    normalized_hash_with(bytes, keccak256(bytes))
}

/// A receipt: everything needed to prove, from the chain alone, that a model version produced a response to a
/// request at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// The chain the batch was anchored on.
    pub chain_id: u64,
    /// The registry.
    pub registry: Address,
    /// The batch root.
    pub root: B256,
    /// The leaf values, salt included.
    pub leaf: OutputLeaf,
    /// The StandardMerkleTree proof from the leaf to the root.
    pub proof: Vec<B256>,
    /// The transaction that anchored the root.
    pub tx_hash: B256,
    /// Its block.
    pub block_number: u64,
}

/// Why a receipt does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptProblem {
    /// The receipt is not in the expected format.
    #[error("not a prova output receipt (format {0:?})")]
    Format(String),
    /// The request bytes do not hash to the receipt's request hash.
    #[error("the request does not match the receipt: keccak256 is {actual}, the receipt says {expected}")]
    Request {
        /// Hash in the receipt.
        expected: B256,
        /// Hash of the given bytes.
        actual: B256,
    },
    /// The response bytes do not hash to the receipt's response hash.
    #[error("the response does not match the receipt: keccak256 is {actual}, the receipt says {expected}")]
    Response {
        /// Hash in the receipt.
        expected: B256,
        /// Hash of the given bytes.
        actual: B256,
    },
    /// The proof does not link the leaf (salt included) to the root.
    #[error("the Merkle proof does not link this leaf to root {0}")]
    Proof(B256),
    /// The chain is not the receipt's.
    #[error("the RPC endpoint serves chain {actual}, the receipt is for chain {expected}")]
    Chain {
        /// Chain in the receipt.
        expected: u64,
        /// Chain of the endpoint.
        actual: u64,
    },
    /// The root is not anchored in the registry.
    #[error("root {0} is not anchored in the registry")]
    NotAnchored(B256),
    /// The root is anchored for another model version.
    #[error("root {root} was anchored for version {anchored}, the receipt claims {claimed}")]
    WrongVersion {
        /// Root.
        root: B256,
        /// Version on-chain.
        anchored: B256,
        /// Version in the receipt.
        claimed: B256,
    },
    /// The batch was revoked by its publisher.
    #[error("batch {0} was revoked by its publisher")]
    BatchRevoked(B256),
    /// The model version was revoked by its publisher.
    #[error("model version {0} was revoked by its publisher")]
    VersionRevoked(B256),
    /// The leaf's timestamp lies outside its batch's window: the attestor signed a window that does not cover it.
    #[error(
        "the leaf's timestamp {} lies outside its batch's window {} to {}",
        crate::time::iso8601(*timestamp), crate::time::iso8601(*start), crate::time::iso8601(*end)
    )]
    OutsideWindow {
        /// The leaf's timestamp.
        timestamp: u64,
        /// The window's start.
        start: u64,
        /// The window's end.
        end: u64,
    },
    /// The batch was anchored by an attestor key at or after the time its publisher marked it compromised.
    #[error("the batch was anchored by attestor key {0} after it was compromised")]
    CompromisedKey(Address),
    /// The registry's own `verifyOutput` view refuses the leaf.
    #[error("the registry's verifyOutput view refuses this leaf and proof")]
    ContractRefuses,
}

impl Receipt {
    /// Checks the receipt on its own: format, the request and response bytes when given, and the proof.
    pub fn check_offline(&self, request: Option<&[u8]>, response: Option<&[u8]>) -> Result<(), ReceiptProblem> {
        if self.format != RECEIPT_FORMAT {
            return Err(ReceiptProblem::Format(self.format.clone()));
        }
        if let Some(request) = request {
            let actual = keccak256(request);
            if actual != self.leaf.request_hash {
                return Err(ReceiptProblem::Request { expected: self.leaf.request_hash, actual });
            }
        }
        if let Some(response) = response {
            let actual = keccak256(response);
            if actual != self.leaf.response_hash {
                return Err(ReceiptProblem::Response { expected: self.leaf.response_hash, actual });
            }
        }
        if !verify_proof(self.root, self.leaf.hash(), &self.proof) {
            return Err(ReceiptProblem::Proof(self.root));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MerkleTree, leaf_hash};

    fn batch(n: usize) -> (Vec<OutputLeaf>, MerkleTree) {
        let version = B256::repeat_byte(1);
        let leaves: Vec<OutputLeaf> = (0..n)
            .map(|i| {
                OutputLeaf::new(
                    version,
                    format!("q{i}").as_bytes(),
                    format!("a{i}").as_bytes(),
                    1_700_000_000 + i as u64,
                )
            })
            .collect();
        let tree = MerkleTree::from_leaf_hashes(leaves.iter().map(OutputLeaf::hash).collect()).unwrap();
        (leaves, tree)
    }

    fn receipt_for(leaves: &[OutputLeaf], tree: &MerkleTree, i: usize) -> Receipt {
        Receipt {
            format: RECEIPT_FORMAT.into(),
            chain_id: 31337,
            registry: Address::repeat_byte(9),
            root: tree.root(),
            leaf: leaves[i],
            proof: tree.proof(leaves[i].hash()).unwrap(),
            tx_hash: B256::repeat_byte(7),
            block_number: 12,
        }
    }

    #[test]
    fn leaf_hash_is_the_standard_merkle_tree_hash() {
        let v = B256::repeat_byte(1);
        for timestamp in [0, 1, 1_700_000_000, u64::from(u32::MAX) + 1, u64::MAX] {
            let leaf = OutputLeaf::new(v, b"q", b"a", timestamp);
            let generic =
                leaf_hash(&(leaf.version_hash, leaf.request_hash, leaf.response_hash, leaf.timestamp, leaf.salt));
            assert_eq!(leaf.hash(), generic, "timestamp {timestamp}");
        }
    }

    #[test]
    fn salts_are_unique_even_for_identical_outputs() {
        let v = B256::repeat_byte(1);
        let salts: std::collections::HashSet<B256> =
            (0..10_000).map(|_| OutputLeaf::new(v, b"same", b"same", 1).salt).collect();
        assert_eq!(salts.len(), 10_000);
        let a = OutputLeaf::new(v, b"same", b"same", 1);
        let b = OutputLeaf::new(v, b"same", b"same", 1);
        assert_ne!(a.hash(), b.hash(), "the salt hides identical outputs");
    }

    #[test]
    fn receipt_round_trips_and_verifies_offline() {
        let (leaves, tree) = batch(37);
        let receipt = receipt_for(&leaves, &tree, 11);
        let json = serde_json::to_string_pretty(&receipt).unwrap();
        let back: Receipt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, receipt);
        back.check_offline(Some(b"q11"), Some(b"a11")).unwrap();
    }

    #[test]
    fn every_tampering_fails_with_a_reason() {
        let (leaves, tree) = batch(8);
        let good = receipt_for(&leaves, &tree, 3);
        assert!(matches!(good.check_offline(Some(b"q3 "), None), Err(ReceiptProblem::Request { .. })));
        assert!(matches!(good.check_offline(None, Some(b"A3")), Err(ReceiptProblem::Response { .. })));
        let mut salt = good.clone();
        salt.leaf.salt = B256::repeat_byte(0xEE);
        assert!(matches!(salt.check_offline(None, None), Err(ReceiptProblem::Proof(_))));
        let mut proof = good.clone();
        proof.proof[0] = B256::repeat_byte(0xEE);
        assert!(matches!(proof.check_offline(None, None), Err(ReceiptProblem::Proof(_))));
        let mut root = good.clone();
        root.root = B256::repeat_byte(0xEE);
        assert!(matches!(root.check_offline(None, None), Err(ReceiptProblem::Proof(_))));
        let mut time = good.clone();
        time.leaf.timestamp += 1;
        assert!(matches!(time.check_offline(None, None), Err(ReceiptProblem::Proof(_))));
        let mut format = good;
        format.format = "other".into();
        assert!(matches!(format.check_offline(None, None), Err(ReceiptProblem::Format(_))));
    }

    #[test]
    fn normalization_is_nfc_collapsed_and_trimmed() {
        assert_eq!(normalize("  Hello,\n\t  world!  "), "Hello, world!");
        // "é" as e + combining acute becomes the single NFC code point.
        assert_eq!(normalize("caf\u{0065}\u{0301}"), "caf\u{00e9}");
        assert_eq!(normalized_hash(b" a  b "), normalized_hash(b"a b"));
        assert_ne!(normalized_hash(b"a b"), normalized_hash(b"ab"));
        // The fast path agrees with normalizing for texts that are already normal, and only for those.
        for text in [
            "plain ascii text",
            "caf\u{00e9} au lait",
            "a  b",
            " lead",
            "trail ",
            "tab\there",
            "x\u{00a0}y",
            "e\u{0301}",
        ] {
            assert_eq!(is_normalized(text), normalize(text) == text, "{text:?}");
            assert_eq!(normalized_hash(text.as_bytes()), keccak256(normalize(text).as_bytes()), "{text:?}");
        }
    }
}
