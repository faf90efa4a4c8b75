//! `GET /v1/model-versions/{versionHash}`: a registered model version with its provenance and chain pointers.
//!
//! [`load_versions`] renders registrations for this route and for the routes that list versions (lineage, match),
//! so the publisher name, the compromised-key flag and the revocation are derived in one place.

use prova_db::{DbAddress, DbHash};
use std::collections::HashMap;
use std::sync::LazyLock;

use alloy::primitives::B256;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{FromRow, PgPool};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Result};
use crate::extract::{ApiPath, ApiQuery, parse_hash};
use crate::routes::docs::{BadRequest, NotFound};
use crate::routes::page::{ChainListQuery as ListQuery, HasPointer, Page, Scope, big, list_events};
use crate::views::{ChainPointer, PointerRow};
pub use prova_views::{ModelVersion, Revocation};

/// The model-version routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_model_versions)).routes(routes!(get_model_version))
}

/// Optional filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChainFilter {
    /// Only this chain (by default the earliest registration across indexed chains).
    #[param(example = 31337)]
    pub chain_id: Option<u64>,
    /// Only facts with at least this many confirmations (the block holding them counts as one); a fact with fewer
    /// is treated as not there yet.
    pub min_confirmations: Option<u64>,
}

impl ChainFilter {
    /// The filter as a [`Scope`].
    pub fn scope(&self) -> Scope {
        Scope { chain_id: self.chain_id.map(big), contract: None, min_confirmations: self.min_confirmations.map(big) }
    }
}

#[derive(FromRow)]
struct Row {
    #[sqlx(flatten)]
    pointer: PointerRow,
    version_hash: DbHash,
    model_id: DbHash,
    publisher: DbAddress,
    parent: DbHash,
    attestor: DbAddress,
    metadata_uri: String,
    metadata_hash: DbHash,
    publisher_name: Option<String>,
    compromised: bool,
    /// The first revocation, on the same chain and registry (all null when none).
    revoked_block_number: Option<i64>,
    revoked_block_hash: Option<DbHash>,
    revoked_block_time: Option<DateTime<Utc>>,
    revoked_tx_hash: Option<DbHash>,
    revoked_log_index: Option<i64>,
    revoked_reason: Option<String>,
}

impl Row {
    /// The revocation's pointer and reason, when the version is revoked.
    fn revocation(&mut self) -> Result<Option<Revocation>> {
        let (Some(block_number), Some(block_hash), Some(block_time), Some(tx_hash), Some(log_index), Some(reason)) = (
            self.revoked_block_number,
            self.revoked_block_hash.take(),
            self.revoked_block_time,
            self.revoked_tx_hash.take(),
            self.revoked_log_index,
            self.revoked_reason.take(),
        ) else {
            return Ok(None);
        };
        let pointer = PointerRow { block_number, block_hash, block_time, tx_hash, log_index, ..self.pointer.clone() };
        Ok(Some(Revocation { reason, chain: pointer.view()? }))
    }
}

/// The query of [`load_versions`]; `{KEY}` is the version-hash condition on `$1`. One statement, with no
/// unknown-size set in the single-version case, so Postgres settles on a generic plan and skips planning.
pub const LOAD_VERSIONS: &str = "SELECT DISTINCT ON (r.version_hash)
        r.chain_id, r.contract, r.block_number, r.block_hash, r.block_time, r.tx_hash, r.log_index,
        c.head_block, c.finalized_block, r.version_hash, r.model_id, r.publisher, r.parent, r.attestor, r.metadata_uri,
        r.metadata_hash,
        (SELECT p.name FROM publisher_names p
          WHERE p.publisher = r.publisher AND p.chain_id = r.chain_id AND p.contract = r.contract) AS publisher_name,
        EXISTS (SELECT 1 FROM attestor_compromised k
          WHERE k.key = r.attestor AND k.chain_id = r.chain_id AND k.contract = r.contract
            AND k.since <= extract(epoch FROM r.block_time)) AS compromised,
        v.block_number AS revoked_block_number, v.block_hash AS revoked_block_hash,
        v.block_time AS revoked_block_time, v.tx_hash AS revoked_tx_hash, v.log_index AS revoked_log_index,
        v.reason AS revoked_reason
 FROM model_version_registered r
 LEFT JOIN indexer_cursors c ON c.chain_id = r.chain_id AND c.contract = r.contract
 LEFT JOIN LATERAL (
   SELECT v.block_number, v.block_hash, v.block_time, v.tx_hash, v.log_index, v.reason
   FROM model_version_revoked v
   WHERE v.version_hash = r.version_hash AND v.chain_id = r.chain_id AND v.contract = r.contract
     AND ($4::BIGINT IS NULL OR COALESCE(c.head_block, v.block_number) - v.block_number + 1 >= $4)
   ORDER BY v.block_number, v.log_index
   LIMIT 1
 ) v ON TRUE
 WHERE {KEY}
   AND ($2::BIGINT IS NULL OR r.chain_id = $2)
   AND ($3::BYTEA IS NULL OR r.contract = $3)
   AND ($4::BIGINT IS NULL OR COALESCE(c.head_block, r.block_number) - r.block_number + 1 >= $4)
 ORDER BY r.version_hash, r.block_time, r.chain_id, r.block_number, r.log_index";

/// Loads the registrations of `hashes` within `scope` (the earliest one per hash), with the publisher's name,
/// the compromised-key flag and the revocation. Hashes that are not registered are absent from the map.
pub async fn load_versions(pool: &PgPool, hashes: &[B256], scope: &Scope) -> Result<HashMap<B256, ModelVersion>> {
    if hashes.is_empty() {
        return Ok(HashMap::new());
    }
    static ONE: LazyLock<String> = LazyLock::new(|| LOAD_VERSIONS.replace("{KEY}", "r.version_hash = $1"));
    static ANY: LazyLock<String> = LazyLock::new(|| LOAD_VERSIONS.replace("{KEY}", "r.version_hash = ANY($1)"));
    let query = sqlx::query_as::<_, Row>(if hashes.len() == 1 { &ONE } else { &ANY });
    let query = match hashes {
        [one] => query.bind(one.to_vec()),
        many => query.bind(many.iter().map(|h| h.to_vec()).collect::<Vec<_>>()),
    };
    let rows: Vec<Row> = query
        .bind(scope.chain_id)
        .bind(scope.contract.map(|c| c.to_vec()))
        .bind(scope.min_confirmations)
        .fetch_all(pool)
        .await?;

    rows.into_iter()
        .map(|mut row| {
            let version_hash = row.version_hash.0;
            let revocation = row.revocation()?;
            let version = ModelVersion {
                version_hash,
                model_id: row.model_id.0,
                parent: row.parent.nonzero(),
                publisher: row.publisher.0,
                publisher_name: row.publisher_name,
                attestor: row.attestor.0,
                metadata_uri: row.metadata_uri,
                metadata_hash: row.metadata_hash.nonzero(),
                registered_at: row.pointer.block_time,
                signed_by_compromised_key: row.compromised,
                revocation,
                chain: row.pointer.view()?,
            };
            Ok((version_hash, version))
        })
        .collect()
}

/// Loads one version within `scope`, or a 404.
pub async fn load_version(pool: &PgPool, version_hash: B256, scope: &Scope) -> Result<ModelVersion> {
    load_versions(pool, &[version_hash], scope)
        .await?
        .remove(&version_hash)
        .ok_or_else(|| ApiError::NotFound(format!("model version {version_hash} is not registered")))
}

/// A registered model version with its provenance, revocation and chain pointers.
#[utoipa::path(
    get,
    path = "/v1/model-versions/{version_hash}",
    tag = "provenance",
    params(
        ("version_hash" = String, Path, description = "The version hash (manifest Merkle root), any case.",
            pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9"),
        ChainFilter,
    ),
    responses(
        (status = 200, description = "The version, as registered earliest within the filters.", body = ModelVersion),
        BadRequest,
        NotFound,
    ),
)]
async fn get_model_version(
    State(state): State<AppState>,
    ApiPath(version_hash): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ChainFilter>,
) -> Result<Json<ModelVersion>> {
    let version_hash = parse_hash("versionHash", &version_hash)?;
    Ok(Json(load_version(&state.pool, version_hash, &filter.scope()).await?))
}

/// Registrations in `(chain_id, block_number, log_index)` order, each as `GET /v1/model-versions/{version_hash}`
/// renders it within its chain and registry.
#[utoipa::path(
    get,
    path = "/v1/model-versions",
    tag = "provenance",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of registrations, oldest first per chain.", body = Page<ModelVersion>),
        BadRequest,
    ),
)]
async fn list_model_versions(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<ModelVersion>>> {
    let pool = &state.pool;
    let page = list_events(pool, &query, "model_version_registered", "version_hash", |keys, scope| async move {
        load_versions(pool, &keys, &scope).await
    })
    .await?;
    Ok(Json(page))
}

impl HasPointer for ModelVersion {
    fn pointer(&self) -> &ChainPointer {
        &self.chain
    }
}
