//! The indexer's progress per chain and contract.

use alloy::primitives::Address;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The whole status answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// One entry per indexed chain and contract.
    pub chains: Vec<ChainStatus>,
    /// One entry per chain: the worst lag among its contracts.
    pub lag_by_chain: Vec<ChainLag>,
    /// How far the read replica the API answers from trails the primary the indexer writes to; null when the API
    /// reads from the primary itself.
    #[serde(default)]
    pub replica: Option<ReplicaLag>,
}

/// The replay lag of the streaming replica the API reads from, behind the primary it writes to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplicaLag {
    /// Whether the replica is in recovery, replaying the primary's WAL. `false` means it was promoted (or is no
    /// replica at all) and no longer follows the primary: `/readyz` then fails.
    pub in_recovery: bool,
    /// Bytes of WAL the primary has flushed that the replica has not replayed yet (0: caught up). Null when the
    /// replica is not in recovery or the primary could not be asked.
    pub replay_lag_bytes: Option<u64>,
    /// Seconds since the primary committed the last transaction the replica has replayed. It also grows while the
    /// primary commits nothing, so it measures lag only while `replay_lag_bytes` is above 0. Null when the
    /// replica is not in recovery, or has replayed no transaction since it started.
    pub replay_lag_secs: Option<f64>,
}

/// Indexing progress of one contract.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChainStatus {
    /// Chain id.
    pub chain_id: u64,
    /// Contract address.
    #[schema(value_type = crate::schema::Address)]
    pub contract: Address,
    /// What the contract is (`provenance`, `identity`, `reputation`, `validation`).
    #[schema(example = "provenance")]
    pub kind: String,
    /// Last block fully indexed, or null before the first one.
    pub indexed_block: Option<u64>,
    /// Latest chain head the indexer saw.
    pub head_block: Option<u64>,
    /// Latest finalized block the indexer saw.
    pub finalized_block: Option<u64>,
    /// `head_block - indexed_block`.
    pub lag_blocks: Option<u64>,
    /// The last transient fault (RPC error, timeout, rate limit, database), null once a pass succeeds again.
    pub last_error: Option<String>,
    /// When that fault happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// The indexer instance holding the write lock.
    pub writer: Option<String>,
    /// When the indexer last saw the head.
    pub head_seen_at: Option<DateTime<Utc>>,
    /// When the cursor last moved.
    pub updated_at: DateTime<Utc>,
}

/// The lag of one chain.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChainLag {
    /// Chain id.
    pub chain_id: u64,
    /// Latest head seen on this chain.
    pub head_block: Option<u64>,
    /// Latest finalized block seen on this chain.
    pub finalized_block: Option<u64>,
    /// The largest `lag_blocks` among the chain's contracts.
    pub lag_blocks: Option<u64>,
}
