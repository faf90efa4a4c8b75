//! Indexer benchmarks on a real anvil and Postgres:
//!
//! 1. Backfill: an anvil chain holding `PROVA_BENCH_EVENTS` (default 200,000) registry events is indexed from
//!    scratch; the peer measured in the same run is a bare client fetching the same logs with `eth_getLogs` alone.
//! 2. Latency: on anvil with `--block-time 1`, the time from a block being seen by a client to its model version
//!    being served by the API, p50 and p99, with the indexer polling and with it following heads over WebSocket.
//!
//! Run with `scripts/bench-indexer.sh` (it builds the contracts and starts Postgres with fsync on).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::sol_types::SolCall;
use prova_attestor::admin;
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_e2e::Stack;
use prova_indexer::{Indexer, IndexerConfig};

alloy::sol! {
    function invalidate(address registry, uint256 first, uint256 count) external;
}

/// Events per flood transaction (about 27M gas, under anvil's 30M block limit).
const PER_TX: u64 = 1_000;
/// Empty blocks mined after each flood block, so the events spread over a realistic number of blocks.
const GAP_BLOCKS: u64 = 9;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn flood_bytecode() -> anyhow::Result<alloy::primitives::Bytes> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/out/EventFlood.sol/EventFlood.json");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{path}: {e} (run `forge build` first; scripts/bench-indexer.sh does)"))?,
    )?;
    Ok(json["bytecode"]["object"].as_str().unwrap_or_default().parse()?)
}

async fn mine(provider: &DynProvider, blocks: u64) -> anyhow::Result<()> {
    let _: serde_json::Value = provider.raw_request("anvil_mine".into(), (U256::from(blocks),)).await?;
    Ok(())
}

/// Makes the registry emit `events` events, `PER_TX` per block with `GAP_BLOCKS` empty blocks after each.
async fn fill(stack: &Stack, events: u64) -> anyhow::Result<u64> {
    let provider = &stack.admin;
    let deploy = TransactionRequest::default().with_deploy_code(flood_bytecode()?);
    let flood = prova_chain::send(provider, deploy).await?.contract_address.expect("flood address");
    let started = Instant::now();
    let mut first = 0;
    while first < events {
        let count = PER_TX.min(events - first);
        let call = invalidateCall { registry: stack.registry, first: U256::from(first), count: U256::from(count) };
        let tx = TransactionRequest::default().with_to(flood).with_input(call.abi_encode()).with_gas_limit(29_000_000);
        prova_chain::send(provider, tx).await?;
        mine(provider, GAP_BLOCKS).await?;
        first += count;
    }
    let head = provider.get_block_number().await?;
    eprintln!("filled {events} events up to block {head} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(head)
}

/// A bare client: `eth_getLogs` alone over `from..=head`, in ranges of `range` blocks, sequentially.
async fn bare_get_logs(
    provider: &DynProvider,
    registry: Address,
    from: u64,
    head: u64,
    range: u64,
) -> anyhow::Result<(usize, f64)> {
    let started = Instant::now();
    let mut logs = 0;
    let mut start = from;
    while start <= head {
        let end = head.min(start + range - 1);
        logs += provider.get_logs(&Filter::new().address(registry).from_block(start).to_block(end)).await?.len();
        start = end + 1;
    }
    Ok((logs, started.elapsed().as_secs_f64()))
}

async fn fresh_database(stack: &Stack, name: &str) -> anyhow::Result<sqlx::PgPool> {
    let admin = sqlx::PgPool::connect(&stack.database_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
    admin.close().await;
    let (base, _) = stack.database_url.rsplit_once('/').expect("database URL has a path");
    Ok(prova_db::connect_and_migrate(&format!("{base}/{name}"), 16, prova_db::Schema::Registry).await?)
}

async fn backfill(events: u64, rounds: usize) -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let head = fill(&stack, events).await?;
    let from = stack.deploy_block;

    let mut bare = Vec::new();
    for range in [head + 1, 2_000, 500] {
        let (logs, seconds) = bare_get_logs(&stack.admin, stack.registry, from, head, range).await?;
        anyhow::ensure!(logs as u64 == events, "bare client saw {logs} logs, expected {events}");
        eprintln!("bare eth_getLogs, ranges of {range} blocks: {seconds:.2} s ({:.0} events/s)", logs as f64 / seconds);
        bare.push(seconds);
    }
    let limit = bare.iter().copied().fold(f64::INFINITY, f64::min);

    let mut runs = Vec::new();
    for round in 0..rounds {
        let pool = fresh_database(&stack, &format!("prova_bench_backfill_{round}")).await?;
        let config = IndexerConfig { start_block: from, ..IndexerConfig::new(stack.registry) };
        let indexer = Indexer::new(pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
        let started = Instant::now();
        let report = indexer.sync_to_head().await?;
        let seconds = started.elapsed().as_secs_f64();
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM nonce_invalidated").fetch_one(&pool).await?;
        anyhow::ensure!(rows as u64 == events, "indexed {rows} rows, expected {events}");
        eprintln!(
            "indexer backfill round {}: {seconds:.2} s ({:.0} events/s, {} transactions)",
            round + 1,
            events as f64 / seconds,
            report.ranges
        );
        runs.push(seconds);
        pool.close().await;
    }
    runs.sort_by(f64::total_cmp);
    let median = runs[runs.len() / 2];
    println!("backfill: {events} events over {} blocks", head - from + 1);
    println!("  bare eth_getLogs (best of 3 range sizes): {limit:.2} s = {:.0} events/s", events as f64 / limit);
    println!("  prova indexer (median of {rounds}):          {median:.2} s = {:.0} events/s", events as f64 / median);
    println!("  indexer / bare throughput: {:.0}% (target >= 50%)", 100.0 * limit / median);
    Ok(())
}

fn request(version_hash: B256) -> PublishRequest {
    PublishRequest { commit: false, ..PublishRequest::new(version_hash, "bench/llm") }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn latency(samples: usize, ws: bool) -> anyhow::Result<()> {
    let stack = Stack::start_with(&["--block-time", "1"]).await?;
    let attestor = stack.anvil_key(2);
    admin::register_publisher(&stack.admin, stack.registry, "Bench AI", "").await?;
    admin::add_own_attestor(&stack.admin, stack.registry, stack.admin_key.address(), &attestor).await?;
    let config = IndexerConfig {
        start_block: stack.deploy_block,
        poll_interval: Duration::from_millis(100),
        ws_url: ws.then(|| stack.anvil.ws_endpoint()),
        ..IndexerConfig::new(stack.registry)
    };
    let indexer =
        Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        indexer
            .run(async {
                stopped.await.ok();
            })
            .await
    });
    let api = stack.serve_api().await?;

    // When a client first saw each block (polled every 5 ms).
    let seen: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let watcher = {
        let seen = seen.clone();
        let provider = prova_chain::connect(&stack.rpc_url)?;
        tokio::spawn(async move {
            loop {
                if let Ok(n) = provider.get_block_number().await {
                    seen.lock().unwrap().entry(n).or_insert_with(Instant::now);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let http = reqwest::Client::new();
    let mut latencies = Vec::new();
    for i in 0..samples {
        let version = B256::from(U256::from(i as u64 + 1));
        let sender = prova_chain::connect_with_signer(&stack.rpc_url, stack.admin_key.clone())?;
        let registry = stack.registry;
        let attestor = attestor.clone();
        let publishing =
            tokio::spawn(async move { publish_model_version(&sender, registry, &attestor, &request(version)).await });
        let url = format!("{api}/v1/model-versions/{version}");
        let visible = loop {
            if http.get(&url).send().await?.status().is_success() {
                break Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let block = publishing.await??.block_number;
        let block_seen = *seen.lock().unwrap().get(&block).expect("the watcher saw the block");
        latencies.push(visible.saturating_duration_since(block_seen).as_secs_f64() * 1e3);
    }
    watcher.abort();
    let _ = stop.send(());
    running.await??;
    latencies.sort_by(f64::total_cmp);
    println!(
        "latency block -> API ({}, anvil --block-time 1, {samples} versions): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        if ws { "WebSocket heads" } else { "polling every 100 ms" },
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // RUST_LOG=prova_indexer=debug shows each range's fetch and write times.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let events = env_u64("PROVA_BENCH_EVENTS", 200_000);
    let rounds = env_u64("PROVA_BENCH_ROUNDS", 3) as usize;
    let samples = env_u64("PROVA_BENCH_LATENCY_SAMPLES", 30) as usize;
    backfill(events, rounds).await?;
    latency(samples, false).await?;
    latency(samples, true).await?;
    Ok(())
}
