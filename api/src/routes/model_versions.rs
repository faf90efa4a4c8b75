//! `GET /v1/model-versions/{versionHash}`: every publisher's claim of a version hash, with provenance and chain
//! pointers; `GET /v1/model-versions`: the registrations (claims), one page at a time.
//!
//! A version hash is not owned by anyone: each publisher that registers it makes its own claim, and no claim blocks
//! or shadows another. Claims are answered side by side, per chain and registry, in priority order (see
//! [`ModelVersion::priority_block`]); priority says who revealed a commitment first, not who made the weights.
//!
//! [`load_versions`] renders claims for this route and for the routes that list versions (lineage, match, agents'
//! model bindings), so the publisher name, the compromised-key flag and the revocation (the same publisher's, in
//! the same registry) are derived in one place.

use prova_db::{DbAddress, DbHash};
use std::collections::HashMap;
use std::sync::LazyLock;

use alloy::primitives::{Address, B256};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{FromRow, PgPool};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Result};
use crate::extract::{ApiPath, ApiQuery, optional_address, parse_hash};
use crate::routes::docs::{BadRequest, NotFound};
use crate::routes::page::{ChainListQuery as ListQuery, HasPointer, Page, Scope, list_events, registry_condition};
use crate::views::{ChainPointer, PointerRow};
use crate::{ApiConfig, AppState};
pub use prova_views::{ModelVersion, Revocation, VersionClaims};

/// The model-version routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_model_versions)).routes(routes!(get_model_version))
}

/// Which chain, registry and confirmations count.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChainFilter {
    /// Only this chain (by default every indexed chain, each answered on its own).
    #[serde(default, deserialize_with = "crate::extract::at_most_i64")]
    #[param(example = 31337, maximum = 9223372036854775807_i64)]
    pub chain_id: Option<u64>,
    /// Only this ProvenanceRegistry contract. Without it, a chain with a configured canonical registry answers only
    /// that registry's facts, and any other chain every indexed registry's, each with its own chain pointer.
    /// Empty is the same as absent.
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0x5FbDB2315678afecb367f032d93F642f64180aa3")]
    pub registry: Option<String>,
    /// Only facts with at least this many confirmations (the block holding them counts as one); a fact with fewer
    /// is treated as not there yet.
    #[serde(default, deserialize_with = "crate::extract::at_most_i64")]
    #[param(maximum = 9223372036854775807_i64)]
    pub min_confirmations: Option<u64>,
}

impl ChainFilter {
    /// The filter as a [`Scope`] under `config`'s canonical registries.
    pub fn scope(&self, config: &ApiConfig) -> Result<Scope> {
        let registry = optional_address("registry", self.registry.as_deref())?;
        Ok(Scope::new(config, self.chain_id, registry, self.min_confirmations))
    }
}

/// The publisher a request asks about.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublisherQuery {
    /// The publisher asked about (checksummed or not): its claim is answered as `claim`, and a 404 says so when it
    /// has not claimed the hash. Every other claim is still listed. Empty is the same as absent.
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")]
    pub publisher: Option<String>,
}

impl PublisherQuery {
    /// The parsed publisher.
    pub fn publisher(&self) -> Result<Option<Address>> {
        optional_address("publisher", self.publisher.as_deref())
    }
}

/// A row of a [`claim_query`].
#[derive(FromRow)]
pub(crate) struct ClaimRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    version_hash: DbHash,
    model_id: DbHash,
    model_name: String,
    publisher: DbAddress,
    parent: DbHash,
    attestor: DbAddress,
    metadata_uri: String,
    metadata_hash: DbHash,
    committed_block: i64,
    committed_at: i64,
    publisher_name: Option<String>,
    compromised: bool,
    /// The first revocation by the same publisher, on the same chain and registry (all null when none).
    revoked_block_number: Option<i64>,
    revoked_block_hash: Option<DbHash>,
    revoked_block_time: Option<DateTime<Utc>>,
    revoked_tx_hash: Option<DbHash>,
    revoked_log_index: Option<i64>,
    revoked_reason: Option<String>,
}

impl ClaimRow {
    /// The revocation's pointer and reason, when the claim is revoked.
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

    /// The claim as answered.
    fn into_version(mut self) -> Result<ModelVersion> {
        let revocation = self.revocation()?;
        let committed_block = u64::try_from(self.committed_block).ok().filter(|b| *b != 0);
        let committed_at = (self.committed_at != 0).then(|| DateTime::from_timestamp(self.committed_at, 0)).flatten();
        Ok(ModelVersion {
            version_hash: self.version_hash.0,
            model_id: self.model_id.0,
            model_name: Some(self.model_name).filter(|name| !name.is_empty()),
            parent: self.parent.nonzero(),
            publisher: self.publisher.0,
            publisher_name: self.publisher_name,
            attestor: self.attestor.0,
            metadata_uri: self.metadata_uri,
            metadata_hash: self.metadata_hash.nonzero(),
            registered_at: self.pointer.block_time,
            committed_at,
            committed_block,
            priority_block: committed_block.unwrap_or(self.pointer.block_number as u64),
            signed_by_compromised_key: self.compromised,
            revocation,
            chain: self.pointer.view()?,
        })
    }
}

/// The priority block of claim `r` (see [`ModelVersion::priority_block`]).
pub const PRIORITY: &str = "(CASE WHEN r.committed_block <> 0 THEN r.committed_block ELSE r.block_number END)";

/// A statement rendering claims: `SELECT` of every column [`load_versions`] reads, `FROM` `from` (which names the
/// claim rows `r`), with the registry's cursor `c`, the publisher's name, the compromised-key flag and the same
/// publisher's first revocation in the same registry (with at least `$min` confirmations). The caller appends
/// `WHERE` and `ORDER BY`.
pub fn claim_query(from: &str, min: usize) -> String {
    format!(
        "SELECT r.chain_id, r.contract, r.block_number, r.block_hash, r.block_time, r.tx_hash, r.log_index,
        c.head_block, c.finalized_block, r.version_hash, r.model_id, r.model_name, r.publisher, r.parent, r.attestor,
        r.metadata_uri,
        r.metadata_hash, r.committed_block, r.committed_at,
        (SELECT p.name FROM publisher_names p
          WHERE p.publisher = r.publisher AND p.chain_id = r.chain_id AND p.contract = r.contract) AS publisher_name,
        EXISTS (SELECT 1 FROM attestor_compromised k
          WHERE k.key = r.attestor AND k.chain_id = r.chain_id AND k.contract = r.contract
            AND k.since <= extract(epoch FROM r.block_time)) AS compromised,
        v.block_number AS revoked_block_number, v.block_hash AS revoked_block_hash,
        v.block_time AS revoked_block_time, v.tx_hash AS revoked_tx_hash, v.log_index AS revoked_log_index,
        v.reason AS revoked_reason
 FROM {from}
 LEFT JOIN indexer_cursors c ON c.chain_id = r.chain_id AND c.contract = r.contract
 LEFT JOIN LATERAL (
   SELECT v.block_number, v.block_hash, v.block_time, v.tx_hash, v.log_index, v.reason
   FROM model_version_revoked v
   WHERE v.version_hash = r.version_hash AND v.publisher = r.publisher AND v.chain_id = r.chain_id
     AND v.contract = r.contract
     AND (${min}::BIGINT IS NULL OR COALESCE(c.head_block, v.block_number) - v.block_number + 1 >= ${min})
   ORDER BY v.block_number, v.log_index
   LIMIT 1
 ) v ON TRUE"
    )
}

/// The query of [`load_versions`]; `{KEY}` is the version-hash condition on `$1`, then `$2` the chain, `$3` the
/// registry, `$4` the confirmations, `$5` and `$6` the canonical registries (see [`registry_condition`]). One
/// statement, with no unknown-size set in the single-version case, so Postgres settles on a generic plan.
pub static LOAD_VERSIONS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{select}
 WHERE {{KEY}}
   AND ($2::BIGINT IS NULL OR r.chain_id = $2)
   AND {registry}
   AND ($4::BIGINT IS NULL OR COALESCE(c.head_block, r.block_number) - r.block_number + 1 >= $4)
 ORDER BY r.version_hash, r.chain_id, r.contract, {PRIORITY}, r.block_number, r.log_index",
        select = claim_query("model_version_registered r", 4),
        registry = registry_condition("r", 3, 5, 6),
    )
});

/// Decodes rows of a [`claim_query`] into claims, in their order.
pub(crate) fn claims_of(rows: Vec<ClaimRow>) -> Result<Vec<ModelVersion>> {
    rows.into_iter().map(ClaimRow::into_version).collect()
}

/// Every claim of `hashes` within `scope`, in `(version hash, chain, registry, priority block, block, log index)`
/// order.
pub async fn load_claims(pool: &PgPool, hashes: &[B256], scope: &Scope) -> Result<Vec<ModelVersion>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    static ONE: LazyLock<String> = LazyLock::new(|| LOAD_VERSIONS.replace("{KEY}", "r.version_hash = $1"));
    static ANY: LazyLock<String> = LazyLock::new(|| LOAD_VERSIONS.replace("{KEY}", "r.version_hash = ANY($1)"));
    let query = sqlx::query_as::<_, ClaimRow>(if hashes.len() == 1 { &ONE } else { &ANY });
    let query = match hashes {
        [one] => query.bind(one.to_vec()),
        many => query.bind(many.iter().map(|h| h.to_vec()).collect::<Vec<_>>()),
    };
    let rows = query
        .bind(scope.chain_id)
        .bind(scope.contract_bytes())
        .bind(scope.min_confirmations)
        .bind(scope.canonical_chains())
        .bind(scope.canonical_contracts())
        .fetch_all(pool)
        .await?;
    claims_of(rows)
}

/// Every claim of each of `hashes` within `scope` (every publisher's, in every registry in scope), in priority
/// order per chain and registry. Hashes nobody claimed are absent from the map; none is ever reduced to one claim.
pub async fn load_versions(pool: &PgPool, hashes: &[B256], scope: &Scope) -> Result<HashMap<B256, Vec<ModelVersion>>> {
    let mut out: HashMap<B256, Vec<ModelVersion>> = HashMap::new();
    for claim in load_claims(pool, hashes, scope).await? {
        out.entry(claim.version_hash).or_default().push(claim);
    }
    Ok(out)
}

/// Every claim of `version_hash` within `scope`, or a 404 when there is none.
pub async fn load_version_claims(pool: &PgPool, version_hash: B256, scope: &Scope) -> Result<Vec<ModelVersion>> {
    let claims = load_claims(pool, &[version_hash], scope).await?;
    if claims.is_empty() {
        return Err(ApiError::NotFound(format!("model version {version_hash} is not registered")));
    }
    Ok(claims)
}

/// `publisher`'s claim among `claims`, or a 404 that says how many other claims there are.
pub fn claim_of(claims: &[ModelVersion], version_hash: B256, publisher: Address) -> Result<&ModelVersion> {
    claims.iter().find(|c| c.publisher == publisher).ok_or_else(|| {
        ApiError::NotFound(format!(
            "publisher {publisher} has not claimed model version {version_hash} within the filters ({} other \
             claim{} of it; drop `publisher` to list them)",
            claims.len(),
            if claims.len() == 1 { "" } else { "s" }
        ))
    })
}

/// Every publisher's claim of a version hash, per chain and registry, in priority order; with `publisher`, that
/// publisher's claim is also answered as `claim`.
#[utoipa::path(
    get,
    path = "/v1/model-versions/{version_hash}",
    tag = "provenance",
    params(
        ("version_hash" = String, Path, description = "The version hash (manifest Merkle root), any case.",
            pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9"),
        ChainFilter,
        PublisherQuery,
    ),
    responses(
        (status = 200, description = "Every claim within the filters, ordered by (chain_id, contract, priority_block, \
            block_number, log_index). No claim blocks or shadows another: several publishers may claim the same \
            weights, and the answer says which one was asked about.", body = VersionClaims),
        BadRequest,
        NotFound,
    ),
)]
async fn get_model_version(
    State(state): State<AppState>,
    ApiPath(version_hash): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ChainFilter>,
    ApiQuery(asked): ApiQuery<PublisherQuery>,
) -> Result<Json<VersionClaims>> {
    let version_hash = parse_hash("versionHash", &version_hash)?;
    let publisher = asked.publisher()?;
    let claims = load_version_claims(&state.pool, version_hash, &filter.scope(&state.config)?).await?;
    let claim = publisher.map(|p| claim_of(&claims, version_hash, p).cloned()).transpose()?;
    Ok(Json(VersionClaims { version_hash, publisher, claim, claims }))
}

/// Registrations (one item per claim) in `(chain_id, block_number, log_index)` order, each as it is listed in
/// `GET /v1/model-versions/{version_hash}` within its chain and registry.
#[utoipa::path(
    get,
    path = "/v1/model-versions",
    tag = "provenance",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of registrations (claims), oldest first per chain.", body = Page<ModelVersion>),
        BadRequest,
    ),
)]
async fn list_model_versions(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<ModelVersion>>> {
    let pool = &state.pool;
    let page = list_events(
        pool,
        &state.config,
        &query,
        "model_version_registered",
        "version_hash",
        |keys, scope| async move { load_claims(pool, &keys, &scope).await },
    )
    .await?;
    Ok(Json(page))
}

impl HasPointer for ModelVersion {
    fn pointer(&self) -> &ChainPointer {
        &self.chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CHAIN, PUBLISHER, REGISTRY, call, call_with, claim, h, revoke_claim};
    use axum::http::StatusCode;
    use serde_json::Value;
    use std::collections::BTreeMap;

    const SQUATTER: Address = Address::repeat_byte(0x5a);
    const LAB: Address = Address::repeat_byte(0xBB);

    fn publishers(body: &Value) -> Vec<String> {
        body["claims"].as_array().unwrap().iter().map(|c| c["publisher"].as_str().unwrap().to_owned()).collect()
    }

    fn lower(address: Address) -> String {
        address.to_string().to_lowercase()
    }

    /// A squatter registers the lab's version hash first, under its own publisher; the lab's later claim is listed
    /// beside it, never shadowed, and `?publisher=` answers the lab's claim.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn squatters_earlier_claim_never_shadows_the_publishers(pool: PgPool) {
        assert_eq!(LAB, Address::from(PUBLISHER));
        claim(&pool, CHAIN, REGISTRY.into(), SQUATTER, h(1), 10, 0).await;
        claim(&pool, CHAIN, REGISTRY.into(), LAB, h(1), 12, 0).await;
        let uri = format!("/v1/model-versions/{}", h(1));

        let (status, body) = call(pool.clone(), "GET", &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(publishers(&body), [lower(SQUATTER), lower(LAB)]);
        assert_eq!(body["publisher"], Value::Null);
        assert_eq!(body["claim"], Value::Null);

        let (status, body) = call(pool.clone(), "GET", &format!("{uri}?publisher={}", LAB.to_checksum(None))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["publisher"], lower(LAB));
        assert_eq!(body["claim"]["publisher"], lower(LAB));
        assert_eq!(body["claim"]["chain"]["block_number"], 12);
        assert_eq!(body["claims"].as_array().unwrap().len(), 2);

        // A publisher that has not claimed the hash: 404, saying so and counting the others.
        let nobody = Address::repeat_byte(0x77);
        let (status, body) = call(pool.clone(), "GET", &format!("{uri}?publisher={nobody}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("publisher {nobody} has not claimed")), "{message}");
        assert!(message.contains("2 other claims"), "{message}");
        let (status, body) = call(pool, "GET", &format!("{uri}?publisher=0x12")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_address")));
    }

    /// Front-running a reveal: a squatter copies a registration from the mempool and gets in a block earlier, but
    /// the lab's claim reveals a commitment made before either, so it comes first.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_revealed_commitment_orders_before_an_earlier_uncommitted_claim(pool: PgPool) {
        claim(&pool, CHAIN, REGISTRY.into(), SQUATTER, h(1), 20, 0).await;
        claim(&pool, CHAIN, REGISTRY.into(), LAB, h(1), 21, 5).await;
        let (_, body) = call(pool.clone(), "GET", &format!("/v1/model-versions/{}", h(1))).await;
        assert_eq!(publishers(&body), [lower(LAB), lower(SQUATTER)], "{body}");
        let lab = &body["claims"][0];
        assert_eq!(lab["priority_block"], 5);
        assert_eq!(lab["committed_block"], 5);
        assert_eq!(lab["committed_at"], "2023-11-14T22:14:20Z");
        assert_eq!(lab["chain"]["block_number"], 21);
        let squatter = &body["claims"][1];
        assert_eq!((squatter["priority_block"].as_u64(), squatter["committed_block"].clone()), (Some(20), Value::Null));
        assert_eq!(squatter["committed_at"], Value::Null);
        // Ties on priority are broken by the registration block.
        claim(&pool, CHAIN, REGISTRY.into(), Address::repeat_byte(0x66), h(1), 22, 20).await;
        let (_, body) = call(pool, "GET", &format!("/v1/model-versions/{}", h(1))).await;
        let order = publishers(&body);
        assert_eq!(order[1..], [lower(SQUATTER), lower(Address::repeat_byte(0x66))]);
    }

    /// A claim in another registry on the canonical registry's chain, or on another chain, never shadows the
    /// canonical claim; without a canonical registry every registry's claim is listed with its own pointer.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn another_registry_or_chain_never_shadows_the_canonical_claim(pool: PgPool) {
        let rogue = Address::repeat_byte(0x99);
        claim(&pool, CHAIN, rogue, SQUATTER, h(1), 3, 0).await;
        claim(&pool, 1, REGISTRY.into(), SQUATTER, h(1), 2, 0).await;
        claim(&pool, CHAIN, REGISTRY.into(), LAB, h(1), 9, 0).await;
        let uri = format!("/v1/model-versions/{}", h(1));

        // No canonical registry: every claim, per chain and registry.
        let (_, body) = call(pool.clone(), "GET", &uri).await;
        let places: Vec<(u64, String)> = body["claims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["chain"]["chain_id"].as_u64().unwrap(), c["chain"]["contract"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(places, [(1, lower(REGISTRY.into())), (31337, lower(rogue)), (31337, lower(REGISTRY.into()))]);

        // The canonical registry of this chain: the rogue registry is left out unless named.
        let config = crate::ApiConfig {
            canonical_registries: BTreeMap::from([(CHAIN as u64, Address::from(REGISTRY))]),
            ..Default::default()
        };
        let (_, body) = call_with(pool.clone(), config.clone(), &format!("{uri}?chain_id={CHAIN}")).await;
        assert_eq!(publishers(&body), [lower(LAB)]);
        let (_, body) = call_with(pool.clone(), config.clone(), &uri).await;
        assert_eq!(publishers(&body), [lower(SQUATTER), lower(LAB)], "chain 1 has no canonical registry");
        assert_eq!(body["claims"][0]["chain"]["chain_id"], 1);
        let (_, body) = call_with(pool.clone(), config.clone(), &format!("{uri}?registry={rogue}")).await;
        assert_eq!(body["claims"][0]["chain"]["contract"], lower(rogue));
        assert_eq!(body["claims"].as_array().unwrap().len(), 1);
        let (status, _) =
            call_with(pool.clone(), config.clone(), &format!("{uri}?chain_id={CHAIN}&publisher={SQUATTER}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The registration list follows the same rule.
        let (_, page) = call_with(pool.clone(), config.clone(), &format!("/v1/model-versions?chain_id={CHAIN}")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        let (_, page) = call_with(pool, config, &format!("/v1/model-versions?registry={rogue}")).await;
        assert_eq!(page["items"][0]["publisher"], lower(SQUATTER));
    }

    /// One publisher's revocation of its claim revokes that claim only.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_revocation_revokes_only_its_publishers_claim(pool: PgPool) {
        claim(&pool, CHAIN, REGISTRY.into(), SQUATTER, h(1), 10, 0).await;
        claim(&pool, CHAIN, REGISTRY.into(), LAB, h(1), 11, 0).await;
        revoke_claim(&pool, CHAIN, REGISTRY.into(), SQUATTER, h(1), 12).await;
        let (_, body) = call(pool.clone(), "GET", &format!("/v1/model-versions/{}", h(1))).await;
        assert_eq!(body["claims"][0]["revocation"]["reason"], "leaked", "{body}");
        assert_eq!(body["claims"][1]["revocation"], Value::Null, "{body}");
    }
}
