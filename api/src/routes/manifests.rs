//! `PUT` and `GET /v1/model-versions/{versionHash}/manifest`: the file list of a claimed version.
//!
//! Anyone may upload a manifest, but it is stored only if the Merkle root of its files is the version hash in the
//! path and some publisher has claimed that version on an indexed chain. A stored manifest is never replaced.
//!
//! Only the files are covered by the version hash. The manifest's other fields, `tool` and `ignore`, are the first
//! uploader's words: they are bounded ([`MAX_TOOL_CHARS`], [`MAX_IGNORE_ENTRIES`], [`MAX_IGNORE_ENTRY_CHARS`]) and
//! answered under `unverified`. The cheap check (is the hash claimed at all) runs before the body is read, so a
//! large body for an unclaimed hash costs nothing; a body for a version whose manifest is stored is parsed (a
//! malformed one is refused) but its root is not computed again.

use alloy::primitives::B256;
use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use prova_core::manifest::{MANIFEST_FORMAT, Manifest, ManifestEntry};
use prova_db::DbHash;
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiPath, parse_hash};
use crate::routes::docs::{BadRequest, NotFound, PayloadTooLarge, Unprocessable, UnsupportedMediaType};
use crate::{AppState, MAX_MANIFEST_BODY_BYTES};

/// Longest `tool` accepted, in characters (Unicode scalar values, as JSON Schema's `maxLength` counts them).
pub const MAX_TOOL_CHARS: usize = 256;
/// Most `ignore` entries accepted.
pub const MAX_IGNORE_ENTRIES: usize = 64;
/// Longest `ignore` entry accepted, in characters.
pub const MAX_IGNORE_ENTRY_CHARS: usize = 256;

/// The manifest routes. Uploads may be up to [`MAX_MANIFEST_BODY_BYTES`].
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_manifest, put_manifest))
        .layer(DefaultBodyLimit::max(MAX_MANIFEST_BODY_BYTES))
}

/// The fields of a manifest that its version hash does not cover: set by whoever uploaded it first, bounded, and
/// never checked against anything. Do not rely on them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Unverified {
    /// The tool the uploader says wrote the manifest (at most 256 bytes).
    #[schema(example = "prova 0.1.0")]
    pub tool: String,
    /// The file and folder names the uploader says were skipped while hashing (at most 64, each at most 256 bytes).
    pub ignore: Vec<String>,
}

/// What an upload stored (or found already stored).
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredManifest {
    /// The version hash the manifest belongs to.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// Number of files.
    pub files: u64,
    /// Sum of the file sizes in bytes.
    pub total_bytes: u64,
    /// The stored manifest's fields that the version hash does not cover (the first upload's).
    pub unverified: Unverified,
}

/// A stored manifest, as `GET` answers it: a prova manifest (so `prova` reads it as it is), plus `unverified`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestAnswer {
    /// Always `prova.manifest/v1`.
    #[schema(example = "prova.manifest/v1")]
    pub format: String,
    /// As `unverified.tool`; kept here so the answer is a complete prova manifest. Not covered by the version hash.
    #[schema(example = "prova 0.1.0")]
    pub tool: String,
    /// The Merkle root over the files: the version hash claimed on-chain.
    #[schema(value_type = crate::routes::docs::Hash)]
    pub version_hash: B256,
    /// As `unverified.ignore`; kept here so the answer is a complete prova manifest. Not covered by the version hash.
    pub ignore: Vec<String>,
    /// The files, sorted by path: what the version hash covers.
    #[schema(value_type = Vec<crate::routes::docs::ManifestEntrySchema>)]
    pub files: Vec<ManifestEntry>,
    /// The fields above that the version hash does not cover, as the first uploader gave them.
    pub unverified: Unverified,
}

/// Refuses `tool` and `ignore` past their bounds or holding NUL: they are not covered by the version hash, so the
/// first uploader must not be able to store anything large in them. The bounds count characters, as the OpenAPI
/// document's `maxLength` does, so that a body the document allows is never refused for its length.
pub fn check_unverified(tool: &str, ignore: &[String]) -> Result<()> {
    let invalid = |message: String| Err(ApiError::bad_request("invalid_manifest", message));
    let chars = |text: &str| text.chars().count();
    if chars(tool) > MAX_TOOL_CHARS {
        return invalid(format!(
            "manifest tool is {} characters; at most {MAX_TOOL_CHARS} are accepted (the version hash does not cover \
             it)",
            chars(tool)
        ));
    }
    if ignore.len() > MAX_IGNORE_ENTRIES {
        return invalid(format!(
            "manifest ignore list has {} entries; at most {MAX_IGNORE_ENTRIES} are accepted (the version hash does \
             not cover it)",
            ignore.len()
        ));
    }
    if let Some(long) = ignore.iter().find(|entry| chars(entry) > MAX_IGNORE_ENTRY_CHARS) {
        return invalid(format!(
            "a manifest ignore entry is {} characters; at most {MAX_IGNORE_ENTRY_CHARS} are accepted",
            chars(long)
        ));
    }
    if tool.contains('\0') || ignore.iter().any(|i| i.contains('\0')) {
        return invalid("manifest tool and ignore list must not contain NUL".into());
    }
    Ok(())
}

/// Checks a manifest as `Manifest::from_json` does, without trusting anything it records: the format tag, the
/// bounds of the fields the root does not cover ([`check_unverified`]), the paths (relative, normal, no
/// duplicates), at least one file, and that the recorded version hash is the root of the files. Returns the
/// manifest with its files sorted by path.
///
/// CPU-bound for large manifests; call it off the async runtime.
pub fn verify_manifest(manifest: Manifest) -> Result<Manifest> {
    if manifest.format != MANIFEST_FORMAT {
        return Err(ApiError::bad_request(
            "invalid_manifest",
            format!("manifest format must be {MANIFEST_FORMAT:?}, got {:?}", manifest.format),
        ));
    }
    check_unverified(&manifest.tool, &manifest.ignore)?;
    let rebuilt = verify_entries(manifest.files, Some(manifest.version_hash), manifest.ignore)?;
    Ok(Manifest { tool: manifest.tool, ..rebuilt })
}

/// Checks a file list (paths, duplicates, at least one file) and computes its version hash with
/// [`Manifest::from_entries`]. If `recorded` is given it must equal that hash (else 422 `root_mismatch`).
pub fn verify_entries(files: Vec<ManifestEntry>, recorded: Option<B256>, ignore: Vec<String>) -> Result<Manifest> {
    check_files(&files)?;
    let rebuilt =
        Manifest::from_entries(files, ignore).map_err(|e| ApiError::bad_request("invalid_manifest", e.to_string()))?;
    if let Some(recorded) = recorded
        && recorded != rebuilt.version_hash
    {
        return Err(ApiError::unprocessable(
            "root_mismatch",
            format!(
                "manifest records version hash {recorded}, but its files give {computed}",
                computed = rebuilt.version_hash
            ),
        ));
    }
    Ok(rebuilt)
}

/// The cheap checks of a file list: at least one file, and sizes that fit a `BIGINT`.
fn check_files(files: &[ManifestEntry]) -> Result<()> {
    if files.is_empty() {
        return Err(ApiError::bad_request("invalid_manifest", "the manifest lists no files"));
    }
    if let Some(file) = files.iter().find(|f| f.size > i64::MAX as u64) {
        return Err(ApiError::bad_request(
            "invalid_manifest",
            format!("file {:?} has size {}, past the largest a manifest takes ({})", file.path, file.size, i64::MAX),
        ));
    }
    Ok(())
}

#[derive(FromRow)]
struct HeaderRow {
    tool: String,
    ignore: Vec<String>,
    file_count: i32,
    total_bytes: i64,
}

impl HeaderRow {
    fn stored(self, version_hash: B256) -> StoredManifest {
        StoredManifest {
            version_hash,
            files: self.file_count as u64,
            total_bytes: self.total_bytes as u64,
            unverified: Unverified { tool: self.tool, ignore: self.ignore },
        }
    }
}

/// The stored manifest header of `version_hash`, if any.
async fn load_header(pool: &PgPool, version_hash: B256) -> Result<Option<HeaderRow>> {
    Ok(sqlx::query_as("SELECT tool, ignore, file_count, total_bytes FROM model_manifests WHERE version_hash = $1")
        .bind(version_hash.to_vec())
        .fetch_optional(pool)
        .await?)
}

/// Uploads the manifest of a claimed version. It is stored only if its files give the version hash in the path and
/// some publisher claims that version; a stored manifest is never replaced (a repeat answers 200 with the stored
/// one, without reading the body). `tool` and `ignore` are bounded and answered as `unverified`.
///
/// Every query of an upload goes to the primary database, the checks before the insert included: a read replica
/// may not have replayed the claim yet, or a manifest just stored.
#[utoipa::path(
    put,
    path = "/v1/model-versions/{version_hash}/manifest",
    tag = "provenance",
    params(("version_hash" = String, Path, description = "The version hash (manifest Merkle root), any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9")),
    request_body(content = crate::routes::docs::ManifestSchema, description = "The manifest, as `prova model hash` writes it. `tool` at most 256 bytes; `ignore` at most 64 entries of at most 256 bytes.", content_type = "application/json"),
    responses(
        (status = 200, description = "A manifest was already stored for this version (the body was parsed but not checked against it).", body = StoredManifest),
        (status = 201, description = "The manifest was stored.", body = StoredManifest),
        BadRequest,
        NotFound,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
    ),
)]
async fn put_manifest(
    State(state): State<AppState>,
    ApiPath(version_hash): ApiPath<String>,
    request: Request,
) -> Result<(StatusCode, Json<StoredManifest>)> {
    let version_hash = parse_hash("versionHash", &version_hash)?;
    // A request that carries no JSON manifest is refused even when the manifest is stored (the shortcut below must
    // not accept a body it would refuse).
    let json = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType("a manifest is sent as Content-Type: application/json".into()));
    }
    // The cheap check first: nothing is read or parsed for a hash nobody claims.
    let claimed: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM model_version_registered WHERE version_hash = $1)")
            .bind(version_hash.to_vec())
            .fetch_one(&state.primary)
            .await?;
    if !claimed {
        return Err(ApiError::NotFound(format!("model version {version_hash} is not registered")));
    }
    // The body is parsed even when the manifest is stored (a malformed one is refused, not answered 200), but the
    // costly check, its root, is left for a manifest not stored yet.
    let ApiJson(manifest) = ApiJson::<Manifest>::from_request(request, &state).await?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(ApiError::bad_request(
            "invalid_manifest",
            format!("manifest format must be {MANIFEST_FORMAT:?}, got {:?}", manifest.format),
        ));
    }
    if manifest.version_hash != version_hash {
        return Err(ApiError::unprocessable(
            "root_mismatch",
            format!("the manifest records version hash {}, not the {version_hash} of the path", manifest.version_hash),
        ));
    }
    // The other cheap checks of `verify_manifest` too, so that a stored manifest answers only a well-formed body.
    check_unverified(&manifest.tool, &manifest.ignore)?;
    check_files(&manifest.files)?;
    if let Some(header) = load_header(&state.primary, version_hash).await? {
        return Ok((StatusCode::OK, Json(header.stored(version_hash))));
    }

    let manifest = crate::heavy::run(move || verify_manifest(manifest)).await?;
    if manifest.version_hash != version_hash {
        return Err(ApiError::unprocessable(
            "root_mismatch",
            format!(
                "manifest files give version hash {computed}, not {version_hash} from the path",
                computed = manifest.version_hash
            ),
        ));
    }

    let sizes = manifest
        .files
        .iter()
        .map(|e| i64::try_from(e.size).ok())
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| ApiError::unprocessable("size_out_of_range", "a file size does not fit in 63 bits"))?;
    let total_bytes = sizes
        .iter()
        .try_fold(0i64, |sum, size| sum.checked_add(*size))
        .ok_or_else(|| ApiError::unprocessable("size_out_of_range", "the total size does not fit in 63 bits"))?;
    let file_count = i32::try_from(manifest.files.len())
        .map_err(|_| ApiError::unprocessable("too_many_files", "the manifest lists too many files"))?;

    let mut tx = state.primary.begin().await?;
    // Concurrent uploads of the same version serialize on the primary key; the later one inserts nothing.
    let inserted: Option<Vec<u8>> = sqlx::query_scalar(
        "INSERT INTO model_manifests (version_hash, tool, ignore, file_count, total_bytes)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (version_hash) DO NOTHING
         RETURNING version_hash",
    )
    .bind(version_hash.to_vec())
    .bind(&manifest.tool)
    .bind(&manifest.ignore)
    .bind(file_count)
    .bind(total_bytes)
    .fetch_optional(&mut *tx)
    .await?;

    if inserted.is_none() {
        tx.rollback().await?;
        let header = load_header(&state.primary, version_hash)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("the manifest of {version_hash} vanished")))?;
        return Ok((StatusCode::OK, Json(header.stored(version_hash))));
    }

    sqlx::query(
        "INSERT INTO model_files (version_hash, path, size, sha256)
         SELECT $1, f.path, f.size, f.sha256 FROM unnest($2::TEXT[], $3::BIGINT[], $4::BYTEA[]) AS f(path, size, sha256)",
    )
    .bind(version_hash.to_vec())
    .bind(manifest.files.iter().map(|e| e.path.as_str()).collect::<Vec<_>>())
    .bind(&sizes)
    .bind(manifest.files.iter().map(|e| e.sha256.to_vec()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(%version_hash, files = file_count, total_bytes, "manifest stored");

    let stored = StoredManifest {
        version_hash,
        files: file_count as u64,
        total_bytes: total_bytes as u64,
        unverified: Unverified { tool: manifest.tool, ignore: manifest.ignore },
    };
    Ok((StatusCode::CREATED, Json(stored)))
}

#[derive(FromRow)]
struct FileRow {
    version_hash: DbHash,
    path: String,
    size: i64,
    sha256: DbHash,
}

/// The stored files of each of `hashes` that has a manifest, sorted by path.
pub async fn load_files(pool: &PgPool, hashes: &[B256]) -> Result<Vec<(B256, Vec<ManifestEntry>)>> {
    let rows: Vec<FileRow> = sqlx::query_as(
        "SELECT version_hash, path, size, sha256 FROM model_files WHERE version_hash = ANY($1)
         ORDER BY version_hash, path COLLATE \"C\"",
    )
    .bind(hashes.iter().map(|h| h.to_vec()).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    let mut out: Vec<(B256, Vec<ManifestEntry>)> = Vec::new();
    for row in rows {
        let version_hash = row.version_hash.0;
        let entry = ManifestEntry { path: row.path, size: row.size as u64, sha256: row.sha256.0 };
        match out.last_mut() {
            Some((last, files)) if *last == version_hash => files.push(entry),
            _ => out.push((version_hash, vec![entry])),
        }
    }
    Ok(out)
}

/// The uploaded manifest of a version: its files sorted by path (what the version hash covers), and the fields it
/// does not cover under `unverified`.
#[utoipa::path(
    get,
    path = "/v1/model-versions/{version_hash}/manifest",
    tag = "provenance",
    params(("version_hash" = String, Path, description = "The version hash (manifest Merkle root), any case.", pattern = "^0x[0-9a-fA-F]{64}$", example = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9")),
    responses(
        (status = 200, description = "The manifest.", body = ManifestAnswer),
        BadRequest,
        NotFound,
    ),
)]
async fn get_manifest(
    State(state): State<AppState>,
    ApiPath(version_hash): ApiPath<String>,
) -> Result<Json<ManifestAnswer>> {
    let version_hash = parse_hash("versionHash", &version_hash)?;
    let header = load_header(&state.pool, version_hash)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no manifest has been uploaded for {version_hash}")))?;
    let files = load_files(&state.pool, &[version_hash]).await?.pop().map(|(_, files)| files).unwrap_or_default();
    Ok(Json(ManifestAnswer {
        format: MANIFEST_FORMAT.to_owned(),
        tool: header.tool.clone(),
        version_hash,
        ignore: header.ignore.clone(),
        files,
        unverified: Unverified { tool: header.tool, ignore: header.ignore },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CHAIN, call, entry, h, manifest, register, send, send_json};
    use crate::{MAX_BODY_BYTES, MAX_MANIFEST_BODY_BYTES};
    use serde_json::{Value, json};

    fn uri(version_hash: impl std::fmt::Display) -> String {
        format!("/v1/model-versions/{version_hash}/manifest")
    }

    fn files() -> Vec<ManifestEntry> {
        vec![entry("config.json", 1), entry("weights/part-0.bin", 2), entry("tokenizer.json", 3)]
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn upload_is_stored_once_and_served_back(pool: PgPool) {
        let m = manifest(&files());
        register(&pool, CHAIN, m.version_hash, None, 10).await;
        let body = serde_json::to_value(&m).unwrap();

        let (status, first) = send_json(pool.clone(), "PUT", &uri(m.version_hash), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let unverified = json!({ "tool": m.tool, "ignore": [".git"] });
        assert_eq!(
            first,
            json!({ "version_hash": m.version_hash, "files": 3, "total_bytes": 101 + 201 + 301, "unverified": unverified })
        );

        // The same manifest again, even with its files in another order, is a no-op.
        let mut reordered = m.clone();
        reordered.files.reverse();
        let (status, again) =
            send_json(pool.clone(), "PUT", &uri(m.version_hash), &serde_json::to_value(&reordered).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, first);
        // Once stored, a request without a JSON body is still refused, not answered from the stored manifest.
        let (status, refused) = call(pool.clone(), "PUT", &uri(m.version_hash)).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{refused}");
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM model_files").fetch_one(&pool).await.unwrap();
        assert_eq!(stored, 3);

        let (status, mut served) = call(pool, "GET", &uri(m.version_hash)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(served["unverified"], unverified);
        served.as_object_mut().unwrap().remove("unverified");
        assert_eq!(served, body);
        assert_eq!(Manifest::from_json(&served.to_string()).unwrap(), m);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn root_mismatch_is_422_naming_both_hashes(pool: PgPool) {
        let m = manifest(&files());
        let other = manifest(&files()[..2]);
        register(&pool, CHAIN, m.version_hash, None, 10).await;
        register(&pool, CHAIN, other.version_hash, None, 11).await;

        // Valid manifest, but of another version than the path names.
        let (status, body) =
            send_json(pool.clone(), "PUT", &uri(other.version_hash), &serde_json::to_value(&m).unwrap()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "root_mismatch");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&m.version_hash.to_string()) && message.contains(&other.version_hash.to_string()));

        // A tampered file: the recorded root no longer matches the files.
        let mut tampered = serde_json::to_value(&m).unwrap();
        tampered["files"][0]["size"] = json!(999);
        let (status, body) = send_json(pool.clone(), "PUT", &uri(m.version_hash), &tampered).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "root_mismatch");

        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM model_manifests").fetch_one(&pool).await.unwrap();
        assert_eq!(stored, 0);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn unregistered_version_is_404(pool: PgPool) {
        let m = manifest(&files());
        let (status, body) =
            send_json(pool.clone(), "PUT", &uri(m.version_hash), &serde_json::to_value(&m).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");

        // Registered, but nobody uploaded its manifest yet.
        register(&pool, CHAIN, m.version_hash, None, 10).await;
        let (status, body) = call(pool, "GET", &uri(m.version_hash)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn malformed_uploads_are_json_errors(pool: PgPool) {
        let m = manifest(&files());
        register(&pool, CHAIN, m.version_hash, None, 10).await;
        let valid = serde_json::to_value(&m).unwrap();
        let with = |field: &str, value: Value| {
            let mut body = valid.clone();
            body[field] = value;
            body
        };
        let json = Some("application/json");
        let cases: Vec<(Option<&str>, Vec<u8>, StatusCode, &str)> = vec![
            (json, b"{not json".to_vec(), StatusCode::BAD_REQUEST, "invalid_body"),
            (json, b"{\"files\": []}".to_vec(), StatusCode::BAD_REQUEST, "invalid_body"),
            (
                json,
                with("files", json!([{ "path": "a", "size": 1, "sha256": "0x12" }])).to_string().into(),
                StatusCode::BAD_REQUEST,
                "invalid_body",
            ),
            (json, with("files", json!([])).to_string().into(), StatusCode::BAD_REQUEST, "invalid_manifest"),
            (
                json,
                with("files", json!([{ "path": "../etc/passwd", "size": 1, "sha256": h(1) }])).to_string().into(),
                StatusCode::BAD_REQUEST,
                "invalid_manifest",
            ),
            (json, with("format", json!("other/v9")).to_string().into(), StatusCode::BAD_REQUEST, "invalid_manifest"),
            (json, with("ignore", json!(["a\u{0}b"])).to_string().into(), StatusCode::BAD_REQUEST, "invalid_manifest"),
            (None, valid.to_string().into(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            (
                Some("text/plain"),
                valid.to_string().into(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
        ];
        for (content_type, body, expected, code) in cases {
            let shown = String::from_utf8_lossy(&body).chars().take(120).collect::<String>();
            let (status, answer) = send(pool.clone(), "PUT", &uri(m.version_hash), content_type, body).await;
            assert_eq!(status, expected, "{shown}: {answer}");
            assert_eq!(answer["error"]["code"], code, "{shown}");
        }
        let (status, body) = send_json(pool.clone(), "PUT", &uri("0x12"), &valid).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_hash")));
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM model_manifests").fetch_one(&pool).await.unwrap();
        assert_eq!(stored, 0);
    }

    /// The fields the version hash does not cover are bounded: the first uploader cannot store 32 MiB in `tool` or
    /// `ignore` for everyone to download, and what it stores is answered as `unverified`.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn tool_and_ignore_are_bounded_and_unverified(pool: PgPool) {
        let m = manifest(&files());
        register(&pool, CHAIN, m.version_hash, None, 10).await;
        let with =
            |tool: String, ignore: Vec<String>| serde_json::to_value(Manifest { tool, ignore, ..m.clone() }).unwrap();
        let long = |n: usize| "x".repeat(n);
        for body in [
            with(long(MAX_TOOL_CHARS + 1), vec![]),
            with("prova".into(), vec![".git".into(); MAX_IGNORE_ENTRIES + 1]),
            with("prova".into(), vec![long(MAX_IGNORE_ENTRY_CHARS + 1)]),
            with(long(8 << 20), vec![]),
        ] {
            let (status, answer) = send_json(pool.clone(), "PUT", &uri(m.version_hash), &body).await;
            assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_manifest")));
            assert!(answer["error"]["message"].as_str().unwrap().contains("at most"), "{answer}");
        }
        for body in [with("prova\0".into(), vec![]), with("prova".into(), vec!["a\0b".into()])] {
            let (status, answer) = send_json(pool.clone(), "PUT", &uri(m.version_hash), &body).await;
            assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_manifest")));
            assert!(answer["error"]["message"].as_str().unwrap().contains("NUL"), "{answer}");
        }
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM model_manifests").fetch_one(&pool).await.unwrap();
        assert_eq!(stored, 0);

        // At the bounds, which count characters as the OpenAPI document's `maxLength` does (`é` is two bytes):
        // stored, and answered as unverified.
        let wide = "é".repeat(MAX_IGNORE_ENTRY_CHARS);
        let mut ignore = vec![long(MAX_IGNORE_ENTRY_CHARS); MAX_IGNORE_ENTRIES - 1];
        ignore.push(wide.clone());
        let at_bounds = with(long(MAX_TOOL_CHARS), ignore);
        let (status, answer) = send_json(pool.clone(), "PUT", &uri(m.version_hash), &at_bounds).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer["unverified"]["tool"], long(MAX_TOOL_CHARS));
        let (_, served) = call(pool.clone(), "GET", &uri(m.version_hash)).await;
        assert_eq!(served["unverified"]["ignore"].as_array().unwrap().len(), MAX_IGNORE_ENTRIES);
        assert_eq!(served["unverified"]["ignore"][MAX_IGNORE_ENTRIES - 1], wide);
        assert_eq!(served["tool"], served["unverified"]["tool"]);

        // A later upload with other words changes nothing: the first upload's fields stay, marked unverified.
        let (status, again) = send_json(pool, "PUT", &uri(m.version_hash), &with("other".into(), vec![])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["unverified"]["tool"], long(MAX_TOOL_CHARS));
    }

    /// The OpenAPI document states the bounds the route enforces, so that no body it allows is refused (a fuzzer
    /// found an ignore entry holding NUL answered 400 while the document allowed it).
    #[test]
    fn the_document_states_the_bounds_of_tool_and_ignore() {
        let spec = serde_json::to_value(crate::routes::openapi()).unwrap();
        let schemas = &spec["components"]["schemas"];
        let manifest = &schemas["Manifest"]["properties"];
        assert_eq!(manifest["tool"]["maxLength"], MAX_TOOL_CHARS);
        assert_eq!(manifest["ignore"]["maxItems"], MAX_IGNORE_ENTRIES);
        assert_eq!(manifest["ignore"]["items"]["$ref"], "#/components/schemas/IgnoreName");
        assert_eq!(schemas["IgnoreName"]["maxLength"], MAX_IGNORE_ENTRY_CHARS);
        for pattern in [&manifest["tool"]["pattern"], &schemas["IgnoreName"]["pattern"]] {
            assert_eq!(pattern, "^[^\\u0000]*$", "{manifest}");
        }
    }

    /// The cheap check comes before the body is read: a body for a hash nobody claims is a 404. One for a version
    /// whose manifest is stored is still parsed: junk is a 400, not a 200 with the stored manifest.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn existence_checks_run_before_the_body_is_parsed(pool: PgPool) {
        let m = manifest(&files());
        let junk = || b"{ this is not json".to_vec();
        let json = Some("application/json");
        let (status, answer) = send(pool.clone(), "PUT", &uri(m.version_hash), json, junk()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

        register(&pool, CHAIN, m.version_hash, None, 10).await;
        let (status, answer) = send(pool.clone(), "PUT", &uri(m.version_hash), json, junk()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")));
        let (status, _) =
            send_json(pool.clone(), "PUT", &uri(m.version_hash), &serde_json::to_value(&m).unwrap()).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, answer) = send(pool.clone(), "PUT", &uri(m.version_hash), json, junk()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")));
        let (status, answer) = send(pool, "PUT", &uri(m.version_hash), json, b"[null, null]".to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn manifest_route_has_its_own_body_limit(pool: PgPool) {
        // A manifest above the global limit is accepted on this route.
        let many: Vec<ManifestEntry> = (0..12_000u32)
            .map(|i| ManifestEntry {
                path: format!("weights/shard-{i:05}.bin"),
                size: u64::from(i),
                sha256: B256::left_padding_from(&i.to_be_bytes()),
            })
            .collect();
        let big = manifest(&many);
        register(&pool, CHAIN, big.version_hash, None, 10).await;
        let body = serde_json::to_vec(&big).unwrap();
        assert!(body.len() > MAX_BODY_BYTES);
        let (status, answer) = send(pool.clone(), "PUT", &uri(big.version_hash), Some("application/json"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer["files"], 12_000);

        // Past the route's limit: 413 with our JSON body (for a version without a stored manifest).
        let huge = vec![b' '; MAX_MANIFEST_BODY_BYTES + 1];
        register(&pool, CHAIN, h(0x42), None, 11).await;
        let (status, answer) = send(pool.clone(), "PUT", &uri(h(0x42)), Some("application/json"), huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer["error"]["code"], "payload_too_large");

        // Other routes keep the global limit.
        let over = vec![b' '; MAX_BODY_BYTES + 1];
        let (status, answer) = send(pool, "POST", "/v1/model-versions/match", Some("application/json"), over).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer["error"]["code"], "payload_too_large");
    }

    /// Sends `body` (JSON, when given) to an app over `state`.
    async fn send_to(state: &crate::AppState, method: &str, uri: &str, body: Option<&Value>) -> (StatusCode, Value) {
        use tower::ServiceExt;
        let mut request = axum::http::Request::builder().method(method).uri(uri);
        if body.is_some() {
            request = request.header(axum::http::header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Vec::new, |body| serde_json::to_vec(body).unwrap());
        let response = crate::app(state.clone()).oneshot(request.body(axum::body::Body::from(body)).unwrap()).await;
        let response = response.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).expect("every answer is JSON"))
    }

    /// A stand-in read replica: a second database with the schema and none of the primary's rows, so an answer
    /// shows which database it came from. Its connections are read-only, as a standby's are: a write sent to it
    /// fails. Returns its pool and name (drop it with `DROP DATABASE … WITH (FORCE)`).
    async fn stand_in_replica(primary: &PgPool) -> (PgPool, String) {
        // The test database's name is already as long as Postgres allows: a name of its own, not a suffix.
        let name = format!("prova_stand_in_replica_{}", &B256::random().to_string()[2..18]);
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(primary).await.unwrap();
        let options = (*primary.connect_options()).clone().database(&name);
        let setup = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(options.clone()).await;
        let setup = setup.unwrap();
        prova_db::REGISTRY_MIGRATOR.run(&setup).await.unwrap();
        setup.close().await;
        let read_only = options.options([("default_transaction_read_only", "on")]);
        (sqlx::postgres::PgPoolOptions::new().max_connections(2).connect_lazy_with(read_only), name)
    }

    /// With a read replica, a manifest upload and the checks before it run on the primary (the replica here never
    /// sees the claim, so a check run there would answer 404), while reads answer from the replica.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn uploads_go_to_the_primary_and_reads_to_the_replica(pool: PgPool) {
        let (replica, name) = stand_in_replica(&pool).await;
        let state = crate::AppState::new(pool.clone()).with_read_replica(replica.clone());
        let m = manifest(&files());
        register(&pool, CHAIN, m.version_hash, None, 10).await;

        // Reads: the replica has not "replayed" the claim.
        let (status, _) = send_to(&state, "GET", &format!("/v1/model-versions/{}", m.version_hash), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The upload: checked and stored on the primary.
        let body = serde_json::to_value(&m).unwrap();
        let (status, answer) = send_to(&state, "PUT", &uri(m.version_hash), Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM model_files").fetch_one(&pool).await.unwrap();
        assert_eq!(stored, 3);
        // A repeat finds it stored on the primary.
        let (status, answer) = send_to(&state, "PUT", &uri(m.version_hash), Some(&body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        // Reading it back asks the replica, which does not have it.
        let (status, _) = send_to(&state, "GET", &uri(m.version_hash), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            send_to(&crate::AppState::new(pool.clone()), "GET", &uri(m.version_hash), None).await.0,
            StatusCode::OK
        );
        let on_replica: i64 = sqlx::query_scalar("SELECT count(*) FROM model_files").fetch_one(&replica).await.unwrap();
        assert_eq!(on_replica, 0);

        drop(state);
        replica.close().await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&pool).await.unwrap();
    }
}
