//! `POST /v1/model-versions/match`: "which registered version is this folder?"
//!
//! The body is a folder's file list (a full prova manifest, or just `{ "files": [...] }`). The answer is exact when
//! the root of those files is a claimed version. Otherwise the candidates are claimed versions whose uploaded
//! manifests share the most files with the folder, each with a diff naming what differs. Each candidate lists every
//! publisher's claim of its version: a match identifies weights, not who made them.
//!
//! **Bounded work.** The folder's digests are looked up once each (files sharing a digest are grouped first), and
//! each in at most [`MAX_FILES_PER_DIGEST`] stored files: a digest stored more often than that (the empty file, a
//! tokenizer many versions share) says little about which version a folder is and does not select candidates. So
//! the lookup reads at most `distinct digests × (MAX_FILES_PER_DIGEST + 1)` stored rows, whatever the request and
//! the stored manifests hold. The candidates found are then compared with the folder file by file, common digests
//! included.

use chrono::{DateTime, Utc};
use prova_db::DbHash;
use std::collections::{HashMap, HashSet};

use alloy::primitives::B256;
use axum::Json;
use axum::extract::State;
use prova_core::manifest::{MANIFEST_FORMAT, ManifestDiff, ManifestEntry, diff};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::docs::{BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType};
use crate::routes::manifests::{load_files, verify_entries};
use crate::routes::model_versions::{ChainFilter, ModelVersion, load_claims, load_versions};
use crate::routes::page::registry_condition;
use prova_views::ModelStatus;

/// Most candidates returned.
pub const MAX_CANDIDATES: usize = 5;

/// Most stored files one digest of the folder is looked up in; a digest stored in more files selects no candidate
/// (see the module documentation).
pub const MAX_FILES_PER_DIGEST: i64 = 100;

/// The match route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(match_files))
}

/// A folder to identify: a prova manifest, or only its `files`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MatchRequest {
    /// Manifest format tag; if present it must be the prova manifest format.
    #[schema(example = "prova.manifest/v1", pattern = "^prova\\.manifest/v1$")]
    pub format: Option<String>,
    /// The root the manifest records; if present it must be the root of `files`.
    #[schema(value_type = Option<crate::routes::docs::HashInput>)]
    pub version_hash: Option<B256>,
    /// The folder's files.
    #[schema(value_type = Vec<crate::routes::docs::ManifestEntrySchema>, min_items = 1)]
    pub files: Vec<ManifestEntry>,
}

/// The answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchResult {
    /// The version hash (Merkle root) of the given files.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// True if some publisher claims that root (within the filters).
    pub exact: bool,
    /// The first candidate, or null.
    pub best: Option<Candidate>,
    /// Up to [`MAX_CANDIDATES`] claimed versions, best first: the exact root first, then by files in common.
    pub candidates: Vec<Candidate>,
}

/// A claimed version the folder may be, with every publisher's claim of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Candidate {
    /// The version.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// Of the version's claims: `registered` if one stands, `revoked` if every claim was revoked by its publisher,
    /// else `signed_by_compromised_key`.
    pub status: ModelStatus,
    /// Every publisher's claim of the version within the filters, per chain and registry in priority order, as
    /// `GET /v1/model-versions/{version_hash}` lists them. None is preferred: the same weights may be claimed by
    /// several publishers, and matching files says nothing about which one made them.
    pub claims: Vec<ModelVersion>,
    /// Files with the same path and digest in both.
    pub files_in_common: u64,
    /// Files of the folder whose digest the version has under any path (renamed files count).
    #[serde(skip)]
    digests_in_common: u64,
    /// When the version was first claimed within the filters.
    #[serde(skip)]
    first_registered: Option<DateTime<Utc>>,
    /// The given files compared to the version's: `added` are only in the folder, `removed` only in the version.
    #[schema(value_type = crate::routes::docs::ManifestDiffSchema)]
    pub diff: ManifestDiff,
}

impl Candidate {
    /// The candidate `version_hash` with `files`, compared with the folder's `given` files.
    fn new(
        version_hash: B256,
        claims: Vec<ModelVersion>,
        given: &[ManifestEntry],
        files: &[ManifestEntry],
        first_registered: Option<DateTime<Utc>>,
    ) -> Self {
        let by_path: HashMap<&str, B256> = files.iter().map(|f| (f.path.as_str(), f.sha256)).collect();
        let digests: HashSet<B256> = files.iter().map(|f| f.sha256).collect();
        let files_in_common = given.iter().filter(|g| by_path.get(g.path.as_str()) == Some(&g.sha256)).count();
        let digests_in_common = given.iter().filter(|g| digests.contains(&g.sha256)).count();
        Self {
            version_hash,
            status: ModelStatus::of_claims(&claims),
            claims,
            files_in_common: files_in_common as u64,
            digests_in_common: digests_in_common as u64,
            first_registered,
            diff: diff(given, files),
        }
    }
}

#[derive(FromRow)]
struct Scored {
    version_hash: DbHash,
    first_registered: DateTime<Utc>,
}

/// Which registered version is this folder? Exact when the root of the given files is claimed; otherwise the
/// claimed versions whose uploaded manifests share the most files, each with a diff and every claim of it.
///
/// Files sharing a digest are looked up once, and a digest is looked up in at most 100 stored files: one stored more
/// often (the empty file, a tokenizer many versions share) does not select candidates, though it counts in the
/// `files_in_common` and `diff` of the candidates found.
#[utoipa::path(
    post,
    path = "/v1/model-versions/match",
    tag = "provenance",
    params(ChainFilter),
    request_body(content = MatchRequest, description = "A prova manifest, or only its `files`.", content_type = "application/json"),
    responses(
        (status = 200, description = "The root of the files and the best candidates.", body = MatchResult),
        BadRequest,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
    ),
)]
async fn match_files(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<ChainFilter>,
    ApiJson(request): ApiJson<MatchRequest>,
) -> Result<Json<MatchResult>> {
    if let Some(format) = &request.format
        && format != MANIFEST_FORMAT
    {
        return Err(ApiError::bad_request(
            "invalid_manifest",
            format!("manifest format must be {MANIFEST_FORMAT:?}, got {format:?}"),
        ));
    }
    let scope = filter.scope(&state.config)?;
    let (files, version_hash) = (request.files, request.version_hash);
    let given = crate::heavy::run(move || verify_entries(files, version_hash, Vec::new())).await?;
    let root = given.version_hash;

    let exact = Some(load_claims(&state.pool, &[root], &scope).await?).filter(|claims| !claims.is_empty());
    let is_exact = exact.is_some();
    let limit = MAX_CANDIDATES - usize::from(is_exact);

    // Per claimed version with a manifest, over the folder's digests each stored in at most MAX_FILES_PER_DIGEST
    // files: files with the same path and digest, then files whose digest appears in the version under any path
    // (renamed files), then the earliest claim in scope.
    let scored: Vec<Scored> = sqlx::query_as(&format!(
        "WITH given AS (
             SELECT sha256, count(*) AS files, array_agg(path) AS paths
             FROM unnest($1::TEXT[], $2::BYTEA[]) AS g(path, sha256)
             GROUP BY sha256
         ), hits AS (
             SELECT g.sha256, g.files, h.version_hash, h.path = ANY(g.paths) AS same_path
             FROM given g
             CROSS JOIN LATERAL (
                 SELECT f.version_hash, f.path, count(*) OVER () AS stored
                 FROM (SELECT version_hash, path FROM model_files WHERE sha256 = g.sha256 LIMIT $10 + 1) f
             ) h
             WHERE h.stored <= $10
         ), per_digest AS (
             SELECT version_hash, max(files) AS files, count(*) FILTER (WHERE same_path) AS same_path
             FROM hits GROUP BY version_hash, sha256
         ), scored AS (
             SELECT version_hash, sum(same_path) AS files_in_common, sum(files) AS digests_in_common
             FROM per_digest GROUP BY version_hash
         )
         SELECT s.version_hash, reg.first_registered
         FROM scored s
         JOIN LATERAL (
             SELECT min(r.block_time) AS first_registered FROM model_version_registered r
             LEFT JOIN indexer_cursors c ON c.chain_id = r.chain_id AND c.contract = r.contract
             WHERE r.version_hash = s.version_hash AND ($3::BIGINT IS NULL OR r.chain_id = $3) AND {registry}
               AND ($9::BIGINT IS NULL OR COALESCE(c.head_block, r.block_number) - r.block_number + 1 >= $9)
         ) reg ON reg.first_registered IS NOT NULL
         WHERE s.version_hash <> $4
         ORDER BY s.files_in_common DESC, s.digests_in_common DESC, reg.first_registered, s.version_hash
         LIMIT $5",
        registry = registry_condition("r", 6, 7, 8),
    ))
    .bind(given.files.iter().map(|e| e.path.as_str()).collect::<Vec<_>>())
    .bind(given.files.iter().map(|e| e.sha256.to_vec()).collect::<Vec<_>>())
    .bind(scope.chain_id)
    .bind(root.to_vec())
    .bind(limit as i64)
    .bind(scope.contract_bytes())
    .bind(scope.canonical_chains())
    .bind(scope.canonical_contracts())
    .bind(scope.min_confirmations)
    .bind(MAX_FILES_PER_DIGEST)
    .fetch_all(&state.pool)
    .await?;

    let hashes: Vec<B256> = scored.iter().map(|s| s.version_hash.0).collect();
    let mut files: HashMap<B256, Vec<ManifestEntry>> = load_files(&state.pool, &hashes).await?.into_iter().collect();
    let mut versions = load_versions(&state.pool, &hashes, &scope).await?;

    let mut found: Vec<Candidate> = Vec::with_capacity(scored.len());
    for s in scored {
        let version_hash = s.version_hash.0;
        if let (Some(claims), Some(registered)) = (versions.remove(&version_hash), files.remove(&version_hash)) {
            found.push(Candidate::new(version_hash, claims, &given.files, &registered, Some(s.first_registered)));
        }
    }
    // Ranked again on the whole files, common digests included.
    found.sort_by(|a, b| {
        (b.files_in_common, b.digests_in_common)
            .cmp(&(a.files_in_common, a.digests_in_common))
            .then(a.first_registered.cmp(&b.first_registered))
            .then(a.version_hash.cmp(&b.version_hash))
    });
    let mut candidates = Vec::with_capacity(MAX_CANDIDATES);
    if let Some(claims) = exact {
        // Same root, same files: every file is unchanged.
        candidates.push(Candidate::new(root, claims, &given.files, &given.files, None));
    }
    candidates.extend(found);
    Ok(Json(MatchResult { version_hash: root, exact: is_exact, best: candidates.first().cloned(), candidates }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ATTESTOR, CHAIN, PUBLISHER, REGISTRY, entry, manifest, register, revoke, send_json};
    use axum::http::StatusCode;
    use prova_core::manifest::Manifest;
    use serde_json::{Value, json};
    use sqlx::PgPool;

    const MATCH: &str = "/v1/model-versions/match";

    fn v1_files() -> Vec<ManifestEntry> {
        vec![entry("config.json", 1), entry("model.safetensors", 2), entry("tokenizer.json", 3)]
    }

    /// Registers `files` as a version at `block` and uploads its manifest.
    async fn publish(pool: &PgPool, files: &[ManifestEntry], block: i64) -> Manifest {
        let m = manifest(files);
        register(pool, CHAIN, m.version_hash, None, block).await;
        let uri = format!("/v1/model-versions/{}/manifest", m.version_hash);
        let (status, body) = send_json(pool.clone(), "PUT", &uri, &serde_json::to_value(&m).unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        m
    }

    fn order(body: &Value) -> Vec<String> {
        body["candidates"].as_array().unwrap().iter().map(|c| c["version_hash"].as_str().unwrap().to_owned()).collect()
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn exact_match_without_uploaded_manifest(pool: PgPool) {
        let m = manifest(&v1_files());
        register(&pool, CHAIN, m.version_hash, None, 10).await;

        for body in [json!({ "files": v1_files() }), serde_json::to_value(&m).unwrap()] {
            let (status, answer) = send_json(pool.clone(), "POST", MATCH, &body).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert_eq!(answer["version_hash"], m.version_hash.to_string());
            assert_eq!(answer["exact"], true);
            assert_eq!(answer["best"]["version_hash"], m.version_hash.to_string());
            assert_eq!(answer["best"]["files_in_common"], 3);
            assert_eq!(answer["best"]["diff"], json!({ "unchanged": 3, "added": [], "removed": [], "changed": [] }));
            assert_eq!(answer["best"]["status"], "registered");
            assert_eq!(answer["best"]["claims"][0]["revocation"], Value::Null);
            assert_eq!(answer["best"]["claims"][0]["chain"]["block_number"], 10);
            assert_eq!(answer["candidates"][0], answer["best"]);
            assert_eq!(answer["candidates"].as_array().unwrap().len(), 1);
        }
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn one_changed_file_points_at_the_right_version(pool: PgPool) {
        let v1 = publish(&pool, &v1_files(), 10).await;
        // Unrelated model.
        let v2 = publish(&pool, &[entry("config.json", 0x21), entry("model.safetensors", 0x22)], 11).await;
        // Shares one file by path and digest.
        let v3 = publish(&pool, &[entry("config.json", 1), entry("other.bin", 0x31)], 12).await;
        // Also one file by path and digest, plus one renamed file: ranks above v3 although registered later.
        let v4 = publish(&pool, &[entry("config.json", 1), entry("renamed/tokenizer.json", 3)], 13).await;
        revoke(&pool, CHAIN, v1.version_hash, 14).await;
        sqlx::query(
            "INSERT INTO attestor_compromised (chain_id, tx_hash, log_index, contract, block_number, block_hash,
               block_time, publisher, key, since)
             VALUES ($1, $2, 0, $3, 15, $2, to_timestamp(1700000180), $4, $5, 1600000000)",
        )
        .bind(CHAIN)
        .bind(vec![0xEEu8; 32])
        .bind(REGISTRY.to_vec())
        .bind(vec![0xBBu8; 20])
        .bind(ATTESTOR.to_vec())
        .execute(&pool)
        .await
        .unwrap();

        let mut folder = v1_files();
        folder[1] = entry("model.safetensors", 0x7F);
        let (status, answer) = send_json(pool.clone(), "POST", MATCH, &json!({ "files": folder })).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["version_hash"], manifest(&folder).version_hash.to_string());
        assert_eq!(answer["exact"], false);
        let best = &answer["best"];
        assert_eq!(best["version_hash"], v1.version_hash.to_string());
        assert_eq!(best["files_in_common"], 2);
        assert_eq!(
            best["diff"],
            json!({ "unchanged": 2, "added": [], "removed": [], "changed": ["model.safetensors"] })
        );
        assert_eq!(best["status"], "revoked");
        assert_eq!(best["claims"][0]["revocation"]["reason"], "leaked");
        assert_eq!(best["claims"][0]["signed_by_compromised_key"], true);
        assert_eq!(best["claims"][0]["publisher"], format!("0x{}", "bb".repeat(20)));
        assert_eq!(best["claims"][0]["publisher_name"], Value::Null);
        assert_eq!(best["claims"][0]["chain"]["chain_id"], CHAIN);
        assert_eq!(order(&answer), [v1.version_hash, v4.version_hash, v3.version_hash].map(|h| h.to_string()));
        assert!(!order(&answer).contains(&v2.version_hash.to_string()));
        let v3_diff = &answer["candidates"][2]["diff"];
        assert_eq!(v3_diff["added"], json!(["model.safetensors", "tokenizer.json"]));
        assert_eq!(v3_diff["removed"], json!(["other.bin"]));
    }

    /// The same weights claimed by a squatter first and by the lab: the match lists both claims of the one version,
    /// never one of them as "the" publisher; a claim in a non-canonical registry of the chain is left out.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn an_exact_match_lists_every_claim_of_the_root(pool: PgPool) {
        use crate::testing::{claim, send_json_with};
        use alloy::primitives::Address;
        let m = manifest(&v1_files());
        let (squatter, lab, rogue) = (Address::repeat_byte(0x5a), Address::from(PUBLISHER), Address::repeat_byte(0x99));
        claim(&pool, CHAIN, REGISTRY.into(), squatter, m.version_hash, 10, 0).await;
        claim(&pool, CHAIN, REGISTRY.into(), lab, m.version_hash, 11, 0).await;
        claim(&pool, CHAIN, rogue, squatter, m.version_hash, 9, 0).await;
        let config = crate::ApiConfig {
            canonical_registries: std::collections::BTreeMap::from([(CHAIN as u64, Address::from(REGISTRY))]),
            ..Default::default()
        };
        let (status, answer) = send_json_with(pool, config, "POST", MATCH, &json!({ "files": v1_files() })).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["candidates"].as_array().unwrap().len(), 1);
        let claims: Vec<&str> =
            answer["best"]["claims"].as_array().unwrap().iter().map(|c| c["publisher"].as_str().unwrap()).collect();
        assert_eq!(claims, [squatter.to_string().to_lowercase(), lab.to_string().to_lowercase()]);
    }

    /// The attack: a folder of thousands of files sharing one digest (the empty file), against stored manifests
    /// holding that digest thousands of times. Joining them used to make `folder files × stored rows` rows (here
    /// 8,000 × 40,000), past any timeout while Postgres kept running. The folder's digests are now looked up once
    /// each, in at most MAX_FILES_PER_DIGEST stored files: the answer comes at once, and the version sharing a
    /// distinctive file is found, its files compared in full (the empty file counts there).
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_flood_of_one_digest_is_answered_within_the_timeout(pool: PgPool) {
        use crate::testing::send_json_with;
        let empty = B256::repeat_byte(0xE0);
        for n in 0..8u8 {
            let version = B256::repeat_byte(0x80 + n);
            register(&pool, CHAIN, version, None, 20 + i64::from(n)).await;
            sqlx::query(
                "INSERT INTO model_manifests (version_hash, tool, ignore, file_count, total_bytes)
                 VALUES ($1, 'flood', '{}', 5000, 0)",
            )
            .bind(version.to_vec())
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO model_files (version_hash, path, size, sha256)
                 SELECT $1, 'stored/' || g, 0, $2 FROM generate_series(1, 5000) AS g",
            )
            .bind(version.to_vec())
            .bind(empty.to_vec())
            .execute(&pool)
            .await
            .unwrap();
        }
        let empty_file = ManifestEntry { path: "empty.txt".into(), size: 0, sha256: empty };
        let mut real_files = v1_files();
        real_files.push(empty_file.clone());
        let real = publish(&pool, &real_files, 40).await;

        let mut folder: Vec<ManifestEntry> =
            (0..8000).map(|i| ManifestEntry { path: format!("pad/{i:05}"), size: 0, sha256: empty }).collect();
        folder.extend(v1_files());
        folder[8001] = entry("model.safetensors", 0x7F);
        folder.push(empty_file);
        let config = crate::ApiConfig { request_timeout: std::time::Duration::from_secs(3), ..Default::default() };
        let (status, answer) = send_json_with(pool, config, "POST", MATCH, &json!({ "files": folder })).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(order(&answer), [real.version_hash.to_string()]);
        // config.json, tokenizer.json and empty.txt have the same path and digest.
        assert_eq!(answer["best"]["files_in_common"], 3);
        assert_eq!(answer["best"]["diff"]["unchanged"], 3);
        assert_eq!(answer["best"]["diff"]["changed"], json!(["model.safetensors"]));
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn unrelated_folder_has_no_candidates(pool: PgPool) {
        publish(&pool, &v1_files(), 10).await;
        let folder = [entry("notes.txt", 0x51), entry("data.bin", 0x52)];
        let (status, answer) = send_json(pool, "POST", MATCH, &json!({ "files": folder })).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            answer,
            json!({ "version_hash": manifest(&folder).version_hash, "exact": false, "best": null, "candidates": [] })
        );
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn bad_file_lists_are_rejected(pool: PgPool) {
        let (status, answer) = send_json(pool.clone(), "POST", MATCH, &json!({ "files": [] })).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_manifest")));

        let (status, answer) = send_json(pool.clone(), "POST", MATCH, &json!({ "paths": ["a"] })).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")));

        let twice = json!({ "files": [entry("a", 1), entry("a", 2)] });
        let (status, answer) = send_json(pool.clone(), "POST", MATCH, &twice).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_manifest")));

        let mut tampered = serde_json::to_value(manifest(&v1_files())).unwrap();
        tampered["files"][0]["size"] = json!(5);
        let (status, answer) = send_json(pool, "POST", MATCH, &tampered).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("root_mismatch"))
        );
    }
}
