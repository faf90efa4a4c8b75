//! Latency of the reputation routes over 100,000 feedback entries, through the in-process router.
//!
//! Seeds a fresh database (`prova_reputation_bench`, dropped at the end unless `PROVA_BENCH_KEEP=1`) on the server
//! of `DATABASE_URL` with 1,000 agents (500 owners), 20,000 clients and 100,000 feedback entries (5% revoked, 30%
//! verified, three tags, two value scales), then times, for each algorithm:
//!
//! - `agent cold`: `GET /v1/agents/{chain}/{id}/reputation` with an empty cache (loads and prepares the set);
//! - `agent warm`: the same with the set (and, for `trust`, the ranking) cached, over rotating agents;
//! - `board cold` / `board warm`: `GET /v1/agents?sort=reputation` (first page of 50);
//! - `agent delta`: the first request after 10 new entries were indexed (cursor moved, set brought up to date);
//!
//! and, as the reference, `prova_core::reputation::score_agents` alone on the same input in memory.
//!
//! Run: `eval "$(scripts/pg-test-cluster.sh start)"; cargo bench -p prova-api --bench reputation`.
//! `PROVA_BENCH_FEEDBACK`, `PROVA_BENCH_COLD` and `PROVA_BENCH_WARM` change the size and the sample counts.

use std::time::{Duration, Instant};

use alloy::primitives::Address;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use prova_api::{AppState, app};
use prova_core::reputation::{self, Algorithm, Filter, Params};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use tower::ServiceExt;

const CHAIN: i64 = 31337;
const DATABASE: &str = "prova_reputation_bench";
const AGENTS: i64 = 1_000;
const CLIENTS: i64 = 20_000;
const IDENTITY: [u8; 20] = [0x1d; 20];
const REPUTATION: [u8; 20] = [0x2e; 20];
/// The cursors of both registries, after seeding.
const NEXT_BLOCK: i64 = 20_000;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// SQL for the 20-byte address number `n` with a one-byte `prefix`.
fn sql_address(prefix: u8, n: &str) -> String {
    format!("decode('{prefix:02x}' || lpad(to_hex({n}), 38, '0'), 'hex')")
}

/// The address `sql_address(prefix, n)` gives.
fn address(prefix: u8, n: i64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = prefix;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(bytes)
}

async fn seed(pool: &PgPool, feedback: i64) -> anyhow::Result<()> {
    let owner = sql_address(0x0a, "g % 500");
    let client = sql_address(0xc0, "g % 20000");
    let statements = [
        format!(
            "INSERT INTO indexer_cursors (chain_id, contract, next_block, head_block, finalized_block, kind)
             VALUES ({CHAIN}, '\\x{id}', {NEXT_BLOCK}, {NEXT_BLOCK} - 1, {NEXT_BLOCK} - 65, 'identity'),
                    ({CHAIN}, '\\x{rep}', {NEXT_BLOCK}, {NEXT_BLOCK} - 1, {NEXT_BLOCK} - 65, 'reputation')",
            id = alloy::hex::encode(IDENTITY),
            rep = alloy::hex::encode(REPUTATION),
        ),
        format!(
            "INSERT INTO erc8004_links VALUES ({CHAIN}, '\\x{}', '\\x{}')",
            alloy::hex::encode(REPUTATION),
            alloy::hex::encode(IDENTITY)
        ),
        format!(
            "INSERT INTO indexed_blocks VALUES ({CHAIN}, '\\x{}', {NEXT_BLOCK} - 1, '\\x{}'), ({CHAIN}, '\\x{}', {NEXT_BLOCK} - 1, '\\x{}')",
            alloy::hex::encode(IDENTITY),
            "ab".repeat(32),
            alloy::hex::encode(REPUTATION),
            "ab".repeat(32)
        ),
        // Agent g is minted and registered at block g + 1.
        format!(
            "INSERT INTO agent_transferred (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               from_address, to_address, agent_id)
             SELECT {CHAIN}, sha256(('t' || g)::BYTEA), 0, '\\x{id}', g + 1, sha256(('b' || g)::BYTEA),
                    to_timestamp(1700000000 + (g + 1) * 12), '\\x{zero}', {owner}, g
             FROM generate_series(0, {AGENTS} - 1) AS g",
            id = alloy::hex::encode(IDENTITY),
            zero = "00".repeat(20),
        ),
        format!(
            "INSERT INTO agent_registered (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               agent_id, agent_uri, owner)
             SELECT {CHAIN}, sha256(('t' || g)::BYTEA), 1, '\\x{id}', g + 1, sha256(('b' || g)::BYTEA),
                    to_timestamp(1700000000 + (g + 1) * 12), g, 'ipfs://agent-' || g, {owner}
             FROM generate_series(0, {AGENTS} - 1) AS g",
            id = alloy::hex::encode(IDENTITY),
        ),
        // Entry g: agent (g * 7919) % 1000, client g % 20000, index g / 20000 + 1; ten per block from block 1001.
        format!(
            "INSERT INTO feedback_given (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               agent_id, client, feedback_index, value, value_decimals, tag1, tag2, endpoint, feedback_uri, feedback_hash)
             SELECT {CHAIN}, sha256(('f' || g)::BYTEA), g % 10, '\\x{rep}', 1001 + g / 10, sha256(('b' || (1001 + g / 10))::BYTEA),
                    to_timestamp(1700000000 + (1001 + g / 10) * 12), (g * 7919) % {AGENTS}, {client}, g / {CLIENTS} + 1,
                    CASE WHEN g % 10 = 0 THEN ((g * 37) % 101) * 10 + 5 ELSE (g * 37) % 101 END,
                    CASE WHEN g % 10 = 0 THEN 1 ELSE 0 END,
                    (ARRAY['quality', 'speed', 'uptime'])[g % 3 + 1], '', 'https://agent.example/api',
                    'ipfs://feedback-' || g, sha256(('h' || g)::BYTEA)
             FROM generate_series(0, {feedback} - 1) AS g",
            rep = alloy::hex::encode(REPUTATION),
        ),
        format!(
            "INSERT INTO feedback_revoked (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               agent_id, client, feedback_index)
             SELECT {CHAIN}, sha256(('r' || g)::BYTEA), 100 + g % 10, '\\x{rep}', 1002 + g / 10,
                    sha256(('b' || (1002 + g / 10))::BYTEA), to_timestamp(1700000000 + (1002 + g / 10) * 12),
                    (g * 7919) % {AGENTS}, {client}, g / {CLIENTS} + 1
             FROM generate_series(0, {feedback} - 1) AS g WHERE g % 20 = 7",
            rep = alloy::hex::encode(REPUTATION),
        ),
        format!(
            "INSERT INTO feedback_verified (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               agent_id, client, feedback_index, interaction_hash, signer)
             SELECT {CHAIN}, sha256(('v' || g)::BYTEA), 200 + g % 10, '\\x{rep}', 1001 + g / 10,
                    sha256(('b' || (1001 + g / 10))::BYTEA), to_timestamp(1700000000 + (1001 + g / 10) * 12),
                    (g * 7919) % {AGENTS}, {client}, g / {CLIENTS} + 1, sha256(('i' || g)::BYTEA), {owner}
             FROM generate_series(0, {feedback} - 1) AS g WHERE g % 10 < 3",
            rep = alloy::hex::encode(REPUTATION),
        ),
        "ANALYZE".to_owned(),
    ];
    for statement in statements {
        pool.execute(statement.as_str()).await?;
    }
    Ok(())
}

/// Indexes `n` more entries in a new block and moves the reputation cursor past it, as the indexer would.
async fn index_more(pool: &PgPool, round: i64, n: i64) -> anyhow::Result<()> {
    let block = NEXT_BLOCK + round;
    let client = sql_address(0xd0, "g");
    pool.execute(
        format!(
            "INSERT INTO feedback_given (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               agent_id, client, feedback_index, value, value_decimals, tag1, tag2, endpoint, feedback_uri, feedback_hash)
             SELECT {CHAIN}, sha256(('n{round}-' || g)::BYTEA), g, '\\x{rep}', {block}, '\\x{hash}',
                    to_timestamp(1700000000 + {block} * 12), g % {AGENTS}, {client}, {round}, 77, 0, 'quality', '', '', '',
                    '\\x{hash}'
             FROM generate_series(0, {n} - 1) AS g",
            rep = alloy::hex::encode(REPUTATION),
            hash = "cd".repeat(32),
        )
        .as_str(),
    )
    .await?;
    pool.execute(
        format!(
            "INSERT INTO indexed_blocks VALUES ({CHAIN}, '\\x{rep}', {block}, '\\x{hash}');
             UPDATE indexer_cursors SET next_block = {block} + 1, head_block = {block}, updated_at = clock_timestamp()
             WHERE chain_id = {CHAIN} AND contract = '\\x{rep}'",
            rep = alloy::hex::encode(REPUTATION),
            hash = "ef".repeat(32),
        )
        .as_str(),
    )
    .await?;
    Ok(())
}

async fn call(state: &AppState, uri: &str) -> Duration {
    let started = Instant::now();
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&body));
    elapsed
}

struct Row {
    what: String,
    samples: Vec<Duration>,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn print(rows: &mut [Row]) {
    println!("| algorithm / route | cache | n | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for row in rows {
        row.samples.sort();
        let (name, cache) = row.what.split_once(" | ").unwrap_or((&row.what, ""));
        println!(
            "| {name} | {cache} | {} | {} | {} | {} |",
            row.samples.len(),
            ms(percentile(&row.samples, 0.5)),
            ms(percentile(&row.samples, 0.99)),
            ms(*row.samples.last().unwrap())
        );
    }
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let feedback = env_number("PROVA_BENCH_FEEDBACK", 100_000) as i64;
    let cold = env_number("PROVA_BENCH_COLD", 10);
    let warm = env_number("PROVA_BENCH_WARM", 200);
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/pg-test-cluster.sh start)"))?;

    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await?;
    admin.execute(format!("DROP DATABASE IF EXISTS {DATABASE}").as_str()).await?;
    admin.execute(format!("CREATE DATABASE {DATABASE}").as_str()).await?;
    let bench_url = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{DATABASE}"),
        None => anyhow::bail!("DATABASE_URL has no database name"),
    };
    let pool = PgPoolOptions::new().max_connections(8).connect(&bench_url).await?;
    prova_indexer::MIGRATOR.run(&pool).await?;
    let started = Instant::now();
    seed(&pool, feedback).await?;
    println!(
        "seeded {feedback} feedback entries, {AGENTS} agents, {CLIENTS} clients in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let seeds: Vec<Address> = (0..10).map(|n| address(0xc0, n)).collect();
    let seeds_query = seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",");
    let state = || AppState::new(pool.clone()).with_trust_seeds(seeds.clone());
    let agent_uri =
        |agent: i64, algorithm: Algorithm| format!("/v1/agents/{CHAIN}/{agent}/reputation?algorithm={algorithm}");
    let board_uri =
        |algorithm: Algorithm| format!("/v1/agents?sort=reputation&algorithm={algorithm}&chain_id={CHAIN}&limit=50");
    let mut rows: Vec<Row> = Vec::new();

    for algorithm in Algorithm::ALL {
        let mut agent_cold = Vec::new();
        let mut board_cold = Vec::new();
        for i in 0..cold {
            agent_cold.push(call(&state(), &agent_uri(i as i64 * 97 % AGENTS, algorithm)).await);
            board_cold.push(call(&state(), &board_uri(algorithm)).await);
        }
        let shared = state();
        call(&shared, &board_uri(algorithm)).await;
        let mut agent_warm = Vec::new();
        let mut board_warm = Vec::new();
        for i in 0..warm {
            agent_warm.push(call(&shared, &agent_uri(i as i64 * 7 % AGENTS, algorithm)).await);
            board_warm.push(call(&shared, &board_uri(algorithm)).await);
        }
        rows.push(Row { what: format!("{algorithm}: agent | cold"), samples: agent_cold });
        rows.push(Row { what: format!("{algorithm}: agent | warm"), samples: agent_warm });
        rows.push(Row { what: format!("{algorithm}: board | cold"), samples: board_cold });
        rows.push(Row { what: format!("{algorithm}: board | warm"), samples: board_warm });
    }

    // New events: each round indexes 10 entries and moves the cursor; the next request brings the set up to date.
    for algorithm in Algorithm::ALL {
        let shared = state();
        call(&shared, &agent_uri(1, algorithm)).await;
        let mut delta = Vec::new();
        for round in 0..cold as i64 {
            index_more(&pool, round + 1 + algorithm as i64 * 1000, 10).await?;
            delta.push(call(&shared, &agent_uri(round % AGENTS, algorithm)).await);
        }
        let stats = shared.reputation.stats();
        assert_eq!(stats.full_loads, 1, "{stats:?}");
        rows.push(Row { what: format!("{algorithm}: agent | delta (+10 entries)"), samples: delta });
    }

    // The reference: core alone, on the same input in memory.
    let input = {
        let state = state();
        let key = prova_api::routes::agents::cache::SetKey {
            chain_id: CHAIN,
            reputation: Address::from(REPUTATION),
            identity: Address::from(IDENTITY),
        };
        let set = state.reputation.feedback_set(&pool, key).await?;
        set.data().feedback().to_vec()
    };
    for algorithm in Algorithm::ALL {
        let params = Params { seeds: seeds.clone(), ..Params::default() };
        let mut samples = Vec::new();
        for _ in 0..cold {
            let started = Instant::now();
            let scores = reputation::score_agents(&input, &Filter::default(), algorithm, &params)?;
            samples.push(started.elapsed());
            assert!(!scores.is_empty());
        }
        rows.push(Row { what: format!("{algorithm}: core score_agents (in memory) | -"), samples });
    }
    println!("trust seeds: {seeds_query}");
    print(&mut rows);

    pool.close().await;
    if std::env::var("PROVA_BENCH_KEEP").as_deref() != Ok("1") {
        admin.execute(format!("DROP DATABASE {DATABASE}").as_str()).await?;
    }
    Ok(())
}
