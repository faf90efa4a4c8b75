//! `GET /v1/status`: per chain and registry, the indexed block, the chain head and the lag between them.

use alloy::primitives::Address;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;

use crate::AppState;
use crate::error::Result;
use crate::views::address;

/// The status route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/status", get(status))
}

/// The whole status answer.
#[derive(Debug, Serialize)]
pub struct Status {
    /// One entry per indexed chain and registry.
    pub chains: Vec<ChainStatus>,
}

/// Indexing progress of one registry.
#[derive(Debug, Serialize)]
pub struct ChainStatus {
    /// Chain id.
    pub chain_id: u64,
    /// Registry address.
    pub contract: Address,
    /// Last block fully indexed, or null before the first one.
    pub indexed_block: Option<u64>,
    /// Latest chain head the indexer saw.
    pub head_block: Option<u64>,
    /// `head_block - indexed_block`.
    pub lag_blocks: Option<u64>,
    /// When the indexer last saw the head.
    pub head_seen_at: Option<DateTime<Utc>>,
    /// When the cursor last moved.
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct Row {
    chain_id: i64,
    contract: Vec<u8>,
    next_block: i64,
    head_block: Option<i64>,
    head_seen_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

async fn status(State(state): State<AppState>) -> Result<Json<Status>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT chain_id, contract, next_block, head_block, head_seen_at, updated_at
         FROM indexer_cursors ORDER BY chain_id, contract",
    )
    .fetch_all(&state.pool)
    .await?;
    let chains = rows
        .into_iter()
        .map(|row| {
            let indexed = (row.next_block > 0).then(|| row.next_block as u64 - 1);
            let head = row.head_block.map(|h| h as u64);
            Ok(ChainStatus {
                chain_id: row.chain_id as u64,
                contract: address(&row.contract)?,
                indexed_block: indexed,
                head_block: head,
                lag_blocks: head.map(|h| indexed.map_or(h + 1, |i| h.saturating_sub(i))),
                head_seen_at: row.head_seen_at,
                updated_at: row.updated_at,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Json(Status { chains }))
}
