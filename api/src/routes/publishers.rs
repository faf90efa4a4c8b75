//! `GET /v1/publishers/{address}`: a publisher, its current admin, its attestor keys and their status.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use prova_db::DbAddress;
use sqlx::FromRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Result};
use crate::extract::{ApiPath, ApiQuery, parse_address};
use crate::routes::docs::{BadRequest, NotFound};
use crate::routes::model_versions::ChainFilter;
use crate::routes::page::registry_condition;
use crate::views::{PointerRow, address};
pub use prova_views::{AttestorKey, KeyStatus, Publisher};

/// The publisher routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_publisher))
}

#[derive(FromRow)]
struct Row {
    #[sqlx(flatten)]
    pointer: PointerRow,
    publisher: DbAddress,
    name: String,
    metadata_uri: String,
    admin: DbAddress,
    model_versions: i64,
}

#[derive(FromRow)]
struct KeyRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    key: Vec<u8>,
    revoked_at: Option<DateTime<Utc>>,
    compromised_since: Option<i64>,
}

/// A publisher: its current admin, its number of versions and its attestor keys with their status.
#[utoipa::path(
    get,
    path = "/v1/publishers/{address}",
    tag = "provenance",
    params(
        ("address" = String, Path, description = "The publisher id (an address, checksummed or not).",
            pattern = "^0x[0-9a-fA-F]{40}$", example = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        ChainFilter,
    ),
    responses(
        (status = 200, description = "The publisher, as registered earliest within the filters.", body = Publisher),
        BadRequest,
        NotFound,
    ),
)]
async fn get_publisher(
    State(state): State<AppState>,
    ApiPath(publisher): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ChainFilter>,
) -> Result<Json<Publisher>> {
    let publisher = parse_address("publisher address", &publisher)?;
    let scope = filter.scope(&state.config)?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT p.chain_id, p.contract, p.block_number, p.block_hash, p.block_time, p.tx_hash, p.log_index,
                c.head_block, c.finalized_block, p.publisher, p.name, p.metadata_uri, p.current_admin AS admin,
                p.model_versions
         FROM publishers_current p
         LEFT JOIN indexer_cursors c ON c.chain_id = p.chain_id AND c.contract = p.contract
         WHERE p.publisher = $1 AND ($2::BIGINT IS NULL OR p.chain_id = $2)
           AND ($3::BIGINT IS NULL OR COALESCE(c.head_block, p.block_number) - p.block_number + 1 >= $3)
           AND {registry}
         ORDER BY p.block_time, p.chain_id
         LIMIT 1",
        registry = registry_condition("p", 4, 5, 6),
    ))
    .bind(publisher.to_vec())
    .bind(scope.chain_id)
    .bind(scope.min_confirmations)
    .bind(scope.contract_bytes())
    .bind(scope.canonical_chains())
    .bind(scope.canonical_contracts())
    .fetch_optional(&state.pool)
    .await?;
    let row = row.ok_or_else(|| ApiError::NotFound(format!("publisher {publisher} is not registered")))?;

    let keys: Vec<KeyRow> = sqlx::query_as(
        "SELECT a.chain_id, a.contract, a.block_number, a.block_hash, a.block_time, a.tx_hash, a.log_index,
                c.head_block, c.finalized_block, a.key, a.revoked_at, a.compromised_since
         FROM attestor_keys_current a
         LEFT JOIN indexer_cursors c ON c.chain_id = a.chain_id AND c.contract = a.contract
         WHERE a.publisher = $1 AND a.chain_id = $2 AND a.contract = $3
         ORDER BY a.block_number, a.log_index",
    )
    .bind(publisher.to_vec())
    .bind(row.pointer.chain_id)
    .bind(row.pointer.contract)
    .fetch_all(&state.pool)
    .await?;

    let attestor_keys = keys
        .into_iter()
        .map(|k| {
            let status = match (k.compromised_since, k.revoked_at) {
                (Some(_), _) => KeyStatus::Compromised,
                (None, Some(_)) => KeyStatus::Revoked,
                (None, None) => KeyStatus::Active,
            };
            Ok(AttestorKey {
                key: address(&k.key)?,
                status,
                added_at: k.pointer.block_time,
                revoked_at: k.revoked_at,
                compromised_since: k.compromised_since,
                chain: k.pointer.view()?,
            })
        })
        .collect::<Result<_>>()?;

    Ok(Json(Publisher {
        publisher: row.publisher.0,
        name: row.name,
        metadata_uri: row.metadata_uri,
        admin: row.admin.0,
        registered_at: row.pointer.block_time,
        model_versions: row.model_versions as u64,
        attestor_keys,
        chain: row.pointer.view()?,
    }))
}
