//! Load on `GET /v1/model-versions/{hash}` and on the reputation route, against the database's own limit.
//!
//! Seeds a fresh database (`prova_load_bench`) on the server of `DATABASE_URL` with 100,000 indexed model versions
//! (and 100,000 feedback entries for the reputation part), serves the API from this process on a real port, and:
//!
//! 1. `wrk` (64 connections, 30 s) asks for random existing versions, over keep-alive HTTP/1.1;
//! 2. `pgbench` (64 clients, same duration) runs the statement the route runs (the registration with its
//!    publisher name, compromised-key flag and revocation) for random existing versions, straight against Postgres
//!    with prepared statements: the limit. Steps 1 and 2 alternate, three rounds each; the median round is reported;
//! 3. `wrk` on `GET /healthz` (no database): what the HTTP stack and the middleware cost alone;
//! 4. `wrk` on `GET /v1/agents/{chain}/{id}/reputation?algorithm=trust` for random agents (the cache warm).
//!
//! The API runs as `prova serve` does (mimalloc, the request log on as JSON written to a sink, no rate limit).
//! Run with `scripts/bench-api.sh`; `PROVA_BENCH_SECONDS`, `PROVA_BENCH_CONNECTIONS`, `PROVA_BENCH_VERSIONS`,
//! `PROVA_BENCH_ROUNDS`, `PROVA_BENCH_DB_CONNECTIONS` (the API's pool, default 16 as `prova serve`).
//!
//! The servers and the load generators get their own cores: the API (this process) and Postgres run on every CPU
//! but the last, `wrk` and `pgbench` on the last (`taskset`; `PROVA_BENCH_PIN=0` leaves placement to the kernel).
//! Unpinned on a 2-core machine, where the scheduler put wrk's two threads decided the tail: back-to-back 3 s runs
//! against the same warm API gave a p99 of 4 ms or of 35 to 104 ms, with the lower p50 in the slow runs; with wrk
//! alone pinned, every run's p99 was 3.6 to 8.4 ms.

use std::path::Path;
use std::process::Command;

mod common;

use common::{AGENTS, CHAIN, address, bench_database, drop_bench_database, env_number, seed, seed_versions};
use prova_api::AppState;
use prova_api::routes::model_versions::LOAD_VERSIONS;

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
    let output = client("wrk")
        .args([
            "-t",
            &connections.clamp(1, 2).to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .map_err(|e| anyhow::anyhow!("wrk: {e} (scripts/bench-api.sh installs it)"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(output.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    let field =
        |prefix: &str| text.lines().find_map(|line| line.trim().strip_prefix(prefix).map(|r| r.trim().to_owned()));
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
    let socket_errors: u64 = field("Socket errors:")
        .map_or(0, |line| line.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum());
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").map_or(Ok(0), |n| n.parse())?;
    Ok(Wrk {
        requests_per_second: field("Requests/sec:")
            .ok_or_else(|| anyhow::anyhow!("no Requests/sec in {text}"))?
            .parse()?,
        p50_ms: millis(field("50%").ok_or_else(|| anyhow::anyhow!("no p50 in {text}"))?)?,
        p99_ms: millis(field("99%").ok_or_else(|| anyhow::anyhow!("no p99 in {text}"))?)?,
        errors: socket_errors + non_2xx,
    })
}

/// A `wrk` script asking for `path_prefix` + a random line of `items`.
fn wrk_script(
    dir: &Path,
    name: &str,
    path_prefix: &str,
    path_suffix: &str,
    items: &[String],
) -> anyhow::Result<std::path::PathBuf> {
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
    let output = client("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-j",
            &clients.clamp(1, 2).to_string(),
            "-c",
            &clients.to_string(),
            "-T",
            &seconds.to_string(),
            "-f",
        ])
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

/// The route's statement ([`LOAD_VERSIONS`]) for the random version `:i` of [`seed_versions`], its unset filters
/// as typed nulls.
fn point_query(versions: i64) -> String {
    let statement = LOAD_VERSIONS
        .replace("{KEY}", "r.version_hash = sha256(int8send(:i::BIGINT))")
        .replace("$2::BIGINT", "$2")
        .replace("$2", "NULL::BIGINT")
        .replace("$3::BYTEA", "$3")
        .replace("$3", "NULL::BYTEA")
        .replace("$4::BIGINT", "$4")
        .replace("$4", "NULL::BIGINT")
        .replace("$5::BIGINT[]", "'{}'::BIGINT[]")
        .replace("$6::BYTEA[]", "'{}'::BYTEA[]");
    format!("\\set i random(1, {versions})\n{statement};\n")
}

/// Asks for every one of `hashes` once, 16 at a time.
async fn warm_cache(url: &str, hashes: &[String]) -> anyhow::Result<()> {
    use futures::StreamExt;
    let http = reqwest::Client::new();
    let mut answers = futures::stream::iter(hashes)
        .map(|hash| http.get(format!("{url}/v1/model-versions/{hash}")).send())
        .buffer_unordered(16);
    while let Some(answer) = answers.next().await {
        anyhow::ensure!(answer?.status().is_success(), "warming the cache");
    }
    Ok(())
}

/// The response cache's lookups by result, from `/metrics`.
async fn cache_lookups(url: &str) -> anyhow::Result<String> {
    let text = reqwest::get(format!("{url}/metrics")).await?.text().await?;
    let counts: Vec<&str> =
        text.lines().filter(|line| line.starts_with("prova_api_response_cache_lookups_total")).collect();
    Ok(counts.join(", "))
}

// The allocator `prova serve` runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where the bench runs things (`taskset` CPU lists).
#[derive(Debug)]
struct Placement {
    /// The API and Postgres: every CPU but the last.
    servers: String,
    /// `wrk` and `pgbench`: the last CPU.
    clients: String,
    /// Every CPU, to give Postgres back at the end.
    all: String,
}

/// The placement, decided once at start (before this process is pinned, which would hide the other CPUs):
/// `None` on one CPU or with `PROVA_BENCH_PIN=0`.
fn placement() -> Option<&'static Placement> {
    static PLACEMENT: std::sync::OnceLock<Option<Placement>> = std::sync::OnceLock::new();
    PLACEMENT
        .get_or_init(|| {
            if std::env::var("PROVA_BENCH_PIN").as_deref() == Ok("0") {
                return None;
            }
            let cpus = std::thread::available_parallelism().ok()?.get();
            (cpus >= 2).then(|| Placement {
                servers: format!("0-{}", cpus - 2),
                clients: (cpus - 1).to_string(),
                all: format!("0-{}", cpus - 1),
            })
        })
        .as_ref()
}

/// `program`, run on the load generators' CPU if there is one.
fn client(program: &str) -> Command {
    match placement() {
        Some(placement) => {
            let mut command = Command::new("taskset");
            command.args(["-c", &placement.clients, program]);
            command
        }
        None => Command::new(program),
    }
}

/// Moves every thread of process `pid` to `cpus`.
fn pin(pid: u32, cpus: &str) -> anyhow::Result<()> {
    let output = Command::new("taskset").args(["-a", "-p", "-c", cpus, &pid.to_string()]).output()?;
    anyhow::ensure!(output.status.success(), "taskset {pid}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(())
}

/// Moves the Postgres server behind `pool` (its postmaster and every process forked from it so far; later ones
/// inherit) to `cpus`. `false` when the server is not on this machine or its data folder cannot be read.
async fn pin_postgres(pool: &sqlx::PgPool, cpus: &str) -> anyhow::Result<bool> {
    let folder: Option<String> = sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
        .fetch_optional(pool)
        .await?;
    let Some(postmaster) = folder
        .and_then(|folder| std::fs::read_to_string(Path::new(&folder).join("postmaster.pid")).ok())
        .and_then(|pidfile| pidfile.lines().next()?.trim().parse::<u32>().ok())
    else {
        return Ok(false);
    };
    pin(postmaster, cpus)?;
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        // The parent pid is the second field after the command name, which is in parentheses.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if parent == Some(postmaster) {
            pin(pid, cpus)?;
        }
    }
    Ok(true)
}

fn main() -> anyhow::Result<()> {
    // Before the runtime starts its threads (they inherit it).
    if let Some(placement) = placement() {
        pin(std::process::id(), &placement.servers)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let seconds = env_number("PROVA_BENCH_SECONDS", 30);
    let connections = env_number("PROVA_BENCH_CONNECTIONS", 64);
    let versions = env_number("PROVA_BENCH_VERSIONS", 100_000) as i64;
    let rounds = env_number("PROVA_BENCH_ROUNDS", 3).max(1);
    // The response cache's memory in MiB (0: off); the default holds all 100,000 versions' answers.
    let cache_mb = env_number("PROVA_BENCH_CACHE_MB", 256) as u64;
    // The access log, as `prova serve --log-json` writes it, into a sink.
    tracing_subscriber::fmt().json().with_env_filter("info,sqlx=warn").with_writer(std::io::sink).init();

    // `prova serve`'s default pool size (`--db-max-connections 16`): 64 HTTP connections share 16 database ones.
    let pool_size = env_number("PROVA_BENCH_DB_CONNECTIONS", 16) as u32;
    let (pool, database_url) = bench_database(DATABASE, pool_size).await?;
    match placement() {
        Some(Placement { servers, clients, .. }) => {
            let postgres =
                if pin_postgres(&pool, servers).await? { "and Postgres " } else { "(Postgres is not local) " };
            println!("placement: the API {postgres}on CPUs {servers}, wrk and pgbench on CPU {clients}");
        }
        None => println!("placement: left to the kernel"),
    }
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
    let mut state = AppState::new(pool.clone()).with_trust_seeds(seeds);
    if cache_mb > 0 {
        state = state.with_response_cache(cache_mb << 20).await?;
    }
    tokio::spawn(prova_api::serve(listener, state, std::future::pending()));
    if cache_mb > 0 {
        // Every version asked once, so the rounds below measure a warm cache (as a long-running API's hot set is).
        warm_cache(&url, &hashes).await?;
    }

    let dir = tempfile::tempdir()?;
    let versions_script = wrk_script(dir.path(), "versions", "/v1/model-versions/", "", &hashes)?;
    let point = dir.path().join("point.sql");
    std::fs::write(&point, point_query(versions))?;
    let agents: Vec<String> = (0..AGENTS).map(|a| a.to_string()).collect();
    let reputation_script =
        wrk_script(dir.path(), "agents", &format!("/v1/agents/{CHAIN}/"), "/reputation?algorithm=trust", &agents)?;

    // Warm both sides once (connections, caches, the trust ranking), then measure.
    let blocking = |f: Box<dyn FnOnce() -> anyhow::Result<()> + Send>| tokio::task::spawn_blocking(f);
    {
        let (url, versions_script, reputation_script) =
            (url.clone(), versions_script.clone(), reputation_script.clone());
        blocking(Box::new(move || {
            wrk(&url, &versions_script, 8, 3)?;
            wrk(&url, &reputation_script, 8, 3).map(drop)
        }))
        .await??;
    }
    // The API and pgbench alternate, `rounds` times each, so a change in the shared machine's load hits both; the
    // round with the median ratio is reported.
    let mut pairs = Vec::new();
    for round in 1..=rounds {
        let api = {
            let (url, script) = (url.clone(), versions_script.clone());
            tokio::task::spawn_blocking(move || wrk(&url, &script, connections, seconds)).await??
        };
        let tps = {
            let (database_url, point) = (database_url.clone(), point.clone());
            tokio::task::spawn_blocking(move || pgbench(&database_url, &point, connections, seconds)).await??
        };
        eprintln!(
            "round {round}: API {:.0} req/s (p99 {:.2} ms), pgbench {tps:.0} tps: {:.0}%",
            api.requests_per_second,
            api.p99_ms,
            100.0 * api.requests_per_second / tps
        );
        pairs.push((api, tps));
    }
    pairs.sort_by(|a, b| (a.0.requests_per_second / a.1).total_cmp(&(b.0.requests_per_second / b.1)));
    let (api, tps) = pairs.swap_remove(pairs.len() / 2);
    let health_script = wrk_script(dir.path(), "health", "/healthz", "", &[String::new()])?;
    let health = {
        let (url, script) = (url.clone(), health_script);
        tokio::task::spawn_blocking(move || wrk(&url, &script, connections, seconds)).await??
    };
    let reputation = {
        let (url, script) = (url.clone(), reputation_script.clone());
        tokio::task::spawn_blocking(move || wrk(&url, &script, connections, seconds)).await??
    };

    println!(
        "| what ({connections} connections, {seconds} s; median of {rounds} alternating rounds) | req/s | p50 ms | p99 ms | errors |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| API `GET /v1/model-versions/{{hash}}` (wrk) | {:.0} | {:.2} | {:.2} | {} |",
        api.requests_per_second, api.p50_ms, api.p99_ms, api.errors
    );
    println!("| Postgres, the route's statement (pgbench, prepared) | {tps:.0} | | | 0 |");
    println!(
        "| API `GET /healthz`, no database (wrk): the HTTP stack's ceiling | {:.0} | {:.2} | {:.2} | {} |",
        health.requests_per_second, health.p50_ms, health.p99_ms, health.errors
    );
    println!(
        "| API `GET /v1/agents/{{chain}}/{{id}}/reputation?algorithm=trust` (wrk) | {:.0} | {:.2} | {:.2} | {} |",
        reputation.requests_per_second, reputation.p50_ms, reputation.p99_ms, reputation.errors
    );
    println!("API / pgbench: {:.0}%", 100.0 * api.requests_per_second / tps);
    println!(
        "API / healthz: {:.0}%; response cache ({cache_mb} MiB) {}",
        100.0 * api.requests_per_second / health.requests_per_second,
        cache_lookups(&url).await?
    );
    if let Some(placement) = placement() {
        // Give the server its cores back for whatever runs on it next.
        pin_postgres(&pool, &placement.all).await?;
    }
    drop_bench_database(pool, DATABASE).await
}
