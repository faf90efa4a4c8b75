//! A bounded hostile-load test of the API (issue 16, "Under load"): normal clients read at a steady rate, alone and
//! then while attackers send the expensive requests at their full rate limit. Loopback only; it stops by
//! itself (fixed durations).
//!
//! Seeds a fresh database (`prova_hostile_bench`) on the server of `DATABASE_URL`: 100,000 indexed model versions,
//! 2,000 of them with an uploaded 50-file manifest (25 empty files each, so the empty file's digest is stored 50,000
//! times), 1,000 anchored output batches, 1,000 agents and 100,000 feedback rows. The API runs in this process on
//! `127.0.0.1` as `prova serve` runs by default: rate limit 50 req/s per client IP with bursts of 100, 10 s request
//! timeout (and so `statement_timeout`), 16 database connections, the 64 MiB response cache of point lookups,
//! mimalloc, the JSON request log written to a sink, the default scoring limits (one trust computation at a time on 2
//! cores).
//!
//! **Normal clients** (16, each from its own address 127.0.1.N, well under the limit) send 200 req/s in all,
//! open-loop: each request has a scheduled send time and its latency is counted from that time, so a slow answer
//! cannot hide the requests that should have been sent meanwhile (no coordinated omission). Each asks, at random
//! (seeded), for a model version by hash, an agent, or an agent's reputation with the default parameters.
//!
//! **Phases.** Warm-up (5 s, not counted), then A: normal clients alone, then B: the same normal load while attackers
//! from 127.0.0.2 to 127.0.0.9 each send twice their rate limit (so the limiter admits their full 50 req/s after the
//! burst and answers the rest 429), open-loop, at most 256 requests in flight each. Attacks (issue 16):
//! - reputation with parameters that survive quantization: `trust` with a fresh `alpha` at the most iterations the
//!   work limit allows and `tolerance=0` (the limit's bound is loose: ~0.1 s of one core each on this data), `trust`
//!   with fresh `seeds`, leaderboards
//!   (`GET /v1/agents?sort=reputation`) with a fresh `bayesian` `prior_mean` or `decay` `now`, and the naive jitter
//!   (`alpha=0.15000001…&max_iterations=10000&tolerance=0`, refused by the work limit);
//! - `POST /v1/model-versions/match` with ~0.75 MB manifests: 7,500 files of the empty file's digest, 200 fresh
//!   digests and 20 tokenizer digests that select candidates;
//! - leaf uploads of 4 MiB: unsigned to a random root, and signed by the wrong key to an anchored root;
//! - oversized bodies (2 MiB to the match route, whose limit is 1 MiB);
//! - invented HTTP methods and paths (metric label stuffing).
//!
//! **Measured:** normal clients' count, p50, p99, max and errors (anything but 2xx, 429 included) per phase; what
//! each kind of attack request got, and how long it took; every 250 ms, the longest-running active statement of the
//! database in `pg_stat_activity` (from a separate connection); every second, the process's RSS (the API runs in this
//! process; so do the clients, whose finished requests are reaped as the run goes so that they hold no memory) and
//! the CPU time of the process and of the whole machine (which other work shares). Memory counts as flat when the
//! median RSS of the attack's last 10 s is within 10% of the median of the 10 s after its first 15 s, once the
//! requests in flight have reached their steady number (every request ends within the attackers' 15 s client
//! timeout). Medians, because single samples swing by 10-15% with the 2-4 MiB bodies in flight (the clients'
//! buffers count in the RSS too). Prints Markdown tables for
//! `BENCHMARKS.md` and whether each target is met.
//!
//! Run with `scripts/bench-api.sh`, or `cargo bench -p prova-api --bench hostile` with `DATABASE_URL` set. Knobs:
//! `PROVA_BENCH_SECONDS` (each of A and B, default 20), `PROVA_BENCH_WARMUP_SECONDS` (5), `PROVA_BENCH_NORMAL_CLIENTS`
//! (16), `PROVA_BENCH_NORMAL_RATE` (200 req/s in all), `PROVA_BENCH_ATTACKERS` (8), `PROVA_BENCH_ATTACK_PERCENT`
//! (each attacker's send rate in percent of the rate limit, 200), `PROVA_BENCH_SEED` (16), `PROVA_BENCH_VERSIONS`
//! (100,000), `PROVA_BENCH_NORMAL_REPUTATION_QUERY` (query string of the normal reputation requests, default none:
//! the default parameters), `PROVA_BENCH_ATTACKS` (the kinds of attack sent, comma-separated among `reputation`,
//! `match`, `upload`, `oversized` and `junk`; default all, in the proportions 40/30/10/10/10),
//! `PROVA_BENCH_CACHE_MB` (the response cache, default 64 as `prova serve`; 0 turns it off),
//! `PROVA_BENCH_ATTACKER_NICE` (the attackers' thread priority, default 10; see below).
//!
//! The attackers stand for other machines: they run on a thread of their own at nice 10, so that writing their
//! megabytes of bodies into sockets does not take the 2 cores from the API and the normal clients. The table shows
//! what they sent, and what they could not send because 256 of their requests were already in flight. The normal
//! clients run on two threads of their own at the API's priority; everything shares the machine with Postgres.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use axum::body::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use tokio::time::Instant;

mod common;

use common::{AGENTS, CHAIN, CLIENTS, address, bench_database, drop_bench_database, env_number, seed, seed_versions};
use prova_api::{ApiConfig, AppState, RateLimit};

const DATABASE: &str = "prova_hostile_bench";

/// `prova serve --rate-limit` default.
const RATE_LIMIT_PER_SECOND: u32 = 50;
/// `prova serve --rate-limit-burst` default.
const RATE_LIMIT_BURST: u32 = 100;
/// `prova serve --db-max-connections` default.
const POOL_SIZE: u32 = 16;
/// Model versions with an uploaded manifest.
const MANIFESTS: i64 = 2_000;
/// Anchored output batches.
const BATCHES: i64 = 1_000;
/// Body of the attackers' leaf uploads.
const UPLOAD_BYTES: usize = 4 << 20;
/// Body of the attackers' oversized match requests (the route's limit is [`prova_api::MAX_BODY_BYTES`]).
const OVERSIZED_BYTES: usize = 2 << 20;
/// Requests in flight per attacker at most; past it a scheduled request is skipped.
const ATTACKER_IN_FLIGHT: usize = 256;
/// Memory is flat when the median RSS of the attack's last [`MEMORY_WINDOW_SECS`] is within this fraction of the
/// median of the first [`MEMORY_WINDOW_SECS`] once the attack has settled (see [`Settings::settle`]).
const FLAT_MEMORY: f64 = 0.10;
/// Seconds of RSS samples (one a second) whose median [`FLAT_MEMORY`] compares.
const MEMORY_WINDOW_SECS: f64 = 10.0;

// The allocator `prova serve` runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The knobs of the run (see the module documentation).
#[derive(Debug, Clone)]
struct Settings {
    warmup: Duration,
    phase: Duration,
    normal_clients: usize,
    normal_rate: f64,
    attackers: usize,
    attack_rate: f64,
    seed: u64,
    versions: i64,
    normal_reputation_query: String,
    attacks: Vec<AttackKind>,
    cache_mb: u64,
    attacker_nice: i32,
}

impl Settings {
    fn from_env() -> Self {
        let attack_percent = env_number("PROVA_BENCH_ATTACK_PERCENT", 200).max(1) as f64;
        Self {
            warmup: Duration::from_secs(env_number("PROVA_BENCH_WARMUP_SECONDS", 5) as u64),
            phase: Duration::from_secs(env_number("PROVA_BENCH_SECONDS", 20).max(1) as u64),
            normal_clients: env_number("PROVA_BENCH_NORMAL_CLIENTS", 16).clamp(1, 250),
            normal_rate: env_number("PROVA_BENCH_NORMAL_RATE", 200).max(1) as f64,
            attackers: env_number("PROVA_BENCH_ATTACKERS", 8).min(250),
            attack_rate: f64::from(RATE_LIMIT_PER_SECOND) * attack_percent / 100.0,
            seed: env_number("PROVA_BENCH_SEED", 16) as u64,
            versions: env_number("PROVA_BENCH_VERSIONS", 100_000).max(MANIFESTS as usize) as i64,
            normal_reputation_query: std::env::var("PROVA_BENCH_NORMAL_REPUTATION_QUERY").unwrap_or_default(),
            attacks: match std::env::var("PROVA_BENCH_ATTACKS") {
                Ok(list) => AttackKind::ALL
                    .into_iter()
                    .filter(|kind| list.split(',').any(|n| n.trim() == kind.name()))
                    .collect(),
                Err(_) => AttackKind::ALL.to_vec(),
            },
            cache_mb: env_number("PROVA_BENCH_CACHE_MB", 64) as u64,
            attacker_nice: env_number("PROVA_BENCH_ATTACKER_NICE", 10).min(19) as i32,
        }
    }

    /// The run's whole length after `start`: warm-up, A and B.
    fn total(&self) -> Duration {
        self.warmup + 2 * self.phase
    }

    /// How long into the attack the memory is taken as settled: 15 s (past the API's 10 s request timeout and the
    /// attackers' 15 s client timeout, so the requests in flight have reached their steady number), or half the
    /// attack if shorter.
    fn settle(&self) -> Duration {
        Duration::from_secs(15).min(self.phase / 2)
    }

    /// The phase a request scheduled `offset` after the start belongs to.
    fn phase_at(&self, offset: Duration) -> Phase {
        if offset < self.warmup {
            Phase::WarmUp
        } else if offset < self.warmup + self.phase {
            Phase::Alone
        } else {
            Phase::Attack
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    WarmUp,
    Alone,
    Attack,
}

/// What a normal client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NormalKind {
    Version,
    Agent,
    Reputation,
}

impl NormalKind {
    const ALL: [Self; 3] = [Self::Version, Self::Agent, Self::Reputation];

    fn label(self) -> &'static str {
        match self {
            Self::Version => "`GET /v1/model-versions/{hash}`",
            Self::Agent => "`GET /v1/agents/{chain}/{id}`",
            Self::Reputation => "`GET /v1/agents/{chain}/{id}/reputation`",
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// A whole answer with this status.
    Status(u16),
    /// No whole answer: the connection was closed or reset (as the server does after refusing a body it did not
    /// read).
    Closed,
    /// No answer within the client's timeout.
    TimedOut,
}

/// One normal request: when it was scheduled, what it asked, how long from its scheduled time to the end of its
/// answer, and how it ended.
#[derive(Debug, Clone, Copy)]
struct Sample {
    phase: Phase,
    kind: NormalKind,
    latency: Duration,
    outcome: Outcome,
}

impl Sample {
    fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Status(200..300))
    }
}

/// The kinds of attack request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttackKind {
    Reputation,
    Match,
    Upload,
    Oversized,
    Junk,
}

impl AttackKind {
    const ALL: [Self; 5] = [Self::Reputation, Self::Match, Self::Upload, Self::Oversized, Self::Junk];

    fn name(self) -> &'static str {
        match self {
            Self::Reputation => "reputation",
            Self::Match => "match",
            Self::Upload => "upload",
            Self::Oversized => "oversized",
            Self::Junk => "junk",
        }
    }

    /// Its share of the rolls of [`Targets::attack`] (out of 100): the width is its weight.
    fn weight(self) -> std::ops::Range<u32> {
        match self {
            Self::Reputation => 0..40,
            Self::Match => 40..70,
            Self::Upload => 70..80,
            Self::Oversized => 80..90,
            Self::Junk => 90..100,
        }
    }
}

/// What the attackers and the normal clients ask for, built once before the run.
#[derive(Debug)]
struct Targets {
    base: String,
    attacks: Vec<AttackKind>,
    version_hashes: Vec<String>,
    normal_reputation_query: String,
    /// Most `trust` iterations the server's work limit allows over the seeded registry.
    max_iterations: u64,
    match_bodies: Vec<Bytes>,
    upload_body: Bytes,
    oversized_body: Bytes,
    anchored_roots: Vec<B256>,
}

impl Targets {
    fn normal_request(&self, rng: &mut StdRng) -> (NormalKind, String) {
        let agent = rng.gen_range(0..AGENTS);
        match NormalKind::ALL[rng.gen_range(0..NormalKind::ALL.len())] {
            NormalKind::Version => (
                NormalKind::Version,
                format!(
                    "{}/v1/model-versions/{}",
                    self.base,
                    self.version_hashes[rng.gen_range(0..self.version_hashes.len())]
                ),
            ),
            NormalKind::Agent => (NormalKind::Agent, format!("{}/v1/agents/{CHAIN}/{agent}", self.base)),
            NormalKind::Reputation => {
                let query = &self.normal_reputation_query;
                let query = if query.is_empty() { String::new() } else { format!("?{query}") };
                (NormalKind::Reputation, format!("{}/v1/agents/{CHAIN}/{agent}/reputation{query}", self.base))
            }
        }
    }

    /// A number in `0..100` that picks the kind of the next attack request, among the enabled ones by their weight.
    fn roll(&self, rng: &mut StdRng) -> u32 {
        let total: u32 = self.attacks.iter().map(|kind| kind.weight().len() as u32).sum();
        let mut at = rng.gen_range(0..total.max(1));
        for kind in &self.attacks {
            let range = kind.weight();
            if at < range.len() as u32 {
                return range.start + at;
            }
            at -= range.len() as u32;
        }
        99
    }

    /// The `n`th request of attacker `attacker`: its label and the request.
    fn attack(
        &self,
        client: &reqwest::Client,
        attacker: usize,
        n: u64,
        rng: &mut StdRng,
    ) -> (&'static str, reqwest::RequestBuilder) {
        let base = &self.base;
        let agent = rng.gen_range(0..AGENTS);
        // A value no other request of the run uses, for the parameters that must be fresh.
        let fresh = attacker as u64 * 100_000 + n;
        match self.roll(rng) {
            // Reputation (40%): fresh parameters that survive quantization, and the naive jitter.
            0..8 => {
                let alpha = (1000 + fresh % 9000) as f64 / 10_000.0;
                let iterations = rng.gen_range(self.max_iterations / 2..=self.max_iterations).max(1);
                (
                    "reputation: `trust`, fresh `alpha`, most iterations allowed, `tolerance=0`",
                    client.get(format!(
                        "{base}/v1/agents/{CHAIN}/{agent}/reputation?algorithm=trust&alpha={alpha:.4}\
                         &max_iterations={iterations}&tolerance=0"
                    )),
                )
            }
            8..16 => {
                // Three reviewers and an address nobody uses.
                let stranger = Address::from(rng.r#gen::<[u8; 20]>()).to_string();
                let mut seeds: Vec<String> =
                    (0..3).map(|_| address(0xc0, rng.gen_range(0..CLIENTS)).to_string()).collect();
                seeds.push(stranger);
                (
                    "reputation: `trust`, fresh `seeds`",
                    client.get(format!(
                        "{base}/v1/agents/{CHAIN}/{agent}/reputation?algorithm=trust&seeds={}",
                        seeds.join(",")
                    )),
                )
            }
            16..24 => {
                let prior_mean = (1000 + fresh % 9000) as f64 / 100.0;
                (
                    "reputation: leaderboard, `bayesian`, fresh `prior_mean`",
                    client.get(format!(
                        "{base}/v1/agents?sort=reputation&chain_id={CHAIN}&algorithm=bayesian\
                         &prior_mean={prior_mean:.2}&limit=200"
                    )),
                )
            }
            24..32 => {
                let now = 1_700_000_000 + fresh * 2 * 2_592;
                (
                    "reputation: leaderboard, `decay`, fresh `now`",
                    client.get(format!(
                        "{base}/v1/agents?sort=reputation&chain_id={CHAIN}&algorithm=decay&now={now}&limit=200"
                    )),
                )
            }
            32..40 => (
                "reputation: `trust`, `alpha=0.15000001…&max_iterations=10000&tolerance=0`",
                client.get(format!(
                    "{base}/v1/agents/{CHAIN}/{agent}/reputation?algorithm=trust&alpha=0.15000001{fresh}\
                     &max_iterations=10000&tolerance=0"
                )),
            ),
            // File matching (30%).
            40..70 => (
                "`POST /v1/model-versions/match`, 7,720 files, 7,500 of one digest",
                client
                    .post(format!("{base}/v1/model-versions/match"))
                    .header("content-type", "application/json")
                    .body(self.match_bodies[rng.gen_range(0..self.match_bodies.len())].clone()),
            ),
            // Leaf uploads (10%).
            70..75 => {
                let root = B256::from(rng.r#gen::<[u8; 32]>());
                (
                    "leaf upload, unsigned, 4 MiB, random root",
                    client
                        .put(format!("{base}/v1/output-batches/{root}/leaves"))
                        .header("content-type", "application/json")
                        .body(self.upload_body.clone()),
                )
            }
            75..80 => {
                let root = self.anchored_roots[rng.gen_range(0..self.anchored_roots.len())];
                let mut signature = [27u8; 65];
                rng.fill(&mut signature[..64]);
                (
                    "leaf upload, signed by another key, 4 MiB, anchored root",
                    client
                        .put(format!("{base}/v1/output-batches/{root}/leaves"))
                        .header("content-type", "application/json")
                        .header(
                            prova_api::routes::output_batches::UPLOAD_SIGNATURE_HEADER,
                            format!("0x{}", alloy::hex::encode(signature)),
                        )
                        .body(self.upload_body.clone()),
                )
            }
            // Oversized bodies (10%).
            80..90 => (
                "`POST /v1/model-versions/match`, 2 MiB body (limit 1 MiB)",
                client
                    .post(format!("{base}/v1/model-versions/match"))
                    .header("content-type", "application/json")
                    .body(self.oversized_body.clone()),
            ),
            // Invented methods and paths (10%).
            _ => {
                let method = reqwest::Method::from_bytes(format!("X{:08X}", rng.r#gen::<u32>()).as_bytes())
                    .expect("a valid method token");
                let (a, b) = (rng.r#gen::<u64>(), rng.r#gen::<u64>());
                let path = match rng.gen_range(0..3) {
                    0 => format!("/v1/{a:x}/{b:x}?{a:x}={b:x}"),
                    1 => format!("/{a:x}{b:x}"),
                    _ => "/v1/status".to_owned(),
                };
                let method = if rng.gen_bool(0.25) { reqwest::Method::GET } else { method };
                ("invented method or path", client.request(method, format!("{base}{path}")))
            }
        }
    }
}

/// What the attackers got, per kind of request.
#[derive(Debug, Default, Clone)]
struct AttackCounts {
    sent: u64,
    ok: u64,
    client_error: u64,
    limited: u64,
    unavailable: u64,
    other: u64,
    closed: u64,
    timed_out: u64,
    skipped: u64,
    /// Time to answer each request answered with something else than 429, from its send.
    served: Vec<Duration>,
}

impl AttackCounts {
    fn add(&mut self, outcome: Outcome, took: Duration) {
        self.sent += 1;
        if outcome != Outcome::Status(429) {
            self.served.push(took);
        }
        match outcome {
            Outcome::Status(200..300) => self.ok += 1,
            Outcome::Status(429) => self.limited += 1,
            Outcome::Status(503) => self.unavailable += 1,
            Outcome::Status(400..500) => self.client_error += 1,
            Outcome::Status(_) => self.other += 1,
            Outcome::Closed => self.closed += 1,
            Outcome::TimedOut => self.timed_out += 1,
        }
    }

    fn merge(&mut self, other: Self) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.client_error += other.client_error;
        self.limited += other.limited;
        self.unavailable += other.unavailable;
        self.other += other.other;
        self.closed += other.closed;
        self.timed_out += other.timed_out;
        self.skipped += other.skipped;
        self.served.extend(other.served);
    }
}

/// A reqwest client whose connections leave from `source` (Linux routes all of 127.0.0.0/8 to loopback).
fn client_from(source: Ipv4Addr, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().local_address(IpAddr::V4(source)).no_proxy().http1_only().timeout(timeout).build()?)
}

/// Sends `request` and reads its answer.
async fn send(request: reqwest::RequestBuilder) -> Outcome {
    let failed = |error: reqwest::Error| if error.is_timeout() { Outcome::TimedOut } else { Outcome::Closed };
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return failed(error),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(_) => Outcome::Status(status),
        Err(error) => failed(error),
    }
}

/// One normal client, from 127.0.1.(index + 1): its share of the open-loop schedule over the whole run.
async fn normal_client(
    index: usize,
    settings: Arc<Settings>,
    targets: Arc<Targets>,
    start: Instant,
) -> anyhow::Result<Vec<Sample>> {
    let source = Ipv4Addr::new(127, 0, 1, u8::try_from(index + 1)?);
    let client = client_from(source, Duration::from_secs(30))?;
    let mut rng = StdRng::seed_from_u64(settings.seed.wrapping_mul(1_000_003).wrapping_add(index as u64));
    let clients = settings.normal_clients as f64;
    // Finished requests are reaped as the run goes: a finished task's memory lasts until it is joined, and would
    // count as the API's in the RSS.
    let mut tasks = tokio::task::JoinSet::new();
    let mut samples = Vec::new();
    for k in 0u64.. {
        let offset = Duration::from_secs_f64((k as f64 * clients + index as f64) / settings.normal_rate);
        if offset >= settings.total() {
            break;
        }
        let scheduled = start + offset;
        tokio::time::sleep_until(scheduled).await;
        let (kind, url) = targets.normal_request(&mut rng);
        let phase = settings.phase_at(offset);
        let request = client.get(url);
        tasks.spawn(async move {
            let outcome = send(request).await;
            Sample { phase, kind, latency: scheduled.elapsed(), outcome }
        });
        while let Some(sample) = tasks.try_join_next() {
            samples.push(sample?);
        }
    }
    while let Some(sample) = tasks.join_next().await {
        samples.push(sample?);
    }
    Ok(samples)
}

/// Attacker `index`, from 127.0.0.(index + 2): from `start` to `end`, `rate` requests a second, open-loop.
async fn attacker(
    index: usize,
    settings: Arc<Settings>,
    targets: Arc<Targets>,
    start: Instant,
    end: Instant,
) -> anyhow::Result<BTreeMap<&'static str, AttackCounts>> {
    let source = Ipv4Addr::new(127, 0, 0, u8::try_from(index + 2)?);
    let client = client_from(source, Duration::from_secs(15))?;
    let mut rng = StdRng::seed_from_u64(settings.seed.wrapping_mul(7_919).wrapping_add(1_000 + index as u64));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(ATTACKER_IN_FLIGHT));
    let mut counts: BTreeMap<&'static str, AttackCounts> = BTreeMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    // Attackers start spread over one interval, not all at once.
    let phase = index as f64 / settings.attackers.max(1) as f64;
    for n in 0u64.. {
        let scheduled = start + Duration::from_secs_f64((n as f64 + phase) / settings.attack_rate);
        if scheduled >= end {
            break;
        }
        tokio::time::sleep_until(scheduled).await;
        let (label, request) = targets.attack(&client, index, n, &mut rng);
        match in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                tasks.spawn(async move {
                    let sent = Instant::now();
                    let outcome = send(request).await;
                    drop(permit);
                    (label, outcome, sent.elapsed())
                });
            }
            Err(_) => counts.entry(label).or_default().skipped += 1,
        }
        while let Some(done) = tasks.try_join_next() {
            let (label, outcome, took) = done?;
            counts.entry(label).or_default().add(outcome, took);
        }
    }
    while let Some(done) = tasks.join_next().await {
        let (label, outcome, took) = done?;
        counts.entry(label).or_default().add(outcome, took);
    }
    Ok(counts)
}

/// The process's resident memory in KiB (`VmRSS`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| line.strip_prefix("VmRSS:")?.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Lowers the calling thread's priority to `nice` (Linux applies `setpriority(PRIO_PROCESS, 0, ...)` to the calling
/// thread only).
fn lower_priority(nice: i32) {
    // SAFETY: a system call on the calling thread, with no memory passed.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
}

/// The first three fields of `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The longest-running active statement of the database seen in one sample.
#[derive(Debug, Clone, Default)]
struct Longest {
    seconds: f64,
    query: String,
}

/// Samples `pg_stat_activity` every 250 ms until `end`: the longest-running active statement per phase.
async fn watch_postgres(
    database_url: String,
    settings: Arc<Settings>,
    start: Instant,
    end: Instant,
) -> anyhow::Result<BTreeMap<Phase, Longest>> {
    let pool = PgPoolOptions::new().max_connections(1).connect(&database_url).await?;
    let mut longest: BTreeMap<Phase, Longest> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while Instant::now() < end {
        tick.tick().await;
        let phase = settings.phase_at(start.elapsed());
        let row: Option<(f64, String)> = sqlx::query_as(
            "SELECT EXTRACT(EPOCH FROM now() - query_start)::FLOAT8, left(query, 120) FROM pg_stat_activity
             WHERE state = 'active' AND datname = current_database() AND pid <> pg_backend_pid()
             ORDER BY query_start LIMIT 1",
        )
        .fetch_optional(&pool)
        .await?;
        let entry = longest.entry(phase).or_default();
        if let Some((seconds, query)) = row
            && seconds > entry.seconds
        {
            *entry = Longest { seconds, query: query.split_whitespace().collect::<Vec<_>>().join(" ") };
        }
    }
    pool.close().await;
    Ok(longest)
}

/// CPU time of this process and of the machine, in clock ticks (`USER_HZ`, 100 a second on Linux).
#[derive(Debug, Clone, Copy, Default)]
struct CpuTicks {
    process: u64,
    /// The live threads named `bench-attacker`: the attackers' own client, which stands for other machines.
    attackers: u64,
    /// The live threads at the API's heavy-work priority (`prova_api::heavy::HEAVY_NICE`): scoring and Merkle roots.
    /// (A blocking thread that exited takes its ticks with it; tokio keeps one alive 10 s after its last task.)
    heavy: u64,
    machine_busy: u64,
    machine_total: u64,
}

/// Ticks (user + system) of this process's live threads, split into the attackers' and the heavy work's.
fn thread_ticks() -> (u64, u64) {
    let (mut attackers, mut heavy) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        // After the name: state is field 3, utime 14, stime 15, nice 19.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse::<i64>().ok()).unwrap_or(0);
        let ticks = (number(11) + number(12)) as u64;
        if head.ends_with("(bench-attacker") {
            attackers += ticks;
        } else if number(16) == i64::from(prova_api::heavy::HEAVY_NICE) {
            heavy += ticks;
        }
    }
    (attackers, heavy)
}

impl CpuTicks {
    fn now() -> Self {
        // Fields 14 and 15 of /proc/self/stat, counted after the command name's closing parenthesis.
        let process = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| {
                let fields: Vec<u64> = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|f| f.parse().ok())
                    .collect();
                Some(fields.iter().sum())
            })
            .unwrap_or(0);
        // The first line of /proc/stat: user nice system idle iowait irq softirq steal ...
        let machine: Vec<u64> = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| {
                Some(stat.lines().next()?.split_whitespace().skip(1).take(8).filter_map(|f| f.parse().ok()).collect())
            })
            .unwrap_or_default();
        let machine_total: u64 = machine.iter().sum();
        let idle = machine.get(3).copied().unwrap_or(0) + machine.get(4).copied().unwrap_or(0);
        let (attackers, heavy) = thread_ticks();
        Self { process, attackers, heavy, machine_busy: machine_total - idle, machine_total }
    }
}

/// One sample of [`watch_process`]: seconds since the start, RSS in MiB, CPU ticks so far.
#[derive(Debug, Clone, Copy)]
struct Tick {
    at: f64,
    rss_mib: f64,
    cpu: CpuTicks,
}

/// Samples the RSS and the CPU time every second until `end`.
async fn watch_process(start: Instant, end: Instant) -> Vec<Tick> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < end {
        tick.tick().await;
        samples.push(Tick {
            at: start.elapsed().as_secs_f64(),
            rss_mib: rss_kib() as f64 / 1024.0,
            cpu: CpuTicks::now(),
        });
    }
    samples
}

/// CPU use over a phase: cores of this process in all, of its attackers' thread and of its heavy work, and how busy
/// the machine's CPUs were (every process on it, Postgres included), in percent.
#[derive(Debug, Clone, Copy, Default)]
struct CpuUse {
    process: f64,
    attackers: f64,
    heavy: f64,
    machine_percent: f64,
}

/// [`CpuUse`] over the samples from `from` to `to` seconds.
fn cpu_between(ticks: &[Tick], from: f64, to: f64) -> CpuUse {
    let first = ticks.iter().find(|t| t.at >= from);
    let last = ticks.iter().rev().find(|t| t.at <= to + 0.5);
    match (first, last) {
        (Some(a), Some(b)) if b.at > a.at => {
            let cores = |after: u64, before: u64| after.saturating_sub(before) as f64 / 100.0 / (b.at - a.at);
            let total = (b.cpu.machine_total - a.cpu.machine_total).max(1) as f64;
            CpuUse {
                process: cores(b.cpu.process, a.cpu.process),
                attackers: cores(b.cpu.attackers, a.cpu.attackers),
                heavy: cores(b.cpu.heavy, a.cpu.heavy),
                machine_percent: 100.0 * (b.cpu.machine_busy - a.cpu.machine_busy) as f64 / total,
            }
        }
        _ => CpuUse::default(),
    }
}

/// The `q` quantile of sorted `values` (nearest rank), in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// Count, p50, p99, max (ms) and errors of `samples`.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    count: usize,
    p50: f64,
    p99: f64,
    max: f64,
    errors: usize,
}

fn summarize<'a>(samples: impl Iterator<Item = &'a Sample>) -> Summary {
    let samples: Vec<&Sample> = samples.collect();
    let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    latencies.sort_unstable();
    Summary {
        count: samples.len(),
        p50: quantile_ms(&latencies, 0.50),
        p99: quantile_ms(&latencies, 0.99),
        max: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        errors: samples.iter().filter(|s| !s.ok()).count(),
    }
}

/// The least-squares slope of `points` (y per x).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let covariance: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let variance: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if variance == 0.0 { 0.0 } else { covariance / variance }
}

/// Match bodies: 7,500 empty files, 200 files of fresh digests and 20 tokenizer files, each body its own.
fn match_bodies(rng: &mut StdRng, empty: B256, tokenizers: &[B256], count: usize) -> anyhow::Result<Vec<Bytes>> {
    (0..count)
        .map(|_| {
            let mut files: Vec<serde_json::Value> =
                (0..7_500).map(|i| json!({ "path": format!("pad/{i:05}"), "size": 0, "sha256": empty })).collect();
            files.extend((0..200).map(
                |i| json!({ "path": format!("new/{i:03}"), "size": 1, "sha256": B256::from(rng.r#gen::<[u8; 32]>()) }),
            ));
            files.extend((0..20).map(|i| {
                let digest = tokenizers[rng.gen_range(0..tokenizers.len())];
                json!({ "path": format!("tok/{i:02}"), "size": 2, "sha256": digest })
            }));
            let body = serde_json::to_vec(&json!({ "files": files }))?;
            anyhow::ensure!(
                body.len() < prova_api::MAX_BODY_BYTES,
                "a match body of {} bytes is past the limit",
                body.len()
            );
            Ok(Bytes::from(body))
        })
        .collect()
}

/// Asks the server (as an attacker would) how many `trust` iterations its work limit allows.
async fn allowed_iterations(base: &str) -> anyhow::Result<u64> {
    let client = client_from(Ipv4Addr::new(127, 0, 2, 1), Duration::from_secs(30))?;
    let answer: serde_json::Value = client
        .get(format!("{base}/v1/agents/{CHAIN}/1/reputation?algorithm=trust&max_iterations=10000&tolerance=0"))
        .send()
        .await?
        .json()
        .await?;
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    message
        .rsplit_once("at most ")
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no iteration limit in {answer}"))
}

fn main() -> anyhow::Result<()> {
    let settings = Arc::new(Settings::from_env());
    // The access log, as `prova serve --log-json` writes it, into a sink.
    tracing_subscriber::fmt().json().with_env_filter("info,sqlx=warn").with_writer(std::io::sink).init();
    // The API's runtime, as `prova serve` builds it; the clients get their own, as if they were other processes.
    let server = tokio::runtime::Runtime::new()?;
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()?;
    // The attackers stand for other machines: one thread of their own at a lower priority, so that sending their
    // bodies does not take the CPU from the API and the normal clients (they still send at their full rate: the
    // table shows what they sent).
    let nice = settings.attacker_nice;
    let attackers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-attacker")
        .on_thread_start(move || lower_priority(nice))
        .enable_all()
        .build()?;

    let (pool, database_url, state, base) = server.block_on(async {
        let (pool, database_url) = bench_database(DATABASE, POOL_SIZE).await?;
        seed_versions(&pool, settings.versions).await?;
        seed(&pool, 100_000).await?;
        common::seed_manifests(&pool, MANIFESTS).await?;
        common::seed_batches(&pool, BATCHES).await?;
        eprintln!(
            "seeded {} model versions ({MANIFESTS} with manifests), {BATCHES} output batches, {AGENTS} agents and \
             100000 feedback entries",
            settings.versions
        );
        // Loopback only.
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let config = ApiConfig {
            rate_limit: Some(RateLimit {
                per_second: NonZeroU32::new(RATE_LIMIT_PER_SECOND).expect("not zero"),
                burst: NonZeroU32::new(RATE_LIMIT_BURST).expect("not zero"),
            }),
            ..ApiConfig::default()
        };
        let seeds = (0..10).map(|n| address(0xc0, n)).collect();
        let mut state = AppState::new(pool.clone()).with_trust_seeds(seeds).with_config(config);
        if settings.cache_mb > 0 {
            state = state.with_response_cache(settings.cache_mb << 20).await?;
        }
        tokio::spawn(prova_api::serve(listener, state.clone(), std::future::pending()));
        anyhow::Ok((pool, database_url, state, base))
    })?;
    let timeout = state.config.request_timeout;

    let load_before = load_average();
    let report = clients.block_on(run(settings.clone(), database_url, base, attackers.handle().clone()))?;
    report.print(&settings, &state, timeout);
    println!("machine load average (1, 5, 15 min): {load_before} before the run, {} after", load_average());
    server.block_on(drop_bench_database(pool, DATABASE))
}

/// Everything measured.
#[derive(Debug)]
struct Report {
    samples: Vec<Sample>,
    attacks: BTreeMap<&'static str, AttackCounts>,
    longest: BTreeMap<Phase, Longest>,
    ticks: Vec<Tick>,
    max_iterations: u64,
}

async fn run(
    settings: Arc<Settings>,
    database_url: String,
    base: String,
    attackers: tokio::runtime::Handle,
) -> anyhow::Result<Report> {
    let mut rng = StdRng::seed_from_u64(settings.seed);
    // The seeding pool belongs to the server's runtime: this one reads through its own connection.
    let reader = PgPoolOptions::new().max_connections(1).connect(&database_url).await?;
    let version_hashes: Vec<String> =
        sqlx::query_scalar::<_, Vec<u8>>("SELECT version_hash FROM model_version_registered")
            .fetch_all(&reader)
            .await?
            .iter()
            .map(|hash| format!("0x{}", alloy::hex::encode(hash)))
            .collect();
    let digest = |bytes: Vec<u8>| B256::try_from(bytes.as_slice());
    let empty = digest(sqlx::query_scalar("SELECT sha256(''::BYTEA)").fetch_one(&reader).await?)?;
    let tokenizers =
        sqlx::query_scalar::<_, Vec<u8>>("SELECT DISTINCT sha256 FROM model_files WHERE path LIKE 'tok/%'")
            .fetch_all(&reader)
            .await?
            .into_iter()
            .map(digest)
            .collect::<Result<Vec<_>, _>>()?;
    let anchored_roots = sqlx::query_scalar::<_, Vec<u8>>("SELECT root FROM outputs_attested")
        .fetch_all(&reader)
        .await?
        .into_iter()
        .map(digest)
        .collect::<Result<Vec<_>, _>>()?;
    reader.close().await;
    let max_iterations = allowed_iterations(&base).await?;
    let targets = Arc::new(Targets {
        base,
        attacks: settings.attacks.clone(),
        version_hashes,
        normal_reputation_query: settings.normal_reputation_query.clone(),
        max_iterations,
        match_bodies: match_bodies(&mut rng, empty, &tokenizers, 8)?,
        upload_body: Bytes::from(vec![b' '; UPLOAD_BYTES]),
        oversized_body: Bytes::from(vec![b' '; OVERSIZED_BYTES]),
        anchored_roots,
    });
    eprintln!(
        "warm-up {:?}, A {:?} (normal clients alone), B {:?} (with {} attackers: {:?}); trust work limit: \
         {max_iterations} iterations",
        settings.warmup, settings.phase, settings.phase, settings.attackers, settings.attacks
    );

    let start = Instant::now() + Duration::from_millis(100);
    let end = start + settings.total();
    let attack_start = start + settings.warmup + settings.phase;
    let postgres = tokio::spawn(watch_postgres(database_url, settings.clone(), start, end));
    let process = tokio::spawn(watch_process(start, end));
    let normal: Vec<_> = (0..settings.normal_clients)
        .map(|i| tokio::spawn(normal_client(i, settings.clone(), targets.clone(), start)))
        .collect();
    let attackers: Vec<_> = (0..settings.attackers)
        .filter(|_| !settings.attacks.is_empty())
        .map(|i| attackers.spawn(attacker(i, settings.clone(), targets.clone(), attack_start, end)))
        .collect();

    let mut samples = Vec::new();
    for client in normal {
        samples.extend(client.await??);
    }
    let mut attacks: BTreeMap<&'static str, AttackCounts> = BTreeMap::new();
    for attacker in attackers {
        for (label, counts) in attacker.await?? {
            attacks.entry(label).or_default().merge(counts);
        }
    }
    Ok(Report { samples, attacks, longest: postgres.await??, ticks: process.await?, max_iterations })
}

impl Report {
    fn print(&self, settings: &Settings, state: &AppState, timeout: Duration) {
        let seconds = settings.phase.as_secs();
        let phase = |p: Phase| summarize(self.samples.iter().filter(|s| s.phase == p));
        let (warmup, alone, attack) = (phase(Phase::WarmUp), phase(Phase::Alone), phase(Phase::Attack));
        let ratio = if alone.p99 > 0.0 { attack.p99 / alone.p99 } else { f64::INFINITY };

        println!();
        println!(
            "| normal clients: {} clients, {:.0} req/s open-loop, latency from the scheduled send | requests | p50 ms | p99 ms | max ms | errors |",
            settings.normal_clients, settings.normal_rate
        );
        println!("|---|---|---|---|---|---|");
        println!(
            "| A: alone, {seconds} s | {} | {:.2} | {:.2} | {:.1} | {} |",
            alone.count, alone.p50, alone.p99, alone.max, alone.errors
        );
        println!(
            "| B: under attack, {seconds} s ({} attackers, each at {:.0} req/s against the limit of {RATE_LIMIT_PER_SECOND}) | {} | {:.2} | {:.2} | {:.1} | {} |",
            settings.attackers, settings.attack_rate, attack.count, attack.p50, attack.p99, attack.max, attack.errors
        );
        println!();
        println!("| normal request | p50 ms A / B | p99 ms A / B | errors A / B |");
        println!("|---|---|---|---|");
        for kind in NormalKind::ALL {
            let of = |p: Phase| summarize(self.samples.iter().filter(|s| s.phase == p && s.kind == kind));
            let (a, b) = (of(Phase::Alone), of(Phase::Attack));
            println!(
                "| {} | {:.2} / {:.2} | {:.2} / {:.2} | {} / {} |",
                kind.label(),
                a.p50,
                b.p50,
                a.p99,
                b.p99,
                a.errors,
                b.errors
            );
        }
        let mut failures: BTreeMap<(Phase, Outcome), usize> = BTreeMap::new();
        for s in self.samples.iter().filter(|s| !s.ok()) {
            *failures.entry((s.phase, s.outcome)).or_default() += 1;
        }
        if !failures.is_empty() {
            println!();
            println!("normal clients' errors ((phase, outcome), count): {failures:?}");
        }
        if warmup.errors > 0 {
            println!("warm-up: {} errors of {}", warmup.errors, warmup.count);
        }

        println!();
        println!(
            "| attack request (B) | sent | 2xx | 4xx but 429 | 429 | 503 | other | connection closed | timed out (15 s) | not sent (256 in flight) | p50 / p99 ms but 429 |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        let mut total = AttackCounts::default();
        for (label, c) in &self.attacks {
            let mut served = c.served.clone();
            served.sort_unstable();
            println!(
                "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} / {:.1} |",
                c.sent,
                c.ok,
                c.client_error,
                c.limited,
                c.unavailable,
                c.other,
                c.closed,
                c.timed_out,
                c.skipped,
                quantile_ms(&served, 0.5),
                quantile_ms(&served, 0.99)
            );
            total.sent += c.sent;
            total.limited += c.limited;
        }
        let admitted = total.sent - total.limited;
        println!(
            "attackers sent {} requests in {seconds} s, {} of them not refused 429 ({:.1} req/s per attacker); trust \
             work limit: {} iterations",
            total.sent,
            admitted,
            admitted as f64 / seconds as f64 / settings.attackers.max(1) as f64,
            self.max_iterations
        );
        let stats = state.reputation.stats();
        println!(
            "reputation cache: {} score computations, {} abandoned before starting, at most {} at once (limit {}); {} \
             requests refused by the rate limiter in all",
            stats.computations,
            stats.abandoned,
            stats.peak_running,
            state.reputation.limits().max_concurrent,
            state.metrics.rate_limited.get()
        );

        let longest = |p: Phase| self.longest.get(&p).cloned().unwrap_or_default();
        let (longest_a, longest_b) = (longest(Phase::Alone), longest(Phase::Attack));
        let phase_b_start = (settings.warmup + settings.phase).as_secs_f64();
        let phase_a_start = settings.warmup.as_secs_f64();
        let memory: Vec<(f64, f64)> = self.ticks.iter().map(|t| (t.at, t.rss_mib)).collect();
        let in_b: Vec<(f64, f64)> = memory.iter().copied().filter(|(t, _)| *t >= phase_b_start).collect();
        let rss_at = |t: f64| memory.iter().find(|(at, _)| *at >= t).map_or(0.0, |p| p.1);
        let (rss_a, rss_b) = (rss_at(phase_a_start), rss_at(phase_b_start));
        let settle = settings.settle().as_secs_f64();
        let settled_at = phase_b_start + settle;
        let rss_settled = rss_at(settled_at);
        let rss_peak = in_b.iter().map(|p| p.1).fold(0.0, f64::max);
        let rss_end = in_b.last().map_or(0.0, |p| p.1);
        let settled: Vec<(f64, f64)> = in_b.iter().copied().filter(|(t, _)| *t >= settled_at).collect();
        let slope_per_min = slope(&settled) * 60.0;
        let median_from = |from: f64| {
            let mut window: Vec<f64> =
                settled.iter().filter(|(t, _)| (from..from + MEMORY_WINDOW_SECS).contains(t)).map(|p| p.1).collect();
            window.sort_by(f64::total_cmp);
            window.get(window.len() / 2).copied().unwrap_or(0.0)
        };
        let last_at = settled.last().map_or(settled_at, |p| p.0);
        let (rss_early, rss_late) = (median_from(settled_at), median_from(last_at - MEMORY_WINDOW_SECS + 0.5));
        println!();
        println!("| while running | A | B |");
        println!("|---|---|---|");
        println!(
            "| longest active Postgres statement seen (every 250 ms; `statement_timeout` {} s) | {:.2} s | {:.2} s |",
            timeout.as_secs(),
            longest_a.seconds,
            longest_b.seconds
        );
        println!(
            "| process RSS, MiB (API and clients) | {rss_a:.0} at start | {rss_b:.0} at start, {rss_settled:.0} after {:.0} s, peak {rss_peak:.0}, end {rss_end:.0}; slope after {:.0} s {slope_per_min:+.1} MiB/min |",
            settle, settle
        );
        let phase_b_end = phase_b_start + settings.phase.as_secs_f64();
        let cpu_a = cpu_between(&self.ticks, phase_a_start, phase_b_start);
        let cpu_b = cpu_between(&self.ticks, phase_b_start, phase_b_end);
        println!(
            "| CPU: this process (API and clients), cores; the machine's {} CPUs busy (everything, Postgres included) | {:.2}; {:.0}% | {:.2}; {:.0}% |",
            std::thread::available_parallelism().map_or(1, usize::from),
            cpu_a.process,
            cpu_a.machine_percent,
            cpu_b.process,
            cpu_b.machine_percent
        );
        println!(
            "| of which, cores: the attackers' client thread / the API's heavy work at nice {} (scoring, Merkle roots) / the rest (API request handling, normal clients) | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} / {:.2} |",
            prova_api::heavy::HEAVY_NICE,
            cpu_a.attackers,
            cpu_a.heavy,
            cpu_a.process - cpu_a.attackers - cpu_a.heavy,
            cpu_b.attackers,
            cpu_b.heavy,
            cpu_b.process - cpu_b.attackers - cpu_b.heavy
        );
        let every_5s: Vec<String> = memory.iter().step_by(5).map(|(at, rss)| format!("{at:.0} s: {rss:.0}")).collect();
        println!(
            "RSS (MiB) every 5 s from the start of the warm-up (A at {phase_a_start:.0} s, B at {phase_b_start:.0} s): {}",
            every_5s.join(", ")
        );
        if !longest_b.query.is_empty() {
            println!("longest statement in B: {}", longest_b.query);
        }

        let met = |ok: bool| if ok { "met" } else { "NOT met" };
        let errors = alone.errors + attack.errors;
        let longest_any = longest_a.seconds.max(longest_b.seconds);
        let growth = if rss_early > 0.0 { rss_late / rss_early - 1.0 } else { 0.0 };
        println!();
        println!("Targets:");
        println!(
            "- normal clients' p99 under attack at most 2x their p99 without: {:.2} ms / {:.2} ms = {ratio:.2}x: {}",
            attack.p99,
            alone.p99,
            met(ratio <= 2.0)
        );
        println!(
            "- zero errors for normal clients: {} in A, {} in B: {}",
            alone.errors,
            attack.errors,
            met(errors == 0)
        );
        println!(
            "- no Postgres statement running past the statement timeout ({} s): longest seen {longest_any:.2} s: {}",
            timeout.as_secs(),
            met(longest_any <= timeout.as_secs_f64())
        );
        println!(
            "- API memory flat over the attack (median RSS of its last {MEMORY_WINDOW_SECS:.0} s within {:.0}% of the \
             median of the {MEMORY_WINDOW_SECS:.0} s after its first {:.0} s): {rss_early:.0} -> {rss_late:.0} MiB \
             ({:+.1}%; single samples {rss_settled:.0} -> {rss_end:.0} MiB), slope {slope_per_min:+.1} MiB/min: {}",
            FLAT_MEMORY * 100.0,
            settle,
            growth * 100.0,
            met(growth.abs() <= FLAT_MEMORY)
        );
    }
}
