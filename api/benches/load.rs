//! Load on `GET /v1/model-versions/{hash}` and on the reputation route, against the database's own limit.
//!
//! Seeds a fresh database (`prova_load_bench`) on the server of `DATABASE_URL` with 100,000 indexed model versions
//! (and 100,000 feedback entries for the reputation part), serves the API from this process on a real port, and:
//!
//! 1. `wrk` (64 connections, 30 s) asks for random existing versions, over keep-alive HTTP/1.1;
//! 2. `pgbench` (64 clients, same duration) runs the two statements the route runs (the registration with its
//!    publisher name and compromised-key flag, then its revocation) for random existing versions, straight
//!    against Postgres with prepared statements: the limit;
//! 3. `wrk` on `GET /v1/agents/{chain}/{id}/reputation?algorithm=trust` for random agents (the cache warm).
//!
//! The API runs as `prova serve` does, with the request log on (JSON, written to a sink), no rate limit.
//! Run with `scripts/bench-api.sh`; `PROVA_BENCH_SECONDS`, `PROVA_BENCH_CONNECTIONS`, `PROVA_BENCH_VERSIONS`.

use std::path::Path;
use std::process::Command;

mod common;

use common::{AGENTS, CHAIN, address, bench_database, drop_bench_database, env_number, seed, seed_versions};
use prova_api::AppState;

const DATABASE: &str = "prova_load_bench";

/// What `wrk` reported.
#[derive(Debug)]
struct Wrk {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// Runs `wrk` with `script` against `url` and reads its summary.
fn wrk(url: &str, script: &Path, connections: usize, seconds: usize) -> anyhow::Result<Wrk> {
    let output = Command::new("wrk")
        .args(["-t", "2", "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .map_err(|e| anyhow::anyhow!("wrk: {e} (scripts/bench-api.sh installs it)"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(output.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    let field = |prefix: &str| text.lines().find_map(|line| line.trim().strip_prefix(prefix).map(|r| r.trim().to_owned()));
    let millis = |value: String| -> anyhow::Result<f64> {
        let (number, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(value.len()));
        let number: f64 = number.parse()?;
        Ok(match unit {
            "us" => number / 1000.0,
            "ms" => number,
            "s" => number * 1000.0,
            other => anyhow::bail!("unknown wrk unit {other:?}"),
        })
    };
    let socket_errors: u64 = field("Socket errors:").map_or(0, |line| {
        line.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum()
    });
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").map_or(Ok(0), |n| n.parse())?;
    Ok(Wrk {
        requests_per_second: field("Requests/sec:").ok_or_else(|| anyhow::anyhow!("no Requests/sec in {text}"))?.parse()?,
        p50_ms: millis(field("50%").ok_or_else(|| anyhow::anyhow!("no p50 in {text}"))?)?,
        p99_ms: millis(field("99%").ok_or_else(|| anyhow::anyhow!("no p99 in {text}"))?)?,
        errors: socket_errors + non_2xx,
    })
}

/// A `wrk` script asking for `path_prefix` + a random line of `items`.
fn wrk_script(dir: &Path, name: &str, path_prefix: &str, path_suffix: &str, items: &[String]) -> anyhow::Result<std::path::PathBuf> {
    let list = dir.join(format!("{name}.txt"));
    std::fs::write(&list, items.join("\n") + "\n")?;
    let script = dir.join(format!("{name}.lua"));
    std::fs::write(
        &script,
        format!(
            r#"local items = {{}}
for line in io.lines("{list}") do items[#items + 1] = line end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "{path_prefix}" .. items[math.random(#items)] .. "{path_suffix}")
end
"#,
            list = list.display()
        ),
    )?;
    Ok(script)
}

/// Runs `pgbench` with `script` and returns its transactions per second.
fn pgbench(database_url: &str, script: &Path, clients: usize, seconds: usize) -> anyhow::Result<f64> {
    let output = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2", "-c", &clients.to_string(), "-T", &seconds.to_string(), "-f"])
        .arg(script)
        .arg(database_url)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(output.status.success(), "pgbench failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    let failed = text.lines().find_map(|l| l.strip_prefix("number of failed transactions: ")).unwrap_or("0 ");
    anyhow::ensure!(failed.starts_with("0 "), "pgbench transactions failed: {text}");
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in {text}"))
}

/// The two statements of the model-version route, for version `:i` of [`seed_versions`].
const POINT_QUERY: &str = r"\set i random(1, :versions)
SELECT DISTINCT ON (r.version_hash)
       r.chain_id, r.contract, r.block_number, r.block_hash, r.block_time, r.tx_hash, r.log_index,
       c.head_block, c.finalized_block, r.version_hash, r.model_id, r.publisher, r.parent, r.attestor, r.metadata_uri,
       r.metadata_hash,
       (SELECT p.name FROM publisher_registered p
         WHERE p.publisher = r.publisher AND p.chain_id = r.chain_id AND p.contract = r.contract
         ORDER BY p.block_number LIMIT 1) AS publisher_name,
       EXISTS (SELECT 1 FROM attestor_compromised k
         WHERE k.key = r.attestor AND k.chain_id = r.chain_id AND k.contract = r.contract
           AND k.since <= extract(epoch FROM r.block_time)) AS compromised
FROM model_version_registered r
LEFT JOIN indexer_cursors c ON c.chain_id = r.chain_id AND c.contract = r.contract
WHERE r.version_hash = ANY(ARRAY[sha256(int8send(:i::BIGINT))])
  AND (NULL::BIGINT IS NULL OR r.chain_id = NULL::BIGINT)
  AND (NULL::BYTEA IS NULL OR r.contract = NULL::BYTEA)
  AND (NULL::BIGINT IS NULL OR COALESCE(c.head_block, r.block_number) - r.block_number + 1 >= NULL::BIGINT)
ORDER BY r.version_hash, r.block_time, r.chain_id, r.block_number, r.log_index;
SELECT DISTINCT ON (v.version_hash, v.chain_id, v.contract)
       v.chain_id, v.contract, v.block_number, v.block_hash, v.block_time, v.tx_hash, v.log_index,
       c.head_block, c.finalized_block, v.version_hash, v.reason
FROM model_version_revoked v
JOIN unnest(ARRAY[sha256(int8send(:i::BIGINT))], ARRAY[31337::BIGINT], ARRAY['\x3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f'::BYTEA])
  AS k(version_hash, chain_id, contract)
  ON v.version_hash = k.version_hash AND v.chain_id = k.chain_id AND v.contract = k.contract
LEFT JOIN indexer_cursors c ON c.chain_id = v.chain_id AND c.contract = v.contract
WHERE TRUE AND (NULL::BIGINT IS NULL OR COALESCE(c.head_block, v.block_number) - v.block_number + 1 >= NULL::BIGINT)
ORDER BY v.version_hash, v.chain_id, v.contract, v.block_number, v.log_index;
";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let seconds = env_number("PROVA_BENCH_SECONDS", 30);
    let connections = env_number("PROVA_BENCH_CONNECTIONS", 64);
    let versions = env_number("PROVA_BENCH_VERSIONS", 100_000) as i64;
    // The access log, as `prova serve --log-json` writes it, into a sink.
    tracing_subscriber::fmt().json().with_env_filter("info,sqlx=warn").with_writer(std::io::sink).init();

    let (pool, database_url) = bench_database(DATABASE, 64).await?;
    seed_versions(&pool, versions).await?;
    seed(&pool, 100_000).await?;
    let hashes: Vec<String> = sqlx::query_scalar::<_, Vec<u8>>("SELECT version_hash FROM model_version_registered")
        .fetch_all(&pool)
        .await?
        .iter()
        .map(|hash| format!("0x{}", alloy::hex::encode(hash)))
        .collect();
    anyhow::ensure!(hashes.len() as i64 == versions, "seeded {} versions", hashes.len());
    println!("seeded {versions} model versions and 100000 feedback entries");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let seeds = (0..10).map(|n| address(0xc0, n)).collect();
    let state = AppState::new(pool.clone()).with_trust_seeds(seeds);
    tokio::spawn(prova_api::serve(listener, state, std::future::pending()));

    let dir = tempfile::tempdir()?;
    let versions_script = wrk_script(dir.path(), "versions", "/v1/model-versions/", "", &hashes)?;
    let point = dir.path().join("point.sql");
    std::fs::write(&point, POINT_QUERY.replace(":versions", &versions.to_string()))?;
    let agents: Vec<String> = (0..AGENTS).map(|a| a.to_string()).collect();
    let reputation_script = wrk_script(
        dir.path(),
        "agents",
        &format!("/v1/agents/{CHAIN}/"),
        "/reputation?algorithm=trust",
        &agents,
    )?;

    // Warm both sides once (connections, caches, the trust ranking), then measure.
    let blocking = |f: Box<dyn FnOnce() -> anyhow::Result<()> + Send>| tokio::task::spawn_blocking(f);
    {
        let (url, versions_script, reputation_script) = (url.clone(), versions_script.clone(), reputation_script.clone());
        blocking(Box::new(move || {
            wrk(&url, &versions_script, 8, 3)?;
            wrk(&url, &reputation_script, 8, 3).map(drop)
        }))
        .await??;
    }
    let api = {
        let (url, script) = (url.clone(), versions_script.clone());
        tokio::task::spawn_blocking(move || wrk(&url, &script, connections, seconds)).await??
    };
    let tps = {
        let (database_url, point) = (database_url.clone(), point.clone());
        tokio::task::spawn_blocking(move || pgbench(&database_url, &point, connections, seconds)).await??
    };
    let reputation = {
        let (url, script) = (url.clone(), reputation_script.clone());
        tokio::task::spawn_blocking(move || wrk(&url, &script, connections, seconds)).await??
    };

    println!("| what ({connections} connections, {seconds} s) | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|");
    println!(
        "| API `GET /v1/model-versions/{{hash}}` (wrk) | {:.0} | {:.2} | {:.2} | {} |",
        api.requests_per_second, api.p50_ms, api.p99_ms, api.errors
    );
    println!("| Postgres, the route's two statements (pgbench, prepared) | {tps:.0} | | | 0 |");
    println!(
        "| API `GET /v1/agents/{{chain}}/{{id}}/reputation?algorithm=trust` (wrk) | {:.0} | {:.2} | {:.2} | {} |",
        reputation.requests_per_second, reputation.p50_ms, reputation.p99_ms, reputation.errors
    );
    println!("API / pgbench: {:.0}%", 100.0 * api.requests_per_second / tps);
    drop_bench_database(pool, DATABASE).await
}
