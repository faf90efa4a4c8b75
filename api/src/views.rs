//! Event rows as Postgres gives them, turned into the answer types of `prova-views` (the JSON shapes the API
//! shares with its clients).

use alloy::primitives::{Address, B256};
use chrono::{DateTime, Utc};
use prova_db::{DbAddress, DbHash};
use sqlx::FromRow;

pub use prova_views::{ChainPointer, Finality};

use crate::error::ApiError;

/// The columns every event row has, plus the chain head the indexer last saw.
#[derive(Debug, Clone, FromRow)]
pub struct PointerRow {
    /// Chain id.
    pub chain_id: i64,
    /// Contract.
    pub contract: DbAddress,
    /// Block number.
    pub block_number: i64,
    /// Block hash.
    pub block_hash: DbHash,
    /// Block time.
    pub block_time: DateTime<Utc>,
    /// Transaction hash.
    pub tx_hash: DbHash,
    /// Log index.
    pub log_index: i64,
    /// Latest head seen by the indexer.
    pub head_block: Option<i64>,
    /// Latest finalized block seen by the indexer.
    pub finalized_block: Option<i64>,
}

impl PointerRow {
    /// Renders the pointer.
    pub fn view(&self) -> Result<ChainPointer, ApiError> {
        let head = self.head_block.unwrap_or(self.block_number).max(self.block_number);
        let finality = match (self.head_block, self.finalized_block) {
            (_, Some(finalized)) if self.block_number <= finalized => Finality::Finalized,
            (Some(head), _) if self.block_number <= head => Finality::Confirmed,
            _ => Finality::Pending,
        };
        Ok(ChainPointer {
            chain_id: self.chain_id as u64,
            contract: self.contract.0,
            block_number: self.block_number as u64,
            block_hash: self.block_hash.0,
            block_time: self.block_time,
            tx_hash: self.tx_hash.0,
            log_index: self.log_index as u64,
            confirmations: (head - self.block_number + 1) as u64,
            finality: crate::layers::record_finality(finality),
        })
    }
}

/// Reads a stored address.
pub fn address(bytes: &[u8]) -> Result<Address, ApiError> {
    Address::try_from(bytes).map_err(|_| ApiError::Internal(format!("stored address has {} bytes", bytes.len())))
}

/// Reads a stored 32-byte hash.
pub fn hash(bytes: &[u8]) -> Result<B256, ApiError> {
    B256::try_from(bytes).map_err(|_| ApiError::Internal(format!("stored hash has {} bytes", bytes.len())))
}

/// Reads a stored hash where zero means "none".
pub fn optional_hash(bytes: &[u8]) -> Result<Option<B256>, ApiError> {
    hash(bytes).map(|h| (!h.is_zero()).then_some(h))
}
