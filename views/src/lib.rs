//! The JSON shapes of the API's answers, shared by the server that writes them (`prova-api`) and every client that
//! reads them (the auditor in `prova-verify`, the explorer), so that a renamed or retyped field fails to compile on
//! both sides instead of showing up as a runtime difference. Hashes and addresses are lowercase `0x` hex; times are
//! RFC 3339 UTC; uint256 and int128 values are decimal strings where JSON numbers could not hold them.
//!
//! This crate may depend on alloy primitives, chrono, serde, utoipa and `prova-reputation` (whose `Score` the API
//! answers with); nothing that talks to a database, a chain or the network.

pub mod agents;
pub mod provenance;
pub mod schema;
pub mod status;

pub use agents::*;
pub use provenance::*;
pub use status::*;

use alloy::primitives::{Address, B256};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a fact lives on-chain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChainPointer {
    /// EIP-155 chain id.
    #[schema(example = 31337)]
    pub chain_id: u64,
    /// Emitting contract.
    #[schema(value_type = crate::schema::Address)]
    pub contract: Address,
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    #[schema(value_type = crate::schema::Hash)]
    pub block_hash: B256,
    /// Block time.
    pub block_time: DateTime<Utc>,
    /// Transaction hash.
    #[schema(value_type = crate::schema::Hash)]
    pub tx_hash: B256,
    /// Log index within the block.
    pub log_index: u64,
    /// Blocks on top of (and including) this one, as last seen by the indexer.
    pub confirmations: u64,
    /// `finalized` when the block is at or below the chain's finalized block (the node's `finalized` tag, or the
    /// indexer's finality depth where the node has none); `confirmed` when it is in a block the indexer has seen
    /// on the canonical chain; `pending` when the indexer has not yet seen a head at or above it.
    pub finality: Finality,
}

/// How final a fact is, ordered from least to most final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Finality {
    /// Not yet under a head the indexer has seen.
    Pending,
    /// On the canonical chain, not yet finalized: it can still be reorged away.
    Confirmed,
    /// Finalized: it cannot change.
    Finalized,
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items, in the route's order.
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The last second RFC 3339 (and so a JSON Schema `date-time`) can write: 9999-12-31T23:59:59Z.
pub const LAST_RFC3339_SECOND: i64 = 253_402_300_799;

/// Unix seconds as a date people read; `None` past the year 9999, which RFC 3339 cannot write (a hostile receipt's
/// leaf time can be anything up to 2^64 - 1).
pub fn unix_date(secs: u64) -> Option<DateTime<Utc>> {
    i64::try_from(secs)
        .ok()
        .filter(|secs| *secs <= LAST_RFC3339_SECOND)
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
}
