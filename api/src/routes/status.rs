//! `GET /v1/status`: per chain and contract, the indexed, head and finalized blocks, the lag, the last fault and the
//! writer; and the worst lag per chain.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use prova_db::DbAddress;
use sqlx::FromRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::Result;
pub use prova_views::{ChainLag, ChainStatus, Status};

/// The status route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(status))
}

#[derive(FromRow)]
struct Row {
    chain_id: i64,
    contract: DbAddress,
    kind: String,
    next_block: i64,
    head_block: Option<i64>,
    finalized_block: Option<i64>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    writer: Option<String>,
    head_seen_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

/// Indexing progress per chain and contract, and the worst lag per chain.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "operations",
    responses((status = 200, description = "Indexing progress.", body = Status)),
)]
async fn status(State(state): State<AppState>) -> Result<Json<Status>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT chain_id, contract, kind, next_block, head_block, finalized_block, last_error, last_error_at, writer,
                head_seen_at, updated_at
         FROM indexer_cursors ORDER BY chain_id, contract",
    )
    .fetch_all(&state.pool)
    .await?;
    let chains: Vec<ChainStatus> = rows
        .into_iter()
        .map(|row| {
            let indexed = (row.next_block > 0).then(|| row.next_block as u64 - 1);
            let head = row.head_block.map(|h| h as u64);
            Ok(ChainStatus {
                chain_id: row.chain_id as u64,
                contract: row.contract.0,
                kind: row.kind,
                indexed_block: indexed,
                head_block: head,
                finalized_block: row.finalized_block.map(|f| f as u64),
                lag_blocks: head.map(|h| indexed.map_or(h + 1, |i| h.saturating_sub(i))),
                last_error: row.last_error,
                last_error_at: row.last_error_at,
                writer: row.writer,
                head_seen_at: row.head_seen_at,
                updated_at: row.updated_at,
            })
        })
        .collect::<Result<_>>()?;
    let mut lag_by_chain: Vec<ChainLag> = Vec::new();
    for chain in &chains {
        match lag_by_chain.last_mut() {
            Some(lag) if lag.chain_id == chain.chain_id => {
                lag.head_block = lag.head_block.max(chain.head_block);
                lag.finalized_block = lag.finalized_block.max(chain.finalized_block);
                lag.lag_blocks = lag.lag_blocks.max(chain.lag_blocks);
            }
            _ => lag_by_chain.push(ChainLag {
                chain_id: chain.chain_id,
                head_block: chain.head_block,
                finalized_block: chain.finalized_block,
                lag_blocks: chain.lag_blocks,
            }),
        }
    }
    Ok(Json(Status { chains, lag_by_chain }))
}
