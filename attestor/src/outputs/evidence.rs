//! Receipts from the lab's store: the Merkle proof of a stored sample to its confirmed batch's root, with the
//! batch's chain pointer. The scan (`scan`) and the evidence bundle (`bundle`) hand these out for every match.

use std::collections::HashMap;

use alloy::primitives::{Address, B256};
use prova_core::merkle::MerkleTree;
use prova_core::outputs::{OutputLeaf, RECEIPT_FORMAT, Receipt};
use sqlx::PgPool;

use super::store::{self, BatchRow};
use crate::error::{Error, Result};

/// A batch as the store holds it, its leaves by sample id, and its Merkle tree.
type BatchTree = (BatchRow, Vec<(i64, OutputLeaf)>, MerkleTree);

/// Builds receipts, keeping the trees of batches already seen.
#[derive(Debug, Default)]
pub struct ReceiptMaker {
    trees: HashMap<i64, BatchTree>,
}

impl ReceiptMaker {
    /// The receipt of a stored sample, or `None` while its batch is not confirmed on-chain.
    pub async fn receipt(&mut self, pool: &PgPool, sample_id: i64) -> Result<Option<Receipt>> {
        let Some(batch) = store::batch_of_sample(pool, sample_id).await? else { return Ok(None) };
        if batch.state != "confirmed" {
            return Ok(None);
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.trees.entry(batch.id) {
            let leaves = store::batch_leaves(pool, &batch).await?;
            let tree = MerkleTree::from_leaf_hashes(leaves.iter().map(|(_, leaf)| leaf.hash()).collect())
                .ok_or_else(|| Error::Input(format!("batch {} has no leaves", batch.id)))?;
            e.insert((batch.clone(), leaves, tree));
        }
        let (batch, leaves, tree) = &self.trees[&batch.id];
        let leaf = leaves
            .binary_search_by_key(&sample_id, |(id, _)| *id)
            .map(|i| leaves[i].1)
            .map_err(|_| Error::Input(format!("sample {sample_id} is not in batch {}", batch.id)))?;
        let proof = tree.proof(leaf.hash()).expect("a batch leaf is in its tree");
        Ok(Some(Receipt {
            format: RECEIPT_FORMAT.into(),
            chain_id: batch.chain_id.unwrap_or_default() as u64,
            registry: batch.registry.as_deref().map(Address::from_slice).unwrap_or_default(),
            root: batch.root(),
            leaf,
            proof,
            tx_hash: batch.tx_hash.as_deref().map(B256::from_slice).unwrap_or_default(),
            block_number: batch.block_number.unwrap_or_default() as u64,
        }))
    }
}
