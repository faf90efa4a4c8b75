//! Helpers for the API's database tests: call the app in-process and seed indexed events directly.

use alloy::primitives::{Address, B256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use prova_core::manifest::{Manifest, ManifestEntry};
use prova_core::merkle::MerkleTree;
use prova_core::outputs::OutputLeaf;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::routes::output_batches::{UPLOAD_SIGNATURE_HEADER, upload_signing_hash};
use crate::{ApiConfig, AppState, app};

/// The chain most tests index.
pub(crate) const CHAIN: i64 = 31337;
/// The registry contract of every seeded event.
pub(crate) const REGISTRY: [u8; 20] = [0xAA; 20];
/// The publisher of every seeded version.
pub(crate) const PUBLISHER: [u8; 20] = [0xBB; 20];
/// The attestor key of every seeded version and batch: the address of [`ATTESTOR_KEY`].
pub(crate) const ATTESTOR: [u8; 20] = alloy::hex!("2b5907e591d106e1954b05dc9ca52c4322836e44");
/// The private key of [`ATTESTOR`], a fixed test key, which signs the tests' leaf uploads.
pub(crate) const ATTESTOR_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9c86dae88c7a8412f4603b6b78690d";

/// The signer of [`ATTESTOR`].
pub(crate) fn attestor_key() -> PrivateKeySigner {
    ATTESTOR_KEY.parse().expect("a valid test key")
}

/// The `prova-upload-signature` value by `signer` authorizing the upload of the leaves of `root` anchored in
/// [`REGISTRY`] on `chain_id`.
pub(crate) fn upload_signature(signer: &PrivateKeySigner, chain_id: i64, root: B256) -> String {
    let digest = upload_signing_hash(chain_id as u64, REGISTRY.into(), root);
    let signature = signer.sign_hash_sync(&digest).expect("signing with a local key");
    format!("0x{}", alloy::hex::encode(signature.as_bytes()))
}

/// PUTs `body` as the leaves of `root` to an app with `config`, with `content_type` and the `signature` header when
/// given; returns the status and the JSON answer.
pub(crate) async fn put_leaves_with(
    pool: PgPool,
    config: ApiConfig,
    root: B256,
    content_type: Option<&str>,
    signature: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method("PUT").uri(format!("/v1/output-batches/{root}/leaves"));
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(signature) = signature {
        request = request.header(UPLOAD_SIGNATURE_HEADER, signature);
    }
    let app = app(AppState::new(pool).with_config(config));
    let response = app.oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).expect("every answer is JSON"))
}

/// Uploads `leaves` as the leaves of `root`, signed by [`ATTESTOR`] for the anchoring on [`CHAIN`].
pub(crate) async fn upload_leaves(pool: PgPool, root: B256, leaves: &[OutputLeaf]) -> (StatusCode, Value) {
    let signature = upload_signature(&attestor_key(), CHAIN, root);
    let body = serde_json::to_vec(&serde_json::json!({ "leaves": leaves })).unwrap();
    put_leaves_with(pool, ApiConfig::default(), root, Some("application/json"), Some(&signature), body).await
}

/// Sends a request with an optional body and content type; returns the status and the JSON answer.
pub(crate) async fn send(
    pool: PgPool,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let response = app(AppState::new(pool)).oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    if !is_json {
        // Only `/metrics` answers text; its text is returned as a JSON string.
        assert!(status.is_success(), "a {status} error that is not JSON");
        return (status, Value::String(String::from_utf8(bytes.to_vec()).expect("text answers are UTF-8")));
    }
    (status, serde_json::from_slice(&bytes).expect("every answer is JSON"))
}

/// Sends a request without a body.
pub(crate) async fn call(pool: PgPool, method: &str, uri: &str) -> (StatusCode, Value) {
    send(pool, method, uri, None, Vec::new()).await
}

/// Sends a `GET` to an app with `config`; returns the status and the JSON answer.
pub(crate) async fn call_with(pool: PgPool, config: ApiConfig, uri: &str) -> (StatusCode, Value) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app(AppState::new(pool).with_config(config)).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).expect("every answer is JSON"))
}

/// Seeds `publisher`'s claim of `version`: a `ModelVersionRegistered` event in `registry` on `chain_id` at `block`
/// (log index 0, attestor [`ATTESTOR`]) that revealed a commitment made at `committed_block` (0: none), and moves
/// that registry's cursor to at least `block`.
pub(crate) async fn claim(
    pool: &PgPool,
    chain_id: i64,
    registry: Address,
    publisher: Address,
    version: B256,
    block: i64,
    committed_block: i64,
) {
    sqlx::query(
        "INSERT INTO model_version_registered (chain_id, tx_hash, log_index, contract, block_number, block_hash,
           block_time, version_hash, model_id, publisher, parent, attestor, metadata_uri, metadata_hash,
           committed_block, committed_at)
         VALUES ($1, $2, 0, $3, $4, $5, to_timestamp(1700000000 + $4 * 12), $6, $7, $8, $9, $10, 'ipfs://card', $9,
           $11, CASE WHEN $11 = 0 THEN 0 ELSE 1700000000 + $11 * 12 END)",
    )
    .bind(chain_id)
    .bind(keccak256(format!("claim {chain_id} {registry} {publisher} {version} {block}")).to_vec())
    .bind(registry.to_vec())
    .bind(block)
    .bind(vec![block as u8; 32])
    .bind(version.to_vec())
    .bind(vec![0x33u8; 32])
    .bind(publisher.to_vec())
    .bind(vec![0u8; 32])
    .bind(ATTESTOR.to_vec())
    .bind(committed_block)
    .execute(pool)
    .await
    .unwrap();
    advance_registry_cursor(pool, chain_id, registry, block).await;
}

/// Seeds `publisher`'s `ModelVersionRevoked` of its claim of `version` in `registry` on `chain_id` at `block`.
pub(crate) async fn revoke_claim(
    pool: &PgPool,
    chain_id: i64,
    registry: Address,
    publisher: Address,
    version: B256,
    block: i64,
) {
    sqlx::query(
        "INSERT INTO model_version_revoked (chain_id, tx_hash, log_index, contract, block_number, block_hash,
           block_time, version_hash, publisher, reason)
         VALUES ($1, $2, 1, $3, $4, $5, to_timestamp(1700000000 + $4 * 12), $6, $7, 'leaked')",
    )
    .bind(chain_id)
    .bind(keccak256(format!("revoke {chain_id} {registry} {publisher} {version} {block}")).to_vec())
    .bind(registry.to_vec())
    .bind(block)
    .bind(vec![block as u8; 32])
    .bind(version.to_vec())
    .bind(publisher.to_vec())
    .execute(pool)
    .await
    .unwrap();
    advance_registry_cursor(pool, chain_id, registry, block).await;
}

/// Seeds an `AttestorCompromised` event flagging [`ATTESTOR`] compromised from unix time `since`, in [`REGISTRY`]
/// on `chain_id` at `block`.
pub(crate) async fn compromise(pool: &PgPool, chain_id: i64, since: i64, block: i64) {
    sqlx::query(
        "INSERT INTO attestor_compromised (chain_id, tx_hash, log_index, contract, block_number, block_hash,
           block_time, publisher, key, since)
         VALUES ($1, $2, 3, $3, $4, $5, to_timestamp(1700000000 + $4 * 12), $6, $7, $8)",
    )
    .bind(chain_id)
    .bind(keccak256(format!("compromise {chain_id} {since} {block}")).to_vec())
    .bind(REGISTRY.to_vec())
    .bind(block)
    .bind(vec![block as u8; 32])
    .bind(PUBLISHER.to_vec())
    .bind(ATTESTOR.to_vec())
    .bind(since)
    .execute(pool)
    .await
    .unwrap();
    advance_cursor(pool, chain_id, block).await;
}

/// Sends `body` as JSON.
pub(crate) async fn send_json(pool: PgPool, method: &str, uri: &str, body: &Value) -> (StatusCode, Value) {
    send(pool, method, uri, Some("application/json"), serde_json::to_vec(body).unwrap()).await
}

/// Sends `body` as JSON to an app with `config`.
pub(crate) async fn send_json_with(
    pool: PgPool,
    config: ApiConfig,
    method: &str,
    uri: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let response = app(AppState::new(pool).with_config(config)).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).expect("every answer is JSON"))
}

/// A file entry whose digest is `byte` repeated.
pub(crate) fn entry(path: &str, byte: u8) -> ManifestEntry {
    ManifestEntry { path: path.into(), size: u64::from(byte) * 100 + 1, sha256: B256::repeat_byte(byte) }
}

/// A manifest over `files`, as `prova model hash` would write it.
pub(crate) fn manifest(files: &[ManifestEntry]) -> Manifest {
    Manifest::from_entries(files.to_vec(), vec![".git".into()]).unwrap()
}

/// Seeds a `ModelVersionRegistered` event of `version` (child of `parent`) on `chain_id` at `block`, and moves
/// that chain's cursor to at least `block`.
pub(crate) async fn register(pool: &PgPool, chain_id: i64, version: B256, parent: Option<B256>, block: i64) {
    sqlx::query(
        "INSERT INTO model_version_registered (chain_id, tx_hash, log_index, contract, block_number, block_hash,
           block_time, version_hash, model_id, publisher, parent, attestor, metadata_uri, metadata_hash)
         VALUES ($1, $2, 0, $3, $4, $5, to_timestamp(1700000000 + $4 * 12), $2, $6, $7, $8, $9, 'ipfs://card', $10)",
    )
    .bind(chain_id)
    .bind(version.to_vec())
    .bind(REGISTRY.to_vec())
    .bind(block)
    .bind(vec![block as u8; 32])
    .bind(vec![0x33u8; 32])
    .bind(PUBLISHER.to_vec())
    .bind(parent.unwrap_or_default().to_vec())
    .bind(ATTESTOR.to_vec())
    .bind(vec![0u8; 32])
    .execute(pool)
    .await
    .unwrap();
    advance_cursor(pool, chain_id, block).await;
}

/// Moves the cursor of `chain_id`'s registry to at least `block` (indexed and seen as head).
pub(crate) async fn advance_cursor(pool: &PgPool, chain_id: i64, block: i64) {
    advance_registry_cursor(pool, chain_id, REGISTRY.into(), block).await;
}

/// Moves the cursor of `registry` on `chain_id` to at least `block` (indexed and seen as head).
pub(crate) async fn advance_registry_cursor(pool: &PgPool, chain_id: i64, registry: Address, block: i64) {
    sqlx::query(
        "INSERT INTO indexer_cursors (chain_id, contract, next_block, head_block) VALUES ($1, $2, $3 + 1, $3)
         ON CONFLICT (chain_id, contract) DO UPDATE
           SET next_block = GREATEST(indexer_cursors.next_block, EXCLUDED.next_block),
               head_block = GREATEST(indexer_cursors.head_block, EXCLUDED.head_block)",
    )
    .bind(chain_id)
    .bind(registry.to_vec())
    .bind(block)
    .execute(pool)
    .await
    .unwrap();
}

/// Seeds a `ModelVersionRevoked` event of `version` on `chain_id` at `block`.
pub(crate) async fn revoke(pool: &PgPool, chain_id: i64, version: B256, block: i64) {
    sqlx::query(
        "INSERT INTO model_version_revoked (chain_id, tx_hash, log_index, contract, block_number, block_hash,
           block_time, version_hash, publisher, reason)
         VALUES ($1, $2, 1, $3, $4, $5, to_timestamp(1700000000 + $4 * 12), $2, $6, 'leaked')",
    )
    .bind(chain_id)
    .bind(version.to_vec())
    .bind(REGISTRY.to_vec())
    .bind(block)
    .bind(vec![block as u8; 32])
    .bind(PUBLISHER.to_vec())
    .execute(pool)
    .await
    .unwrap();
}

/// A distinct test hash.
pub(crate) fn h(n: u8) -> B256 {
    B256::repeat_byte(n)
}

/// Seeds a `PublisherRegistered` event of [`PUBLISHER`] named `name` on `chain_id`.
pub(crate) async fn name_publisher(pool: &PgPool, chain_id: i64, name: &str) {
    sqlx::query(
        "INSERT INTO publisher_registered (chain_id, tx_hash, log_index, contract, block_number, block_hash,
           block_time, publisher, admin, name, metadata_uri)
         VALUES ($1, $2, 0, $3, 1, $2, to_timestamp(1700000000), $4, $4, $5, 'https://lab.example')",
    )
    .bind(chain_id)
    .bind(vec![0x01u8; 32])
    .bind(REGISTRY.to_vec())
    .bind(PUBLISHER.to_vec())
    .bind(name)
    .execute(pool)
    .await
    .unwrap();
}

/// The request of leaf `i` in [`output_batch`].
pub(crate) fn request(i: usize) -> String {
    format!("question {i}")
}

/// The response of leaf `i` in [`output_batch`].
pub(crate) fn response(i: usize) -> String {
    format!("answer {i}")
}

/// `n` real output leaves of `version` (requests [`request`], responses [`response`], one second apart, fresh
/// salts) and their tree.
pub(crate) fn output_batch(version: B256, n: usize) -> (Vec<OutputLeaf>, MerkleTree) {
    let leaves: Vec<OutputLeaf> = (0..n)
        .map(|i| OutputLeaf::new(version, request(i).as_bytes(), response(i).as_bytes(), 1_700_000_000 + i as u64))
        .collect();
    let tree = MerkleTree::from_leaf_hashes(leaves.iter().map(OutputLeaf::hash).collect()).unwrap();
    (leaves, tree)
}

/// Seeds an `OutputsAttested` event anchoring `root` for `version` with `leaf_count` leaves on `chain_id` at
/// `block` (transaction hash = the root), and moves the cursor to at least `block`.
pub(crate) async fn anchor(pool: &PgPool, chain_id: i64, root: B256, version: B256, leaf_count: i64, block: i64) {
    sqlx::query(
        "INSERT INTO outputs_attested (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
           root, version_hash, publisher, attestor, leaf_count, window_start, window_end, batch_uri)
         VALUES ($1, $2, 2, $3, $4, $5, to_timestamp(1700000000 + $4 * 12), $2, $6, $7, $8, $9,
           1700000000, 1700000000 + $9, 'https://lab.example/batches/1.json')",
    )
    .bind(chain_id)
    .bind(root.to_vec())
    .bind(REGISTRY.to_vec())
    .bind(block)
    .bind(vec![block as u8; 32])
    .bind(version.to_vec())
    .bind(PUBLISHER.to_vec())
    .bind(ATTESTOR.to_vec())
    .bind(leaf_count)
    .execute(pool)
    .await
    .unwrap();
    advance_cursor(pool, chain_id, block).await;
}

/// Seeds an `OutputBatchRevoked` event of `root` on `chain_id` at `block`.
pub(crate) async fn revoke_batch(pool: &PgPool, chain_id: i64, root: B256, block: i64) {
    sqlx::query(
        "INSERT INTO output_batch_revoked (chain_id, tx_hash, log_index, contract, block_number, block_hash,
           block_time, root, publisher, reason)
         VALUES ($1, $2, 5, $3, $4, $5, to_timestamp(1700000000 + $4 * 12), $2, $6, 'sampled from a test key')",
    )
    .bind(chain_id)
    .bind(root.to_vec())
    .bind(REGISTRY.to_vec())
    .bind(block)
    .bind(vec![block as u8; 32])
    .bind(PUBLISHER.to_vec())
    .execute(pool)
    .await
    .unwrap();
    advance_cursor(pool, chain_id, block).await;
}
