//! `GET /v1/output-batches/{root}` and `PUT /v1/output-batches/{root}/leaves`: anchored output batches and the
//! upload of their leaves.
//!
//! An upload must be signed by the attestor key that anchored the batch ([`UploadLeaves`] in the anchoring
//! registry's EIP-712 domain, sent in the [`UPLOAD_SIGNATURE_HEADER`]), its publisher must be one the operator
//! accepts ([`ApiConfig::upload_publishers`](crate::ApiConfig::upload_publishers)) and stay within its quota of
//! stored leaves ([`ApiConfig::max_leaves_per_publisher`](crate::ApiConfig::max_leaves_per_publisher)); all this is
//! checked before the body is read. The leaves are then stored only if they recompute to the root in the path and
//! agree with that anchoring (leaf count and model version). Stored leaves are never replaced; a repeated upload is
//! a no-op. With the leaves, the batch's tree is stored ([`FlatTree`]), so lookups read proofs instead of rebuilding
//! trees. The format and the reasons are in `docs/leaf-uploads.md`.
//!
//! A batch anchored by a key its publisher flagged compromised from a time at or before the anchoring block's is
//! answered with `signed_by_compromised_key: true`: none of its leaves verifies, and its leaves are not accepted.

use prova_db::{DbAddress, DbHash};
use std::collections::HashMap;

use alloy::primitives::{Address, B256, Signature};
use alloy::sol_types::SolStruct;
use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use prova_core::bindings::registry_domain;
use prova_core::merkle::{MerkleTree, hash_pair};
use prova_core::outputs::OutputLeaf;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};
use utoipa::{IntoResponses, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_hash};
use crate::routes::docs::{BadRequest, NotFound, PayloadTooLarge, Unprocessable, UnsupportedMediaType};
use crate::routes::model_versions::{ChainFilter, Revocation};
use crate::routes::page::{ChainListQuery as ListQuery, HasPointer, Page, Scope, list_events, registry_condition};
use crate::views::{ChainPointer, PointerRow};
use crate::{ApiConfig, AppState, MAX_OUTPUT_BATCH_BODY_BYTES};
pub use message::UploadLeaves;
pub use prova_views::OutputBatch;

mod message {
    #![allow(missing_docs, missing_debug_implementations, unreachable_pub)]
    alloy::sol! {
        /// The EIP-712 message by which a batch's attestor key authorizes the upload of the batch's leaves, signed
        /// in the domain of the registry that anchored the batch. Type string: `UploadLeaves(bytes32 root)`.
        #[derive(Debug)]
        struct UploadLeaves {
            bytes32 root;
        }
    }
}

/// The request header carrying an upload's authorization: the 65-byte signature (`r ‖ s ‖ v`, as 0x hex) by the
/// batch's attestor key over [`upload_signing_hash`].
pub const UPLOAD_SIGNATURE_HEADER: &str = "prova-upload-signature";

/// The EIP-712 digest the attestor key that anchored `root` in `registry` on `chain_id` signs to authorize the
/// upload of the batch's leaves: [`UploadLeaves`] in the registry's domain (`ProvaProvenanceRegistry`, version 1).
///
/// A signature authorizes nothing but uploading the leaves that give `root`, which can be stored only once; it
/// needs no nonce or deadline.
pub fn upload_signing_hash(chain_id: u64, registry: Address, root: B256) -> B256 {
    UploadLeaves { root }.eip712_signing_hash(&registry_domain(chain_id, registry))
}

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
                window_start_at: prova_views::unix_date(row.window_start as u64),
                window_end_at: prova_views::unix_date(row.window_end as u64),
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

/// Most leaves one upload may list (the body limit allows about 200,000); keeps every node offset of a stored tree
/// within the `INT` arguments of Postgres' `substring`.
pub const MAX_UPLOAD_LEAVES: usize = 1 << 22;

/// The Merkle root of `leaves` (StandardMerkleTree over their leaf hashes), or `None` for no leaves.
///
/// CPU-bound for large batches; call it off the async runtime.
pub fn batch_root(leaves: &[OutputLeaf]) -> Option<B256> {
    MerkleTree::from_leaf_hashes(leaves.iter().map(OutputLeaf::hash).collect()).map(|tree| tree.root())
}

/// A batch's tree as stored (table `output_trees`): OpenZeppelin's flat node array, laid out as
/// [`MerkleTree`] does (the root at 0, the children of `i` at `2i+1` and `2i+2`, the leaf hashes sorted at the end
/// in reverse order), and the node of each leaf in upload order.
#[derive(Debug, Clone)]
pub struct FlatTree {
    /// The nodes, `2n - 1` of them.
    pub nodes: Vec<B256>,
    /// The node of each leaf, by leaf index.
    pub leaf_nodes: Vec<usize>,
}

impl FlatTree {
    /// The tree over `hashes`, leaf hashes in upload order; `None` for no leaves. It has the root and proofs of
    /// [`MerkleTree::from_leaf_hashes`].
    ///
    /// CPU-bound for large batches; call it off the async runtime.
    pub fn build(hashes: &[B256]) -> Option<Self> {
        let n = hashes.len();
        if n == 0 {
            return None;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by_key(|&leaf| hashes[leaf]);
        let len = 2 * n - 1;
        let mut nodes = vec![B256::ZERO; len];
        let mut leaf_nodes = vec![0; n];
        for (rank, leaf) in order.into_iter().enumerate() {
            nodes[len - 1 - rank] = hashes[leaf];
            leaf_nodes[leaf] = len - 1 - rank;
        }
        for i in (0..len - n).rev() {
            nodes[i] = hash_pair(nodes[2 * i + 1], nodes[2 * i + 2]);
        }
        Some(Self { nodes, leaf_nodes })
    }

    /// The root.
    pub fn root(&self) -> B256 {
        self.nodes[0]
    }

    /// The nodes as stored in `output_trees.nodes`: 32 bytes each, in index order.
    pub fn bytes(&self) -> Vec<u8> {
        self.nodes.iter().flat_map(|node| node.0).collect()
    }

    /// The node of each leaf, by leaf index, as stored in `output_leaves.tree_index`.
    pub fn leaf_node_column(&self) -> Vec<i32> {
        // `MAX_UPLOAD_LEAVES` keeps every node index far below `i32::MAX`.
        self.leaf_nodes.iter().map(|&node| node as i32).collect()
    }

    /// The proof of the leaf at node `node`.
    pub fn proof(&self, node: usize) -> Vec<B256> {
        proof_nodes(node).into_iter().map(|i| self.nodes[i]).collect()
    }
}

/// The nodes whose hashes make the proof of node `node`, leaf first: its sibling, its parent's sibling, and so on up
/// to a child of the root.
pub fn proof_nodes(mut node: usize) -> Vec<usize> {
    let mut nodes = Vec::new();
    while node > 0 {
        nodes.push(if node % 2 == 1 { node + 1 } else { node - 1 });
        node = (node - 1) / 2;
    }
    nodes
}

/// Stores `tree` as the tree of `root`. A tree already stored for `root` is kept (a root commits to its tree).
pub async fn insert_tree(conn: &mut sqlx::PgConnection, root: B256, tree: &FlatTree) -> Result<()> {
    // The tree goes into the month partition of its leaves (their `uploaded_at`, migration 0011); one tree per root.
    sqlx::query(
        "INSERT INTO output_trees (root, nodes, uploaded_at)
         SELECT $1, $2, COALESCE(
             (SELECT l.uploaded_at FROM output_leaves l WHERE l.root = $1 ORDER BY l.leaf_index LIMIT 1), now())
         WHERE NOT EXISTS (SELECT 1 FROM output_trees t WHERE t.root = $1)
         ON CONFLICT (root, uploaded_at) DO NOTHING",
    )
    .bind(root.to_vec())
    .bind(tree.bytes())
    .execute(conn)
    .await?;
    Ok(())
}

/// An anchoring of the uploaded root, with what authorizes an upload against it.
#[derive(Debug, FromRow)]
struct Anchoring {
    chain_id: i64,
    contract: DbAddress,
    version_hash: DbHash,
    publisher: DbAddress,
    attestor: DbAddress,
    leaf_count: i64,
    /// The anchoring key was flagged compromised at or before the anchoring block's time.
    compromised: bool,
}

/// Every anchoring of `root` on an indexed chain, earliest first. A registry anchors a root at most once, so there
/// are at most as many as indexed registries.
async fn anchorings(pool: &PgPool, root: B256) -> Result<Vec<Anchoring>> {
    Ok(sqlx::query_as(&format!(
        "SELECT a.chain_id, a.contract, a.version_hash, a.publisher, a.attestor, a.leaf_count,
                {COMPROMISED} AS compromised
         FROM outputs_attested a WHERE a.root = $1
         ORDER BY a.block_time, a.chain_id, a.block_number, a.log_index"
    ))
    .bind(root.to_vec())
    .fetch_all(pool)
    .await?)
}

/// 413 for a body whose declared length is past the route's limit, before anything else is done with the upload.
fn refuse_declared_oversize(headers: &HeaderMap) -> Result<()> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_OUTPUT_BATCH_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge("request body is larger than this route accepts".into()));
    }
    Ok(())
}

/// The upload's signature from [`UPLOAD_SIGNATURE_HEADER`]; 401 if it is missing or not a signature.
fn upload_signature(headers: &HeaderMap) -> Result<Signature> {
    let value = headers.get(UPLOAD_SIGNATURE_HEADER).ok_or_else(|| {
        ApiError::unauthorized(
            "signature_required",
            format!(
                "a leaf upload must carry the `{UPLOAD_SIGNATURE_HEADER}` header: a signature by the attestor key \
                 that anchored the batch over UploadLeaves(bytes32 root) in the registry's EIP-712 domain"
            ),
        )
    })?;
    let invalid = || {
        ApiError::unauthorized(
            "invalid_signature",
            format!("`{UPLOAD_SIGNATURE_HEADER}` must be a 65-byte signature as 0x followed by 130 hex digits"),
        )
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let bytes = text.strip_prefix("0x").filter(|hex| hex.len() == 130).ok_or_else(invalid)?;
    let bytes = alloy::hex::decode(bytes).map_err(|_| invalid())?;
    Signature::try_from(bytes.as_slice()).map_err(|_| invalid())
}

/// The anchorings of `root` an upload signed with `signature` may be stored against: those whose attestor key made
/// the signature (in their registry's domain), whose key is not flagged compromised, and whose publisher the
/// operator accepts. 403 when none is left, with the reason of the last check that left none.
fn authorize(config: &ApiConfig, root: B256, signature: &Signature, events: Vec<Anchoring>) -> Result<Vec<Anchoring>> {
    let signed: Vec<Anchoring> = events
        .into_iter()
        .filter(|event| {
            let digest = upload_signing_hash(event.chain_id as u64, event.contract.0, root);
            signature.recover_address_from_prehash(&digest).is_ok_and(|signer| signer == event.attestor.0)
        })
        .collect();
    if signed.is_empty() {
        return Err(ApiError::forbidden(
            "upload_unauthorized",
            format!(
                "the upload is not signed by the attestor key that anchored batch {root} (sign UploadLeaves(bytes32 \
                 root) in the EIP-712 domain of the registry that anchored it)"
            ),
        ));
    }
    let sound: Vec<Anchoring> = signed.into_iter().filter(|event| !event.compromised).collect();
    let Some(first) = sound.first() else {
        return Err(ApiError::forbidden(
            "compromised_key",
            format!("batch {root} was anchored by a key flagged compromised; its leaves are not accepted"),
        ));
    };
    let first_publisher = first.publisher.0;
    let allowed: Vec<Anchoring> = sound
        .into_iter()
        .filter(|event| config.upload_publishers.as_ref().is_none_or(|allowed| allowed.contains(&event.publisher.0)))
        .collect();
    if allowed.is_empty() {
        return Err(ApiError::forbidden(
            "publisher_not_allowed",
            format!(
                "this API stores leaves only of the publishers its operator lists, and {first_publisher} is not one"
            ),
        ));
    }
    Ok(allowed)
}

/// The 403 of a publisher whose stored leaves would pass the quota.
fn quota_exceeded(publisher: Address, stored: i64, count: i64, quota: u64) -> ApiError {
    ApiError::forbidden(
        "leaf_quota_exceeded",
        format!(
            "publisher {publisher} has {stored} leaves stored here; {count} more would pass this API's quota of \
             {quota} leaves per publisher"
        ),
    )
}

/// The anchorings whose publisher can store `leaf_count` more leaves within the quota; 403 when none can. The quota
/// is checked again, atomically, when the leaves are stored.
async fn within_quota(pool: &PgPool, config: &ApiConfig, events: Vec<Anchoring>) -> Result<Vec<Anchoring>> {
    let publishers: Vec<Vec<u8>> = events.iter().map(|event| event.publisher.0.to_vec()).collect();
    let usage: HashMap<Address, i64> = sqlx::query_as::<_, (DbAddress, i64)>(
        "SELECT publisher, leaves FROM publisher_leaf_usage WHERE publisher = ANY($1)",
    )
    .bind(publishers)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(publisher, leaves)| (publisher.0, leaves))
    .collect();
    let quota = config.max_leaves_per_publisher;
    let stored = |event: &Anchoring| usage.get(&event.publisher.0).copied().unwrap_or(0);
    let fits = |event: &Anchoring| (stored(event) as u64).saturating_add(event.leaf_count as u64) <= quota;
    match events.first() {
        Some(first) if !events.iter().any(fits) => {
            Err(quota_exceeded(first.publisher.0, stored(first), first.leaf_count, quota))
        }
        _ => Ok(events.into_iter().filter(fits).collect()),
    }
}

/// What an earlier upload of `root` stored, if any.
async fn stored_upload(pool: &PgPool, root: B256) -> Result<Option<StoredLeaves>> {
    let row: Option<(DbHash, i64)> =
        sqlx::query_as("SELECT version_hash, leaf_count FROM leaf_uploads WHERE root = $1")
            .bind(root.to_vec())
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(version, count)| StoredLeaves { root, version_hash: version.0, leaf_count: count as u64 }))
}

/// The index of the first leaf whose version is not `version`.
fn first_foreign_leaf(leaves: &[OutputLeaf], version: B256) -> Option<usize> {
    leaves.iter().position(|leaf| leaf.version_hash != version)
}

/// Checks the uploaded leaves against the authorized anchorings of their root: one must have the same leaf count
/// and the same version as every leaf, and is returned. Otherwise the mismatch with the earliest is reported.
fn check_against_events<'a>(root: B256, leaves: &[OutputLeaf], events: &'a [Anchoring]) -> Result<&'a Anchoring> {
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
            return Ok(event);
        };
        first_problem.get_or_insert(problem);
    }
    Err(ApiError::unprocessable(
        "batch_mismatch",
        first_problem.unwrap_or_else(|| format!("batch {root} is not anchored")),
    ))
}

/// Stores an authorized, checked upload in one transaction: the upload's record, the publisher's new leaf count
/// (within the quota, or 403), the leaves with their tree nodes, and the tree. `false` if an earlier (or
/// concurrent) upload of `root` is already stored: then nothing changes.
async fn store(
    pool: &PgPool,
    quota: u64,
    root: B256,
    anchoring: &Anchoring,
    leaves: &[OutputLeaf],
    timestamps: &[i64],
    tree: &FlatTree,
) -> Result<bool> {
    let count = leaves.len() as i64;
    let mut tx = pool.begin().await?;
    // A concurrent upload of the same root waits here for the first to commit, then stores nothing.
    let claimed = sqlx::query(
        "INSERT INTO leaf_uploads (root, chain_id, contract, publisher, attestor, version_hash, leaf_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (root) DO NOTHING",
    )
    .bind(root.to_vec())
    .bind(anchoring.chain_id)
    .bind(anchoring.contract)
    .bind(anchoring.publisher)
    .bind(anchoring.attestor)
    .bind(anchoring.version_hash)
    .bind(count)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(false);
    }
    // Check and raise in one statement; the row lock orders a publisher's concurrent uploads.
    let limit = i64::try_from(quota).unwrap_or(i64::MAX);
    let reserved = sqlx::query(
        "INSERT INTO publisher_leaf_usage (publisher, leaves) SELECT $1, $2 WHERE $2 <= $3
         ON CONFLICT (publisher) DO UPDATE SET leaves = publisher_leaf_usage.leaves + EXCLUDED.leaves
         WHERE publisher_leaf_usage.leaves + EXCLUDED.leaves <= $3",
    )
    .bind(anchoring.publisher)
    .bind(count)
    .bind(limit)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if reserved == 0 {
        let stored: i64 = sqlx::query_scalar("SELECT leaves FROM publisher_leaf_usage WHERE publisher = $1")
            .bind(anchoring.publisher)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(0);
        return Err(quota_exceeded(anchoring.publisher.0, stored, count, quota));
    }
    // Leaves stored before trees were (see the lookup) keep their rows; the tree is the same for any leaf order. Each
    // leaf takes the upload's `uploaded_at`, the partition key (migration 0011): all leaves of a root share one month.
    sqlx::query(
        "INSERT INTO output_leaves
           (root, leaf_index, version_hash, request_hash, response_hash, timestamp, salt, tree_index, uploaded_at)
         SELECT $1, t.leaf_index, $2, t.request_hash, t.response_hash, t.ts, t.salt, t.tree_index, u.uploaded_at
         FROM unnest($3::INT[], $4::BYTEA[], $5::BYTEA[], $6::BIGINT[], $7::BYTEA[], $8::INT[])
           AS t(leaf_index, request_hash, response_hash, ts, salt, tree_index)
         JOIN leaf_uploads u ON u.root = $1
         WHERE NOT EXISTS (SELECT 1 FROM output_leaves o WHERE o.root = $1)
         ON CONFLICT (root, leaf_index, uploaded_at) DO NOTHING",
    )
    .bind(root.to_vec())
    .bind(anchoring.version_hash)
    .bind((0..count as i32).collect::<Vec<i32>>())
    .bind(leaves.iter().map(|l| l.request_hash.to_vec()).collect::<Vec<_>>())
    .bind(leaves.iter().map(|l| l.response_hash.to_vec()).collect::<Vec<_>>())
    .bind(timestamps)
    .bind(leaves.iter().map(|l| l.salt.to_vec()).collect::<Vec<_>>())
    .bind(tree.leaf_node_column())
    .execute(&mut *tx)
    .await?;
    insert_tree(&mut tx, root, tree).await?;
    tx.commit().await?;
    Ok(true)
}

/// 401: the upload carries no signature, or something that is not one.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "No upload signature, or one that is not a 65-byte signature.",
    example = json!({ "error": { "code": "signature_required", "message": "a leaf upload must carry the `prova-upload-signature` header: …" } })
)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct Unauthorized(crate::error::Body<'static>);

/// 403: the signature is not by the batch's attestor key, the key is compromised, the publisher is not accepted,
/// or the publisher's quota would be passed.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "Refused: the signature is not by the attestor key that anchored the batch \
        (`upload_unauthorized`), that key is flagged compromised (`compromised_key`), the operator does not accept \
        the batch's publisher (`publisher_not_allowed`), or the publisher's stored leaves would pass the quota \
        (`leaf_quota_exceeded`).",
    example = json!({ "error": { "code": "upload_unauthorized", "message": "the upload is not signed by the attestor key that anchored batch 0x…" } })
)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct Forbidden(crate::error::Body<'static>);

/// Uploads the leaves of an anchored batch, authorized by the attestor key that anchored it.
///
/// Before the body is read: its declared size, the signature in `prova-upload-signature` (EIP-712
/// `UploadLeaves(bytes32 root)` in the domain of the registry that anchored the batch, by the attestor key of that
/// anchoring), the operator's list of accepted publishers and the publisher's quota of stored leaves. Then the
/// leaves are stored only if they give the root in the path and agree with that anchoring (leaf count and model
/// version). Stored leaves are never replaced: a repeat answers 200 without reading the body. See
/// `docs/leaf-uploads.md`.
#[utoipa::path(
    put,
    path = "/v1/output-batches/{root}/leaves",
    tag = "outputs",
    params(
        ("root" = String, Path, description = "The batch root, any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9"),
        ("prova-upload-signature" = String, Header, description = "The 65-byte signature (r, s, v) by the attestor \
            key that anchored the batch over the EIP-712 message `UploadLeaves(bytes32 root)` in the anchoring \
            registry's domain (`ProvaProvenanceRegistry`, version `1`, its chain id and address).", pattern = "^0x[0-9a-fA-F]{130}$"),
    ),
    request_body(content = LeavesUpload, description = "The batch's leaves, in leaf-index order.", content_type = "application/json"),
    responses(
        (status = 200, description = "The leaves were already stored.", body = StoredLeaves),
        (status = 201, description = "The leaves were stored.", body = StoredLeaves),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
    ),
)]
async fn put_leaves(
    State(state): State<AppState>,
    ApiPath(root): ApiPath<String>,
    request: Request,
) -> Result<(StatusCode, Json<StoredLeaves>)> {
    let root = parse_hash("root", &root)?;
    refuse_declared_oversize(request.headers())?;
    let signature = upload_signature(request.headers())?;
    // An upload writes, so all of it runs on the primary: a read replica may not have replayed the anchoring, an
    // earlier upload or the quota's last raise yet.
    let events = anchorings(&state.primary, root).await?;
    if events.is_empty() {
        return Err(ApiError::NotFound(format!("output batch {root} is not anchored on any indexed chain")));
    }
    let authorized = authorize(&state.config, root, &signature, events)?;
    if let Some(stored) = stored_upload(&state.primary, root).await? {
        return Ok((StatusCode::OK, Json(stored)));
    }
    let authorized = within_quota(&state.primary, &state.config, authorized).await?;

    // Only an authorized upload within its quota is read.
    let ApiJson(upload) = ApiJson::<LeavesUpload>::from_request(request, &state).await?;
    let leaves = upload.leaves;
    if leaves.is_empty() {
        return Err(ApiError::bad_request("invalid_leaves", "the upload lists no leaves"));
    }
    if leaves.len() > MAX_UPLOAD_LEAVES {
        return Err(ApiError::bad_request("invalid_leaves", "the upload lists too many leaves"));
    }
    let count = leaves.len();
    let timestamps = leaves
        .iter()
        .enumerate()
        .map(|(i, leaf)| {
            i64::try_from(leaf.timestamp).map_err(|_| {
                ApiError::unprocessable("timestamp_out_of_range", format!("leaf {i} has a timestamp past 2^63"))
            })
        })
        .collect::<Result<Vec<i64>>>()?;

    let (leaves, tree) = tokio::task::spawn_blocking(move || {
        let tree = FlatTree::build(&leaves.iter().map(OutputLeaf::hash).collect::<Vec<_>>());
        (leaves, tree)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("batch tree computation panicked: {e}")))?;
    let tree = tree.ok_or_else(|| ApiError::Internal("non-empty batch without a tree".into()))?;
    if tree.root() != root {
        return Err(ApiError::unprocessable(
            "root_mismatch",
            format!(
                "the {count} uploaded leaves give root {computed}, not {root} from the path",
                computed = tree.root()
            ),
        ));
    }
    let anchoring = check_against_events(root, &leaves, &authorized)?;
    let version_hash = anchoring.version_hash.0;
    let stored = StoredLeaves { root, version_hash, leaf_count: count as u64 };
    let quota = state.config.max_leaves_per_publisher;
    if !store(&state.primary, quota, root, anchoring, &leaves, &timestamps, &tree).await? {
        return Ok((StatusCode::OK, Json(stored)));
    }
    tracing::info!(%root, %version_hash, leaves = count, publisher = %anchoring.publisher.0, "output batch leaves stored");
    Ok((StatusCode::CREATED, Json(stored)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        ATTESTOR, CHAIN, PUBLISHER, REGISTRY, anchor, attestor_key, call, compromise, h, output_batch, put_leaves_with,
        revoke_batch, upload_leaves, upload_signature,
    };
    use crate::{MAX_BODY_BYTES, MAX_OUTPUT_BATCH_BODY_BYTES};
    use alloy::signers::local::PrivateKeySigner;
    use prova_db::DbHash;
    use serde_json::{Value, json};
    use std::collections::BTreeSet;

    fn body(leaves: &[OutputLeaf]) -> Vec<u8> {
        serde_json::to_vec(&json!({ "leaves": leaves })).unwrap()
    }

    /// PUTs `upload` as JSON, signed by the batch's attestor key, to an app with `config`.
    async fn put_with(pool: &PgPool, config: ApiConfig, root: B256, upload: Vec<u8>) -> (StatusCode, Value) {
        let signature = upload_signature(&attestor_key(), CHAIN, root);
        put_leaves_with(pool.clone(), config, root, Some("application/json"), Some(&signature), upload).await
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

    /// Rows of every table an upload writes: leaves, upload records, trees, publisher usage.
    async fn rows_written(pool: &PgPool) -> [i64; 4] {
        let mut counts = [0; 4];
        for (count, table) in
            counts.iter_mut().zip(["output_leaves", "leaf_uploads", "output_trees", "publisher_leaf_usage"])
        {
            *count = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(pool).await.unwrap();
        }
        counts
    }

    async fn usage(pool: &PgPool, publisher: Address) -> Option<i64> {
        sqlx::query_scalar("SELECT leaves FROM publisher_leaf_usage WHERE publisher = $1")
            .bind(publisher.to_vec())
            .fetch_optional(pool)
            .await
            .unwrap()
    }

    #[test]
    fn the_flat_tree_is_core_s_tree() {
        for n in 1..=40usize {
            let (leaves, tree) = output_batch(h(1), n);
            let hashes: Vec<B256> = leaves.iter().map(OutputLeaf::hash).collect();
            let flat = FlatTree::build(&hashes).unwrap();
            assert_eq!(flat.root(), tree.root(), "n={n}");
            assert_eq!(flat.nodes.len(), 2 * n - 1);
            assert_eq!(flat.bytes().len(), 32 * (2 * n - 1));
            for (i, hash) in hashes.iter().enumerate() {
                assert_eq!(flat.nodes[flat.leaf_nodes[i]], *hash, "n={n} leaf {i}");
                assert_eq!(flat.proof(flat.leaf_nodes[i]), tree.proof(*hash).unwrap(), "n={n} leaf {i}");
            }
        }
        assert!(FlatTree::build(&[]).is_none());
        assert_eq!(proof_nodes(0), Vec::<usize>::new());
        assert_eq!(proof_nodes(6), vec![5, 1]);
    }

    #[test]
    fn the_upload_message_is_eip712_in_the_registry_domain() {
        // keccak256("UploadLeaves(bytes32 root)"), as a Solidity verifier would write the typehash.
        assert_eq!(
            UploadLeaves { root: h(1) }.eip712_type_hash(),
            alloy::primitives::keccak256("UploadLeaves(bytes32 root)")
        );
        let digest = upload_signing_hash(CHAIN as u64, REGISTRY.into(), h(1));
        assert_ne!(digest, upload_signing_hash(1, REGISTRY.into(), h(1)));
        assert_ne!(digest, upload_signing_hash(CHAIN as u64, Address::repeat_byte(1), h(1)));
        assert_ne!(digest, upload_signing_hash(CHAIN as u64, REGISTRY.into(), h(2)));
        assert_eq!(attestor_key().address(), Address::from(ATTESTOR));

        // The header takes `v` as 27 or 28 and as 0 or 1.
        for shift in [0, 27] {
            let mut bytes = alloy::hex::decode(upload_signature(&attestor_key(), CHAIN, h(1))).unwrap();
            bytes[64] -= shift;
            let mut headers = HeaderMap::new();
            headers.insert(UPLOAD_SIGNATURE_HEADER, format!("0x{}", alloy::hex::encode(bytes)).parse().unwrap());
            let signature = super::upload_signature(&headers).unwrap();
            assert_eq!(signature.recover_address_from_prehash(&digest).unwrap(), Address::from(ATTESTOR));
        }
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn upload_is_stored_once_in_leaf_order(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 7);
        anchor(&pool, CHAIN, tree.root(), h(1), 7, 10).await;

        let (status, first) = upload_leaves(pool.clone(), tree.root(), &leaves).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first, json!({ "root": tree.root(), "version_hash": h(1), "leaf_count": 7 }));
        assert_eq!(stored(&pool).await, leaves);
        assert_eq!(rows_written(&pool).await, [7, 1, 1, 1]);
        assert_eq!(usage(&pool, PUBLISHER.into()).await, Some(7));

        // Again, even in another order: a no-op that keeps the first upload's leaf indexes and counts nothing twice.
        let mut reversed = leaves.clone();
        reversed.reverse();
        let (status, again) = upload_leaves(pool.clone(), tree.root(), &reversed).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again, first);
        assert_eq!(stored(&pool).await, leaves);
        assert_eq!(usage(&pool, PUBLISHER.into()).await, Some(7));
    }

    /// The attack: upload leaves for a batch with no signature, with something that is not a signature, with a
    /// signature by another key, by the right key over another root, or in another registry's domain. Each is
    /// refused before the body is read (a body that is not even JSON gets the same answer), and nothing is stored.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn an_upload_not_signed_by_the_batch_attestor_is_refused_unread(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 5);
        let root = tree.root();
        anchor(&pool, CHAIN, root, h(1), 5, 10).await;
        let stranger = PrivateKeySigner::random();
        let other_domain = {
            let digest = upload_signing_hash(CHAIN as u64, Address::repeat_byte(0x99), root);
            let signature = alloy::signers::SignerSync::sign_hash_sync(&attestor_key(), &digest).unwrap();
            format!("0x{}", alloy::hex::encode(signature.as_bytes()))
        };
        let cases: Vec<(Option<String>, StatusCode, &str)> = vec![
            (None, StatusCode::UNAUTHORIZED, "signature_required"),
            (Some("0x1234".into()), StatusCode::UNAUTHORIZED, "invalid_signature"),
            (Some(format!("0x{}", "zz".repeat(65))), StatusCode::UNAUTHORIZED, "invalid_signature"),
            (Some(upload_signature(&stranger, CHAIN, root)), StatusCode::FORBIDDEN, "upload_unauthorized"),
            (Some(upload_signature(&attestor_key(), CHAIN, h(7))), StatusCode::FORBIDDEN, "upload_unauthorized"),
            (Some(upload_signature(&attestor_key(), 1, root)), StatusCode::FORBIDDEN, "upload_unauthorized"),
            (Some(other_domain), StatusCode::FORBIDDEN, "upload_unauthorized"),
        ];
        for (signature, expected, code) in cases {
            for upload in [body(&leaves), b"{not json".to_vec()] {
                let (status, answer) = put_leaves_with(
                    pool.clone(),
                    ApiConfig::default(),
                    root,
                    Some("application/json"),
                    signature.as_deref(),
                    upload,
                )
                .await;
                assert_eq!((status, answer["error"]["code"].as_str()), (expected, Some(code)), "{signature:?}");
            }
        }
        assert_eq!(rows_written(&pool).await, [0; 4]);

        let (status, answer) = upload_leaves(pool.clone(), root, &leaves).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }

    /// With an allow-list, a publisher the operator did not list cannot store leaves, even signed by its own key.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_publisher_outside_the_allow_list_is_refused(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 4);
        anchor(&pool, CHAIN, tree.root(), h(1), 4, 10).await;
        let only = |publisher: Address| ApiConfig {
            upload_publishers: Some(BTreeSet::from([publisher])),
            ..ApiConfig::default()
        };

        let (status, answer) = put_with(&pool, only(Address::repeat_byte(0x42)), tree.root(), body(&leaves)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("publisher_not_allowed")));
        assert!(answer["error"]["message"].as_str().unwrap().contains(&Address::from(PUBLISHER).to_string()));
        assert_eq!(rows_written(&pool).await, [0; 4]);

        let (status, answer) = put_with(&pool, only(PUBLISHER.into()), tree.root(), body(&leaves)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }

    /// The attack: fill the database through one publisher. Past its quota, uploads are refused (before the body
    /// is read when the anchored count already passes it) and store nothing; uploads that fit still work.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn uploads_past_the_publisher_quota_are_refused(pool: PgPool) {
        let config = ApiConfig { max_leaves_per_publisher: 10, ..ApiConfig::default() };
        let batches: Vec<(Vec<OutputLeaf>, MerkleTree)> = [11, 6, 5, 4].map(|n| output_batch(h(1), n)).into();
        for (block, (leaves, tree)) in (10..).zip(&batches) {
            anchor(&pool, CHAIN, tree.root(), h(1), leaves.len() as i64, block).await;
        }
        let refused = |answer: &Value| {
            assert_eq!(answer["error"]["code"], "leaf_quota_exceeded", "{answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains("quota of 10 leaves"), "{answer}");
        };

        // A batch larger than the whole quota: refused unread.
        let (status, answer) = put_with(&pool, config.clone(), batches[0].1.root(), b"{not json".to_vec()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        refused(&answer);

        let (status, answer) = put_with(&pool, config.clone(), batches[1].1.root(), body(&batches[1].0)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let (status, answer) = put_with(&pool, config.clone(), batches[2].1.root(), body(&batches[2].0)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        refused(&answer);
        let (status, answer) = put_with(&pool, config.clone(), batches[3].1.root(), body(&batches[3].0)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(usage(&pool, PUBLISHER.into()).await, Some(10));
        assert_eq!(rows_written(&pool).await, [10, 2, 2, 1]);

        // Another publisher has its own quota.
        sqlx::query("UPDATE outputs_attested SET publisher = $1 WHERE root = $2")
            .bind(vec![0x42u8; 20])
            .bind(batches[2].1.root().to_vec())
            .execute(&pool)
            .await
            .unwrap();
        let (status, answer) = put_with(&pool, config, batches[2].1.root(), body(&batches[2].0)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(usage(&pool, Address::repeat_byte(0x42)).await, Some(5));
    }

    /// Concurrent uploads of one publisher cannot both pass its quota: the check and the count are one statement.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn concurrent_uploads_share_one_quota(pool: PgPool) {
        let config = ApiConfig { max_leaves_per_publisher: 8, ..ApiConfig::default() };
        let batches: Vec<(Vec<OutputLeaf>, MerkleTree)> = (0..4).map(|_| output_batch(h(1), 5)).collect();
        for (block, (leaves, tree)) in (10..).zip(&batches) {
            anchor(&pool, CHAIN, tree.root(), h(1), leaves.len() as i64, block).await;
        }
        let uploads: Vec<_> = batches
            .iter()
            .map(|(leaves, tree)| {
                let (pool, config, root, upload) = (pool.clone(), config.clone(), tree.root(), body(leaves));
                tokio::spawn(async move { put_with(&pool, config, root, upload).await })
            })
            .collect();
        let mut answers = Vec::new();
        for upload in uploads {
            answers.push(upload.await.unwrap());
        }
        let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
        assert_eq!(created, 1, "{answers:?}");
        assert!(
            answers
                .iter()
                .all(|(status, answer)| *status == StatusCode::CREATED
                    || answer["error"]["code"] == "leaf_quota_exceeded")
        );
        assert_eq!(usage(&pool, PUBLISHER.into()).await, Some(5));
        assert_eq!(rows_written(&pool).await, [5, 1, 1, 1]);
    }

    /// A thief holding a key flagged compromised from before the anchoring cannot store the batch's leaves.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_batch_anchored_by_a_compromised_key_is_refused(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 3);
        anchor(&pool, CHAIN, tree.root(), h(1), 3, 10).await;
        compromise(&pool, CHAIN, 1_700_000_000 + 8 * 12, 20).await;
        let (status, answer) = upload_leaves(pool.clone(), tree.root(), &leaves).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("compromised_key")));
        assert_eq!(rows_written(&pool).await, [0; 4]);
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
            let (status, answer) = upload_leaves(pool.clone(), tree.root(), &upload).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
            assert_eq!(answer["error"]["code"], "root_mismatch");
            // The message names both the root from the path and the root the leaves give.
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains(&tree.root().to_string()), "{message}");
            assert!(message.contains(&batch_root(&upload).unwrap().to_string()), "{message}");
        }
        assert_eq!(rows_written(&pool).await, [0; 4]);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn unknown_root_is_404_and_bad_uploads_are_400(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 3);
        let root = tree.root();
        let (status, answer) = upload_leaves(pool.clone(), root, &leaves).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(answer["error"]["code"], "not_found");

        anchor(&pool, CHAIN, root, h(1), 3, 10).await;
        let json = Some("application/json");
        let mut bad_salt: Value = serde_json::from_slice(&body(&leaves)).unwrap();
        bad_salt["leaves"][0]["salt"] = json!("0x12");
        let cases: Vec<(Option<&str>, Vec<u8>, StatusCode, &str)> = vec![
            (json, b"{not json".to_vec(), StatusCode::BAD_REQUEST, "invalid_body"),
            (json, b"{}".to_vec(), StatusCode::BAD_REQUEST, "invalid_body"),
            (json, bad_salt.to_string().into(), StatusCode::BAD_REQUEST, "invalid_body"),
            (json, b"{\"leaves\": []}".to_vec(), StatusCode::BAD_REQUEST, "invalid_leaves"),
            (None, body(&leaves), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ];
        let signature = upload_signature(&attestor_key(), CHAIN, root);
        for (content_type, upload, expected, code) in cases {
            let shown = String::from_utf8_lossy(&upload).chars().take(120).collect::<String>();
            let (status, answer) =
                put_leaves_with(pool.clone(), ApiConfig::default(), root, content_type, Some(&signature), upload).await;
            assert_eq!(status, expected, "{shown}: {answer}");
            assert_eq!(answer["error"]["code"], code, "{shown}");
        }
        let mut far_future = leaves.clone();
        far_future[1].timestamp = u64::MAX;
        let (status, answer) = upload_leaves(pool.clone(), root, &far_future).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "timestamp_out_of_range");
        let (status, answer) = call(pool.clone(), "PUT", "/v1/output-batches/0x12/leaves").await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_hash")));
        let (status, answer) = call(pool.clone(), "GET", &format!("/v1/output-batches/{root}/leaves")).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
        );
        assert_eq!(rows_written(&pool).await, [0; 4]);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn leaf_count_must_match_the_event(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 4);
        anchor(&pool, CHAIN, tree.root(), h(1), 5, 10).await;
        let (status, answer) = upload_leaves(pool.clone(), tree.root(), &leaves).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "batch_mismatch");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("with 5 leaves, but the upload has 4"), "{message}");
        assert_eq!(rows_written(&pool).await, [0; 4]);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn leaf_versions_must_match_the_event(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 4);
        anchor(&pool, CHAIN, tree.root(), h(9), 4, 10).await;
        let (status, answer) = upload_leaves(pool.clone(), tree.root(), &leaves).await;
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
        let (status, answer) = upload_leaves(pool.clone(), root, &mixed).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("leaf 2 is for model version"));
        assert_eq!(rows_written(&pool).await, [0; 4]);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn one_consistent_anchoring_is_enough(pool: PgPool) {
        // The same root anchored elsewhere with a wrong count does not block the consistent one.
        let (leaves, tree) = output_batch(h(1), 3);
        anchor(&pool, 1, tree.root(), h(1), 9, 5).await;
        anchor(&pool, CHAIN, tree.root(), h(1), 3, 10).await;
        let (status, answer) = upload_leaves(pool.clone(), tree.root(), &leaves).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let chain: i64 = sqlx::query_scalar("SELECT chain_id FROM leaf_uploads").fetch_one(&pool).await.unwrap();
        assert_eq!(chain, CHAIN);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn leaves_route_has_its_own_body_limit(pool: PgPool) {
        // A realistic batch is well above the global limit, and is stored in one statement.
        let (leaves, tree) = output_batch(h(1), 4096);
        anchor(&pool, CHAIN, tree.root(), h(1), 4096, 10).await;
        let upload = body(&leaves);
        assert!(upload.len() > MAX_BODY_BYTES);
        let (status, answer) = put_with(&pool, ApiConfig::default(), tree.root(), upload).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(stored(&pool).await, leaves);

        let (_, other) = output_batch(h(1), 2);
        anchor(&pool, CHAIN, other.root(), h(1), 2, 11).await;
        let huge = vec![b' '; MAX_OUTPUT_BATCH_BODY_BYTES + 1];
        let (status, answer) = put_with(&pool, ApiConfig::default(), other.root(), huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer["error"]["code"], "payload_too_large");
    }

    /// A body declared larger than the route's limit is refused at once, before the signature is even looked at.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_declared_oversize_body_is_413_first(pool: PgPool) {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;
        let request = Request::builder()
            .method("PUT")
            .uri(format!("/v1/output-batches/{}/leaves", h(1)))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, MAX_OUTPUT_BATCH_BODY_BYTES + 1)
            .body(Body::empty())
            .unwrap();
        let response = crate::app(AppState::new(pool)).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
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
                "window_start_at": "2023-11-14T22:13:20Z",
                "window_end_at": "2023-11-14T22:13:23Z",
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

        let (status, _) = upload_leaves(pool.clone(), root, &leaves).await;
        assert_eq!(status, StatusCode::CREATED);
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

    /// With a read replica, every query of an upload runs on the primary. The stand-in replica's connections are
    /// read-only, as a standby's are: the same upload sent through them alone fails.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn an_upload_with_a_read_replica_runs_on_the_primary(pool: PgPool) {
        use tower::ServiceExt;
        let (leaves, tree) = output_batch(h(1), 5);
        anchor(&pool, CHAIN, tree.root(), h(1), 5, 10).await;
        let options = (*pool.connect_options()).clone().options([("default_transaction_read_only", "on")]);
        let read_only = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect_lazy_with(options);
        let put = |state: crate::AppState| {
            let request = axum::http::Request::builder()
                .method("PUT")
                .uri(format!("/v1/output-batches/{}/leaves", tree.root()))
                .header(header::CONTENT_TYPE, "application/json")
                .header(UPLOAD_SIGNATURE_HEADER, upload_signature(&attestor_key(), CHAIN, tree.root()))
                .body(axum::body::Body::from(body(&leaves)))
                .unwrap();
            async move { crate::app(state).oneshot(request).await.unwrap().status() }
        };
        assert_eq!(put(crate::AppState::new(read_only.clone())).await, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(rows_written(&pool).await, [0; 4]);
        assert_eq!(put(crate::AppState::new(pool.clone()).with_read_replica(read_only)).await, StatusCode::CREATED);
        assert_eq!(rows_written(&pool).await, [5, 1, 1, 1]);
    }
}
