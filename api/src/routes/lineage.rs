//! `GET /v1/model-versions/{versionHash}/lineage`: a version's ancestors (its parent chain) and descendants.
//!
//! `GET /v1/model-versions/{versionHash}/descendants` pages through the descendants alone.
//!
//! Lineage follows `parent` links within the chain and registry of the version's registration, since a parent
//! is only meaningful where the child was registered.

use alloy::primitives::{Address, B256};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use prova_db::DbHash;
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::Result;
use crate::extract::{ApiPath, ApiQuery, parse_hash};
use crate::routes::docs::{BadRequest, NotFound};
use crate::routes::model_versions::{ChainFilter, ModelVersion, load_version, load_versions};
use crate::routes::page::Scope;
use crate::routes::page::{Page, PageQuery, position_cursor, trim};
use crate::views::ChainPointer;

/// How many generations are followed up or down; a guard against pathological or cyclic data.
pub const MAX_LINEAGE_DEPTH: i32 = 10_000;

/// The lineage route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_lineage)).routes(routes!(list_descendants))
}

/// A version's family.
#[derive(Debug, Serialize, ToSchema)]
pub struct Lineage {
    /// The version asked about.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// Its parent, grandparent and so on, nearest first.
    pub ancestors: Vec<LineageItem>,
    /// Every version descending from it, breadth-first, each generation in registration order.
    pub descendants: Vec<LineageItem>,
}

/// One version in a lineage.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineageItem {
    /// The version.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// Its parent, or null.
    #[schema(value_type = Option<crate::routes::docs::Hash>)]
    pub parent: Option<B256>,
    /// The publisher's id.
    #[schema(value_type = crate::routes::docs::Address)]
    pub publisher: Address,
    /// keccak256 of the model name.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub model_id: B256,
    /// Block time of the registration.
    pub registered_at: DateTime<Utc>,
    /// True if the publisher revoked the version.
    pub revoked: bool,
    /// Generations away from the version asked about (1 = parent or child).
    pub depth: u32,
    /// Where the registration event is.
    pub chain: ChainPointer,
}

impl LineageItem {
    fn new(version: ModelVersion, depth: i32) -> Self {
        Self {
            version_hash: version.version_hash,
            parent: version.parent,
            publisher: version.publisher,
            model_id: version.model_id,
            registered_at: version.registered_at,
            revoked: version.revocation.is_some(),
            depth: depth as u32,
            chain: version.chain,
        }
    }
}

/// A version's ancestors (its parent chain, nearest first) and descendants (breadth-first), within the chain and
/// registry of its registration.
#[utoipa::path(
    get,
    path = "/v1/model-versions/{version_hash}/lineage",
    tag = "provenance",
    params(("version_hash" = String, Path, description = "The version hash (manifest Merkle root), any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9"), ChainFilter),
    responses(
        (status = 200, description = "The version's family.", body = Lineage),
        BadRequest,
        NotFound,
    ),
)]
async fn get_lineage(
    State(state): State<AppState>,
    ApiPath(version_hash): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ChainFilter>,
) -> Result<Json<Lineage>> {
    let version_hash = parse_hash("versionHash", &version_hash)?;
    let root = load_version(&state.pool, version_hash, &filter.scope()).await?;
    let scope = Scope::of(&root.chain);

    let ancestors: Vec<(DbHash, i32)> = sqlx::query_as(
        "WITH RECURSIVE up(version_hash, parent, depth) AS (
             SELECT r.version_hash, r.parent, 0 FROM model_version_registered r
             WHERE r.version_hash = $1 AND r.chain_id = $2 AND r.contract = $3
           UNION
             SELECT p.version_hash, p.parent, up.depth + 1
             FROM up JOIN model_version_registered p
               ON p.version_hash = up.parent AND p.chain_id = $2 AND p.contract = $3
             WHERE up.depth < $4
         )
         SELECT version_hash, min(depth) FROM up
         WHERE depth > 0 AND version_hash <> $1
         GROUP BY version_hash",
    )
    .bind(version_hash.to_vec())
    .bind(scope.chain_id)
    .bind(scope.contract.map(|c| c.to_vec()))
    .bind(MAX_LINEAGE_DEPTH)
    .fetch_all(&state.pool)
    .await?;

    let descendants = descendants(&state.pool, version_hash, &scope, None, None).await?;
    let mut ancestors = items(&state.pool, ancestors, &scope).await?;
    ancestors.sort_by_key(|item| item.depth);
    let descendants =
        items(&state.pool, descendants.into_iter().map(|d| (d.version_hash, d.depth)).collect(), &scope).await?;
    Ok(Json(Lineage { version_hash, ancestors, descendants }))
}

/// A descendant found by [`descendants`], with its sort key.
#[derive(FromRow)]
struct Descendant {
    version_hash: DbHash,
    depth: i32,
    block_number: i64,
    log_index: i64,
}

impl Descendant {
    fn cursor(&self) -> String {
        position_cursor(&[i64::from(self.depth), self.block_number, self.log_index])
    }
}

/// The descendants of `version_hash` within `scope`'s chain and registry, breadth-first and each generation in
/// registration order: `(depth, block_number, log_index)` after `after`, at most `limit` (all if `None`).
async fn descendants(
    pool: &PgPool,
    version_hash: B256,
    scope: &Scope,
    after: Option<[i64; 3]>,
    limit: Option<i64>,
) -> Result<Vec<Descendant>> {
    Ok(sqlx::query_as(
        "WITH RECURSIVE down(version_hash, depth) AS (
             SELECT $1::BYTEA, 0
           UNION
             SELECT c.version_hash, down.depth + 1
             FROM down JOIN model_version_registered c
               ON c.parent = down.version_hash AND c.chain_id = $2 AND c.contract = $3
             WHERE down.depth < $4
         ), found AS (
             SELECT version_hash, min(depth) AS depth FROM down
             WHERE depth > 0 AND version_hash <> $1
             GROUP BY version_hash
         )
         SELECT f.version_hash, f.depth, r.block_number, r.log_index
         FROM found f
         JOIN LATERAL (
             SELECT r.block_number, r.log_index FROM model_version_registered r
             WHERE r.version_hash = f.version_hash AND r.chain_id = $2 AND r.contract = $3
             ORDER BY r.block_number, r.log_index
             LIMIT 1
         ) r ON TRUE
         WHERE $5::BIGINT IS NULL OR (f.depth::BIGINT, r.block_number, r.log_index) > ($5, $6, $7)
         ORDER BY f.depth, r.block_number, r.log_index
         LIMIT $8",
    )
    .bind(version_hash.to_vec())
    .bind(scope.chain_id)
    .bind(scope.contract.map(|c| c.to_vec()))
    .bind(MAX_LINEAGE_DEPTH)
    .bind(after.map(|[depth, _, _]| depth))
    .bind(after.map_or(0, |[_, block, _]| block))
    .bind(after.map_or(0, |[_, _, log]| log))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A version's descendants, paginated: the `descendants` of its lineage, breadth-first and each generation in
/// registration order, within the chain and registry of its registration.
#[utoipa::path(
    get,
    path = "/v1/model-versions/{version_hash}/descendants",
    tag = "provenance",
    params(("version_hash" = String, Path, description = "The version hash (manifest Merkle root), any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9"), ChainFilter, PageQuery),
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
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<LineageItem>>> {
    let version_hash = parse_hash("versionHash", &version_hash)?;
    let (limit, after) = page.check::<3>()?;
    let root = load_version(&state.pool, version_hash, &filter.scope()).await?;
    let scope = Scope::of(&root.chain);
    let mut found = descendants(&state.pool, version_hash, &scope, after, Some(i64::from(limit) + 1)).await?;
    let more = trim(&mut found, limit);
    let next_cursor = if more { found.last().map(Descendant::cursor) } else { None };
    let items = items(&state.pool, found.into_iter().map(|d| (d.version_hash, d.depth)).collect(), &scope).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Renders `(version hash, depth)` pairs found by the recursive queries, in their order.
async fn items(pool: &PgPool, found: Vec<(DbHash, i32)>, scope: &Scope) -> Result<Vec<LineageItem>> {
    let found: Vec<(B256, i32)> = found.into_iter().map(|(h, depth)| (h.0, depth)).collect();
    let hashes: Vec<B256> = found.iter().map(|(h, _)| *h).collect();
    let mut versions = load_versions(pool, &hashes, scope).await?;
    Ok(found.into_iter().filter_map(|(h, depth)| versions.remove(&h).map(|v| LineageItem::new(v, depth))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CHAIN, call, h, register, revoke};
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
        assert_eq!(summary(&leaf["ancestors"]), [s(0xB, 1), s(0xA, 2)]);
        assert!(summary(&leaf["descendants"]).is_empty());

        let middle = lineage(&pool, &format!("{}/lineage", h(0xB))).await;
        assert_eq!(summary(&middle["ancestors"]), [s(0xA, 1)]);
        assert_eq!(summary(&middle["descendants"]), [s(0xC, 1)]);

        // Children in registration order, then grandchildren; chain 1's E is not part of this lineage.
        let root = lineage(&pool, &format!("{}/lineage", h(0xA))).await;
        assert!(summary(&root["ancestors"]).is_empty());
        assert_eq!(summary(&root["descendants"]), [s(0xB, 1), s(0xD, 1), s(0xC, 2)]);
        let d = &root["descendants"][1];
        assert_eq!(d["revoked"], true);
        assert_eq!(d["parent"], h(0xA).to_string());
        assert_eq!(d["publisher"], format!("0x{}", "bb".repeat(20)));
        assert_eq!(d["model_id"], format!("0x{}", "33".repeat(32)));
        assert_eq!(d["registered_at"], "2023-11-14T22:15:44Z");
        assert_eq!(d["chain"]["chain_id"], CHAIN);
        assert_eq!(d["chain"]["block_number"], 12);
        assert_eq!(root["descendants"][0]["revoked"], false);
        assert_eq!(root["descendants"][0]["parent"], h(0xA).to_string());

        let other_chain = lineage(&pool, &format!("{}/lineage?chain_id=1", h(0xA))).await;
        assert_eq!(summary(&other_chain["descendants"]), [s(0xE, 1)]);
        assert_eq!(other_chain["descendants"][0]["chain"]["chain_id"], 1);
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
