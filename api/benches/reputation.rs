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
//! - `board delta`: the same for the leaderboard (every agent scored: the kept scoreboard updated);
//!
//! and, as the reference, `prova_reputation::score_agents` alone on the same input in memory.
//!
//! Run: `eval "$(scripts/pg-test-cluster.sh start)"; cargo bench -p prova-api --bench reputation`.
//! `PROVA_BENCH_FEEDBACK`, `PROVA_BENCH_COLD` and `PROVA_BENCH_WARM` change the size and the sample counts.

use std::time::{Duration, Instant};

mod common;

use alloy::primitives::Address;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use prova_api::{AppState, app};
use prova_reputation::{self, Algorithm, Filter, Params};
use sqlx::{Executor, PgPool};
use tower::ServiceExt;

use common::{
    AGENTS, CHAIN, CLIENTS, IDENTITY, NEXT_BLOCK, REPUTATION, address, bench_database, drop_bench_database, env_number,
    seed, sql_address,
};

const DATABASE: &str = "prova_reputation_bench";

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

/// Times one request to `app` (built beforehand, as a server builds it once).
async fn call(app: Router, uri: &str) -> Duration {
    let started = Instant::now();
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
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
    let (pool, _) = bench_database(DATABASE, 8).await?;
    let started = Instant::now();
    seed(&pool, feedback).await?;
    println!(
        "seeded {feedback} feedback entries, {AGENTS} agents, {CLIENTS} clients in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let seeds: Vec<Address> = (0..10).map(|n| address(0xc0, n)).collect();
    let seeds_query = seeds.iter().map(std::string::ToString::to_string).collect::<Vec<_>>().join(",");
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
            agent_cold.push(call(app(state()), &agent_uri(i as i64 * 97 % AGENTS, algorithm)).await);
            board_cold.push(call(app(state()), &board_uri(algorithm)).await);
        }
        let shared = app(state());
        call(shared.clone(), &board_uri(algorithm)).await;
        let mut agent_warm = Vec::new();
        let mut board_warm = Vec::new();
        for i in 0..warm {
            agent_warm.push(call(shared.clone(), &agent_uri(i as i64 * 7 % AGENTS, algorithm)).await);
            board_warm.push(call(shared.clone(), &board_uri(algorithm)).await);
        }
        rows.push(Row { what: format!("{algorithm}: agent | cold"), samples: agent_cold });
        rows.push(Row { what: format!("{algorithm}: agent | warm"), samples: agent_warm });
        rows.push(Row { what: format!("{algorithm}: board | cold"), samples: board_cold });
        rows.push(Row { what: format!("{algorithm}: board | warm"), samples: board_warm });
    }

    // New events: each round indexes 10 entries and moves the cursor; the next request brings the set up to date.
    for algorithm in Algorithm::ALL {
        let shared_state = state();
        let shared = app(shared_state.clone());
        call(shared.clone(), &agent_uri(1, algorithm)).await;
        let mut delta = Vec::new();
        for round in 0..cold as i64 {
            index_more(&pool, round + 1 + algorithm as i64 * 1000, 10).await?;
            delta.push(call(shared.clone(), &agent_uri(round % AGENTS, algorithm)).await);
        }
        let stats = shared_state.reputation.stats();
        assert_eq!(stats.full_loads, 1, "{stats:?}");
        rows.push(Row { what: format!("{algorithm}: agent | delta (+10 entries)"), samples: delta });

        // The same for the leaderboard, which scores every agent (from the scoreboard kept before the new entries).
        let board_state = state();
        let board = app(board_state.clone());
        call(board.clone(), &board_uri(algorithm)).await;
        let mut delta = Vec::new();
        for round in 0..cold as i64 {
            index_more(&pool, round + 501 + algorithm as i64 * 1000, 10).await?;
            delta.push(call(board.clone(), &board_uri(algorithm)).await);
        }
        let stats = board_state.reputation.stats();
        assert_eq!(stats.full_loads, 1, "{stats:?}");
        rows.push(Row { what: format!("{algorithm}: board | delta (+10 entries)"), samples: delta });
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
            let scores = prova_reputation::score_agents(&input, &Filter::default(), algorithm, &params)?;
            samples.push(started.elapsed());
            assert!(!scores.is_empty());
        }
        rows.push(Row { what: format!("{algorithm}: core score_agents (in memory) | -"), samples });
    }
    println!("trust seeds: {seeds_query}");
    print(&mut rows);

    drop_bench_database(pool, DATABASE).await
}
