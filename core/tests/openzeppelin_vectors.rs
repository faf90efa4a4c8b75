//! Test vectors produced independently by `@openzeppelin/merkle-tree` (scripts/merkle-fixtures.mjs).

use alloy::primitives::B256;
use prova_core::manifest::{Manifest, ManifestEntry, version_hash};
use prova_core::merkle::{MerkleTree, leaf_hash, verify_proof};
use serde_json::Value;

fn fixtures() -> Value {
    serde_json::from_str(include_str!("fixtures/merkle.json")).unwrap()
}

fn b256(v: &Value) -> B256 {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn manifest_roots_and_proofs_match_openzeppelin() {
    let all = fixtures();
    let manifests = all["manifests"].as_array().unwrap();
    assert!(manifests.len() >= 4);
    for m in manifests {
        let name = m["name"].as_str().unwrap();
        let entries: Vec<ManifestEntry> = m["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| ManifestEntry {
                path: e["path"].as_str().unwrap().to_owned(),
                size: e["size"].as_u64().unwrap(),
                sha256: b256(&e["sha256"]),
            })
            .collect();
        let root = b256(&m["root"]);
        assert_eq!(version_hash(&entries).unwrap(), root, "root of {name}");
        let tree = Manifest::from_entries(entries.clone(), vec![]).unwrap().tree();
        for (entry, json) in entries.iter().zip(m["entries"].as_array().unwrap()) {
            let expected: Vec<B256> = json["proof"].as_array().unwrap().iter().map(b256).collect();
            assert_eq!(tree.proof(entry.leaf()).unwrap(), expected, "proof of {} in {name}", entry.path);
            assert!(verify_proof(root, entry.leaf(), &expected));
        }
    }
}

#[test]
fn output_leaf_root_matches_openzeppelin() {
    let all = fixtures();
    let outputs = &all["output_leaves"];
    let leaves: Vec<B256> = outputs["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|leaf| {
            let v = leaf["values"].as_array().unwrap();
            let ts: u64 = v[3].as_str().unwrap().parse().unwrap();
            leaf_hash(&(b256(&v[0]), b256(&v[1]), b256(&v[2]), ts, b256(&v[4])))
        })
        .collect();
    let tree = MerkleTree::from_leaf_hashes(leaves.clone()).unwrap();
    assert_eq!(tree.root(), b256(&outputs["root"]));
    for (leaf, json) in leaves.iter().zip(outputs["leaves"].as_array().unwrap()) {
        let expected: Vec<B256> = json["proof"].as_array().unwrap().iter().map(b256).collect();
        assert_eq!(tree.proof(*leaf).unwrap(), expected);
    }
}
