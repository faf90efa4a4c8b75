//! The API's response cache follows the real indexer's commits: a revocation and a key compromise sent to anvil
//! show in the cached API's answers as soon as the indexer has committed them, and the cached answers then equal
//! those of an API without a cache.

use std::time::{Duration, Instant};

use alloy::primitives::B256;
use alloy::providers::Provider;
use prova_attestor::admin;
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_e2e::Stack;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn the_cache_shows_a_revocation_once_the_indexer_commits_it() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let uncached = stack.index_and_serve().await?;
    let cached = serve_cached(&stack).await?;
    let http = reqwest::Client::new();

    let publisher = stack.admin_key.address();
    let attestor = stack.anvil_key(2);
    admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
    admin::add_own_attestor(&stack.admin, stack.registry, publisher, &attestor).await?;
    let version = B256::repeat_byte(0x42);
    publish_model_version(&stack.admin, stack.registry, &attestor, &PublishRequest::new(version, "acme/m")).await?;
    let uri = format!("/v1/model-versions/{version}");
    let first = until(&http, &cached, &uri, |body| body["claims"][0]["version_hash"] == version.to_string()).await?;
    assert_eq!(first["claims"][0]["revocation"], Value::Null);
    let hits = cache_hits(&http, &cached).await?;
    // Several of the indexer's polls (100 ms apart) on the now idle chain: its heartbeat must not drop the cache.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = get(&http, &cached, &uri).await?;
    assert_eq!(again, first);
    assert_eq!(cache_hits(&http, &cached).await?, hits + 1, "the second answer came from the cache");

    let block = admin::revoke_version(&stack.admin, stack.registry, publisher, version, "weights leaked").await?;
    let since = stack.admin.get_block_by_number(block.block_number.unwrap().into()).await?.unwrap().header.timestamp;
    admin::mark_compromised(&stack.admin, stack.registry, publisher, attestor.address(), since.saturating_sub(3600))
        .await?;
    let revoked = until(&http, &cached, &uri, |body| body["claims"][0]["signed_by_compromised_key"] == true).await?;
    assert_eq!(revoked["claims"][0]["revocation"]["reason"], "weights leaked", "{revoked}");

    // No block since: the cached API answers exactly what the database says.
    assert_eq!(get(&http, &cached, &uri).await?, get(&http, &uncached, &uri).await?);
    Ok(())
}

/// The API over the stack's database with the response cache on, on a free port.
async fn serve_cached(stack: &Stack) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let state = prova_api::AppState::new(stack.pool.clone()).with_response_cache(16 << 20).await?;
    tokio::spawn(prova_api::serve(listener, state, std::future::pending()));
    Ok(url)
}

async fn get(http: &reqwest::Client, api: &str, uri: &str) -> anyhow::Result<Value> {
    Ok(http.get(format!("{api}{uri}")).send().await?.json().await?)
}

/// Asks until `done` holds (up to 30 s) and returns that answer.
async fn until(http: &reqwest::Client, api: &str, uri: &str, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    let started = Instant::now();
    loop {
        let body = get(http, api, uri).await?;
        if done(&body) {
            return Ok(body);
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "{uri} never got there: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The cache's hit count from `/metrics`.
async fn cache_hits(http: &reqwest::Client, api: &str) -> anyhow::Result<u64> {
    let text = http.get(format!("{api}/metrics")).send().await?.text().await?;
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix("prova_api_response_cache_lookups_total{result=\"Hit\"} "))
        .map_or(0, |n| n.parse().unwrap_or(0)))
}
