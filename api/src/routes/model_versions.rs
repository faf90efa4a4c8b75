//! `GET /v1/model-versions/{versionHash}`: a registered model version with its provenance and chain pointers.

use alloy::primitives::{Address, B256};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::AppState;
use crate::error::{ApiError, Result};
use crate::extract::{ApiPath, ApiQuery, parse_hash};
use crate::views::{ChainPointer, PointerRow, address, hash, optional_hash};

/// The model-version routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/model-versions/{version_hash}", get(get_model_version))
}

/// Optional filters.
#[derive(Debug, Deserialize)]
pub struct ChainFilter {
    /// Only this chain (by default the earliest registration across indexed chains).
    pub chain_id: Option<u64>,
}

/// A model version.
#[derive(Debug, Serialize)]
pub struct ModelVersion {
    /// The Merkle root of the version's manifest.
    pub version_hash: B256,
    /// keccak256 of the model name.
    pub model_id: B256,
    /// Parent version, or null.
    pub parent: Option<B256>,
    /// The publisher's id.
    pub publisher: Address,
    /// The publisher's name, as registered.
    pub publisher_name: Option<String>,
    /// The attestor key that signed the registration.
    pub attestor: Address,
    /// Metadata URI.
    pub metadata_uri: String,
    /// keccak256 of the metadata, or null.
    pub metadata_hash: Option<B256>,
    /// Block time of the registration.
    pub registered_at: DateTime<Utc>,
    /// True if the attestor key was flagged compromised at or before the registration time.
    pub signed_by_compromised_key: bool,
    /// The revocation, or null.
    pub revocation: Option<Revocation>,
    /// Where the registration event is.
    pub chain: ChainPointer,
}

/// A version's revocation.
#[derive(Debug, Serialize)]
pub struct Revocation {
    /// The publisher's reason.
    pub reason: String,
    /// Where the revocation event is.
    pub chain: ChainPointer,
}

#[derive(FromRow)]
struct Row {
    #[sqlx(flatten)]
    pointer: PointerRow,
    version_hash: Vec<u8>,
    model_id: Vec<u8>,
    publisher: Vec<u8>,
    parent: Vec<u8>,
    attestor: Vec<u8>,
    metadata_uri: String,
    metadata_hash: Vec<u8>,
    publisher_name: Option<String>,
    compromised: bool,
}

#[derive(FromRow)]
struct RevocationRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    reason: String,
}

async fn get_model_version(
    State(state): State<AppState>,
    ApiPath(version_hash): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ChainFilter>,
) -> Result<Json<ModelVersion>> {
    let version_hash = parse_hash("versionHash", &version_hash)?;
    let chain_id = filter.chain_id.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
    let row: Option<Row> = sqlx::query_as(
        "SELECT r.chain_id, r.contract, r.block_number, r.block_hash, r.block_time, r.tx_hash, r.log_index,
                c.head_block, r.version_hash, r.model_id, r.publisher, r.parent, r.attestor, r.metadata_uri,
                r.metadata_hash,
                (SELECT p.name FROM publisher_registered p
                  WHERE p.publisher = r.publisher AND p.chain_id = r.chain_id AND p.contract = r.contract
                  ORDER BY p.block_number LIMIT 1) AS publisher_name,
                EXISTS (SELECT 1 FROM attestor_compromised k
                  WHERE k.key = r.attestor AND k.chain_id = r.chain_id AND k.contract = r.contract
                    AND k.since <= extract(epoch FROM r.block_time)) AS compromised
         FROM model_version_registered r
         LEFT JOIN indexer_cursors c ON c.chain_id = r.chain_id AND c.contract = r.contract
         WHERE r.version_hash = $1 AND ($2::BIGINT IS NULL OR r.chain_id = $2)
         ORDER BY r.block_time, r.chain_id
         LIMIT 1",
    )
    .bind(version_hash.to_vec())
    .bind(chain_id)
    .fetch_optional(&state.pool)
    .await?;
    let row = row.ok_or_else(|| ApiError::NotFound(format!("model version {version_hash} is not registered")))?;

    let revocation: Option<RevocationRow> = sqlx::query_as(
        "SELECT v.chain_id, v.contract, v.block_number, v.block_hash, v.block_time, v.tx_hash, v.log_index,
                c.head_block, v.reason
         FROM model_version_revoked v
         LEFT JOIN indexer_cursors c ON c.chain_id = v.chain_id AND c.contract = v.contract
         WHERE v.version_hash = $1 AND v.chain_id = $2 AND v.contract = $3
         ORDER BY v.block_number, v.log_index
         LIMIT 1",
    )
    .bind(version_hash.to_vec())
    .bind(row.pointer.chain_id)
    .bind(&row.pointer.contract)
    .fetch_optional(&state.pool)
    .await?;

    Ok(Json(ModelVersion {
        version_hash: hash(&row.version_hash)?,
        model_id: hash(&row.model_id)?,
        parent: optional_hash(&row.parent)?,
        publisher: address(&row.publisher)?,
        publisher_name: row.publisher_name,
        attestor: address(&row.attestor)?,
        metadata_uri: row.metadata_uri,
        metadata_hash: optional_hash(&row.metadata_hash)?,
        registered_at: row.pointer.block_time,
        signed_by_compromised_key: row.compromised,
        revocation: revocation
            .map(|r| Ok::<_, ApiError>(Revocation { reason: r.reason, chain: r.pointer.view()? }))
            .transpose()?,
        chain: row.pointer.view()?,
    }))
}
