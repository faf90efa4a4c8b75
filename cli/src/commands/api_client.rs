//! The calls the CLI makes to a prova API: uploading manifests and leaves, asking which version a folder is, and
//! reading answers and paginated lists for an audit ([`Api`]). Answers from the API are hints; everything that
//! decides a verdict is re-checked against the chain.

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
    let response = client()
        .post(&url)
        .json(&json!({ "files": files }))
        .send()
        .await
        .with_context(|| format!("cannot reach {api}"))?;
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
    put_when_indexed(&url, &json!({ "leaves": leaves }), Duration::from_secs(30), &format!("the leaves of {root}"))
        .await
}

/// Most times one request waits out a 429 (rate limited) before the audit gives up.
const MAX_RATE_LIMIT_WAITS: u32 = 30;

/// Most pages walked of one list (at the API's largest page size, far more items than any audit samples).
const MAX_PAGES: usize = 100_000;

/// A prova API read as an auditor reads it: every answer is data to check, and every failure to get one is an error
/// that says so (unreachable, refused, not JSON), so that "could not check" is never mistaken for a verdict.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// The API at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&base).with_context(|| format!("invalid API URL {base:?}"))?;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        Ok(Self { base, http })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs `path` with `query`: the JSON answer, or `None` on a 404. Any other failure is an error.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Option<Value>> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query)
            .with_context(|| format!("invalid API path {path}"))?;
        let mut waits = 0;
        let response = loop {
            let response = self
                .http
                .get(url.clone())
                .send()
                .await
                .with_context(|| format!("cannot reach the API at {} (GET {path})", self.base))?;
            // A rate-limited API says when to come back; an audit waits rather than fail.
            if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS && waits < MAX_RATE_LIMIT_WAITS {
                let secs = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .unwrap_or(1)
                    .clamp(1, 60);
                tokio::time::sleep(Duration::from_secs(secs)).await;
                waits += 1;
                continue;
            }
            break response;
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = response.text().await.with_context(|| format!("cannot read the API's answer to {url}"))?;
        let body: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let message = body
                .as_ref()
                .and_then(|b| b["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(200).collect());
            bail!("the API refused {url} (HTTP {status}): {message}");
        }
        body.map(Some).with_context(|| format!("the API's answer to {url} is not JSON"))
    }

    /// Every item of a paginated list (`{ "items": [...], "next_cursor": ... }`), walking `next_cursor` with the
    /// largest page size. A 404 means the API has no such list, which is an error.
    pub async fn list(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("limit", "200".into()));
            if let Some(cursor) = &cursor {
                q.push(("cursor", cursor.clone()));
            }
            let page = self.get(path, &q).await?.with_context(|| {
                format!("the API at {} has no list GET {path} (HTTP 404); is it an older prova?", self.base)
            })?;
            let Some(page_items) = page["items"].as_array() else {
                bail!("the API's answer to GET {path} has no \"items\" list");
            };
            items.extend(page_items.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) if Some(next) != cursor.as_deref() && !page_items.is_empty() => {
                    cursor = Some(next.to_owned());
                }
                Some(_) => bail!(
                    "the API's GET {path} pagination does not advance (same cursor, or an empty page with a cursor)"
                ),
                None => return Ok(items),
            }
        }
        bail!("the API's GET {path} has more than {MAX_PAGES} pages")
    }
}
