//! Indexer benchmarks on a real anvil and Postgres:
//!
//! 1. Backfill: an anvil chain holding `PROVA_BENCH_EVENTS` (default 200,000) registry events is indexed from
//!    scratch. The limit is a bare client fetching the same logs with `eth_getLogs` alone; the peer is Ponder 1.0.0
//!    (tests/benches/ponder/) backfilling the same contract into the same Postgres server. Bare client and indexers
//!    alternate for `PROVA_BENCH_ROUNDS` rounds (default 5; Ponder in the first `PROVA_BENCH_PONDER_ROUNDS`,
//!    default 3), each indexer round compared with the bare rounds before and after it. Every measurement prints what
//!    else went on (the machine's load, checkpoints, WAL, autovacuum); between measurements the finished round's
//!    databases are dropped and a checkpoint is forced (`PROVA_BENCH_SETTLE=0` leaves both out).
//! 2. Latency: on anvil with `--block-time 1`, the time from a block being seen by a client to its model version
//!    being served by the API, p50 and p99, with the indexer polling and with it following heads over WebSocket.
//!
//! Run with `scripts/bench-indexer.sh` (it builds the contracts, installs the Ponder app's packages and starts
//! Postgres with fsync on).

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

/// CPU time (clock ticks) of the machine and of the processes a measurement runs on, to tell how loaded the machine
/// was by others during it.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    /// Busy ticks of all cores (`/proc/stat`).
    busy: u64,
    /// All ticks of all cores.
    total: u64,
    /// Ticks of this process, anvil, every `postgres` process and every `node` process (Ponder).
    ours: u64,
}

impl Cpu {
    fn now(anvil_pid: u32) -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> =
            stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
        let total: u64 = fields.iter().take(8).sum();
        let idle = fields.get(3).copied().unwrap_or_default() + fields.get(4).copied().unwrap_or_default();
        let mut ours = 0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let Some((comm, rest)) = stat.split_once(") ") else { continue };
            let comm = comm.rsplit_once('(').map_or("", |(_, c)| c);
            if pid == std::process::id() || pid == anvil_pid || comm == "postgres" || comm.starts_with("node") {
                let f: Vec<&str> = rest.split_whitespace().collect();
                // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ".
                ours += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or_default()
                    + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or_default();
            }
        }
        Self { busy: total - idle, total, ours }
    }

    /// Machine busy share and the share used by others (both of all cores, in %), since `before`.
    fn since(self, before: Cpu) -> (f64, f64) {
        let total = (self.total - before.total).max(1) as f64;
        let busy = (self.busy - before.busy) as f64;
        let others = busy - self.ours.saturating_sub(before.ours) as f64;
        (100.0 * busy / total, 100.0 * others.max(0.0) / total)
    }
}

/// Postgres' cumulative server statistics that a measurement can pay for: checkpoints, the buffers they and the
/// backends wrote, WAL written and synced.
#[derive(Debug, Clone, Copy, Default)]
struct PgStats {
    checkpoints: i64,
    buffers_checkpoint: i64,
    buffers_backend: i64,
    wal_bytes: f64,
    wal_sync: i64,
}

impl PgStats {
    async fn now(admin: &sqlx::PgPool) -> anyhow::Result<Self> {
        let (checkpoints, buffers_checkpoint, buffers_backend, wal_bytes, wal_sync): (i64, i64, i64, f64, i64) =
            sqlx::query_as(
                "SELECT b.checkpoints_timed + b.checkpoints_req, b.buffers_checkpoint, b.buffers_backend,
                        w.wal_bytes::FLOAT8, w.wal_sync
                 FROM pg_stat_bgwriter b, pg_stat_wal w",
            )
            .fetch_one(admin)
            .await?;
        Ok(Self { checkpoints, buffers_checkpoint, buffers_backend, wal_bytes, wal_sync })
    }
}

/// What else went on during one measurement: the machine's load, Postgres' checkpoints and WAL, autovacuum.
#[derive(Debug, Clone, Copy)]
struct Conditions {
    busy: f64,
    others: f64,
    checkpoints: i64,
    checkpoint_mb: f64,
    backend_mb: f64,
    wal_mb: f64,
    wal_syncs: i64,
    /// Samples (every 50 ms) that saw an autovacuum worker running.
    autovacuum: usize,
}

impl std::fmt::Display for Conditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "machine busy {:.0}%, others {:.0}%; checkpoints {} ({:.0} MB), backend writes {:.0} MB, WAL {:.0} MB in {} \
             syncs, autovacuum seen {}x",
            self.busy,
            self.others,
            self.checkpoints,
            self.checkpoint_mb,
            self.backend_mb,
            self.wal_mb,
            self.wal_syncs,
            self.autovacuum
        )
    }
}

/// Runs `work`, recording the [`Conditions`] around it.
async fn observed<T>(
    admin: &sqlx::PgPool,
    anvil_pid: u32,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<(T, Conditions)> {
    // Backends flush their statistics at most once a second, when idle.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (stats, cpu) = (PgStats::now(admin).await?, Cpu::now(anvil_pid));
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sampler = {
        let (admin, seen) = (admin.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let workers: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
                )
                .fetch_one(&admin)
                .await
                .unwrap_or_default();
                if workers > 0 {
                    seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let result = work.await;
    sampler.abort();
    let autovacuum = seen.load(std::sync::atomic::Ordering::Relaxed);
    let (busy, others) = Cpu::now(anvil_pid).since(cpu);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let after = PgStats::now(admin).await?;
    let page = 8192.0 / 1e6;
    Ok((
        result?,
        Conditions {
            busy,
            others,
            checkpoints: after.checkpoints - stats.checkpoints,
            checkpoint_mb: (after.buffers_checkpoint - stats.buffers_checkpoint) as f64 * page,
            backend_mb: (after.buffers_backend - stats.buffers_backend) as f64 * page,
            wal_mb: (after.wal_bytes - stats.wal_bytes) / 1e6,
            wal_syncs: after.wal_sync - stats.wal_sync,
            autovacuum,
        },
    ))
}

/// A fresh database on the bench's server named `name`, and its URL.
async fn create_database(admin: &sqlx::PgPool, server_url: &str, name: &str) -> anyhow::Result<String> {
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin).await?;
    let (base, _) = server_url.rsplit_once('/').expect("database URL has a path");
    Ok(format!("{base}/{name}"))
}

/// One timed prova backfill into a fresh database: seconds, transactions, seconds spent writing.
async fn prova_round(stack: &Stack, url: &str, from: u64, events: u64) -> anyhow::Result<(f64, u64, f64)> {
    let pool = prova_db::connect_and_migrate(url, 16, prova_db::Schema::Registry).await?;
    let config = IndexerConfig { start_block: from, ..IndexerConfig::new(stack.registry) };
    let indexer = Indexer::new(pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
    let started = Instant::now();
    let report = indexer.sync_to_head().await?;
    let seconds = started.elapsed().as_secs_f64();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM nonce_invalidated").fetch_one(&pool).await?;
    anyhow::ensure!(rows as u64 == events, "indexed {rows} rows, expected {events}");
    pool.close().await;
    Ok((seconds, report.ranges, report.writing.as_secs_f64()))
}

/// Kills a spawned process group (Ponder's node and every child it started) when dropped.
struct ProcessGroup(tokio::process::Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            // The child leads its own process group, so its id is the group's.
            let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
        }
        let _ = self.0.start_kill();
    }
}

/// Ponder's figures for one round: seconds from spawn until every row is in and `/ready` answers 200, and the part
/// of it after Ponder logged the start of its historical sync (its build and database setup excluded).
struct PonderRun {
    total: f64,
    after_sync_start: Option<f64>,
}

/// One timed Ponder backfill (tests/benches/ponder/) of the same registry into a fresh database.
async fn ponder_round(stack: &Stack, url: &str, from: u64, events: u64) -> anyhow::Result<PonderRun> {
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/ponder");
    let port = prova_devnet::local::free_port()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(format!("{app}/node_modules/.bin/ponder"))
        .args(["start", "--schema", "bench", "--port", &port.to_string(), "--log-format", "json"])
        .current_dir(app)
        .env("DATABASE_URL", url)
        .env("PONDER_TELEMETRY_DISABLED", "true")
        .env("PROVA_BENCH_RPC_URL", &stack.rpc_url)
        .env("PROVA_BENCH_CHAIN_ID", stack.chain_id.to_string())
        .env("PROVA_BENCH_REGISTRY", stack.registry.to_string())
        .env("PROVA_BENCH_START_BLOCK", from.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|e| anyhow::anyhow!("{app}/node_modules/.bin/ponder: {e} (scripts/bench-indexer.sh installs it)"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut group = ProcessGroup(child);
    // Ponder's log lines, as they come: when its historical sync started, and the last lines for an error report.
    let sync_started: Arc<Mutex<Option<Instant>>> = Arc::default();
    let tail: Arc<Mutex<Vec<String>>> = Arc::default();
    let reader = {
        let (sync_started, tail) = (sync_started.clone(), tail.clone());
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("historical sync") && line.contains("Started") {
                    sync_started.lock().unwrap().get_or_insert_with(Instant::now);
                }
                let mut tail = tail.lock().unwrap();
                tail.push(line);
                if tail.len() > 20 {
                    tail.remove(0);
                }
            }
        })
    };
    let http = reqwest::Client::new();
    let ready_url = format!("http://127.0.0.1:{port}/ready");
    let pool = sqlx::PgPool::connect(url).await?;
    let deadline = Instant::now() + Duration::from_secs(900);
    let outcome = loop {
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!("Ponder was not ready within 900 s"));
        }
        if let Ok(Some(status)) = group.0.try_wait() {
            // Let the reader take in Ponder's last lines.
            tokio::time::sleep(Duration::from_millis(200)).await;
            break Err(anyhow::anyhow!("Ponder exited ({status}) before it was ready"));
        }
        let ready = matches!(http.get(&ready_url).send().await, Ok(r) if r.status().is_success());
        if ready {
            // Ponder syncs the last 30 blocks (its finality depth on chain 31337) in real time, after /ready.
            let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM bench.nonce_invalidated")
                .fetch_one(&pool)
                .await
                .unwrap_or_default();
            if rows as u64 == events {
                break Ok(started.elapsed().as_secs_f64());
            }
            anyhow::ensure!((rows as u64) < events, "Ponder stored {rows} rows, expected {events}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let done = Instant::now();
    drop(group);
    reader.abort();
    pool.close().await;
    let total =
        outcome.map_err(|e| anyhow::anyhow!("{e}; Ponder's last lines:\n{}", tail.lock().unwrap().join("\n")))?;
    let after_sync_start = sync_started.lock().unwrap().map(|t| done.saturating_duration_since(t).as_secs_f64());
    Ok(PonderRun { total, after_sync_start })
}

fn stats(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (sorted[0], sorted[sorted.len() / 2], sorted[sorted.len() - 1])
}

/// Backfill: the bare client and the indexers alternate, bare, prova[, Ponder], bare, ...; each indexer round is
/// compared with the mean of the bare rounds just before and just after it.
async fn backfill(events: u64, rounds: usize, ponder_rounds: usize, settle: bool) -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let head = fill(&stack, events).await?;
    let from = stack.deploy_block;
    let admin = sqlx::PgPool::connect(&stack.database_url).await?;
    let anvil_pid = stack.anvil.child().id();

    // Right after the fill, anvil's logs are cold: the first pass is slower and is not the limit.
    for range in [head + 1, 2_000, 500] {
        let (logs, seconds) = bare_get_logs(&stack.admin, stack.registry, from, head, range).await?;
        anyhow::ensure!(logs as u64 == events, "bare client saw {logs} logs, expected {events}");
        eprintln!("warm-up bare eth_getLogs right after the fill, ranges of {range} blocks: {seconds:.2} s");
    }

    let bare = |label: String| {
        let (stack, admin) = (&stack, &admin);
        async move {
            // The best of two range sizes (500 blocks was the fastest; 2,000 in case the machine favours fewer calls).
            let ((best, range), conditions) = observed(admin, anvil_pid, async {
                let mut best = (f64::INFINITY, 0);
                for range in [2_000, 500] {
                    let (logs, seconds) = bare_get_logs(&stack.admin, stack.registry, from, head, range).await?;
                    anyhow::ensure!(logs as u64 == events, "bare client saw {logs} logs, expected {events}");
                    if seconds < best.0 {
                        best = (seconds, range);
                    }
                }
                Ok(best)
            })
            .await?;
            eprintln!("{label}: bare eth_getLogs {best:.2} s (ranges of {range}) [{conditions}]");
            anyhow::Ok(best)
        }
    };
    // Between measurements: drop the finished round's databases and write every dirty buffer out, so that no
    // measurement pays for an earlier one's checkpoint or the autovacuum of its tables.
    let settle_now = |names: Vec<String>| {
        let admin = &admin;
        async move {
            if settle {
                for name in names {
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(admin).await?;
                }
                sqlx::query("CHECKPOINT").execute(admin).await?;
            }
            anyhow::Ok(())
        }
    };

    let mut bares = vec![bare("round 1".into()).await?];
    let mut prova = Vec::new();
    let mut ponder = Vec::new();
    for round in 0..rounds {
        let name = format!("prova_bench_backfill_{round}");
        let url = create_database(&admin, &stack.database_url, &name).await?;
        settle_now(vec![]).await?;
        let ((seconds, transactions, writing), conditions) =
            observed(&admin, anvil_pid, prova_round(&stack, &url, from, events)).await?;
        eprintln!(
            "round {}: prova indexer {seconds:.2} s ({:.0} events/s, {transactions} transactions, {writing:.2} s \
             writing) [{conditions}]",
            round + 1,
            events as f64 / seconds
        );
        prova.push(seconds);
        settle_now(vec![name]).await?;
        if round < ponder_rounds {
            let name = format!("prova_bench_ponder_{round}");
            let url = create_database(&admin, &stack.database_url, &name).await?;
            settle_now(vec![]).await?;
            // A failed Ponder round is reported with its last log lines, and the rounds go on.
            match observed(&admin, anvil_pid, ponder_round(&stack, &url, from, events)).await {
                Ok((run, conditions)) => {
                    eprintln!(
                        "round {}: Ponder {:.2} s from spawn, {} after its historical sync started [{conditions}]",
                        round + 1,
                        run.total,
                        run.after_sync_start.map_or("?".into(), |s| format!("{s:.2} s"))
                    );
                    ponder.push(Some(run));
                }
                Err(error) => {
                    eprintln!("round {}: Ponder FAILED: {error:#}", round + 1);
                    ponder.push(None);
                }
            }
            settle_now(vec![name]).await?;
        }
        bares.push(bare(format!("round {}", round + 2)).await?);
    }

    println!("backfill: {events} events over {} blocks, rounds alternating bare / prova / Ponder", head - from + 1);
    println!("  round | bare before | prova  | Ponder (after sync start) | bare after | prova/bare | Ponder/bare");
    let mut prova_ratios = Vec::new();
    let mut ponder_ratios = Vec::new();
    for (round, &seconds) in prova.iter().enumerate() {
        let limit = (bares[round] + bares[round + 1]) / 2.0;
        prova_ratios.push(100.0 * limit / seconds);
        let ponder_cell = ponder.get(round).and_then(Option::as_ref).map_or("-".to_string(), |run| {
            ponder_ratios.push(100.0 * limit / run.total);
            format!("{:.2} s ({})", run.total, run.after_sync_start.map_or("?".into(), |s| format!("{s:.2} s")))
        });
        println!(
            "  {:>5} | {:>9.2} s | {seconds:.2} s | {ponder_cell:>25} | {:>8.2} s | {:>9.0}% | {}",
            round + 1,
            bares[round],
            bares[round + 1],
            100.0 * limit / seconds,
            ponder
                .get(round)
                .and_then(Option::as_ref)
                .map_or("-".to_string(), |run| format!("{:.1}%", 100.0 * limit / run.total)),
        );
    }
    let (lo, mid, hi) = stats(&bares);
    println!("  bare eth_getLogs ({} rounds): min {lo:.2} s, median {mid:.2} s, max {hi:.2} s", bares.len());
    let (lo, mid, hi) = stats(&prova);
    println!(
        "  prova indexer ({rounds} rounds): min {lo:.2} s, median {mid:.2} s = {:.0} events/s, max {hi:.2} s",
        events as f64 / mid
    );
    let (lo, mid, hi) = stats(&prova_ratios);
    println!("  prova / bare throughput: min {lo:.0}%, median {mid:.0}%, max {hi:.0}% (target >= 80%)");
    let ponder: Vec<PonderRun> = ponder.into_iter().flatten().collect();
    if !ponder.is_empty() {
        let totals: Vec<f64> = ponder.iter().map(|run| run.total).collect();
        let (lo, mid, hi) = stats(&totals);
        println!(
            "  Ponder 1.0.0 ({} rounds, from spawn): min {lo:.2} s, median {mid:.2} s = {:.0} events/s, max {hi:.2} s",
            ponder.len(),
            events as f64 / mid
        );
        let after: Vec<f64> = ponder.iter().filter_map(|run| run.after_sync_start).collect();
        if !after.is_empty() {
            let (lo, mid, hi) = stats(&after);
            println!("  Ponder after its historical sync started: min {lo:.2} s, median {mid:.2} s, max {hi:.2} s");
        }
        let (lo, mid, hi) = stats(&ponder_ratios);
        println!("  Ponder / bare throughput (from spawn): min {lo:.1}%, median {mid:.1}%, max {hi:.1}%");
    }
    admin.close().await;
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
    let rounds = env_u64("PROVA_BENCH_ROUNDS", 5).max(1) as usize;
    let ponder_rounds = env_u64("PROVA_BENCH_PONDER_ROUNDS", 3) as usize;
    let settle = env_u64("PROVA_BENCH_SETTLE", 1) != 0;
    let samples = env_u64("PROVA_BENCH_LATENCY_SAMPLES", 30) as usize;
    backfill(events, rounds, ponder_rounds, settle).await?;
    latency(samples, false).await?;
    latency(samples, true).await?;
    Ok(())
}
