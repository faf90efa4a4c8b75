//! `GET /v1/outputs/{hash}` and `POST /v1/outputs/verify`: attested model outputs.
//!
//! The lookup finds uploaded leaves of anchored batches by response (or request) hash and answers each with its
//! Merkle proof and a complete receipt that `prova verify output` checks against the chain. Proofs are read from
//! the tree stored with the upload (a few 32-byte nodes per leaf), never rebuilt per request: a batch of 200,000
//! leaves costs a lookup what a batch of ten does. The verify route checks
//! a receipt offline (as core's [`Receipt::check_offline`] does) and against the indexed chain data.
//!
//! Both give the same verdict as `prova verify output` and the registry's `verifyOutput`, checked in the same order:
//! a leaf is not valid when its batch is anchored for another version or revoked, when its timestamp lies outside
//! the batch's window, when the anchoring key was flagged compromised at or before the anchoring block's time, or
//! when the batch publisher's claim of the version is revoked.
//!
//! What a valid leaf proves about time: the response existed **no later than** the anchoring block's time
//! (`produced_no_later_than`). The leaf's own timestamp (`claimed_at`) is the attestor's claim, bounded by the
//! batch window, not a fact the chain witnessed.

use prova_db::{DbAddress, DbHash};
use std::collections::HashMap;

use alloy::primitives::{Address, B256};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use prova_core::merkle::verify_proof;
use prova_core::outputs::{OutputLeaf, RECEIPT_FORMAT, Receipt, ReceiptProblem};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Result};
use crate::extract::optional_address;
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_hash};
use crate::routes::docs::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use crate::routes::output_batches::{COMPROMISED, FlatTree, OutputBatch, insert_tree, load_batch, proof_nodes};
use crate::routes::page::{self, Page, Scope, decode_cursor, encode_cursor, registry_condition};
use crate::views::{ChainPointer, PointerRow, hash};

/// Items per page unless `?limit=` says otherwise.
pub const DEFAULT_LIMIT: u32 = 20;
/// Most items per page.
pub const MAX_LIMIT: u32 = 100;

/// The output routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify)).routes(routes!(lookup))
}

/// Which leaf hash the looked-up hash is compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// The response hash (the default).
    #[default]
    Response,
    /// The request hash.
    Request,
    /// Either.
    Any,
}

impl By {
    /// The SQL condition on `output_leaves l` with the hash as `$1`.
    fn condition(self) -> &'static str {
        match self {
            Self::Response => "l.response_hash = $1",
            Self::Request => "l.request_hash = $1",
            Self::Any => "(l.response_hash = $1 OR l.request_hash = $1)",
        }
    }
}

/// Query of the lookup.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// `response` (default), `request` or `any`.
    #[serde(default)]
    #[param(inline)]
    pub by: By,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only batches anchored on this chain.
    #[serde(default, deserialize_with = "crate::extract::at_most_i64")]
    #[param(example = 31337, maximum = 9223372036854775807_i64)]
    pub chain_id: Option<u64>,
    /// Only batches anchored in this ProvenanceRegistry contract. Without it, a chain with a configured canonical
    /// registry answers only that registry's anchorings, and any other chain every indexed registry's.
    /// Empty is the same as absent.
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0x5FbDB2315678afecb367f032d93F642f64180aa3")]
    pub registry: Option<String>,
    /// Only anchorings with at least this many confirmations.
    #[serde(default, deserialize_with = "crate::extract::at_most_i64")]
    #[param(maximum = 9223372036854775807_i64)]
    pub min_confirmations: Option<u64>,
}

/// One page of attested outputs, ordered by batch root and leaf index.
pub type OutputPage = page::Page<AttestedOutput>;

/// An attested output: a leaf of an anchored batch, with its proof and a ready-made receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttestedOutput {
    /// The leaf values, salt included.
    #[schema(value_type = crate::routes::docs::OutputLeafSchema)]
    pub leaf: OutputLeaf,
    /// Position of the leaf in the uploaded batch.
    pub leaf_index: u32,
    /// The batch root.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub root: B256,
    /// StandardMerkleTree proof from the leaf to the root.
    #[schema(value_type = Vec<crate::routes::docs::Hash>)]
    pub proof: Vec<B256>,
    /// True if the leaf verifies against the indexed chain data, as `POST /v1/outputs/verify` would answer for its
    /// receipt: anchored for its version, batch not revoked, timestamp inside the batch window, anchoring key not
    /// compromised, the batch publisher's claim of the version not revoked.
    pub valid: bool,
    /// Why the leaf is not valid, in words; null if valid.
    pub reason: Option<String>,
    /// True if the anchoring key was flagged compromised at or before the anchoring block's time: the leaf is not
    /// valid.
    pub signed_by_compromised_key: bool,
    /// When valid: the response existed no later than this (the anchoring block's time). Null when not valid.
    pub produced_no_later_than: Option<DateTime<Utc>>,
    /// The leaf's timestamp as a date: the attestor's claim of when the output was produced, not a chain fact.
    pub claimed_at: Option<DateTime<Utc>>,
    /// The model version that produced the output.
    pub model_version: OutputModelVersion,
    /// The batch.
    pub batch: OutputBatchSummary,
    /// A receipt that `prova verify output` checks against the chain.
    #[schema(value_type = crate::routes::docs::ReceiptSchema)]
    pub receipt: Receipt,
    /// Where the `OutputsAttested` event is.
    pub chain: ChainPointer,
}

/// The model version of an attested output.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutputModelVersion {
    /// The version hash.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// The batch's publisher (the publisher of the key that anchored it), whose claim of the version the batch
    /// belongs to.
    #[schema(value_type = crate::routes::docs::Address)]
    pub publisher: Address,
    /// The publisher's registered name, or null.
    pub publisher_name: Option<String>,
    /// True if that publisher revoked its claim of the version (in the batch's registry). Other publishers' claims
    /// of the same hash do not count.
    pub revoked: bool,
}

/// The batch of an attested output.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutputBatchSummary {
    /// The root.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub root: B256,
    /// Number of leaves.
    pub leaf_count: u64,
    /// Earliest leaf timestamp (unix seconds), as anchored.
    pub window_start: u64,
    /// Latest leaf timestamp (unix seconds), as anchored.
    pub window_end: u64,
    /// `window_start` as a date (null past the year 9999).
    pub window_start_at: Option<DateTime<Utc>>,
    /// `window_end` as a date (null past the year 9999).
    pub window_end_at: Option<DateTime<Utc>>,
    /// True if the publisher revoked the batch.
    pub revoked: bool,
    /// True if the anchoring key was flagged compromised at or before the anchoring block's time.
    pub signed_by_compromised_key: bool,
}

#[derive(FromRow)]
struct HitRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    root: DbHash,
    leaf_index: i32,
    tree_index: Option<i32>,
    version_hash: DbHash,
    request_hash: DbHash,
    response_hash: DbHash,
    timestamp: i64,
    salt: Vec<u8>,
    anchored_version: DbHash,
    publisher: DbAddress,
    attestor: DbAddress,
    leaf_count: i64,
    window_start: i64,
    window_end: i64,
    publisher_name: Option<String>,
    version_revoked: bool,
    batch_revoked: bool,
    compromised: bool,
}

#[derive(FromRow)]
struct LeafRow {
    root: DbHash,
    version_hash: DbHash,
    request_hash: DbHash,
    response_hash: DbHash,
    timestamp: i64,
    salt: Vec<u8>,
}

/// What the indexed chain data says about an anchored batch, for the checks after the offline ones.
#[derive(Debug, Clone, Copy)]
struct Anchored {
    root: B256,
    version_hash: B256,
    attestor: Address,
    window_start: u64,
    window_end: u64,
    batch_revoked: bool,
    compromised: bool,
    claim_revoked: bool,
}

impl Anchored {
    fn of(batch: &OutputBatch, claim_revoked: bool) -> Self {
        Self {
            root: batch.root,
            version_hash: batch.version_hash,
            attestor: batch.attestor,
            window_start: batch.window_start,
            window_end: batch.window_end,
            batch_revoked: batch.revocation.is_some(),
            compromised: batch.signed_by_compromised_key,
            claim_revoked,
        }
    }

    fn inside_window(&self, leaf: &OutputLeaf) -> bool {
        (self.window_start..=self.window_end).contains(&leaf.timestamp)
    }

    /// The first problem of `leaf` in this batch, in the order `prova verify output` checks them: version, batch
    /// revocation, window, compromised key, revocation of the batch publisher's claim.
    fn problem(&self, leaf: &OutputLeaf) -> Option<ReceiptProblem> {
        if self.version_hash != leaf.version_hash {
            Some(ReceiptProblem::WrongVersion {
                root: self.root,
                anchored: self.version_hash,
                claimed: leaf.version_hash,
            })
        } else if self.batch_revoked {
            Some(ReceiptProblem::BatchRevoked(self.root))
        } else if !self.inside_window(leaf) {
            Some(ReceiptProblem::OutsideWindow {
                timestamp: leaf.timestamp,
                start: self.window_start,
                end: self.window_end,
            })
        } else if self.compromised {
            Some(ReceiptProblem::CompromisedKey(self.attestor))
        } else if self.claim_revoked {
            Some(ReceiptProblem::VersionRevoked(self.version_hash))
        } else {
            None
        }
    }
}

/// Whether `publisher` revoked its claim of `version_hash` in the registry at `chain`.
const CLAIM_REVOKED: &str = "EXISTS (SELECT 1 FROM model_version_revoked v
    WHERE v.version_hash = a.version_hash AND v.publisher = a.publisher AND v.chain_id = a.chain_id
      AND v.contract = a.contract)";

fn leaf(
    version_hash: B256,
    request_hash: B256,
    response_hash: B256,
    timestamp: i64,
    salt: &[u8],
) -> Result<OutputLeaf> {
    Ok(OutputLeaf { version_hash, request_hash, response_hash, timestamp: timestamp as u64, salt: hash(salt)? })
}

/// Encodes a page position, `(root, leaf_index)` of the last item, as an opaque string.
fn encode_position(root: B256, leaf_index: i32) -> String {
    let mut bytes = root.to_vec();
    bytes.extend_from_slice(&leaf_index.to_be_bytes());
    encode_cursor(&bytes)
}

/// Decodes [`encode_position`]'s string.
fn decode_position(text: &str) -> Result<(B256, i32)> {
    let bytes = decode_cursor(text, 36)?;
    let index = i32::from_be_bytes(bytes[32..].try_into().expect("4 bytes"));
    Ok((B256::from_slice(&bytes[..32]), index))
}

/// The stored leaves of each of `roots`, in leaf-index order, in one query.
async fn load_leaves(pool: &PgPool, roots: &[B256]) -> Result<HashMap<B256, Vec<OutputLeaf>>> {
    if roots.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<LeafRow> = sqlx::query_as(
        "SELECT root, version_hash, request_hash, response_hash, timestamp, salt FROM output_leaves
         WHERE root = ANY($1) ORDER BY root, leaf_index",
    )
    .bind(roots.iter().map(|r| r.to_vec()).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<B256, Vec<OutputLeaf>> = HashMap::new();
    for row in rows {
        let leaf = leaf(row.version_hash.0, row.request_hash.0, row.response_hash.0, row.timestamp, &row.salt)?;
        out.entry(row.root.0).or_default().push(leaf);
    }
    Ok(out)
}

/// Builds and stores the trees of `roots`, batches whose leaves were stored before trees were (migration 0010), and
/// sets the node of each of their leaves; returns each tree. Done once per batch: the next lookup reads the stored
/// tree.
async fn store_missing_trees(pool: &PgPool, roots: &[B256]) -> Result<HashMap<B256, FlatTree>> {
    let batches = load_leaves(pool, roots).await?;
    let trees = tokio::task::spawn_blocking(move || {
        batches
            .into_iter()
            .map(|(root, leaves)| {
                let tree = FlatTree::build(&leaves.iter().map(OutputLeaf::hash).collect::<Vec<_>>())
                    .filter(|tree| tree.root() == root)
                    .ok_or_else(|| ApiError::Internal(format!("stored leaves of batch {root} do not give its root")))?;
                Ok((root, tree))
            })
            .collect::<Result<HashMap<B256, FlatTree>>>()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("tree computation panicked: {e}")))??;
    for (root, tree) in &trees {
        let mut tx = pool.begin().await?;
        insert_tree(&mut tx, *root, tree).await?;
        sqlx::query(
            "UPDATE output_leaves l SET tree_index = t.node
             FROM unnest($2::INT[]) WITH ORDINALITY AS t(node, i)
             WHERE l.root = $1 AND l.leaf_index = t.i - 1",
        )
        .bind(root.to_vec())
        .bind(tree.leaf_node_column())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(%root, leaves = tree.leaf_nodes.len(), "stored the tree of a batch uploaded before trees were");
    }
    Ok(trees)
}

/// The proof of each hit, `(root, leaf index, node)`, read from the stored trees: one query for every node of every
/// proof, each node a 32-byte slice of its tree. Leaves whose node is not stored yet get their batch's tree built
/// and stored first ([`store_missing_trees`]), on the `primary` (a write on a read path; the nodes are then read
/// from the primary too, since the read `pool`, a replica's, may not have replayed them yet). Each proof is checked
/// against its root before it is answered.
async fn stored_proofs(
    pool: &PgPool,
    primary: &PgPool,
    hits: &[(B256, OutputLeaf)],
    rows: &[HitRow],
) -> Result<Vec<Vec<B256>>> {
    let mut missing: Vec<B256> = rows.iter().filter(|row| row.tree_index.is_none()).map(|row| row.root.0).collect();
    missing.dedup();
    let built = if missing.is_empty() { HashMap::new() } else { store_missing_trees(primary, &missing).await? };
    let nodes_pool = if built.is_empty() { pool } else { primary };
    let leaf_nodes = rows
        .iter()
        .map(|row| match row.tree_index {
            Some(node) => Ok(node as usize),
            None => built
                .get(&row.root.0)
                .and_then(|tree| tree.leaf_nodes.get(row.leaf_index as usize).copied())
                .ok_or_else(|| {
                    ApiError::Internal(format!("leaf {} of batch {} has no node", row.leaf_index, row.root.0))
                }),
        })
        .collect::<Result<Vec<usize>>>()?;

    // Each wanted node once, in a numbering the query answers by.
    let mut wanted: HashMap<(B256, usize), usize> = HashMap::new();
    let paths: Vec<Vec<usize>> = hits
        .iter()
        .zip(&leaf_nodes)
        .map(|((root, _), &node)| {
            proof_nodes(node)
                .into_iter()
                .map(|sibling| {
                    let next = wanted.len();
                    *wanted.entry((*root, sibling)).or_insert(next)
                })
                .collect()
        })
        .collect();
    let mut keys: Vec<(B256, usize)> = vec![(B256::ZERO, 0); wanted.len()];
    for (key, i) in wanted {
        keys[i] = key;
    }
    let mut nodes: Vec<Option<B256>> = vec![None; keys.len()];
    if !keys.is_empty() {
        let found: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT k.i, substring(t.nodes FROM k.node * 32 + 1 FOR 32)
             FROM unnest($1::BYTEA[], $2::INT[]) WITH ORDINALITY AS k(root, node, i)
             JOIN output_trees t ON t.root = k.root",
        )
        .bind(keys.iter().map(|(root, _)| root.to_vec()).collect::<Vec<_>>())
        .bind(keys.iter().map(|&(_, node)| node as i32).collect::<Vec<i32>>())
        .fetch_all(nodes_pool)
        .await?;
        for (i, bytes) in found {
            let slot = usize::try_from(i - 1).ok().and_then(|i| nodes.get_mut(i));
            if let (Some(slot), Ok(node)) = (slot, B256::try_from(bytes.as_slice())) {
                *slot = Some(node);
            }
        }
    }
    hits.iter()
        .zip(paths)
        .map(|((root, leaf), path)| {
            let proof = path
                .into_iter()
                .map(|i| nodes[i])
                .collect::<Option<Vec<B256>>>()
                .filter(|proof| verify_proof(*root, leaf.hash(), proof))
                .ok_or_else(|| ApiError::Internal(format!("the stored tree of batch {root} does not prove a leaf")))?;
            Ok(proof)
        })
        .collect()
}

/// Attested outputs by response (or request) hash: each uploaded leaf with its Merkle proof, its batch and model
/// version, and a receipt that `prova verify output` checks against the chain. Ordered by batch root and leaf index.
#[utoipa::path(
    get,
    path = "/v1/outputs/{hash}",
    tag = "outputs",
    params(("hash" = String, Path, description = "The response (or request) hash to look up, any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0x262ee7861dd0ce2c96b43630ba66f278ebcae99f38ca430dc21bb0a37d5c1faa"), LookupQuery),
    responses(
        (status = 200, description = "One page of attested outputs (empty if none).", body = Page<AttestedOutput>),
        BadRequest,
    ),
)]
async fn lookup(
    State(state): State<AppState>,
    ApiPath(hash_text): ApiPath<String>,
    ApiQuery(query): ApiQuery<LookupQuery>,
) -> Result<Json<OutputPage>> {
    let wanted = parse_hash("hash", &hash_text)?;
    let limit = page::limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = page::cursor(&query.cursor).map(decode_position).transpose()?;
    let registry = optional_address("registry", query.registry.as_deref())?;
    let scope = Scope::new(&state.config, query.chain_id, registry, query.min_confirmations);

    // Per leaf, the earliest anchoring of its root for its version (within the chain and registry filters); leaves
    // of roots that are not (or no longer) anchored are left out. One more row than the page tells whether there
    // is a next page.
    let sql = format!(
        "SELECT a.chain_id, a.contract, a.block_number, a.block_hash, a.block_time, a.tx_hash, a.log_index,
                c.head_block, c.finalized_block, l.root, l.leaf_index, l.tree_index, l.version_hash, l.request_hash, l.response_hash,
                l.timestamp, l.salt, a.version_hash AS anchored_version, a.publisher, a.attestor, a.leaf_count,
                a.window_start, a.window_end,
                (SELECT p.name FROM publisher_names p
                  WHERE p.publisher = a.publisher AND p.chain_id = a.chain_id AND p.contract = a.contract)
                  AS publisher_name,
                {CLAIM_REVOKED} AS version_revoked,
                EXISTS (SELECT 1 FROM output_batch_revoked b
                  WHERE b.root = a.root AND b.chain_id = a.chain_id AND b.contract = a.contract) AS batch_revoked,
                {COMPROMISED} AS compromised
         FROM output_leaves l
         JOIN LATERAL (
             SELECT * FROM outputs_attested e
             WHERE e.root = l.root AND e.version_hash = l.version_hash AND ($2::BIGINT IS NULL OR e.chain_id = $2)
               AND ($6::BIGINT IS NULL OR (SELECT COALESCE(cc.head_block, e.block_number) FROM indexer_cursors cc
                     WHERE cc.chain_id = e.chain_id AND cc.contract = e.contract) - e.block_number + 1 >= $6)
               AND {registry}
             ORDER BY e.block_time, e.chain_id, e.block_number, e.log_index
             LIMIT 1
         ) a ON TRUE
         LEFT JOIN indexer_cursors c ON c.chain_id = a.chain_id AND c.contract = a.contract
         WHERE {condition} AND ($3::BYTEA IS NULL OR (l.root, l.leaf_index) > ($3, $4))
         ORDER BY l.root, l.leaf_index
         LIMIT $5",
        condition = query.by.condition(),
        registry = registry_condition("e", 7, 8, 9),
    );
    let mut rows: Vec<HitRow> = sqlx::query_as(&sql)
        .bind(wanted.to_vec())
        .bind(scope.chain_id)
        .bind(after.map(|(root, _)| root.to_vec()))
        .bind(after.map_or(0, |(_, index)| index))
        .bind(i64::from(limit) + 1)
        .bind(scope.min_confirmations)
        .bind(scope.contract_bytes())
        .bind(scope.canonical_chains())
        .bind(scope.canonical_contracts())
        .fetch_all(&state.pool)
        .await?;
    let more = page::trim(&mut rows, limit);

    let hits = rows
        .iter()
        .map(|row| {
            let leaf = leaf(row.version_hash.0, row.request_hash.0, row.response_hash.0, row.timestamp, &row.salt)?;
            Ok((row.root.0, leaf))
        })
        .collect::<Result<Vec<(B256, OutputLeaf)>>>()?;
    let proofs = stored_proofs(&state.pool, &state.primary, &hits, &rows).await?;

    let next_cursor = match (more, hits.last(), rows.last()) {
        (true, Some((root, _)), Some(row)) => Some(encode_position(*root, row.leaf_index)),
        _ => None,
    };
    let items = rows
        .into_iter()
        .zip(hits)
        .zip(proofs)
        .map(|((row, (root, leaf)), proof)| {
            let chain = row.pointer.view()?;
            let anchored = Anchored {
                root,
                version_hash: row.anchored_version.0,
                attestor: row.attestor.0,
                window_start: row.window_start as u64,
                window_end: row.window_end as u64,
                batch_revoked: row.batch_revoked,
                compromised: row.compromised,
                claim_revoked: row.version_revoked,
            };
            let reason = anchored.problem(&leaf).map(|problem| problem.to_string());
            let receipt = Receipt {
                format: RECEIPT_FORMAT.to_owned(),
                chain_id: chain.chain_id,
                registry: chain.contract,
                root,
                leaf,
                proof: proof.clone(),
                tx_hash: chain.tx_hash,
                block_number: chain.block_number,
            };
            Ok(AttestedOutput {
                leaf,
                leaf_index: row.leaf_index as u32,
                root,
                proof,
                valid: reason.is_none(),
                signed_by_compromised_key: row.compromised,
                produced_no_later_than: reason.is_none().then_some(chain.block_time),
                claimed_at: prova_views::unix_date(leaf.timestamp),
                reason,
                model_version: OutputModelVersion {
                    version_hash: leaf.version_hash,
                    publisher: row.publisher.0,
                    publisher_name: row.publisher_name,
                    revoked: row.version_revoked,
                },
                batch: OutputBatchSummary {
                    root,
                    leaf_count: row.leaf_count as u64,
                    window_start: row.window_start as u64,
                    window_end: row.window_end as u64,
                    window_start_at: prova_views::unix_date(row.window_start as u64),
                    window_end_at: prova_views::unix_date(row.window_end as u64),
                    revoked: row.batch_revoked,
                    signed_by_compromised_key: row.compromised,
                },
                receipt,
                chain,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Json(OutputPage { items, next_cursor }))
}

/// A receipt to verify, with optionally the request and response it is claimed for.
///
/// The request and response are given as UTF-8 text (`request`, `response`) or as hex bytes (`request_hex`,
/// `response_hex`), not both.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyRequest {
    /// The receipt.
    #[schema(value_type = crate::routes::docs::ReceiptSchema)]
    pub receipt: Receipt,
    /// The exact request, as text.
    pub request: Option<String>,
    /// The exact response, as text.
    pub response: Option<String>,
    /// The exact request bytes, as hex (an optional `0x`, then two digits a byte).
    #[schema(pattern = "^(0x)?([0-9a-fA-F]{2})*$")]
    pub request_hex: Option<String>,
    /// The exact response bytes, as hex (an optional `0x`, then two digits a byte).
    #[schema(pattern = "^(0x)?([0-9a-fA-F]{2})*$")]
    pub response_hex: Option<String>,
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// The check could not be made (nothing to check, or an earlier check it depends on failed).
    Skipped,
}

impl Check {
    fn of(passed: bool) -> Self {
        if passed { Self::Pass } else { Self::Fail }
    }
}

/// Every check of a receipt. `batch_revoked`, `compromised_key` and `version_revoked` pass when the batch is NOT
/// revoked, the key NOT compromised, the claim NOT revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    /// The receipt has the prova receipt format.
    pub format: Check,
    /// The given request hashes to the leaf's request hash (skipped if no request was given).
    pub request: Check,
    /// The given response hashes to the leaf's response hash (skipped if no response was given).
    pub response: Check,
    /// The proof links the leaf, salt included, to the root.
    pub proof: Check,
    /// The root is anchored in the receipt's registry on the receipt's chain, as indexed.
    pub anchored: Check,
    /// The batch was anchored for the leaf's model version.
    pub version: Check,
    /// The publisher has not revoked the batch.
    pub batch_revoked: Check,
    /// The leaf's timestamp lies inside the batch's window (`window_start` to `window_end`, which the contract
    /// refuses to end after the anchoring block's time).
    pub window: Check,
    /// The anchoring key was not flagged compromised at or before the anchoring block's time.
    pub compromised_key: Check,
    /// The batch's publisher has not revoked its claim of the model version.
    pub version_revoked: Check,
}

/// The verdict on a receipt, and what it proves.
///
/// A valid receipt proves that the model version's batch, anchored by its publisher's sound key, commits to this
/// request and response, and that the response existed **no later than** `produced_no_later_than`. It does not
/// prove when the output was produced: `claimed_at` is the attestor's word.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verdict {
    /// True if every check passed (skipped request or response checks aside).
    pub valid: bool,
    /// The first failed check, in words; null if valid.
    pub reason: Option<String>,
    /// Each check.
    pub checks: Checks,
    /// True if the anchoring key was flagged compromised at or before the anchoring block's time (then the receipt
    /// is not valid); null when the batch is not indexed in the receipt's registry.
    pub signed_by_compromised_key: Option<bool>,
    /// When valid: the anchoring block's time, the latest the response can have been produced. Null when not valid.
    pub produced_no_later_than: Option<DateTime<Utc>>,
    /// The leaf's timestamp as a date: when the attestor claims the output was produced. A claim, not a chain fact
    /// (only bounded by the batch window, checked in `checks.window`).
    pub claimed_at: Option<DateTime<Utc>>,
    /// The canonical registry configured for the receipt's chain, or null when none is. The receipt names its own
    /// registry (as `?registry=` does elsewhere), so it is checked there; compare it with this one.
    #[schema(value_type = Option<crate::routes::docs::Address>)]
    pub canonical_registry: Option<Address>,
    /// The anchored batch in the receipt's registry, or null if not indexed there.
    pub batch: Option<OutputBatch>,
    /// Where the batch's `OutputsAttested` event is (as in `batch`), or null.
    pub chain: Option<ChainPointer>,
}

/// The bytes of a text or hex field; at most one of the two may be given.
fn bytes_of(name: &str, text: Option<String>, hex: Option<String>) -> Result<Option<Vec<u8>>> {
    match (text, hex) {
        (Some(_), Some(_)) => {
            Err(ApiError::bad_request("invalid_body", format!("give {name} or {name}_hex, not both")))
        }
        (Some(text), None) => Ok(Some(text.into_bytes())),
        (None, Some(hex)) => alloy::hex::decode(&hex)
            .map(Some)
            .map_err(|e| ApiError::bad_request("invalid_body", format!("{name}_hex is not hex: {e}"))),
        (None, None) => Ok(None),
    }
}

/// Checks a receipt offline (format, request and response hashes, proof) and against the indexed chain data
/// (anchored in its registry, for its version, not revoked, timestamp inside the batch window, anchoring key not
/// compromised, the batch publisher's claim of the version not revoked), in the order `prova verify output` uses.
#[utoipa::path(
    post,
    path = "/v1/outputs/verify",
    tag = "outputs",
    request_body(content = VerifyRequest, description = "A receipt, optionally with the request and response it is claimed for.", content_type = "application/json"),
    responses(
        (status = 200, description = "The verdict, with each check.", body = Verdict),
        BadRequest,
        PayloadTooLarge,
        UnsupportedMediaType,
    ),
)]
async fn verify(State(state): State<AppState>, ApiJson(body): ApiJson<VerifyRequest>) -> Result<Json<Verdict>> {
    // Integers past i64 are refused, as the document says (`int64`), rather than answered as a verdict.
    let receipt = &body.receipt;
    for (name, value) in [
        ("receipt.chain_id", receipt.chain_id),
        ("receipt.block_number", receipt.block_number),
        ("receipt.leaf.timestamp", receipt.leaf.timestamp),
    ] {
        if value > i64::MAX as u64 {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("{name} {value} is out of range (at most {})", i64::MAX),
            ));
        }
    }
    let request = bytes_of("request", body.request, body.request_hex)?;
    let response = bytes_of("response", body.response, body.response_hex)?;
    let receipt = body.receipt;
    let leaf = receipt.leaf;

    // Offline: the first problem in core's own order, and each check on its own.
    let offline = receipt.check_offline(request.as_deref(), response.as_deref()).err();
    let given = |bytes: &Option<Vec<u8>>, expected: B256| match bytes {
        Some(bytes) => Check::of(alloy::primitives::keccak256(bytes) == expected),
        None => Check::Skipped,
    };
    let mut checks = Checks {
        format: Check::of(receipt.format == RECEIPT_FORMAT),
        request: given(&request, leaf.request_hash),
        response: given(&response, leaf.response_hash),
        proof: Check::of(verify_proof(receipt.root, leaf.hash(), &receipt.proof)),
        anchored: Check::Skipped,
        version: Check::Skipped,
        batch_revoked: Check::Skipped,
        window: Check::Skipped,
        compromised_key: Check::Skipped,
        version_revoked: Check::Skipped,
    };

    // Indexed: the batch in the receipt's registry, its version, window, key and both revocations.
    let batch = match i64::try_from(receipt.chain_id) {
        Ok(chain_id) => {
            let scope = Scope {
                chain_id: Some(chain_id),
                contract: Some(receipt.registry),
                min_confirmations: None,
                canonical: Vec::new(),
            };
            load_batch(&state.pool, receipt.root, &scope).await?
        }
        Err(_) => None,
    };
    checks.anchored = Check::of(batch.is_some());
    let indexed = match &batch {
        None => Some(ReceiptProblem::NotAnchored(receipt.root)),
        Some(batch) => {
            let claim_revoked: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM model_version_revoked
                   WHERE version_hash = $1 AND publisher = $2 AND chain_id = $3 AND contract = $4)",
            )
            .bind(batch.version_hash.to_vec())
            .bind(batch.publisher.to_vec())
            .bind(batch.chain.chain_id as i64)
            .bind(batch.chain.contract.to_vec())
            .fetch_one(&state.pool)
            .await?;
            let anchored = Anchored::of(batch, claim_revoked);
            checks.version = Check::of(batch.version_hash == leaf.version_hash);
            checks.batch_revoked = Check::of(!anchored.batch_revoked);
            checks.window = Check::of(anchored.inside_window(&leaf));
            checks.compromised_key = Check::of(!anchored.compromised);
            checks.version_revoked = Check::of(!claim_revoked);
            anchored.problem(&leaf)
        }
    };

    let reason = offline.or(indexed).map(|problem| problem.to_string());
    let valid = reason.is_none();
    let chain = batch.as_ref().map(|b| b.chain.clone());
    Ok(Json(Verdict {
        valid,
        reason,
        checks,
        signed_by_compromised_key: batch.as_ref().map(|b| b.signed_by_compromised_key),
        produced_no_later_than: chain.as_ref().filter(|_| valid).map(|c| c.block_time),
        claimed_at: prova_views::unix_date(leaf.timestamp),
        canonical_registry: state.config.canonical_registries.get(&receipt.chain_id).copied(),
        batch,
        chain,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        ATTESTOR, CHAIN, PUBLISHER, REGISTRY, anchor, call, call_with, claim, compromise, h, name_publisher,
        output_batch, register, request, response, revoke, revoke_batch, revoke_claim, send, send_json, upload_leaves,
    };
    use alloy::primitives::keccak256;
    use axum::http::StatusCode;
    use prova_core::merkle::MerkleTree;
    use serde_json::{Value, json};

    /// Anchors a batch of `n` leaves of version `h(1)` at `block` and uploads its leaves.
    async fn anchored_batch(pool: &PgPool, n: usize, block: i64) -> (Vec<OutputLeaf>, MerkleTree) {
        let (leaves, tree) = output_batch(h(1), n);
        upload(pool, &leaves, block).await;
        (leaves, tree)
    }

    async fn upload(pool: &PgPool, leaves: &[OutputLeaf], block: i64) -> B256 {
        let tree = MerkleTree::from_leaf_hashes(leaves.iter().map(OutputLeaf::hash).collect()).unwrap();
        anchor(pool, CHAIN, tree.root(), leaves[0].version_hash, leaves.len() as i64, block).await;
        let (status, answer) = upload_leaves(pool.clone(), tree.root(), leaves).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        tree.root()
    }

    fn lookup_uri(hash: B256, query: &str) -> String {
        format!("/v1/outputs/{hash}{query}")
    }

    /// Checks an item as a client would: the proof links the leaf to the root, and the receipt verifies offline.
    fn assert_item_verifies(item: &Value, i: usize) {
        let leaf: OutputLeaf = serde_json::from_value(item["leaf"].clone()).unwrap();
        let root: B256 = serde_json::from_value(item["root"].clone()).unwrap();
        let proof: Vec<B256> = serde_json::from_value(item["proof"].clone()).unwrap();
        assert!(verify_proof(root, leaf.hash(), &proof), "{item}");
        let receipt: Receipt = serde_json::from_value(item["receipt"].clone()).unwrap();
        assert_eq!((receipt.root, receipt.leaf, &receipt.proof), (root, leaf, &proof));
        receipt.check_offline(Some(request(i).as_bytes()), Some(response(i).as_bytes())).unwrap();
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn lookup_by_response_gives_proof_and_receipt(pool: PgPool) {
        register(&pool, CHAIN, h(1), None, 3).await;
        name_publisher(&pool, CHAIN, "Example Lab").await;
        let (leaves, tree) = anchored_batch(&pool, 6, 10).await;
        let root = tree.root();

        let (status, page) = call(pool.clone(), "GET", &lookup_uri(keccak256(response(3)), "")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["next_cursor"], Value::Null);
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        let item = &items[0];
        assert_item_verifies(item, 3);
        assert_eq!(item["leaf"], serde_json::to_value(leaves[3]).unwrap());
        assert_eq!(item["leaf_index"], 3);
        assert_eq!(item["proof"], serde_json::to_value(tree.proof(leaves[3].hash()).unwrap()).unwrap());
        assert_eq!(
            item["model_version"],
            json!({
                "version_hash": h(1),
                "publisher": Address::from(PUBLISHER),
                "publisher_name": "Example Lab",
                "revoked": false,
            })
        );
        assert_eq!(
            item["batch"],
            json!({
                "root": root,
                "leaf_count": 6,
                "window_start": 1_700_000_000u64,
                "window_end": 1_700_000_006u64,
                "window_start_at": "2023-11-14T22:13:20Z",
                "window_end_at": "2023-11-14T22:13:26Z",
                "revoked": false,
                "signed_by_compromised_key": false,
            })
        );
        assert_eq!((item["valid"].as_bool(), item["reason"].clone()), (Some(true), Value::Null));
        assert_eq!(item["signed_by_compromised_key"], false);
        assert_eq!(item["claimed_at"], "2023-11-14T22:13:23Z");
        assert_eq!(item["produced_no_later_than"], "2023-11-14T22:15:20Z");
        assert_eq!(
            item["receipt"],
            json!({
                "format": RECEIPT_FORMAT,
                "chain_id": CHAIN,
                "registry": Address::from(REGISTRY),
                "root": root,
                "leaf": leaves[3],
                "proof": item["proof"],
                "tx_hash": root,
                "block_number": 10,
            })
        );
        assert_eq!(item["chain"]["tx_hash"], json!(root));
        assert_eq!(item["chain"]["log_index"], 2);
        assert_eq!(item["chain"]["confirmations"], 1);

        // Revocations of the batch and of the version show on the item.
        revoke_batch(&pool, CHAIN, root, 11).await;
        revoke(&pool, CHAIN, h(1), 12).await;
        let (_, page) = call(pool.clone(), "GET", &lookup_uri(keccak256(response(3)), "")).await;
        assert_eq!(page["items"][0]["batch"]["revoked"], true);
        assert_eq!(page["items"][0]["model_version"]["revoked"], true);
        assert_eq!(page["items"][0]["valid"], false);
        assert_eq!(page["items"][0]["reason"], ReceiptProblem::BatchRevoked(root).to_string());
        assert_eq!(page["items"][0]["produced_no_later_than"], Value::Null);
        // The batch revocation moved the head to block 11.
        assert_eq!(page["items"][0]["chain"]["confirmations"], 2);

        // Other chains hold nothing.
        let (_, page) = call(pool, "GET", &lookup_uri(keccak256(response(3)), "?chain_id=1")).await;
        assert_eq!(page["items"], json!([]));
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn lookup_by_request_or_either(pool: PgPool) {
        let (leaves, _) = anchored_batch(&pool, 4, 10).await;
        let by_request = keccak256(request(2));

        let (status, page) = call(pool.clone(), "GET", &lookup_uri(by_request, "?by=request")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["leaf"], serde_json::to_value(leaves[2]).unwrap());
        assert_item_verifies(&page["items"][0], 2);

        // A request hash is not a response hash.
        let (_, page) = call(pool.clone(), "GET", &lookup_uri(by_request, "")).await;
        assert_eq!(page["items"], json!([]));
        let (_, page) = call(pool.clone(), "GET", &lookup_uri(by_request, "?by=response")).await;
        assert_eq!(page["items"], json!([]));

        // `any` finds it by either hash.
        for hash in [by_request, keccak256(response(2))] {
            let (_, page) = call(pool.clone(), "GET", &lookup_uri(hash, "?by=any")).await;
            assert_eq!(page["items"].as_array().unwrap().len(), 1, "{hash}");
            assert_eq!(page["items"][0]["leaf_index"], 2);
        }
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn only_leaves_of_anchored_batches_are_found(pool: PgPool) {
        // Leaves stored for a root that is not (or no longer, after a reorg) indexed are not attested outputs.
        let (leaves, tree) = output_batch(h(1), 2);
        sqlx::query(
            "INSERT INTO output_leaves (root, leaf_index, version_hash, request_hash, response_hash, timestamp, salt)
             VALUES ($1, 0, $2, $3, $4, $5, $6)",
        )
        .bind(tree.root().to_vec())
        .bind(leaves[0].version_hash.to_vec())
        .bind(leaves[0].request_hash.to_vec())
        .bind(leaves[0].response_hash.to_vec())
        .bind(leaves[0].timestamp as i64)
        .bind(leaves[0].salt.to_vec())
        .execute(&pool)
        .await
        .unwrap();
        let (status, page) = call(pool, "GET", &lookup_uri(keccak256(response(0)), "")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page, json!({ "items": [], "next_cursor": null }));
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn pages_cover_every_match_once(pool: PgPool) {
        // The same response in 7 + 5 leaves of two batches.
        let same = |n: usize| -> Vec<OutputLeaf> {
            (0..n)
                .map(|i| OutputLeaf::new(h(1), request(i).as_bytes(), b"same answer", 1_700_000_000 + i as u64))
                .collect()
        };
        let first = upload(&pool, &same(7), 10).await;
        let second = upload(&pool, &same(5), 11).await;

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let query = match &cursor {
                Some(cursor) => format!("?limit=5&cursor={cursor}"),
                None => "?limit=5".to_owned(),
            };
            let (status, page) = call(pool.clone(), "GET", &lookup_uri(keccak256("same answer"), &query)).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            for item in page["items"].as_array().unwrap() {
                let leaf: OutputLeaf = serde_json::from_value(item["leaf"].clone()).unwrap();
                let root: B256 = serde_json::from_value(item["root"].clone()).unwrap();
                let proof: Vec<B256> = serde_json::from_value(item["proof"].clone()).unwrap();
                assert!(verify_proof(root, leaf.hash(), &proof));
                seen.push((root, item["leaf_index"].as_u64().unwrap()));
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let mut expected: Vec<(B256, u64)> = (0..7).map(|i| (first, i)).chain((0..5).map(|i| (second, i))).collect();
        expected.sort();
        assert_eq!(seen, expected, "in (root, leaf index) order, each once");

        // The default page holds all 12; a full last page has no next cursor.
        let (_, page) = call(pool.clone(), "GET", &lookup_uri(keccak256("same answer"), "")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 12);
        assert_eq!(page["next_cursor"], Value::Null);
        let (_, page) = call(pool, "GET", &lookup_uri(keccak256("same answer"), "?limit=12")).await;
        assert_eq!(page["next_cursor"], Value::Null);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn malformed_lookups_are_400(pool: PgPool) {
        let hash = keccak256("x");
        let cases = [
            ("/v1/outputs/0x1234".to_owned(), "invalid_hash"),
            (lookup_uri(hash, "?by=prompt"), "invalid_query"),
            (lookup_uri(hash, "?limit=0"), "invalid_query"),
            (lookup_uri(hash, "?limit=101"), "invalid_query"),
            (lookup_uri(hash, "?limit=ten"), "invalid_query"),
            (lookup_uri(hash, "?cursor=zz"), "invalid_cursor"),
            (lookup_uri(hash, "?cursor=0x1234"), "invalid_cursor"),
        ];
        for (uri, code) in cases {
            let (status, answer) = call(pool.clone(), "GET", &uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {answer}");
            assert_eq!(answer["error"]["code"], code, "{uri}");
        }
        // `verify` is not a hash: the verify route answers, and only to POST.
        let (status, answer) = call(pool, "GET", "/v1/outputs/verify").await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
        );
    }

    /// The receipt of leaf `i`, as the attestor would hand it out (anchored by [`anchor`] at `block`).
    fn receipt(leaves: &[OutputLeaf], tree: &MerkleTree, i: usize, block: u64) -> Receipt {
        Receipt {
            format: RECEIPT_FORMAT.into(),
            chain_id: CHAIN as u64,
            registry: Address::from(REGISTRY),
            root: tree.root(),
            leaf: leaves[i],
            proof: tree.proof(leaves[i].hash()).unwrap(),
            tx_hash: tree.root(),
            block_number: block,
        }
    }

    /// Posts `body` to `/v1/outputs/verify`; returns the answer.
    async fn verify(pool: &PgPool, body: Value) -> Value {
        let (status, verdict) = send_json(pool.clone(), "POST", "/v1/outputs/verify", &body).await;
        assert_eq!(status, StatusCode::OK, "{verdict}");
        verdict
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn receipt_from_the_lookup_verifies(pool: PgPool) {
        register(&pool, CHAIN, h(1), None, 3).await;
        let (_, tree) = anchored_batch(&pool, 5, 10).await;
        let (_, page) = call(pool.clone(), "GET", &lookup_uri(keccak256(response(1)), "")).await;
        let receipt = page["items"][0]["receipt"].clone();

        let verdict =
            verify(&pool, json!({ "receipt": receipt, "request": request(1), "response": response(1) })).await;
        assert_eq!(verdict["valid"], true, "{verdict}");
        assert_eq!(verdict["reason"], Value::Null);
        assert_eq!(
            verdict["checks"],
            json!({
                "format": "pass", "request": "pass", "response": "pass", "proof": "pass", "anchored": "pass",
                "version": "pass", "batch_revoked": "pass", "window": "pass", "compromised_key": "pass",
                "version_revoked": "pass",
            })
        );
        assert_eq!(verdict["signed_by_compromised_key"], false);
        // What is proven: no later than the anchoring block (block 10); the leaf's time is the attestor's claim.
        assert_eq!(verdict["produced_no_later_than"], "2023-11-14T22:15:20Z");
        assert_eq!(verdict["claimed_at"], "2023-11-14T22:13:21Z");
        assert_eq!(verdict["canonical_registry"], Value::Null);
        assert_eq!(verdict["chain"], page["items"][0]["chain"]);
        assert_eq!(verdict["batch"]["root"], json!(tree.root()));
        assert_eq!(verdict["batch"]["chain"], verdict["chain"]);

        // Bytes as hex, and no bytes at all (the receipt alone).
        let hex = |text: String| alloy::hex::encode_prefixed(text.as_bytes());
        let verdict = verify(
            &pool,
            json!({ "receipt": receipt, "request_hex": hex(request(1)), "response_hex": hex(response(1)) }),
        )
        .await;
        assert_eq!(verdict["valid"], true, "{verdict}");
        let verdict = verify(&pool, json!({ "receipt": receipt })).await;
        assert_eq!(verdict["valid"], true, "{verdict}");
        assert_eq!(
            (verdict["checks"]["request"].as_str(), verdict["checks"]["response"].as_str()),
            (Some("skipped"), Some("skipped"))
        );
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn tampering_is_invalid_with_a_reason(pool: PgPool) {
        let (leaves, tree) = anchored_batch(&pool, 5, 10).await;
        let good = receipt(&leaves, &tree, 2, 10);

        let verdict = verify(&pool, json!({ "receipt": good, "response": "answer 2 (edited)" })).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["checks"]["response"], "fail");
        assert_eq!(verdict["checks"]["proof"], "pass");
        assert_eq!(verdict["checks"]["anchored"], "pass");
        assert!(verdict["reason"].as_str().unwrap().contains("the response does not match the receipt"), "{verdict}");

        let mut proof = good.clone();
        proof.proof[0] = h(0xEE);
        let verdict = verify(&pool, json!({ "receipt": proof, "response": response(2) })).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["checks"]["response"], "pass");
        assert_eq!(verdict["checks"]["proof"], "fail");
        assert_eq!(verdict["reason"], ReceiptProblem::Proof(tree.root()).to_string());

        // A changed timestamp breaks the proof too (the leaf is salted and hashed whole).
        let mut time = good.clone();
        time.leaf.timestamp += 1;
        let verdict = verify(&pool, json!({ "receipt": time })).await;
        assert_eq!((verdict["valid"].as_bool(), verdict["checks"]["proof"].as_str()), (Some(false), Some("fail")));

        let mut format = good.clone();
        format.format = "something/else".into();
        let verdict = verify(&pool, json!({ "receipt": format })).await;
        assert_eq!((verdict["valid"].as_bool(), verdict["checks"]["format"].as_str()), (Some(false), Some("fail")));
        assert!(verdict["reason"].as_str().unwrap().contains("not a prova output receipt"));

        let verdict = verify(&pool, json!({ "receipt": good, "request": "question 3" })).await;
        assert_eq!((verdict["valid"].as_bool(), verdict["checks"]["request"].as_str()), (Some(false), Some("fail")));
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn unknown_root_is_not_anchored(pool: PgPool) {
        // A receipt that is fine offline, for a batch no indexed registry anchored.
        let (leaves, tree) = output_batch(h(1), 3);
        let good = receipt(&leaves, &tree, 0, 10);
        let verdict = verify(&pool, json!({ "receipt": good, "response": response(0) })).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["reason"], ReceiptProblem::NotAnchored(tree.root()).to_string());
        assert_eq!(verdict["checks"]["proof"], "pass");
        assert_eq!(verdict["checks"]["anchored"], "fail");
        assert_eq!(verdict["checks"]["version"], "skipped");
        assert_eq!(verdict["checks"]["batch_revoked"], "skipped");
        assert_eq!((verdict["batch"].clone(), verdict["chain"].clone()), (Value::Null, Value::Null));

        // Anchored, but in another registry or on another chain than the receipt says.
        anchor(&pool, CHAIN, tree.root(), h(1), 3, 10).await;
        for (chain_id, registry) in [(1u64, Address::from(REGISTRY)), (CHAIN as u64, Address::repeat_byte(0x99))] {
            let elsewhere = Receipt { chain_id, registry, ..good.clone() };
            let verdict = verify(&pool, json!({ "receipt": elsewhere })).await;
            assert_eq!(verdict["checks"]["anchored"], "fail", "{chain_id} {registry}");
        }
        let verdict = verify(&pool, json!({ "receipt": good })).await;
        assert_eq!(verdict["valid"], true, "{verdict}");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn revoked_batch_or_version_is_invalid(pool: PgPool) {
        register(&pool, CHAIN, h(1), None, 3).await;
        let (leaves, tree) = anchored_batch(&pool, 4, 10).await;
        let good = receipt(&leaves, &tree, 1, 10);

        revoke_batch(&pool, CHAIN, tree.root(), 12).await;
        let verdict = verify(&pool, json!({ "receipt": good, "response": response(1) })).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["checks"]["batch_revoked"], "fail");
        assert_eq!(verdict["checks"]["version_revoked"], "pass");
        assert_eq!(verdict["reason"], ReceiptProblem::BatchRevoked(tree.root()).to_string());
        assert_eq!(verdict["batch"]["revocation"]["reason"], "sampled from a test key");

        // A revoked version, with its batch intact.
        let (leaves, tree) = output_batch(h(2), 2);
        register(&pool, CHAIN, h(2), None, 4).await;
        upload(&pool, &leaves, 13).await;
        revoke(&pool, CHAIN, h(2), 14).await;
        let verdict = verify(&pool, json!({ "receipt": receipt(&leaves, &tree, 0, 13) })).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["checks"]["batch_revoked"], "pass");
        assert_eq!(verdict["checks"]["version_revoked"], "fail");
        assert_eq!(verdict["reason"], ReceiptProblem::VersionRevoked(h(2)).to_string());
    }

    /// A thief anchors a batch with a stolen attestor key; the publisher then flags the key compromised from before
    /// the anchoring. The batch, the lookup and the verdict all say `signed_by_compromised_key`, and nothing verifies;
    /// a batch anchored before the compromise time still does.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_batch_anchored_by_a_compromised_key_does_not_verify(pool: PgPool) {
        register(&pool, CHAIN, h(1), None, 3).await;
        let (early_leaves, early) = output_batch(h(1), 2);
        upload(&pool, &early_leaves, 5).await;
        let (leaves, tree) = anchored_batch(&pool, 3, 10).await;
        // Compromised from the time of block 8: after the early batch (block 5), before the thief's (block 10).
        compromise(&pool, CHAIN, 1_700_000_000 + 8 * 12, 20).await;

        let (_, batch) = call(pool.clone(), "GET", &format!("/v1/output-batches/{}", tree.root())).await;
        assert_eq!(batch["signed_by_compromised_key"], true, "{batch}");
        let (_, page) = call(pool.clone(), "GET", &lookup_uri(keccak256(response(1)), "")).await;
        let stolen = page["items"].as_array().unwrap().iter().find(|i| i["root"] == json!(tree.root())).unwrap();
        assert_eq!(
            (stolen["valid"].as_bool(), stolen["signed_by_compromised_key"].as_bool()),
            (Some(false), Some(true))
        );
        assert_eq!(stolen["batch"]["signed_by_compromised_key"], true);
        assert_eq!(stolen["reason"], ReceiptProblem::CompromisedKey(ATTESTOR.into()).to_string());

        let verdict =
            verify(&pool, json!({ "receipt": receipt(&leaves, &tree, 1, 10), "response": response(1) })).await;
        assert_eq!(verdict["valid"], false, "{verdict}");
        assert_eq!(verdict["signed_by_compromised_key"], true);
        assert_eq!(verdict["checks"]["compromised_key"], "fail");
        assert_eq!(verdict["checks"]["proof"], "pass");
        assert_eq!(verdict["reason"], ReceiptProblem::CompromisedKey(ATTESTOR.into()).to_string());
        assert_eq!(verdict["produced_no_later_than"], Value::Null);
        assert_eq!(verdict["batch"]["signed_by_compromised_key"], true);

        let verdict = verify(&pool, json!({ "receipt": receipt(&early_leaves, &early, 0, 5) })).await;
        assert_eq!(verdict["valid"], true, "{verdict}");
        assert_eq!(verdict["signed_by_compromised_key"], false);
        let (_, batch) = call(pool, "GET", &format!("/v1/output-batches/{}", early.root())).await;
        assert_eq!(batch["signed_by_compromised_key"], false);
    }

    /// A back-dated (or future-dated) leaf: its timestamp lies outside the window its batch was anchored with. It
    /// does not verify, and the lookup says why.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_leaf_outside_its_batch_window_does_not_verify(pool: PgPool) {
        register(&pool, CHAIN, h(1), None, 3).await;
        let (leaves, tree) = anchored_batch(&pool, 4, 10).await;
        // Leaves are stamped 1_700_000_000 + i; the window covers 2 and 3 only.
        sqlx::query("UPDATE outputs_attested SET window_start = 1700000002, window_end = 1700000003")
            .execute(&pool)
            .await
            .unwrap();
        let problem =
            ReceiptProblem::OutsideWindow { timestamp: 1_700_000_000, start: 1_700_000_002, end: 1_700_000_003 };
        let verdict = verify(&pool, json!({ "receipt": receipt(&leaves, &tree, 0, 10) })).await;
        assert_eq!(verdict["valid"], false, "{verdict}");
        assert_eq!(verdict["checks"]["window"], "fail");
        assert_eq!(verdict["reason"], problem.to_string());
        assert_eq!(verdict["claimed_at"], "2023-11-14T22:13:20Z");
        let (_, page) = call(pool.clone(), "GET", &lookup_uri(keccak256(response(0)), "")).await;
        assert_eq!(page["items"][0]["valid"], false);
        assert_eq!(page["items"][0]["reason"], problem.to_string());

        // A leaf time past the year 9999 (a forged receipt's) has no RFC 3339 date: `claimed_at` is null, not
        // "+13517-07-17T23:15:08Z", which no date-time parser takes.
        let mut far = serde_json::to_value(receipt(&leaves, &tree, 0, 10)).unwrap();
        far["leaf"]["timestamp"] = json!(364_405_216_508u64);
        let verdict = verify(&pool, json!({ "receipt": far })).await;
        assert_eq!((verdict["valid"].as_bool(), &verdict["claimed_at"]), (Some(false), &Value::Null), "{verdict}");

        let verdict = verify(&pool, json!({ "receipt": receipt(&leaves, &tree, 3, 10) })).await;
        assert_eq!((verdict["valid"].as_bool(), verdict["checks"]["window"].as_str()), (Some(true), Some("pass")));
        let (_, page) = call(pool, "GET", &lookup_uri(keccak256(response(3)), "")).await;
        assert_eq!(page["items"][0]["valid"], true);
    }

    /// Another publisher's claim of the same version, revoked, does not touch the batch publisher's claim; only the
    /// batch publisher's own revocation makes its outputs invalid.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn only_the_batch_publishers_revocation_counts(pool: PgPool) {
        let squatter = Address::repeat_byte(0x5a);
        claim(&pool, CHAIN, REGISTRY.into(), squatter, h(1), 2, 0).await;
        register(&pool, CHAIN, h(1), None, 3).await;
        let (leaves, tree) = anchored_batch(&pool, 3, 10).await;
        revoke_claim(&pool, CHAIN, REGISTRY.into(), squatter, h(1), 11).await;
        let good = receipt(&leaves, &tree, 2, 10);
        let verdict = verify(&pool, json!({ "receipt": good })).await;
        assert_eq!(verdict["valid"], true, "{verdict}");
        assert_eq!(verdict["checks"]["version_revoked"], "pass");
        let (_, page) = call(pool.clone(), "GET", &lookup_uri(keccak256(response(2)), "")).await;
        assert_eq!(
            (page["items"][0]["valid"].as_bool(), page["items"][0]["model_version"]["revoked"].as_bool()),
            (Some(true), Some(false))
        );

        revoke_claim(&pool, CHAIN, REGISTRY.into(), Address::from(PUBLISHER), h(1), 12).await;
        let verdict = verify(&pool, json!({ "receipt": good })).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["checks"]["version_revoked"], "fail");
        assert_eq!(verdict["reason"], ReceiptProblem::VersionRevoked(h(1)).to_string());
        let (_, page) = call(pool, "GET", &lookup_uri(keccak256(response(2)), "")).await;
        assert_eq!(page["items"][0]["model_version"]["revoked"], true);
        assert_eq!(page["items"][0]["valid"], false);
    }

    /// A batch anchored in a registry other than the chain's canonical one is left out of the lookup unless named;
    /// a receipt names its registry, and the verdict says which registry is canonical.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn lookups_follow_the_canonical_registry(pool: PgPool) {
        let (leaves, tree) = anchored_batch(&pool, 2, 10).await;
        let canonical = Address::repeat_byte(0x77);
        let config = crate::ApiConfig {
            canonical_registries: std::collections::BTreeMap::from([(CHAIN as u64, canonical)]),
            ..Default::default()
        };
        let uri = lookup_uri(keccak256(response(0)), "");
        let (_, page) = call_with(pool.clone(), config.clone(), &uri).await;
        assert_eq!(page["items"], json!([]), "{page}");
        let named = lookup_uri(keccak256(response(0)), &format!("?registry={}", Address::from(REGISTRY)));
        let (_, page) = call_with(pool.clone(), config.clone(), &named).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        let (status, _) = call_with(pool.clone(), config.clone(), &format!("/v1/output-batches/{}", tree.root())).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let body = json!({ "receipt": receipt(&leaves, &tree, 0, 10) });
        let (_, verdict) = crate::testing::send_json_with(pool, config, "POST", "/v1/outputs/verify", &body).await;
        assert_eq!(verdict["valid"], true, "{verdict}");
        assert_eq!(verdict["canonical_registry"], json!(canonical));
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn wrong_version_is_invalid(pool: PgPool) {
        // A consistent-looking receipt whose leaf claims another version than the anchored batch.
        let (leaves, tree) = output_batch(h(1), 2);
        anchor(&pool, CHAIN, tree.root(), h(5), 2, 10).await;
        let verdict = verify(&pool, json!({ "receipt": receipt(&leaves, &tree, 0, 10) })).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["checks"]["version"], "fail");
        let problem = ReceiptProblem::WrongVersion { root: tree.root(), anchored: h(5), claimed: h(1) };
        assert_eq!(verdict["reason"], problem.to_string());
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn malformed_verify_bodies_are_400(pool: PgPool) {
        let (leaves, tree) = output_batch(h(1), 2);
        let good = serde_json::to_value(receipt(&leaves, &tree, 0, 10)).unwrap();
        let mut no_root = good.clone();
        no_root.as_object_mut().unwrap().remove("root");
        let cases = [
            json!({}),
            json!({ "receipt": no_root }),
            json!({ "receipt": good, "request": "a", "request_hex": "0x61" }),
            json!({ "receipt": good, "response_hex": "0xzz" }),
            json!({ "receipt": good, "response": 5 }),
        ];
        for body in cases {
            let (status, answer) = send_json(pool.clone(), "POST", "/v1/outputs/verify", &body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            assert_eq!(answer["error"]["code"], "invalid_body", "{body}");
        }
        let (status, answer) = send(pool, "POST", "/v1/outputs/verify", None, good.to_string().into()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{answer}");
    }

    /// A lookup reads its proof from the tree stored with the upload: with every other leaf of the batch deleted,
    /// so that no tree could be rebuilt from them, the answer still carries the right proof. A stored tree that
    /// does not prove the leaf gives a 500, never a wrong proof.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_lookup_reads_the_stored_tree_instead_of_rebuilding_it(pool: PgPool) {
        register(&pool, CHAIN, h(1), None, 3).await;
        let (leaves, tree) = anchored_batch(&pool, 50, 10).await;
        sqlx::query("DELETE FROM output_leaves WHERE leaf_index <> 17").execute(&pool).await.unwrap();
        let (status, page) = call(pool.clone(), "GET", &lookup_uri(keccak256(response(17)), "")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["items"][0]["proof"], json!(tree.proof(leaves[17].hash()).unwrap()));
        assert_item_verifies(&page["items"][0], 17);

        sqlx::query("UPDATE output_trees SET nodes = overlay(nodes PLACING $1 FROM 33)")
            .bind(vec![0u8; 32 * 20])
            .execute(&pool)
            .await
            .unwrap();
        let (status, answer) = call(pool, "GET", &lookup_uri(keccak256(response(17)), "")).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("internal")));
    }

    /// Leaves stored before trees were (migration 0010 leaves their node unknown): the first lookup builds and
    /// stores their batch's tree, once; later lookups read it.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_batch_stored_before_trees_gets_its_tree_once(pool: PgPool) {
        let (leaves, tree) = anchored_batch(&pool, 9, 10).await;
        sqlx::query("UPDATE output_leaves SET tree_index = NULL").execute(&pool).await.unwrap();
        sqlx::query("DELETE FROM output_trees").execute(&pool).await.unwrap();

        let (status, page) = call(pool.clone(), "GET", &lookup_uri(keccak256(response(4)), "")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["items"][0]["proof"], json!(tree.proof(leaves[4].hash()).unwrap()));
        let (trees, unknown): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM output_trees), (SELECT count(*) FROM output_leaves WHERE tree_index IS NULL)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((trees, unknown), (1, 0));

        sqlx::query("DELETE FROM output_leaves WHERE leaf_index <> 6").execute(&pool).await.unwrap();
        let (_, page) = call(pool, "GET", &lookup_uri(keccak256(response(6)), "")).await;
        assert_eq!(page["items"][0]["proof"], json!(tree.proof(leaves[6].hash()).unwrap()));
        assert_item_verifies(&page["items"][0], 6);
    }

    /// With a read replica, the tree a lookup stores for a batch uploaded before trees were goes to the primary:
    /// the stand-in replica's connections are read-only, as a standby's are, and the lookup still answers.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_tree_built_on_a_read_path_is_stored_on_the_primary(pool: PgPool) {
        use tower::ServiceExt;
        let (leaves, tree) = anchored_batch(&pool, 9, 10).await;
        sqlx::query("UPDATE output_leaves SET tree_index = NULL").execute(&pool).await.unwrap();
        sqlx::query("DELETE FROM output_trees").execute(&pool).await.unwrap();
        let options = (*pool.connect_options()).clone().options([("default_transaction_read_only", "on")]);
        let read_only = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect_lazy_with(options);
        let state = crate::AppState::new(pool.clone()).with_read_replica(read_only);
        let request = axum::http::Request::builder()
            .uri(lookup_uri(keccak256(response(4)), ""))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = crate::app(state).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value =
            serde_json::from_slice(&axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
        assert_eq!(page["items"][0]["proof"], json!(tree.proof(leaves[4].hash()).unwrap()));
        let trees: i64 = sqlx::query_scalar("SELECT count(*) FROM output_trees").fetch_one(&pool).await.unwrap();
        assert_eq!(trees, 1);
    }

    /// Figures for `docs/leaf-uploads.md`: one lookup in a batch of 180,000 leaves (the most a 64 MiB upload
    /// holds), as the API did before (every leaf of the batch read, the tree rebuilt, the leaf searched) and as it
    /// does now (the stored tree's nodes read). Run with
    /// `cargo nextest run -p prova-api --run-ignored only --no-capture lookup_cost`.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    #[ignore = "a measurement: uploads a 180,000-leaf batch"]
    async fn lookup_cost_in_a_large_batch(pool: PgPool) {
        use std::time::Instant;
        const N: usize = 180_000;
        register(&pool, CHAIN, h(1), None, 3).await;
        let started = Instant::now();
        let (leaves, tree) = anchored_batch(&pool, N, 10).await;
        let upload = started.elapsed();
        // Statistics as autovacuum would soon have them, so the lookup's plan is the one a server runs.
        sqlx::query("ANALYZE").execute(&pool).await.unwrap();
        let wanted = N / 3;
        let uri = lookup_uri(keccak256(response(wanted)), "");

        let mut before = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let batches = load_leaves(&pool, &[tree.root()]).await.unwrap();
            let stored = &batches[&tree.root()];
            let rebuilt = MerkleTree::from_leaf_hashes(stored.iter().map(OutputLeaf::hash).collect()).unwrap();
            let proof = rebuilt.proof(leaves[wanted].hash()).unwrap();
            before.push(started.elapsed());
            assert!(verify_proof(tree.root(), leaves[wanted].hash(), &proof));
        }
        let mut after = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let (status, page) = call(pool.clone(), "GET", &uri).await;
            after.push(started.elapsed());
            assert_eq!(status, StatusCode::OK);
            assert_item_verifies(&page["items"][0], wanted);
        }
        before.sort();
        after.sort();
        // Both tables are partitioned (migration 0011): their size is their partitions'.
        let size: (i64, i64) = sqlx::query_as(
            "SELECT (SELECT sum(pg_total_relation_size(relid))::BIGINT FROM pg_partition_tree('output_leaves')),
                    (SELECT sum(pg_total_relation_size(relid))::BIGINT FROM pg_partition_tree('output_trees'))",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        eprintln!(
            "{N} leaves: upload {upload:.2?}; proof as before (read the batch, rebuild, search): median {:.2?}; \
             whole lookup now: median {:.2?}, max {:.2?}; output_leaves {} MB, output_trees {} MB",
            before[1],
            after[10],
            after[19],
            size.0 >> 20,
            size.1 >> 20,
        );
    }
}
