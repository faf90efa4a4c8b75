//! Types shared by the indexer, the API and the verifier.

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

/// Where a fact lives on-chain: enough to fetch and check the event that states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainPointer {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The contract that emitted the event.
    pub contract: Address,
    /// Block number of the event.
    pub block_number: u64,
    /// Hash of that block.
    pub block_hash: B256,
    /// Transaction that emitted the event.
    pub tx_hash: B256,
    /// Position of the log in the block.
    pub log_index: u64,
}
