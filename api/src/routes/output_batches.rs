//! `GET /v1/output-batches/{root}` and `PUT /v1/output-batches/{root}/leaves`: anchored output batches and the
//! upload of their leaves.
//!
//! Anyone may upload a batch's leaves, but they are stored only if they recompute to the root in the path, that
//! root is anchored on an indexed chain, and the leaves agree with the anchoring event (leaf count and model
//! version). Stored leaves are never replaced; a repeated upload is a no-op.
//!
//! A batch anchored by a key its publisher flagged compromised from a time at or before the anchoring block's is
//! answered with `signed_by_compromised_key: true`: none of its leaves verifies.

use prova_db::{DbAddress, DbHash};
use std::collections::HashMap;

use alloy::primitives::B256;
use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use prova_core::merkle::MerkleTree;
use prova_core::outputs::OutputLeaf;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_hash};
use crate::routes::docs::{BadRequest, NotFound, PayloadTooLarge, Unprocessable, UnsupportedMediaType};
use crate::routes::model_versions::{ChainFilter, Revocation};
use crate::routes::page::{ChainListQuery as ListQuery, HasPointer, Page, Scope, list_events, registry_condition};
use crate::views::{ChainPointer, PointerRow};
use crate::{AppState, MAX_OUTPUT_BATCH_BODY_BYTES};
pub use prova_views::OutputBatch;

/// The output-batch routes. Leaf uploads may be up to [`MAX_OUTPUT_BATCH_BODY_BYTES`].
pub fn router() -> OpenApiRouter<AppState> {
    let leaves =
        OpenApiRouter::new().routes(routes!(put_leaves)).layer(DefaultBodyLimit::max(MAX_OUTPUT_BATCH_BODY_BYTES));
    OpenApiRouter::new().routes(routes!(list_batches)).routes(routes!(get_batch)).merge(leaves)
}

#[derive(FromRow)]
struct BatchRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    root: DbHash,
    version_hash: DbHash,
    publisher: DbAddress,
    attestor: DbAddress,
    leaf_count: i64,
    window_start: i64,
    window_end: i64,
    batch_uri: String,
    leaves_uploaded: bool,
    compromised: bool,
}

#[derive(FromRow)]
struct RevocationRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    root: DbHash,
    reason: String,
}

/// Loads the anchoring of `root` within `scope` (the earliest one, if the root is anchored in several registries in
/// scope), with its revocation in that registry. `None` if the root is not anchored on an indexed chain within
/// `scope`.
pub async fn load_batch(pool: &PgPool, root: B256, scope: &Scope) -> Result<Option<OutputBatch>> {
    Ok(load_batches(pool, &[root], scope).await?.remove(&root))
}

/// Whether the key that anchored batch `a` was flagged compromised at or before the anchoring block's time, in the
/// same chain and registry (as the contract's `isBatchSignedByCompromisedKey`).
pub const COMPROMISED: &str = "EXISTS (SELECT 1 FROM attestor_compromised k
    WHERE k.key = a.attestor AND k.chain_id = a.chain_id AND k.contract = a.contract
      AND k.since <= extract(epoch FROM a.block_time))";

/// Loads the anchorings of `roots` within `scope` (the earliest one per root), each with its revocation in that
/// registry. Roots that are not anchored within `scope` are absent from the map.
pub async fn load_batches(pool: &PgPool, roots: &[B256], scope: &Scope) -> Result<HashMap<B256, OutputBatch>> {
    if roots.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<BatchRow> = sqlx::query_as(&format!(
        "SELECT DISTINCT ON (a.root)
                a.chain_id, a.contract, a.block_number, a.block_hash, a.block_time, a.tx_hash, a.log_index,
                c.head_block, c.finalized_block, a.root, a.version_hash, a.publisher, a.attestor, a.leaf_count, a.window_start,
                a.window_end, a.batch_uri,
                EXISTS (SELECT 1 FROM output_leaves l WHERE l.root = a.root) AS leaves_uploaded,
                {COMPROMISED} AS compromised
         FROM outputs_attested a
         LEFT JOIN indexer_cursors c ON c.chain_id = a.chain_id AND c.contract = a.contract
         WHERE a.root = ANY($1)
           AND ($2::BIGINT IS NULL OR a.chain_id = $2)
           AND {registry}
           AND ($4::BIGINT IS NULL OR COALESCE(c.head_block, a.block_number) - a.block_number + 1 >= $4)
         ORDER BY a.root, a.block_time, a.chain_id, a.block_number, a.log_index",
        registry = registry_condition("a", 3, 5, 6),
    ))
    .bind(roots.iter().map(|r| r.to_vec()).collect::<Vec<_>>())
    .bind(scope.chain_id)
    .bind(scope.contract_bytes())
    .bind(scope.min_confirmations)
    .bind(scope.canonical_chains())
    .bind(scope.canonical_contracts())
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(HashMap::new());
    }

    // The first revocation of each anchoring found above, in the same chain and registry.
    let revocations: Vec<RevocationRow> = sqlx::query_as(
        "SELECT DISTINCT ON (b.root, b.chain_id, b.contract)
                b.chain_id, b.contract, b.block_number, b.block_hash, b.block_time, b.tx_hash, b.log_index,
                c.head_block, c.finalized_block, b.root, b.reason
         FROM output_batch_revoked b
         JOIN unnest($1::BYTEA[], $2::BIGINT[], $3::BYTEA[]) AS k(root, chain_id, contract)
           ON b.root = k.root AND b.chain_id = k.chain_id AND b.contract = k.contract
         LEFT JOIN indexer_cursors c ON c.chain_id = b.chain_id AND c.contract = b.contract
         WHERE ($4::BIGINT IS NULL OR COALESCE(c.head_block, b.block_number) - b.block_number + 1 >= $4)
         ORDER BY b.root, b.chain_id, b.contract, b.block_number, b.log_index",
    )
    .bind(rows.iter().map(|r| r.root).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.pointer.chain_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.pointer.contract).collect::<Vec<_>>())
    .bind(scope.min_confirmations)
    .fetch_all(pool)
    .await?;
    let mut revocations: HashMap<B256, Revocation> = revocations
        .into_iter()
        .map(|r| Ok((r.root.0, Revocation { reason: r.reason, chain: r.pointer.view()? })))
        .collect::<Result<_>>()?;

    rows.into_iter()
        .map(|row| {
            let root = row.root.0;
            let batch = OutputBatch {
                root,
                version_hash: row.version_hash.0,
                publisher: row.publisher.0,
                attestor: row.attestor.0,
                leaf_count: row.leaf_count as u64,
                window_start: row.window_start as u64,
                window_end: row.window_end as u64,
                batch_uri: row.batch_uri,
                leaves_uploaded: row.leaves_uploaded,
                signed_by_compromised_key: row.compromised,
                revocation: revocations.remove(&root),
                chain: row.pointer.view()?,
            };
            Ok((root, batch))
        })
        .collect()
}

/// Anchorings in `(chain_id, block_number, log_index)` order, each as `GET /v1/output-batches/{root}` renders it
/// within its chain and registry.
#[utoipa::path(
    get,
    path = "/v1/output-batches",
    tag = "outputs",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of anchored batches, oldest first per chain.", body = Page<OutputBatch>),
        BadRequest,
    ),
)]
async fn list_batches(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<OutputBatch>>> {
    let pool = &state.pool;
    let page = list_events(pool, &state.config, &query, "outputs_attested", "root", |keys, scope| async move {
        Ok(load_batches(pool, &keys, &scope).await?.into_values().collect())
    })
    .await?;
    Ok(Json(page))
}

impl HasPointer for OutputBatch {
    fn pointer(&self) -> &ChainPointer {
        &self.chain
    }
}

/// An anchored output batch: its anchoring event, whether its leaves are uploaded here, whether its anchoring key
/// was compromised at the time, and its revocation.
#[utoipa::path(
    get,
    path = "/v1/output-batches/{root}",
    tag = "outputs",
    params(("root" = String, Path, description = "The batch root, any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9"), ChainFilter),
    responses(
        (status = 200, description = "The batch, as anchored earliest within the filters (the chain's canonical \
            registry only, when one is configured and no `registry` is named).", body = OutputBatch),
        BadRequest,
        NotFound,
    ),
)]
async fn get_batch(
    State(state): State<AppState>,
    ApiPath(root): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ChainFilter>,
) -> Result<Json<OutputBatch>> {
    let root = parse_hash("root", &root)?;
    load_batch(&state.pool, root, &filter.scope(&state.config)?)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("output batch {root} is not anchored on any indexed chain")))
}

/// A leaf upload: the batch's leaves, in leaf-index order.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LeavesUpload {
    /// The leaves; their position is their leaf index.
    #[schema(value_type = Vec<crate::routes::docs::OutputLeafSchema>, min_items = 1)]
    pub leaves: Vec<OutputLeaf>,
}

/// What an upload stored (or found already stored).
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredLeaves {
    /// The batch root.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub root: B256,
    /// The model version of every leaf.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// Number of leaves.
    pub leaf_count: u64,
}

/// The Merkle root of `leaves` (StandardMerkleTree over their leaf hashes), or `None` for no leaves.
///
/// CPU-bound for large batches; call it off the async runtime.
pub fn batch_root(leaves: &[OutputLeaf]) -> Option<B256> {
    MerkleTree::from_leaf_hashes(leaves.iter().map(OutputLeaf::hash).collect()).map(|tree| tree.root())
}

#[derive(FromRow)]
struct Anchoring {
    chain_id: i64,
    version_hash: DbHash,
    leaf_count: i64,
}

/// The index of the first leaf whose version is not `version`.
fn first_foreign_leaf(leaves: &[OutputLeaf], version: B256) -> Option<usize> {
    leaves.iter().position(|leaf| leaf.version_hash != version)
}

/// Checks the uploaded leaves against the anchoring events of their root: some event must have the same leaf count
/// and the same version as every leaf. Otherwise the mismatch with the earliest event is reported.
fn check_against_events(root: B256, leaves: &[OutputLeaf], events: &[Anchoring]) -> Result<B256> {
    let n = leaves.len() as u64;
    let mut first_problem = None;
    for event in events {
        let version = event.version_hash.0;
        let problem = if event.leaf_count as u64 != n {
            format!(
                "batch {root} was anchored on chain {chain} with {anchored} leaves, but the upload has {n}",
                chain = event.chain_id,
                anchored = event.leaf_count,
            )
        } else if let Some(i) = first_foreign_leaf(leaves, version) {
            format!(
                "leaf {i} is for model version {leaf_version}, but batch {root} was anchored on chain {chain} for \
                 version {version}",
                leaf_version = leaves[i].version_hash,
                chain = event.chain_id,
            )
        } else {
            return Ok(version);
        };
        first_problem.get_or_insert(problem);
    }
    Err(ApiError::unprocessable(
        "batch_mismatch",
        first_problem.unwrap_or_else(|| format!("batch {root} is not anchored")),
    ))
}

/// Uploads the leaves of an anchored batch. They are stored only if they give the root in the path and agree with
/// an anchoring event (leaf count and model version); stored leaves are never replaced (a repeat answers 200).
#[utoipa::path(
    put,
    path = "/v1/output-batches/{root}/leaves",
    tag = "outputs",
    params(("root" = String, Path, description = "The batch root, any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9")),
    request_body(content = LeavesUpload, description = "The batch's leaves, in leaf-index order.", content_type = "application/json"),
    responses(
        (status = 200, description = "The leaves were already stored.", body = StoredLeaves),
        (status = 201, description = "The leaves were stored.", body = StoredLeaves),
        BadRequest,
        NotFound,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
    ),
)]
async fn put_leaves(
    State(state): State<AppState>,
    ApiPath(root): ApiPath<String>,
    ApiJson(upload): ApiJson<LeavesUpload>,
) -> Result<(StatusCode, Json<StoredLeaves>)> {
    let root = parse_hash("root", &root)?;
    let leaves = upload.leaves;
    if leaves.is_empty() {
        return Err(ApiError::bad_request("invalid_leaves", "the upload lists no leaves"));
    }
    let count = i32::try_from(leaves.len())
        .map_err(|_| ApiError::bad_request("invalid_leaves", "the upload lists too many leaves"))?;
    let timestamps = leaves
        .iter()
        .enumerate()
        .map(|(i, leaf)| {
            i64::try_from(leaf.timestamp).map_err(|_| {
                ApiError::unprocessable("timestamp_out_of_range", format!("leaf {i} has a timestamp past 2^63"))
            })
        })
        .collect::<Result<Vec<i64>>>()?;

    let events: Vec<Anchoring> = sqlx::query_as(
        "SELECT chain_id, version_hash, leaf_count FROM outputs_attested WHERE root = $1
         ORDER BY block_time, chain_id, block_number, log_index",
    )
    .bind(root.to_vec())
    .fetch_all(&state.pool)
    .await?;
    if events.is_empty() {
        return Err(ApiError::NotFound(format!("output batch {root} is not anchored on any indexed chain")));
    }

    let (leaves, computed) = tokio::task::spawn_blocking(move || {
        let computed = batch_root(&leaves);
        (leaves, computed)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("batch root computation panicked: {e}")))?;
    let computed = computed.ok_or_else(|| ApiError::Internal("non-empty batch without a root".into()))?;
    if computed != root {
        return Err(ApiError::unprocessable(
            "root_mismatch",
            format!("the {count} uploaded leaves give root {computed}, not {root} from the path"),
        ));
    }
    let version_hash = check_against_events(root, &leaves, &events)?;

    // One statement, so one transaction. Concurrent uploads insert in the same (leaf index) order, so the later one
    // waits for the earlier and then inserts nothing.
    let inserted = sqlx::query(
        "INSERT INTO output_leaves (root, leaf_index, version_hash, request_hash, response_hash, timestamp, salt)
         SELECT $1, t.leaf_index, $2, t.request_hash, t.response_hash, t.ts, t.salt
         FROM unnest($3::INT[], $4::BYTEA[], $5::BYTEA[], $6::BIGINT[], $7::BYTEA[])
           AS t(leaf_index, request_hash, response_hash, ts, salt)
         ON CONFLICT (root, leaf_index) DO NOTHING",
    )
    .bind(root.to_vec())
    .bind(version_hash.to_vec())
    .bind((0..count).collect::<Vec<i32>>())
    .bind(leaves.iter().map(|l| l.request_hash.to_vec()).collect::<Vec<_>>())
    .bind(leaves.iter().map(|l| l.response_hash.to_vec()).collect::<Vec<_>>())
    .bind(&timestamps)
    .bind(leaves.iter().map(|l| l.salt.to_vec()).collect::<Vec<_>>())
    .execute(&state.pool)
    .await?
    .rows_affected();

    let stored = StoredLeaves { root, version_hash, leaf_count: leaves.len() as u64 };
    if inserted == 0 {
        return Ok((StatusCode::OK, Json(stored)));
    }
    tracing::info!(%root, %version_hash, leaves = inserted, "output batch leaves stored");
    Ok((StatusCode::CREATED, Json(stored)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        ATTESTOR, CHAIN, PUBLISHER, REGISTRY, anchor, call, h, output_batch, revoke_batch, send, send_json,
    };
    use crate::{MAX_BODY_BYTES, MAX_OUTPUT_BATCH_BODY_BYTES};
    use alloy::primitives::Address;
    use prova_db::DbHash;
    use serde_json::{Value, json};

    fn uri(root: impl std::fmt::Display) -> String {
        format!("/v1/output-batches/{root}/leaves")
    }

    fn body(leaves: &[OutputLeaf]) -> Value {
        json!({ "leaves": leaves })
    }

    async fn stored(pool: &PgPool) -> Vec<OutputLeaf> {
        type Row = (DbHash, DbHash, DbHash, i64, DbHash);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT version_hash, request_hash, response_hash, timestamp, salt FROM output_leaves
             ORDER BY root, leaf_index",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        rows.into_iter()
            .map(|(v, q, a, t, s)| OutputLeaf {
                version_hash: v.0,
                request_hash: q.0,
                response_hash: a.0,
                timestamp: t as u64,
                salt: s.0,
            })
            .collect()
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn upload_is_stored_once_in_leaf_order(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 7);
        anchor(&pool, CHAIN, tree.root(), h(1), 7, 10).await;

        let (status, first) = send_json(pool.clone(), "PUT", &uri(tree.root()), &body(&leaves)).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first, json!({ "root": tree.root(), "version_hash": h(1), "leaf_count": 7 }));
        assert_eq!(stored(&pool).await, leaves);

        // Again, even in another order: a no-op that keeps the first upload's leaf indexes.
        let mut reversed = leaves.clone();
        reversed.reverse();
        let (status, again) = send_json(pool.clone(), "PUT", &uri(tree.root()), &body(&reversed)).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again, first);
        assert_eq!(stored(&pool).await, leaves);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn leaves_that_do_not_give_the_root_are_422(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 5);
        anchor(&pool, CHAIN, tree.root(), h(1), 5, 10).await;

        let mut tampered = leaves.clone();
        tampered[2].timestamp += 1;
        let mut missing = leaves.clone();
        missing.pop();
        let other = output_batch(h(1), 5).0;
        for upload in [tampered, missing, other] {
            let (status, answer) = send_json(pool.clone(), "PUT", &uri(tree.root()), &body(&upload)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
            assert_eq!(answer["error"]["code"], "root_mismatch");
            // The message names both the root from the path and the root the leaves give.
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains(&tree.root().to_string()), "{message}");
            assert!(message.contains(&batch_root(&upload).unwrap().to_string()), "{message}");
        }
        assert!(stored(&pool).await.is_empty());
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn unknown_root_is_404_and_bad_uploads_are_400(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 3);
        let (status, answer) = send_json(pool.clone(), "PUT", &uri(tree.root()), &body(&leaves)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(answer["error"]["code"], "not_found");

        anchor(&pool, CHAIN, tree.root(), h(1), 3, 10).await;
        let json = Some("application/json");
        let mut bad_salt = body(&leaves);
        bad_salt["leaves"][0]["salt"] = json!("0x12");
        let cases: Vec<(Option<&str>, Vec<u8>, StatusCode, &str)> = vec![
            (json, b"{not json".to_vec(), StatusCode::BAD_REQUEST, "invalid_body"),
            (json, b"{}".to_vec(), StatusCode::BAD_REQUEST, "invalid_body"),
            (json, bad_salt.to_string().into(), StatusCode::BAD_REQUEST, "invalid_body"),
            (json, b"{\"leaves\": []}".to_vec(), StatusCode::BAD_REQUEST, "invalid_leaves"),
            (None, body(&leaves).to_string().into(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ];
        for (content_type, upload, expected, code) in cases {
            let shown = String::from_utf8_lossy(&upload).chars().take(120).collect::<String>();
            let (status, answer) = send(pool.clone(), "PUT", &uri(tree.root()), content_type, upload).await;
            assert_eq!(status, expected, "{shown}: {answer}");
            assert_eq!(answer["error"]["code"], code, "{shown}");
        }
        let mut far_future = leaves.clone();
        far_future[1].timestamp = u64::MAX;
        let (status, answer) = send_json(pool.clone(), "PUT", &uri(tree.root()), &body(&far_future)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "timestamp_out_of_range");
        let (status, answer) = send_json(pool.clone(), "PUT", &uri("0x12"), &body(&leaves)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_hash")));
        let (status, answer) = call(pool.clone(), "GET", &uri(tree.root())).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
        );
        assert!(stored(&pool).await.is_empty());
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn leaf_count_must_match_the_event(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 4);
        anchor(&pool, CHAIN, tree.root(), h(1), 5, 10).await;
        let (status, answer) = send_json(pool.clone(), "PUT", &uri(tree.root()), &body(&leaves)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "batch_mismatch");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("with 5 leaves, but the upload has 4"), "{message}");
        assert!(stored(&pool).await.is_empty());
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn leaf_versions_must_match_the_event(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 4);
        anchor(&pool, CHAIN, tree.root(), h(9), 4, 10).await;
        let (status, answer) = send_json(pool.clone(), "PUT", &uri(tree.root()), &body(&leaves)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "batch_mismatch");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("leaf 0 is for model version {}", h(1))), "{message}");
        assert!(message.contains(&format!("for version {}", h(9))), "{message}");

        // One leaf of another version in an otherwise consistent batch is named by its index.
        let mut mixed = output_batch(h(1), 4).0;
        mixed[2] = OutputLeaf { version_hash: h(2), ..mixed[2] };
        let root = batch_root(&mixed).unwrap();
        anchor(&pool, CHAIN, root, h(1), 4, 11).await;
        let (status, answer) = send_json(pool.clone(), "PUT", &uri(root), &body(&mixed)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("leaf 2 is for model version"));
        assert!(stored(&pool).await.is_empty());
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn one_consistent_anchoring_is_enough(pool: PgPool) {
        // The same root anchored elsewhere with a wrong count does not block the consistent one.
        let (leaves, tree) = output_batch(h(1), 3);
        anchor(&pool, 1, tree.root(), h(1), 9, 5).await;
        anchor(&pool, CHAIN, tree.root(), h(1), 3, 10).await;
        let (status, answer) = send_json(pool.clone(), "PUT", &uri(tree.root()), &body(&leaves)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn leaves_route_has_its_own_body_limit(pool: PgPool) {
        // A realistic batch is well above the global limit, and is stored in one statement.
        let (leaves, tree) = output_batch(h(1), 4096);
        anchor(&pool, CHAIN, tree.root(), h(1), 4096, 10).await;
        let upload = serde_json::to_vec(&body(&leaves)).unwrap();
        assert!(upload.len() > MAX_BODY_BYTES);
        let (status, answer) = send(pool.clone(), "PUT", &uri(tree.root()), Some("application/json"), upload).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(stored(&pool).await, leaves);

        let huge = vec![b' '; MAX_OUTPUT_BATCH_BODY_BYTES + 1];
        let (status, answer) = send(pool, "PUT", &uri(tree.root()), Some("application/json"), huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer["error"]["code"], "payload_too_large");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn batch_with_upload_state_revocation_and_pointers(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 3);
        let root = tree.root();
        anchor(&pool, CHAIN, root, h(1), 3, 10).await;
        let batch_uri = format!("/v1/output-batches/{root}");

        let (status, batch) = call(pool.clone(), "GET", &batch_uri).await;
        assert_eq!(status, StatusCode::OK, "{batch}");
        assert_eq!(
            batch,
            json!({
                "root": root,
                "version_hash": h(1),
                "publisher": Address::from(PUBLISHER),
                "attestor": Address::from(ATTESTOR),
                "leaf_count": 3,
                "window_start": 1_700_000_000u64,
                "window_end": 1_700_000_003u64,
                "batch_uri": "https://lab.example/batches/1.json",
                "leaves_uploaded": false,
                "signed_by_compromised_key": false,
                "revocation": null,
                "chain": {
                    "chain_id": CHAIN,
                    "contract": Address::from(REGISTRY),
                    "block_number": 10,
                    "block_hash": B256::repeat_byte(10),
                    "block_time": "2023-11-14T22:15:20Z",
                    "tx_hash": root,
                    "log_index": 2,
                    "confirmations": 1,
                    "finality": "confirmed",
                },
            })
        );

        send_json(pool.clone(), "PUT", &uri(root), &body(&leaves)).await;
        revoke_batch(&pool, CHAIN, root, 14).await;
        let (_, batch) = call(pool.clone(), "GET", &batch_uri).await;
        assert_eq!(batch["leaves_uploaded"], true);
        assert_eq!(batch["chain"]["confirmations"], 5);
        assert_eq!(batch["revocation"]["reason"], "sampled from a test key");
        assert_eq!(batch["revocation"]["chain"]["block_number"], 14);
        assert_eq!(batch["revocation"]["chain"]["confirmations"], 1);

        let (status, _) = call(pool.clone(), "GET", &format!("{batch_uri}?chain_id=1")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, answer) = call(pool.clone(), "GET", &format!("/v1/output-batches/{}", h(7))).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        let (status, answer) = call(pool, "GET", "/v1/output-batches/0xzz").await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_hash")));
    }
}
