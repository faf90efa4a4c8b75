//! OpenAPI pieces shared by the route modules: hex string schemas, schemas of the core types the API answers with,
//! the common error responses, and the finishing pass that adds what every operation has (429, 503, headers).

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

pub use prova_views::schema::{
    ADDRESS_EXAMPLE, ADDRESS_INPUT_PATTERN, Address, AddressInput, HASH_EXAMPLE, HASH_INPUT_PATTERN, Hash, HashInput,
    ScoreSchema,
};

/// Schema of `prova_core::outputs::OutputLeaf`.
#[derive(Debug, ToSchema)]
#[schema(as = OutputLeaf)]
#[allow(dead_code)]
pub struct OutputLeafSchema {
    /// The model version that produced the output.
    #[schema(value_type = HashInput)]
    version_hash: String,
    /// keccak256 of the exact request bytes.
    #[schema(value_type = HashInput)]
    request_hash: String,
    /// keccak256 of the exact response bytes.
    #[schema(value_type = HashInput)]
    response_hash: String,
    /// When the output was produced (unix seconds).
    #[schema(example = 1_700_000_000)]
    timestamp: u64,
    /// 32 random bytes.
    #[schema(value_type = HashInput)]
    salt: String,
}

/// Schema of `prova_core::outputs::Receipt`: everything needed to prove from the chain alone that a model version
/// produced a response to a request at a time.
#[derive(Debug, ToSchema)]
#[schema(as = Receipt)]
#[allow(dead_code)]
pub struct ReceiptSchema {
    /// Always `prova.output-receipt/v1`.
    #[schema(example = "prova.output-receipt/v1")]
    format: String,
    /// The chain the batch was anchored on.
    #[schema(example = 31337)]
    chain_id: u64,
    /// The registry.
    #[schema(value_type = AddressInput)]
    registry: String,
    /// The batch root.
    #[schema(value_type = HashInput)]
    root: String,
    /// The leaf values, salt included.
    leaf: OutputLeafSchema,
    /// The StandardMerkleTree proof from the leaf to the root.
    #[schema(value_type = Vec<HashInput>)]
    proof: Vec<String>,
    /// The transaction that anchored the root.
    #[schema(value_type = HashInput)]
    tx_hash: String,
    /// Its block.
    block_number: u64,
}

/// Schema of `prova_core::manifest::ManifestEntry`: one file of a model.
#[derive(Debug, ToSchema)]
#[schema(as = ManifestEntry)]
#[allow(dead_code)]
pub struct ManifestEntrySchema {
    /// Path relative to the model folder, `/`-separated, UTF-8.
    #[schema(example = "model.safetensors")]
    path: String,
    /// Size in bytes (at most 2^63 - 1).
    #[schema(example = 4096, maximum = 9223372036854775807_i64)]
    size: u64,
    /// SHA-256 of the file's bytes.
    #[schema(value_type = HashInput)]
    sha256: String,
}

/// Schema of one name of a manifest's ignore list: at most 256 characters, no NUL.
#[derive(Debug)]
pub struct IgnoreName;

impl PartialSchema for IgnoreName {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A file or folder name skipped while hashing (one path component)."))
            .max_length(Some(crate::routes::manifests::MAX_IGNORE_ENTRY_CHARS))
            .pattern(Some(NO_NUL))
            .examples([".git"])
            .into()
    }
}

impl ToSchema for IgnoreName {}

/// A pattern for text that holds no NUL character.
const NO_NUL: &str = "^[^\\u0000]*$";

/// Schema of `prova_core::manifest::Manifest`: a model version's file list.
#[derive(Debug, ToSchema)]
#[schema(as = Manifest)]
#[allow(dead_code)]
pub struct ManifestSchema {
    /// Always `prova.manifest/v1`.
    #[schema(example = "prova.manifest/v1", pattern = "^prova\\.manifest/v1$")]
    format: String,
    /// The tool that wrote it, e.g. `prova 0.1.0`. Not covered by the version hash, so bounded: at most 256
    /// characters, no NUL.
    #[schema(example = "prova 0.1.0", max_length = 256, pattern = "^[^\\u0000]*$")]
    tool: String,
    /// The Merkle root over the entries: the version hash registered on-chain.
    #[schema(value_type = HashInput)]
    version_hash: String,
    /// File and folder names that were skipped while hashing. Not covered by the version hash, so bounded: at most
    /// 64 names of at most 256 characters each, no NUL.
    #[schema(max_items = 64, value_type = Vec<IgnoreName>)]
    ignore: Vec<String>,
    /// The files, sorted by path (at least one).
    #[schema(min_items = 1)]
    files: Vec<ManifestEntrySchema>,
}

/// Schema of `prova_core::manifest::ManifestDiff`: how a folder differs from a registered version.
#[derive(Debug, ToSchema)]
#[schema(as = ManifestDiff)]
#[allow(dead_code)]
pub struct ManifestDiffSchema {
    /// Files in both with the same size and digest.
    unchanged: u64,
    /// Paths in the folder but not in the version.
    added: Vec<String>,
    /// Paths in the version but not in the folder.
    removed: Vec<String>,
    /// Paths in both whose size or digest differ.
    changed: Vec<String>,
}

/// 400: the request is malformed (a bad hash, address, number, cursor or body).
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "The request is malformed: a bad hash, address, number, cursor or body.",
    example = json!({ "error": { "code": "invalid_hash", "message": "versionHash must be 0x followed by 64 hex digits, got \"0x12\"" } })
)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct BadRequest(crate::error::Body<'static>);

/// 404: not found, or not indexed yet (within the chain and confirmation filters).
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "Not found, or not indexed yet within the chain and confirmation filters.",
    example = json!({ "error": { "code": "not_found", "message": "model version 0x5c1f…3921 is not registered" } })
)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct NotFound(crate::error::Body<'static>);

/// 413: the request body is larger than the route accepts.
#[derive(IntoResponses)]
#[response(
    status = 413,
    description = "The request body is larger than the route accepts.",
    example = json!({ "error": { "code": "payload_too_large", "message": "request body is larger than this route accepts" } })
)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct PayloadTooLarge(crate::error::Body<'static>);

/// 415: the request body is not sent as `Content-Type: application/json`.
#[derive(IntoResponses)]
#[response(
    status = 415,
    description = "The request body is not sent as `Content-Type: application/json`.",
    example = json!({ "error": { "code": "unsupported_media_type", "message": "request body must be sent as `Content-Type: application/json`" } })
)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct UnsupportedMediaType(crate::error::Body<'static>);

/// 422: the body is well-formed but contradicts what it claims (e.g. its files do not give the root).
#[derive(IntoResponses)]
#[response(
    status = 422,
    description = "The body is well-formed but contradicts what it claims (e.g. its files do not give the root).",
    example = json!({ "error": { "code": "root_mismatch", "message": "manifest files give version hash 0x…, not 0x… from the path" } })
)]
#[allow(dead_code)]
#[derive(Debug)]
pub struct Unprocessable(crate::error::Body<'static>);

/// Description of an error response added to every operation.
fn error_response(description: &str, example: serde_json::Value) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(crate::error::Body::<'static>::name())))
            .example(Some(example))
            .build(),
    )
}

fn string_header(description: &str) -> RefOr<utoipa::openapi::header::Header> {
    RefOr::T(
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(description))
            .build(),
    )
}

/// Adds to every operation what the application's layers give every route: `429` (rate limited, with
/// `Retry-After`) and `503` (database unavailable or request timed out) with the `Error` body, the `x-request-id`
/// header on every answer, and `ETag` and `Cache-Control` on `GET` 200s.
pub fn finish(api: &mut OpenApi) {
    for (_, item) in api.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            let is_get = method == "get";
            let responses = &mut operation.responses.responses;
            responses.entry("429".into()).or_insert_with(|| {
                error_response(
                    "Rate limited: retry after the `Retry-After` seconds.",
                    serde_json::json!({ "error": { "code": "rate_limited", "message": "too many requests; retry in 1 s" } }),
                )
                .header("Retry-After", {
                    HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
                        .description(Some("Seconds to wait before retrying."))
                        .build()
                })
                .build()
                .into()
            });
            responses.entry("400".into()).or_insert_with(|| {
                error_response(
                    "A query parameter the operation does not take, or one given twice.",
                    serde_json::json!({ "error": { "code": "unknown_parameter",
                        "message": "unknown query parameter \"verifed_only\" (this route takes: none)" } }),
                )
                .build()
                .into()
            });
            responses.entry("503".into()).or_insert_with(|| {
                error_response(
                    "The database is unavailable or the request timed out; retry later.",
                    serde_json::json!({ "error": { "code": "unavailable", "message": "database unavailable" } }),
                )
                .build()
                .into()
            });
            for (status, response) in responses.iter_mut() {
                let RefOr::T(response) = response else { continue };
                response.headers.insert("x-request-id".into(), string_header("The request's id, as given or made up."));
                if is_get && status == "200" {
                    response
                        .headers
                        .insert("ETag".into(), string_header("Digest of the body; send it back as `If-None-Match`."));
                    response.headers.insert(
                        "Cache-Control".into(),
                        string_header("How long the answer may be cached, by the finality of the facts in it."),
                    );
                }
            }
        }
    }
    let components = api.components.get_or_insert_with(Default::default);
    let mut schemas = Vec::new();
    <crate::error::Body<'static> as ToSchema>::schemas(&mut schemas);
    schemas.push((crate::error::Body::<'static>::name().into_owned(), crate::error::Body::<'static>::schema()));
    components.schemas.extend(schemas);
}

/// The operations of a path item with their method names.
fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("patch", item.patch.as_mut()),
        ("head", item.head.as_mut()),
        ("options", item.options.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
    .collect()
}
