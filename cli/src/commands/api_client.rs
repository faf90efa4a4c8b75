//! The few calls the CLI makes to a prova API: uploading manifests and asking which version a folder is.
//! Answers from the API are hints; everything that decides a verdict is re-checked against the chain.

use std::time::{Duration, Instant};

use alloy::primitives::B256;
use anyhow::{Context, bail};
use prova_core::manifest::{Manifest, ManifestEntry};
use serde_json::{Value, json};

/// Largest document fetched from a URL (manifests of very large models stay well below).
const MAX_FETCH_BYTES: usize = 64 << 20;

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("HTTP client")
}

/// Reads a manifest from a file path or an http(s) URL.
pub async fn fetch_text(source: &str) -> anyhow::Result<String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let response = client().get(source).send().await.with_context(|| format!("cannot fetch {source}"))?;
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

/// PUTs a JSON document that the API accepts only once it has indexed the matching chain event: a 404 is retried
/// for `wait`, anything else that is not a success is an error naming `what`.
async fn put_when_indexed(url: &str, body: &impl serde::Serialize, wait: Duration, what: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let response = client().put(url).json(body).send().await.with_context(|| format!("cannot reach {url}"))?;
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
    put_when_indexed(&url, manifest, wait, "the manifest").await
}

/// Asks the API which registered versions share the most files with `files`; returns their version hashes,
/// best first.
pub async fn match_candidates(api: &str, files: &[ManifestEntry]) -> anyhow::Result<Vec<B256>> {
    let url = format!("{}/v1/model-versions/match", api.trim_end_matches('/'));
    let response = client().post(&url).json(&json!({ "files": files })).send().await.with_context(|| format!("cannot reach {api}"))?;
    if !response.status().is_success() {
        bail!("the API match failed (HTTP {}): {}", response.status(), response.text().await.unwrap_or_default());
    }
    let body: Value = response.json().await.context("the API match answer is not JSON")?;
    Ok(body["candidates"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["version_hash"].as_str()?.parse().ok()).collect())
        .unwrap_or_default())
}

/// Fetches the manifest the API holds for `version_hash`.
pub async fn get_manifest(api: &str, version_hash: B256) -> anyhow::Result<String> {
    fetch_text(&format!("{}/v1/model-versions/{version_hash}/manifest", api.trim_end_matches('/'))).await
}

/// Uploads a confirmed batch's leaves; the API accepts them once it has indexed the root.
pub async fn upload_leaves(api: &str, root: B256, leaves: &[prova_core::outputs::OutputLeaf]) -> anyhow::Result<()> {
    let url = format!("{}/v1/output-batches/{root}/leaves", api.trim_end_matches('/'));
    put_when_indexed(&url, &json!({ "leaves": leaves }), Duration::from_secs(30), &format!("the leaves of {root}")).await
}
