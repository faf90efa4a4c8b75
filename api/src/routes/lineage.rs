//! `GET /v1/model-versions/{versionHash}/lineage`: a version's claims, ancestors and first page of descendants;
//! `GET /v1/model-versions/{versionHash}/descendants` pages through the descendants.
//!
//! A claim's `parent` is a bare hash: the child's publisher names it, and nobody checks that the parent's publisher
//! agrees. So an ancestor is every claim of each parent hash (in the child claim's chain and registry, where the
//! parent is meaningful), and a descendant is a claim, by its own publisher, that names the version (or a
//! descendant of it) as its parent. Anyone can register a "fine-tune" of anything: descendants are therefore paged,
//! ancestors capped at [`MAX_ANCESTORS`], and both walks stop at [`MAX_LINEAGE_DEPTH`] generations.
//!
//! The walks go one generation at a time, each version hash visited once (at its nearest depth), so cycles (which
//! separate claims can form) and diamonds cost nothing extra.

use std::collections::HashSet;
use std::sync::LazyLock;

use alloy::primitives::{Address, B256};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::Result;
use crate::extract::{ApiPath, ApiQuery, parse_hash};
use crate::routes::docs::{BadRequest, NotFound};
use crate::routes::model_versions::{
    ChainFilter, ClaimRow, ModelVersion, PRIORITY, PublisherQuery, claim_of, claim_query, claims_of,
    load_version_claims,
};
use crate::routes::page::{self, Page, decode_position, position_cursor};
use crate::views::ChainPointer;

/// How many generations are followed up or down.
pub const MAX_LINEAGE_DEPTH: i64 = 1_000;
/// Most ancestor claims answered; past it, `ancestors_truncated` is true.
pub const MAX_ANCESTORS: usize = 1_000;
/// Descendants per page unless `?limit=` says otherwise.
pub const DEFAULT_DESCENDANTS: u32 = 100;
/// Most descendants per page.
pub const MAX_DESCENDANTS: u32 = 1_000;

/// The lineage routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_lineage)).routes(routes!(list_descendants))
}

/// A version's family.
#[derive(Debug, Serialize, ToSchema)]
pub struct Lineage {
    /// The version asked about.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// Every claim of it within the filters, as `GET /v1/model-versions/{version_hash}` lists them.
    pub claims: Vec<ModelVersion>,
    /// Every claim of its parent hashes (of every claim, or of the `publisher`'s), of their parents and so on,
    /// nearest first, each generation in `(chain_id, contract, priority_block, block_number, log_index)` order. A
    /// parent is named by the child's publisher alone: an ancestor claim says who claims the parent hash, not that
    /// its publisher acknowledges the child.
    pub ancestors: Vec<LineageItem>,
    /// True if there were more than [`MAX_ANCESTORS`] ancestor claims (or more than [`MAX_LINEAGE_DEPTH`]
    /// generations) and the rest were left out.
    pub ancestors_truncated: bool,
    /// The first page of descendants, as `GET /v1/model-versions/{version_hash}/descendants` answers it.
    pub descendants: Vec<LineageItem>,
    /// Pass as `?cursor=` to `/descendants` for the next page; null on the last page.
    pub descendants_next_cursor: Option<String>,
}

/// One claim in a lineage.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineageItem {
    /// The claimed version.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// The parent hash the claim names, or null.
    #[schema(value_type = Option<crate::routes::docs::Hash>)]
    pub parent: Option<B256>,
    /// The claim's publisher.
    #[schema(value_type = crate::routes::docs::Address)]
    pub publisher: Address,
    /// The publisher's name, as registered (its own words: names are not unique).
    pub publisher_name: Option<String>,
    /// Who makes this claim, parent link included: always the claim's own `publisher`. A descendant's claim of a
    /// parent is never endorsed by the parent's publisher.
    #[schema(value_type = crate::routes::docs::Address)]
    pub claimed_by: Address,
    /// keccak256 of the model name the publisher gave.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub model_id: B256,
    /// The model name the publisher gave (its keccak256 is `model_id`), or null if it kept it private.
    pub model_name: Option<String>,
    /// Block time of the registration.
    pub registered_at: DateTime<Utc>,
    /// The block that orders the claim among the claims of the same hash (see `ModelVersion.priority_block`).
    pub priority_block: u64,
    /// True if the publisher revoked its claim.
    pub revoked: bool,
    /// True if the claim was signed by an attestor key flagged compromised at the time.
    pub signed_by_compromised_key: bool,
    /// Generations away from the version asked about (1 = parent or child).
    pub depth: u32,
    /// Where the registration event is.
    pub chain: ChainPointer,
}

impl LineageItem {
    fn new(version: ModelVersion, depth: i64) -> Self {
        Self {
            version_hash: version.version_hash,
            parent: version.parent,
            publisher: version.publisher,
            publisher_name: version.publisher_name,
            claimed_by: version.publisher,
            model_id: version.model_id,
            model_name: version.model_name,
            registered_at: version.registered_at,
            priority_block: version.priority_block,
            revoked: version.revocation.is_some(),
            signed_by_compromised_key: version.signed_by_compromised_key,
            depth: depth as u32,
            chain: version.chain,
        }
    }
}

/// `?limit=` and `?cursor=` of the descendants.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DescendantsQuery {
    /// Descendants per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` (or the lineage's `descendants_next_cursor`) of the previous page.
    pub cursor: Option<String>,
}

impl DescendantsQuery {
    /// The checked page size and the position `(depth, chain_id, block_number, log_index)` after which it starts.
    fn check(&self) -> Result<(u32, Option<[i64; 4]>)> {
        let limit = page::limit(self.limit, DEFAULT_DESCENDANTS, MAX_DESCENDANTS)?;
        Ok((limit, page::cursor(&self.cursor).map(decode_position::<4>).transpose()?))
    }
}

/// A version hash in one registry: what the walks visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Node {
    chain_id: i64,
    contract: Address,
    version_hash: B256,
}

impl Node {
    fn of(claim: &ModelVersion) -> Self {
        Self { chain_id: claim.chain.chain_id as i64, contract: claim.chain.contract, version_hash: claim.version_hash }
    }

    /// The node of the parent `claim` names, in the claim's registry.
    fn parent_of(claim: &ModelVersion) -> Option<Self> {
        claim.parent.map(|parent| Self { version_hash: parent, ..Self::of(claim) })
    }
}

/// The three arrays binding `nodes` to `unnest($n::BIGINT[], $n+1::BYTEA[], $n+2::BYTEA[])`.
fn columns(nodes: &[Node]) -> (Vec<i64>, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    (
        nodes.iter().map(|n| n.chain_id).collect(),
        nodes.iter().map(|n| n.contract.to_vec()).collect(),
        nodes.iter().map(|n| n.version_hash.to_vec()).collect(),
    )
}

/// The claims of the `nodes` (a generation of ancestors), at most `limit`.
async fn claims_at(pool: &PgPool, nodes: &[Node], min: Option<i64>, limit: i64) -> Result<Vec<ModelVersion>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let from = "unnest($1::BIGINT[], $2::BYTEA[], $3::BYTEA[]) AS f(chain_id, contract, version_hash)
             JOIN model_version_registered r
               ON r.chain_id = f.chain_id AND r.contract = f.contract AND r.version_hash = f.version_hash";
        format!(
            "{select}
             WHERE ($4::BIGINT IS NULL OR COALESCE(c.head_block, r.block_number) - r.block_number + 1 >= $4)
             ORDER BY r.chain_id, r.contract, {PRIORITY}, r.block_number, r.log_index
             LIMIT $5",
            select = claim_query(from, 4)
        )
    });
    let (chains, contracts, hashes) = columns(nodes);
    let rows: Vec<ClaimRow> =
        sqlx::query_as(&SQL).bind(chains).bind(contracts).bind(hashes).bind(min).bind(limit).fetch_all(pool).await?;
    claims_of(rows)
}

/// The claims naming one of the `nodes` as parent (the next generation of descendants), leaving out claims of
/// hashes in `seen`, in `(chain_id, block_number, log_index)` order, at most `limit` (all if `None`).
async fn children_of(
    pool: &PgPool,
    nodes: &[Node],
    seen: &[Node],
    min: Option<i64>,
    limit: Option<i64>,
) -> Result<Vec<ModelVersion>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let from = "unnest($1::BIGINT[], $2::BYTEA[], $3::BYTEA[]) AS f(chain_id, contract, version_hash)
             JOIN model_version_registered r
               ON r.chain_id = f.chain_id AND r.contract = f.contract AND r.parent = f.version_hash";
        format!(
            "{select}
             WHERE ($4::BIGINT IS NULL OR COALESCE(c.head_block, r.block_number) - r.block_number + 1 >= $4)
               AND NOT EXISTS (
                 SELECT 1 FROM unnest($5::BIGINT[], $6::BYTEA[], $7::BYTEA[]) AS s(chain_id, contract, version_hash)
                 WHERE s.chain_id = r.chain_id AND s.contract = r.contract AND s.version_hash = r.version_hash)
             ORDER BY r.chain_id, r.block_number, r.log_index
             LIMIT $8",
            select = claim_query(from, 4)
        )
    });
    let (chains, contracts, hashes) = columns(nodes);
    let (seen_chains, seen_contracts, seen_hashes) = columns(seen);
    let rows: Vec<ClaimRow> = sqlx::query_as(&SQL)
        .bind(chains)
        .bind(contracts)
        .bind(hashes)
        .bind(min)
        .bind(seen_chains)
        .bind(seen_contracts)
        .bind(seen_hashes)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    claims_of(rows)
}

/// The ancestors of `claims` (the claims whose parents are followed), nearest first, at most [`MAX_ANCESTORS`];
/// true if some were left out.
async fn ancestors(pool: &PgPool, claims: &[&ModelVersion], min: Option<i64>) -> Result<(Vec<LineageItem>, bool)> {
    let mut seen: HashSet<Node> = claims.iter().map(|c| Node::of(c)).collect();
    let mut frontier: Vec<Node> = Vec::new();
    for parent in claims.iter().filter_map(|c| Node::parent_of(c)) {
        if seen.insert(parent) {
            frontier.push(parent);
        }
    }
    let mut items = Vec::new();
    for depth in 1..=MAX_LINEAGE_DEPTH {
        if frontier.is_empty() {
            return Ok((items, false));
        }
        let budget = MAX_ANCESTORS - items.len();
        let mut generation = claims_at(pool, &frontier, min, budget as i64 + 1).await?;
        if generation.len() > budget {
            generation.truncate(budget);
            items.extend(generation.into_iter().map(|c| LineageItem::new(c, depth)));
            return Ok((items, true));
        }
        frontier.clear();
        for parent in generation.iter().filter_map(Node::parent_of) {
            if seen.insert(parent) {
                frontier.push(parent);
            }
        }
        items.extend(generation.into_iter().map(|c| LineageItem::new(c, depth)));
    }
    Ok((items, !frontier.is_empty()))
}

/// One page of the descendants of `roots` (the version asked about, in each registry where it is claimed):
/// breadth-first, each generation in `(chain_id, block_number, log_index)` order, each hash at its nearest depth,
/// after the position `after`. Returns the page and the cursor of the next one.
///
/// A generation is read whole only when the next page starts past it; the page's own generations are read with a
/// limit, so an answer never costs more than the generations before it plus the page.
async fn descendants(
    pool: &PgPool,
    roots: Vec<Node>,
    min: Option<i64>,
    after: Option<[i64; 4]>,
    limit: u32,
) -> Result<(Vec<LineageItem>, Option<String>)> {
    let want = limit as usize + 1;
    let after_depth = after.map_or(0, |[depth, ..]| depth);
    let mut seen: HashSet<Node> = roots.iter().copied().collect();
    let mut frontier = roots;
    let mut items: Vec<([i64; 4], ModelVersion)> = Vec::new();
    for depth in 1..=MAX_LINEAGE_DEPTH {
        if frontier.is_empty() || items.len() >= want {
            break;
        }
        let seen_now: Vec<Node> = seen.iter().copied().collect();
        let cap = (depth > after_depth).then(|| (want - items.len()) as i64);
        let generation = children_of(pool, &frontier, &seen_now, min, cap).await?;
        let complete = cap.is_none_or(|cap| (generation.len() as i64) < cap);
        frontier.clear();
        for claim in generation {
            let node = Node::of(&claim);
            if seen.insert(node) {
                frontier.push(node);
            }
            let position =
                [depth, claim.chain.chain_id as i64, claim.chain.block_number as i64, claim.chain.log_index as i64];
            if after.is_none_or(|after| position > after) {
                items.push((position, claim));
            }
        }
        if !complete {
            break;
        }
    }
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more { items.last().map(|(position, _)| position_cursor(position)) } else { None };
    let items = items.into_iter().map(|([depth, ..], claim)| LineageItem::new(claim, depth)).collect();
    Ok((items, next_cursor))
}

/// The nodes of the version asked about: one per registry where it is claimed.
fn roots(claims: &[ModelVersion]) -> Vec<Node> {
    let mut roots: Vec<Node> = claims.iter().map(Node::of).collect();
    roots.dedup();
    roots
}

/// A version's claims, its ancestors (every claim of each parent hash, nearest first) and the first page of its
/// descendants (each its own publisher's claim), within the chain and registry of each of its claims.
#[utoipa::path(
    get,
    path = "/v1/model-versions/{version_hash}/lineage",
    tag = "provenance",
    params(
        ("version_hash" = String, Path, description = "The version hash (manifest Merkle root), any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9"),
        ChainFilter,
        PublisherQuery,
        DescendantsQuery,
    ),
    responses(
        (status = 200, description = "The version's family. With `publisher`, only that publisher's claim's parent \
            is followed up; descendants are paged by `limit` and `cursor` as in `/descendants`.", body = Lineage),
        BadRequest,
        NotFound,
    ),
)]
async fn get_lineage(
    State(state): State<AppState>,
    ApiPath(version_hash): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ChainFilter>,
    ApiQuery(asked): ApiQuery<PublisherQuery>,
    ApiQuery(page): ApiQuery<DescendantsQuery>,
) -> Result<Json<Lineage>> {
    let version_hash = parse_hash("versionHash", &version_hash)?;
    let publisher = asked.publisher()?;
    let (limit, after) = page.check()?;
    let scope = filter.scope(&state.config)?;
    let claims = load_version_claims(&state.pool, version_hash, &scope).await?;
    let followed: Vec<&ModelVersion> = match publisher {
        Some(publisher) => vec![claim_of(&claims, version_hash, publisher)?],
        None => claims.iter().collect(),
    };
    let min = scope.min_confirmations;
    let (ancestors, ancestors_truncated) = ancestors(&state.pool, &followed, min).await?;
    let (descendants, descendants_next_cursor) = descendants(&state.pool, roots(&claims), min, after, limit).await?;
    Ok(Json(Lineage { version_hash, claims, ancestors, ancestors_truncated, descendants, descendants_next_cursor }))
}

/// A version's descendants, paged: claims naming it (or one of its descendants) as parent, breadth-first, each
/// generation in `(chain_id, block_number, log_index)` order, within the chain and registry of each of its claims.
/// Each is its own publisher's claim (`claimed_by`), never an endorsement by the parent's publisher.
#[utoipa::path(
    get,
    path = "/v1/model-versions/{version_hash}/descendants",
    tag = "provenance",
    params(("version_hash" = String, Path, description = "The version hash (manifest Merkle root), any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9"), ChainFilter, DescendantsQuery),
    responses(
        (status = 200, description = "One page of descendants.", body = Page<LineageItem>),
        BadRequest,
        NotFound,
    ),
)]
async fn list_descendants(
    State(state): State<AppState>,
    ApiPath(version_hash): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ChainFilter>,
    ApiQuery(page): ApiQuery<DescendantsQuery>,
) -> Result<Json<Page<LineageItem>>> {
    let version_hash = parse_hash("versionHash", &version_hash)?;
    let (limit, after) = page.check()?;
    let scope = filter.scope(&state.config)?;
    let claims = load_version_claims(&state.pool, version_hash, &scope).await?;
    let (items, next_cursor) = descendants(&state.pool, roots(&claims), scope.min_confirmations, after, limit).await?;
    Ok(Json(Page { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CHAIN, PUBLISHER, REGISTRY, call, claim, h, register, revoke};
    use axum::http::StatusCode;
    use serde_json::Value;

    /// A → B → C and A → D on the main chain; A is also registered on chain 1, where it has a child E.
    async fn seed(pool: &PgPool) {
        register(pool, CHAIN, h(0xA), None, 10).await;
        register(pool, CHAIN, h(0xB), Some(h(0xA)), 11).await;
        register(pool, CHAIN, h(0xD), Some(h(0xA)), 12).await;
        register(pool, CHAIN, h(0xC), Some(h(0xB)), 13).await;
        revoke(pool, CHAIN, h(0xD), 14).await;
        register(pool, 1, h(0xA), None, 20).await;
        register(pool, 1, h(0xE), Some(h(0xA)), 21).await;
    }

    /// `publisher`'s claim of `version` naming `parent`, in the main registry at `block`.
    async fn claim_child(pool: &PgPool, publisher: Address, version: B256, parent: B256, block: i64) {
        claim(pool, CHAIN, REGISTRY.into(), publisher, version, block, 0).await;
        sqlx::query("UPDATE model_version_registered SET parent = $1 WHERE version_hash = $2 AND publisher = $3")
            .bind(parent.to_vec())
            .bind(version.to_vec())
            .bind(publisher.to_vec())
            .execute(pool)
            .await
            .unwrap();
    }

    fn summary(items: &Value) -> Vec<(String, u64)> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["version_hash"].as_str().unwrap().to_owned(), i["depth"].as_u64().unwrap()))
            .collect()
    }

    fn s(n: u8, depth: u64) -> (String, u64) {
        (h(n).to_string(), depth)
    }

    async fn lineage(pool: &PgPool, query: &str) -> Value {
        let (status, body) = call(pool.clone(), "GET", &format!("/v1/model-versions/{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn ancestors_nearest_first_and_descendants_breadth_first(pool: PgPool) {
        seed(&pool).await;

        let leaf = lineage(&pool, &format!("{}/lineage", h(0xC))).await;
        assert_eq!(leaf["version_hash"], h(0xC).to_string());
        assert_eq!(leaf["claims"].as_array().unwrap().len(), 1);
        assert_eq!(summary(&leaf["ancestors"]), [s(0xB, 1), s(0xA, 2)]);
        assert_eq!(leaf["ancestors_truncated"], false);
        assert!(summary(&leaf["descendants"]).is_empty());
        assert_eq!(leaf["descendants_next_cursor"], Value::Null);

        let middle = lineage(&pool, &format!("{}/lineage", h(0xB))).await;
        assert_eq!(summary(&middle["ancestors"]), [s(0xA, 1)]);
        assert_eq!(summary(&middle["descendants"]), [s(0xC, 1)]);

        // A is claimed on both chains: its descendants in each, per chain; then grandchildren.
        let root = lineage(&pool, &format!("{}/lineage", h(0xA))).await;
        assert!(summary(&root["ancestors"]).is_empty());
        assert_eq!(root["claims"].as_array().unwrap().len(), 2);
        assert_eq!(summary(&root["descendants"]), [s(0xE, 1), s(0xB, 1), s(0xD, 1), s(0xC, 2)]);
        let d = &root["descendants"][2];
        assert_eq!(d["revoked"], true);
        assert_eq!(d["parent"], h(0xA).to_string());
        assert_eq!(d["publisher"], format!("0x{}", "bb".repeat(20)));
        assert_eq!(d["claimed_by"], d["publisher"]);
        assert_eq!(d["model_id"], format!("0x{}", "33".repeat(32)));
        assert_eq!(d["registered_at"], "2023-11-14T22:15:44Z");
        assert_eq!(d["chain"]["chain_id"], CHAIN);
        assert_eq!(d["chain"]["block_number"], 12);
        assert_eq!(root["descendants"][1]["revoked"], false);

        let main = lineage(&pool, &format!("{}/lineage?chain_id={CHAIN}", h(0xA))).await;
        assert_eq!(summary(&main["descendants"]), [s(0xB, 1), s(0xD, 1), s(0xC, 2)]);
        let other_chain = lineage(&pool, &format!("{}/lineage?chain_id=1", h(0xA))).await;
        assert_eq!(summary(&other_chain["descendants"]), [s(0xE, 1)]);
        assert_eq!(other_chain["descendants"][0]["chain"]["chain_id"], 1);
    }

    /// A parent is a bare hash: every claim of it is an ancestor, each with its own publisher; `publisher` follows
    /// one claim's parent. Claims can form cycles; the walks still end, each hash at its nearest depth.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn ancestors_are_every_claim_of_each_parent_hash(pool: PgPool) {
        seed(&pool).await;
        let squatter = Address::repeat_byte(0x5a);
        claim(&pool, CHAIN, REGISTRY.into(), squatter, h(0xB), 30, 0).await;
        // Another publisher claims A as a child of C: A → B → C → A.
        claim_child(&pool, Address::repeat_byte(0x66), h(0xA), h(0xC), 31).await;

        let leaf = lineage(&pool, &format!("{}/lineage", h(0xC))).await;
        assert_eq!(summary(&leaf["ancestors"]), [s(0xB, 1), s(0xB, 1), s(0xA, 2), s(0xA, 2)], "{leaf}");
        let by: Vec<&str> =
            leaf["ancestors"].as_array().unwrap().iter().map(|a| a["claimed_by"].as_str().unwrap()).collect();
        assert_eq!(by[..2], [Address::from(PUBLISHER).to_string().to_lowercase(), squatter.to_string().to_lowercase()]);
        // The cycle back to C is not followed, and C's descendants are A's other children, once each.
        assert_eq!(summary(&leaf["descendants"]), [s(0xA, 1), s(0xB, 2), s(0xD, 2)], "{leaf}");

        // Following the lab's claim of A only: it names no parent.
        let root =
            lineage(&pool, &format!("{}/lineage?chain_id={CHAIN}&publisher={}", h(0xA), Address::from(PUBLISHER)))
                .await;
        assert!(summary(&root["ancestors"]).is_empty(), "{root}");
        let root = lineage(&pool, &format!("{}/lineage?chain_id={CHAIN}", h(0xA))).await;
        assert_eq!(summary(&root["ancestors"])[0], s(0xC, 1), "{root}");
        let (status, _) =
            call(pool, "GET", &format!("/v1/model-versions/{}/lineage?publisher={squatter}", h(0xA))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    /// Descendant spam: anyone can register a "fine-tune" of any version. The descendants come in pages (100 by
    /// default, at most 1000), each marked as its own publisher's claim.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn descendant_spam_is_paged_and_each_is_its_publishers_claim(pool: PgPool) {
        register(&pool, CHAIN, h(0xA), None, 10).await;
        let spammer = Address::repeat_byte(0x5a);
        for i in 0..250u32 {
            claim_child(&pool, spammer, B256::left_padding_from(&(1000 + i).to_be_bytes()), h(0xA), 100 + i64::from(i))
                .await;
        }
        register(&pool, CHAIN, h(0xB), Some(h(0xA)), 400).await;

        let root = lineage(&pool, &format!("{}/lineage", h(0xA))).await;
        let first = root["descendants"].as_array().unwrap();
        assert_eq!(first.len(), DEFAULT_DESCENDANTS as usize);
        assert!(first.iter().all(|d| d["claimed_by"] == spammer.to_string().to_lowercase()));
        let cursor = root["descendants_next_cursor"].as_str().expect("more pages").to_owned();

        let mut walked: Vec<Value> = first.clone();
        let mut uri = format!("{}/descendants?cursor={cursor}", h(0xA));
        loop {
            let page = lineage(&pool, &uri).await;
            walked.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => uri = format!("{}/descendants?cursor={cursor}", h(0xA)),
                None => break,
            }
        }
        assert_eq!(walked.len(), 251);
        let last = walked.last().unwrap();
        assert_eq!(
            (last["version_hash"].as_str(), last["claimed_by"].as_str()),
            (Some(h(0xB).to_string().as_str()), Some(format!("0x{}", "bb".repeat(20)).as_str()))
        );

        let all = lineage(&pool, &format!("{}/descendants?limit={MAX_DESCENDANTS}", h(0xA))).await;
        assert_eq!(all["items"].as_array().unwrap().len(), 251);
        assert_eq!(all["next_cursor"], Value::Null);
        for query in [format!("limit={}", MAX_DESCENDANTS + 1), "limit=0".into(), "cursor=00".into()] {
            for route in ["lineage", "descendants"] {
                let (status, _) =
                    call(pool.clone(), "GET", &format!("/v1/model-versions/{}/{route}?{query}", h(0xA))).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{route}?{query}");
            }
        }
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn descendants_page_through_the_lineage_descendants(pool: PgPool) {
        seed(&pool).await;
        let root = lineage(&pool, &format!("{}/lineage", h(0xA))).await;
        let mut walked = Vec::new();
        let mut uri = format!("{}/descendants?limit=1", h(0xA));
        loop {
            let page = lineage(&pool, &uri).await;
            assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
            walked.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => uri = format!("{}/descendants?limit=1&cursor={cursor}", h(0xA)),
                None => break,
            }
        }
        assert_eq!(Value::Array(walked), root["descendants"]);
        let page = lineage(&pool, &format!("{}/descendants?chain_id=1", h(0xA))).await;
        assert_eq!(summary(&page["items"]), [s(0xE, 1)]);
        assert_eq!(page["next_cursor"], Value::Null);
        for query in ["limit=0", "cursor=00"] {
            let (status, _) =
                call(pool.clone(), "GET", &format!("/v1/model-versions/{}/descendants?{query}", h(0xA))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        }
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn unknown_version_is_404(pool: PgPool) {
        seed(&pool).await;
        let (status, body) = call(pool.clone(), "GET", &format!("/v1/model-versions/{}/lineage", h(0x99))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        let (status, _) = call(pool.clone(), "GET", &format!("/v1/model-versions/{}/lineage?chain_id=5", h(0xA))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = call(pool, "GET", "/v1/model-versions/0xzz/lineage").await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_hash")));
    }
}
