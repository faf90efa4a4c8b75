//! The calls the CLI makes to a prova API besides auditing it: uploading manifests and (signed) leaves, asking which
//! version a folder is, and fetching manifests. Answers from the API are hints; everything that decides a verdict is
//! re-checked against the chain. Every request of the process goes through one HTTP client ([`http`]), which the
//! audits (`prova_verify::api::ApiClient`) share.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use anyhow::{Context, bail};
use prova_core::manifest::{Manifest, ManifestEntry};
use serde::Deserialize;
use serde_json::json;

/// Largest document fetched from a URL (manifests of very large models stay well below).
const MAX_FETCH_BYTES: usize = 64 << 20;

/// The process's HTTP client, built on first use with `prova_verify`'s timeout and shared by every request after
/// (a `reqwest::Client` is a handle on one connection pool).
pub fn http() -> anyhow::Result<reqwest::Client> {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = HTTP.get() {
        return Ok(client.clone());
    }
    let client = prova_verify::api::client::http_client()?;
    Ok(HTTP.get_or_init(|| client).clone())
}

/// The API's answer to `POST /v1/model-versions/match`, as far as the CLI reads it.
#[derive(Debug, Deserialize)]
struct MatchAnswer {
    /// The registered versions sharing files with the folder, best first.
    #[serde(default)]
    candidates: Vec<MatchCandidate>,
}

/// One candidate of a match.
#[derive(Debug, Deserialize)]
struct MatchCandidate {
    /// Its version hash.
    version_hash: B256,
}

/// Reads a manifest from a file path or an http(s) URL.
pub async fn fetch_text(source: &str) -> anyhow::Result<String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let response = http()?.get(source).send().await.with_context(|| format!("cannot fetch {source}"))?;
        if !response.status().is_success() {
            bail!("fetching {source} gave HTTP {}", response.status());
        }
        let bytes = response.bytes().await.with_context(|| format!("cannot read {source}"))?;
        if bytes.len() > MAX_FETCH_BYTES {
            bail!("{source} is larger than {MAX_FETCH_BYTES} bytes");
        }
        Ok(String::from_utf8(bytes.to_vec()).with_context(|| format!("{source} is not UTF-8 text"))?)
    } else {
        std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))
    }
}

/// PUTs a JSON document, with `header` if given, that the API accepts only once it has indexed the matching chain
/// event: a 404 is retried for `wait`, anything else that is not a success is an error naming `what`.
async fn put_when_indexed(
    url: &str,
    header: Option<(&str, String)>,
    body: &impl serde::Serialize,
    wait: Duration,
    what: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let http = http()?;
    loop {
        let mut request = http.put(url).json(body);
        if let Some((name, value)) = &header {
            request = request.header(*name, value);
        }
        let response = request.send().await.with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status == reqwest::StatusCode::NOT_FOUND && started.elapsed() < wait {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        bail!("the API refused {what} (HTTP {status}): {}", response.text().await.unwrap_or_default());
    }
}

/// Uploads a manifest; the API accepts it once the version is indexed.
pub async fn upload_manifest(api: &str, manifest: &Manifest, wait: Duration) -> anyhow::Result<()> {
    let url = format!("{}/v1/model-versions/{}/manifest", api.trim_end_matches('/'), manifest.version_hash);
    put_when_indexed(&url, None, manifest, wait, "the manifest").await
}

/// Asks the API which registered versions share the most files with `files`; returns their version hashes,
/// best first.
pub async fn match_candidates(api: &str, files: &[ManifestEntry]) -> anyhow::Result<Vec<B256>> {
    let url = format!("{}/v1/model-versions/match", api.trim_end_matches('/'));
    let response = http()?
        .post(&url)
        .json(&json!({ "files": files }))
        .send()
        .await
        .with_context(|| format!("cannot reach {api}"))?;
    if !response.status().is_success() {
        bail!("the API match failed (HTTP {}): {}", response.status(), response.text().await.unwrap_or_default());
    }
    let answer: MatchAnswer = response.json().await.context("the API match answer is not a match result")?;
    Ok(answer.candidates.into_iter().map(|c| c.version_hash).collect())
}

/// Fetches the manifest the API holds for `version_hash`.
pub async fn get_manifest(api: &str, version_hash: B256) -> anyhow::Result<String> {
    fetch_text(&format!("{}/v1/model-versions/{version_hash}/manifest", api.trim_end_matches('/'))).await
}

/// Uploads a confirmed batch's leaves; the API accepts them once it has indexed the root. `attestor` is the key that
/// anchored the batch in `registry` on `chain_id`: it signs the upload (`docs/leaf-uploads.md`).
pub async fn upload_leaves(
    api: &str,
    root: B256,
    leaves: &[prova_core::outputs::OutputLeaf],
    attestor: &alloy::signers::local::PrivateKeySigner,
    chain_id: u64,
    registry: alloy::primitives::Address,
) -> anyhow::Result<()> {
    use alloy::signers::SignerSync;
    use prova_api::routes::output_batches::{UPLOAD_SIGNATURE_HEADER, upload_signing_hash};
    let url = format!("{}/v1/output-batches/{root}/leaves", api.trim_end_matches('/'));
    let signature = attestor
        .sign_hash_sync(&upload_signing_hash(chain_id, registry, root))
        .context("cannot sign the leaf upload")?;
    let header = (UPLOAD_SIGNATURE_HEADER, format!("0x{}", alloy::hex::encode(signature.as_bytes())));
    let what = format!("the leaves of {root}");
    put_when_indexed(&url, Some(header), &json!({ "leaves": leaves }), Duration::from_secs(30), &what).await
}
