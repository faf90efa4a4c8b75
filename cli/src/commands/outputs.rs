//! `prova outputs ...`: attest sampled model outputs (ingest, sidecar, publish), hand out receipts, and scan suspect
//! datasets for attested outputs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::args::{ChainArgs, DatabaseArgs};
use crate::signer::KeyArgs;
use alloy::primitives::{B256, keccak256};
use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::{Args, Subcommand};
use prova_attestor::outputs::bundle::{BundleInput, p_from_log10, probability, write_bundle};
use prova_attestor::outputs::calibration::Calibration;
use prova_attestor::outputs::evidence::ReceiptMaker;
use prova_attestor::outputs::near::{Banding, Scheme};
use prova_attestor::outputs::scan::{
    DEFAULT_MIN_SHINGLES, DEFAULT_THRESHOLD, NearOptions, ScanMatch, ScanOptions, limitations, scan,
};
use prova_attestor::outputs::store::{self, Keep, Sample, SealPolicy};
use prova_attestor::outputs::{Clock, Rate, Record, RecordRef, Sampler, Submitter};
use rayon::prelude::*;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Output subcommands.
#[derive(Debug, Subcommand)]
pub enum OutputsCommand {
    /// Store sampled outputs from JSONL files (or stdin): `{model_version, request, response, timestamp?}`.
    Ingest(IngestArgs),
    /// Run the HTTP sidecar (`POST /v1/samples`) and the batch publisher.
    Serve(ServeArgs),
    /// Seal due batches, anchor them on-chain and upload their leaves; loop, or once with --once.
    Publish(PublishArgs),
    /// Write the receipt of an attested output.
    Receipt(ReceiptArgs),
    /// Find attested outputs in a suspect dataset (exact, normalized and near-duplicate matches), with receipts,
    /// p-values and, with --evidence, a bundle that `prova verify evidence` checks against the chain.
    Scan(ScanArgs),
}

/// Sampling options.
#[derive(Debug, Clone, Args)]
pub struct SamplingArgs {
    /// Default sampling rate: a fraction (0.1) or every Nth (every:10).
    #[arg(long, default_value = "1", env = "PROVA_SAMPLE_RATE")]
    pub sample_rate: Rate,
    /// Per-version rate, VERSION=RATE (repeatable).
    #[arg(long = "sample", value_parser = Sampler::parse_override)]
    pub per_version: Vec<(B256, Rate)>,
}

/// What the store keeps besides each sample's leaf and hashes (all private to the lab's store).
#[derive(Debug, Clone, Args)]
pub struct KeepArgs {
    /// Keep each response's text in the store, so that scans compute exact similarities and evidence bundles can
    /// show and prove the attested text (the store then holds the texts: protect it accordingly).
    #[arg(long, env = "PROVA_KEEP_TEXT")]
    pub keep_text: bool,
    /// Store no near-duplicate fingerprints (scans then find exact and normalized copies only).
    #[arg(long, env = "PROVA_NO_FINGERPRINTS")]
    pub no_fingerprints: bool,
}

impl KeepArgs {
    fn keep(&self) -> Keep {
        Keep { fingerprints: (!self.no_fingerprints).then(Scheme::default), texts: self.keep_text }
    }
}

impl SamplingArgs {
    fn sampler(&self) -> Sampler {
        Sampler::new(self.sample_rate, self.per_version.iter().copied().collect::<HashMap<_, _>>())
    }
}

/// Arguments of `prova outputs ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// JSONL files; none means stdin.
    pub files: Vec<PathBuf>,
    /// Sampling.
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Samples per durable commit.
    #[arg(long, default_value_t = 8192)]
    pub chunk: usize,
    /// Fingerprints and texts.
    #[command(flatten)]
    pub keep: KeepArgs,
    /// The attestor's database.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Print the summary as JSON on stdout: `{read, stored, seconds}`.
    #[arg(long)]
    pub json: bool,
}

/// Batching and anchoring options.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Close a batch at this many leaves.
    #[arg(long, default_value_t = 4096)]
    pub max_leaves: usize,
    /// Close a batch when its oldest sample is this many seconds old.
    #[arg(long, default_value_t = 60)]
    pub max_age: i64,
    /// Seal everything waiting now, whatever its size or age.
    #[arg(long)]
    pub flush: bool,
    /// One pass, then exit once every due batch is anchored and confirmed (an error after 120 s with some left).
    #[arg(long)]
    pub once: bool,
    /// Confirmations to wait for.
    #[arg(long, default_value_t = 1)]
    pub confirmations: u64,
    /// Upload each confirmed batch's leaves to this prova API (data availability).
    #[arg(long, env = "PROVA_API")]
    pub api: Option<String>,
    /// The chain and registry.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The attestor key (it also pays unless PROVA_RELAYER_PRIVATE_KEY is set).
    #[command(flatten)]
    pub key: KeyArgs,
    /// The attestor's database.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Print each anchored batch as one JSON line on stdout: `{batch, leaves, root}`.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `prova outputs serve`.
///
/// The bearer token comes from `--token-file` or the `PROVA_SIDECAR_TOKEN` environment variable; there is no flag
/// taking the token itself, since command lines show up in `ps` and shell history.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the sidecar listens: HOST:PORT, or unix:/path.sock for an owner-only (0600) unix socket.
    #[arg(long, default_value = "127.0.0.1:8090", env = "PROVA_OUTPUTS_LISTEN")]
    pub listen: Listen,
    /// File holding the bearer token clients must send (`Authorization: Bearer TOKEN`), at least 16 characters.
    /// Required on TCP unless PROVA_SIDECAR_TOKEN is set.
    #[arg(long, env = "PROVA_SIDECAR_TOKEN_FILE", hide_env_values = true)]
    pub token_file: Option<PathBuf>,
    /// A host name clients may put in the Host header besides localhost and IP addresses (repeatable, or
    /// comma-separated in the environment). Any other name is refused, which defeats DNS rebinding.
    #[arg(long = "allowed-host", env = "PROVA_SIDECAR_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Sampling.
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Fingerprints and texts.
    #[command(flatten)]
    pub keep: KeepArgs,
    /// Batching and anchoring.
    #[command(flatten)]
    pub publish: PublishArgs,
}

/// Arguments of `prova outputs receipt`.
#[derive(Debug, Args)]
pub struct ReceiptArgs {
    /// File with the exact request bytes.
    #[arg(required_unless_present = "sample_id")]
    pub request: Option<PathBuf>,
    /// File with the exact response bytes.
    #[arg(required_unless_present = "sample_id")]
    pub response: Option<PathBuf>,
    /// The sample (leaf) id instead of the files.
    #[arg(long, conflicts_with_all = ["request", "response"])]
    pub sample_id: Option<i64>,
    /// Write the receipt here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The attestor's database.
    #[command(flatten)]
    pub db: DatabaseArgs,
}

/// Arguments of `prova outputs scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The suspect dataset (JSONL of {request, response}, {text} or strings).
    pub dataset: PathBuf,
    /// Write one receipt per match into this folder.
    #[arg(long)]
    pub receipts_dir: Option<PathBuf>,
    /// Write an evidence bundle into this folder: evidence.json, receipts, texts and an HTML report (needs --rpc:
    /// every receipt is checked on-chain first).
    #[arg(long, requires = "rpc")]
    pub evidence: Option<PathBuf>,
    /// Leave the attested texts the store kept out of the evidence bundle (its similarities are then estimates that
    /// no one else can recompute).
    #[arg(long)]
    pub no_texts: bool,
    /// JSON-RPC endpoint of the receipts' chain (for --evidence).
    #[arg(long, env = "PROVA_RPC_URL", hide_env_values = true)]
    pub rpc: Option<String>,
    /// Exact and normalized matches only.
    #[arg(long)]
    pub exact_only: bool,
    /// Least similarity (Jaccard of word shingles) of a near match.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
    pub threshold: f64,
    /// LSH bands.
    #[arg(long, default_value_t = Banding::default().bands)]
    pub bands: usize,
    /// LSH rows per band (bands x rows at most the fingerprint's 128 bins).
    #[arg(long, default_value_t = Banding::default().rows)]
    pub rows: usize,
    /// Least number of word shingles a text needs to be compared for near matches.
    #[arg(long, default_value_t = DEFAULT_MIN_SHINGLES)]
    pub min_shingles: usize,
    /// Suspect records held in memory per pass over the store's fingerprints (about 0.9 KB each with the defaults).
    #[arg(long, default_value_t = 1_000_000)]
    pub chunk: usize,
    /// A null calibration (JSON, as `cargo bench -p prova-attestor --bench near` writes it) instead of the shipped
    /// one.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Print every match as a JSON line, then the summary.
    #[arg(long)]
    pub json: bool,
    /// The attestor's database.
    #[command(flatten)]
    pub db: DatabaseArgs,
}

impl ScanArgs {
    fn options(&self) -> anyhow::Result<ScanOptions> {
        if self.exact_only {
            return Ok(ScanOptions { near: None });
        }
        anyhow::ensure!((0.0..=1.0).contains(&self.threshold), "--threshold must be between 0 and 1");
        let calibration = match &self.calibration {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                serde_json::from_str(&text).with_context(|| format!("{} is not a calibration", path.display()))?
            }
            None => Calibration::shipped(),
        };
        Ok(ScanOptions {
            near: Some(NearOptions {
                banding: Banding { bands: self.bands, rows: self.rows },
                threshold: self.threshold,
                min_shingles: self.min_shingles,
                chunk: self.chunk.max(1),
                calibration,
            }),
        })
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

/// Hashes records into samples on all cores; a record whose timestamp `clock` does not allow is refused.
fn to_samples(records: &[Record], clock: Clock, keep: Keep) -> Result<Vec<Sample>, String> {
    let at = now();
    records
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let time = r.leaf_time(at, clock).map_err(|e| format!("record {i}: {e}"))?;
            Ok(Sample::keeping(r.model_version, r.request.as_bytes(), r.response.as_bytes(), time, keep))
        })
        .collect()
}

/// One chunk of `prova outputs ingest` (`lines`: line number and text, blank lines left out): parsed with the texts
/// borrowed and checked on all cores, sampled in order, and the kept records hashed on all cores. The error is the
/// first bad line's, as reading line by line would give.
fn ingest_chunk(
    name: &str,
    lines: &[(usize, String)],
    sampler: &mut Sampler,
    keep: Keep,
) -> anyhow::Result<Vec<Sample>> {
    let at = now();
    let parsed: Vec<anyhow::Result<(RecordRef<'_>, u64)>> = lines
        .par_iter()
        .map(|(n, line)| {
            let record: RecordRef<'_> = serde_json::from_str(line)
                .with_context(|| format!("{name}:{n}: not a {{model_version, request, response}} record"))?;
            let time = record.leaf_time(at, Clock::Log).map_err(|e| anyhow::anyhow!("{name}:{n}: {e}"))?;
            Ok((record, time))
        })
        .collect();
    let mut kept = Vec::with_capacity(parsed.len());
    for record in parsed {
        let (record, time) = record?;
        if sampler.keep(record.model_version) {
            kept.push((record, time));
        }
    }
    Ok(kept
        .par_iter()
        .map(|(r, time)| Sample::keeping(r.model_version, r.request.as_bytes(), r.response.as_bytes(), *time, keep))
        .collect())
}

impl OutputsCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Self::Ingest(args) => ingest(args).await,
            Self::Serve(args) => serve(args).await,
            Self::Publish(args) => {
                let pool = prova_db::connect_and_migrate(
                    &args.db.database_url,
                    args.db.db_max_connections,
                    prova_db::Schema::Attestor,
                )
                .await?;
                publish_loop(&args, pool, crate::shutdown_signal()).await?;
                Ok(ExitCode::SUCCESS)
            }
            Self::Receipt(args) => receipt(args).await,
            Self::Scan(args) => scan_dataset(args).await,
        }
    }
}

async fn ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let pool =
        prova_db::connect_and_migrate(&args.db.database_url, args.db.db_max_connections, prova_db::Schema::Attestor)
            .await?;
    let mut sampler = args.sampling.sampler();
    let keep = args.keep.keep();
    let readers: Vec<(String, Box<dyn BufRead>)> = if args.files.is_empty() {
        vec![("stdin".into(), Box::new(BufReader::new(std::io::stdin())))]
    } else {
        args.files
            .iter()
            .map(|f| {
                let file = std::fs::File::open(f).with_context(|| format!("cannot open {}", f.display()))?;
                Ok((f.display().to_string(), Box::new(BufReader::with_capacity(1 << 20, file)) as Box<dyn BufRead>))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let started = Instant::now();
    let mut read = 0u64;
    let writer = store::PipelinedInserter::new(pool.clone());
    let mut chunk: Vec<(usize, String)> = Vec::with_capacity(args.chunk);
    for (name, reader) in readers {
        for (n, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {name}"))?;
            if line.trim().is_empty() {
                continue;
            }
            read += 1;
            chunk.push((n + 1, line));
            if chunk.len() == args.chunk {
                let samples = tokio::task::block_in_place(|| ingest_chunk(&name, &chunk, &mut sampler, keep))?;
                writer.send(samples).await?;
                chunk.clear();
            }
        }
        let samples = tokio::task::block_in_place(|| ingest_chunk(&name, &chunk, &mut sampler, keep))?;
        writer.send(samples).await?;
        chunk.clear();
    }
    let stored = writer.finish().await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "read {read} records, stored {stored} samples in {secs:.2} s ({:.0} samples/s), all durable",
        stored as f64 / secs.max(1e-9)
    );
    if args.json {
        println!("{}", json!({ "read": read, "stored": stored, "seconds": secs }));
    }
    Ok(ExitCode::SUCCESS)
}

/// Seals, anchors and uploads until `shutdown` (or once).
async fn publish_loop(
    args: &PublishArgs,
    pool: sqlx::PgPool,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let attestor = args.key.load()?;
    let relayer = match std::env::var(super::model::RELAYER_KEY_ENV) {
        Ok(hex) => crate::signer::parse_private_key(&hex, super::model::RELAYER_KEY_ENV)?,
        Err(_) => attestor.clone(),
    };
    let provider = prova_chain::connect(&args.chain.rpc_url)?;
    let chain_id = prova_chain::check_registry(&provider, args.chain.registry, None).await?;
    let submitter = Submitter {
        pool: pool.clone(),
        provider,
        attestor,
        relayer,
        registry: args.chain.registry,
        chain_id,
        confirmations: args.confirmations,
        batch_uri_base: args
            .api
            .as_ref()
            .map_or_else(String::new, |api| format!("{}/v1/output-batches/", api.trim_end_matches('/'))),
        wait: Duration::from_secs(30),
    };
    let policy = SealPolicy { max_leaves: args.max_leaves, max_age_secs: if args.flush { 0 } else { args.max_age } };
    tokio::pin!(shutdown);
    // One active publisher per store: others wait as standbys (a crashed one releases the lock with its session).
    let mut lock = pool.acquire().await?;
    let waiting_since = Instant::now();
    while !store::try_lock_publisher(&mut lock).await? {
        if args.once && waiting_since.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("another `prova outputs publish` is active on this store");
        }
        tracing::info!("another publisher is active on this store; waiting as a standby");
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    loop {
        // Once: every due batch anchored, waiting while the chain's time is before a batch's window end.
        let pass = match args.once {
            true => submitter.run_until_settled(policy, Duration::from_secs(120)).await,
            false => submitter.run_once(policy).await,
        };
        match pass {
            Ok(confirmed) => {
                for batch in &confirmed {
                    if args.json {
                        println!("{}", json!({ "batch": batch.id, "leaves": batch.leaf_count, "root": batch.root() }));
                    } else {
                        println!("anchored batch {} ({} leaves) root {}", batch.id, batch.leaf_count, batch.root());
                    }
                }
            }
            Err(error) if args.once => return Err(error.into()),
            Err(error) => tracing::warn!(%error, "publishing pass failed; retrying"),
        }
        if let Some(api) = &args.api
            && let Err(error) = upload_pending(&pool, api, &submitter).await
        {
            tracing::warn!(error = %format!("{error:#}"), "leaf upload failed; retrying");
        }
        if args.once {
            return Ok(());
        }
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Uploads the leaves of confirmed batches to the API (it accepts them once it has indexed the root), signed by the
/// attestor key that anchored them.
async fn upload_pending(pool: &sqlx::PgPool, api: &str, submitter: &Submitter) -> anyhow::Result<()> {
    for batch in store::batches_to_upload(pool).await? {
        let leaves: Vec<_> = store::batch_leaves(pool, &batch).await?.into_iter().map(|(_, leaf)| leaf).collect();
        let (key, chain_id, registry) = (&submitter.attestor, submitter.chain_id, submitter.registry);
        super::api_client::upload_leaves(api, batch.root(), &leaves, key, chain_id, registry).await?;
        store::mark_uploaded(pool, batch.id).await?;
    }
    Ok(())
}

/// Environment variable holding the sidecar's bearer token (an alternative to `--token-file`).
pub const SIDECAR_TOKEN_ENV: &str = "PROVA_SIDECAR_TOKEN";

/// Shortest bearer token the sidecar accepts, in characters.
const MIN_TOKEN_LEN: usize = 16;

/// Where the sidecar listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address: clients need the bearer token and a Host the sidecar serves.
    Tcp(SocketAddr),
    /// A unix socket (`unix:/path.sock`), created 0600 so that only this user can connect.
    Unix(PathBuf),
}

impl std::str::FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("unix:") {
            Some("") => Err("unix: needs a socket path, e.g. unix:/run/prova/sidecar.sock".into()),
            Some(path) => Ok(Self::Unix(path.into())),
            None => s.parse().map(Self::Tcp).map_err(|_| format!("{s:?} is neither HOST:PORT nor unix:/path.sock")),
        }
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Reads the bearer token from `--token-file` or [`SIDECAR_TOKEN_ENV`] and keeps only its hash. Without either, a
/// TCP sidecar refuses to start; a unix socket (owner-only) may run without one. Errors never contain the token.
fn load_token(file: Option<&std::path::Path>, listen: &Listen) -> anyhow::Result<Option<B256>> {
    let from_env = std::env::var_os(SIDECAR_TOKEN_ENV);
    let (token, source) = match (file, from_env) {
        (Some(_), Some(_)) => anyhow::bail!("pass --token-file or set {SIDECAR_TOKEN_ENV}, not both"),
        (Some(path), None) => {
            let text = std::fs::read(path).with_context(|| format!("cannot read the token file {}", path.display()))?;
            warn_if_others_can_read(path);
            (text, format!("the token file {}", path.display()))
        }
        (None, Some(value)) => (value.into_encoded_bytes(), SIDECAR_TOKEN_ENV.to_owned()),
        (None, None) => match listen {
            Listen::Unix(_) => return Ok(None),
            Listen::Tcp(_) => anyhow::bail!(
                "the sidecar needs a bearer token: pass --token-file FILE or set {SIDECAR_TOKEN_ENV} \
                 (or listen on an owner-only unix socket with --listen unix:/path.sock); \
                 make one with `openssl rand -hex 32`"
            ),
        },
    };
    let token = token.trim_ascii();
    if !token.iter().all(u8::is_ascii_graphic) {
        anyhow::bail!("the sidecar token from {source} must be printable ASCII without spaces");
    }
    if token.len() < MIN_TOKEN_LEN {
        anyhow::bail!(
            "the sidecar token from {source} is shorter than {MIN_TOKEN_LEN} characters; \
             make one with `openssl rand -hex 32`"
        );
    }
    Ok(Some(keccak256(token)))
}

fn warn_if_others_can_read(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(file = %path.display(), "the sidecar token file is readable by others; chmod 600 it");
    }
}

/// Why the sidecar refused a request. Each answers `{ "error": { "code", "message" } }`.
#[derive(Debug, thiserror::Error)]
enum SidecarError {
    /// 403: the Host header is missing or names a host this sidecar does not serve (DNS rebinding).
    #[error("this Host is not served here; allow a name with --allowed-host")]
    Host,
    /// 403: the request comes from a browser (it carries `Origin` or `Sec-Fetch-Site`).
    #[error("requests from browsers are refused")]
    Browser,
    /// 401: no bearer token, or the wrong one.
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// 405: `/v1/samples` takes only POST.
    #[error("use POST")]
    Method,
    /// 415: the body is not declared as `application/json`.
    #[error("Content-Type must be application/json")]
    ContentType,
    /// 400: the body is not a record or a list of records (or a record's timestamp is refused).
    #[error("{0}")]
    InvalidBody(String),
    /// 503: the samples could not be stored (the detail is logged).
    #[error("could not store the samples; retry")]
    Unavailable,
}

impl axum::response::IntoResponse for SidecarError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::header;
        let (status, code) = match &self {
            Self::Host => (StatusCode::FORBIDDEN, "host_not_allowed"),
            Self::Browser => (StatusCode::FORBIDDEN, "browser_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Method => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::ContentType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        let body = Json(json!({ "error": { "code": code, "message": self.to_string() } }));
        match self {
            Self::Unauthorized => (status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response(),
            Self::Method => (status, [(header::ALLOW, "POST")], body).into_response(),
            _ => (status, body).into_response(),
        }
    }
}

/// The checks every request passes before its body is read.
struct Guard {
    /// Hash of the bearer token; `None` only on a unix socket started without one.
    token: Option<B256>,
    /// Host names allowed besides localhost and IP addresses; `None` on a unix socket (no Host check).
    hosts: Option<Vec<String>>,
}

impl Guard {
    /// Refuses, in order: a Host this sidecar does not serve, a browser, then on `/v1/samples` anything but POST,
    /// a missing or wrong token, and a body not declared as JSON.
    fn check(&self, method: &Method, path: &str, headers: &HeaderMap) -> Result<(), SidecarError> {
        use axum::http::header;
        if let Some(allowed) = &self.hosts {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            if !host.is_some_and(|h| host_allowed(h, allowed)) {
                return Err(SidecarError::Host);
            }
        }
        // Browsers send these on every cross-origin request (and scripts cannot remove them); gateways do not.
        if headers.contains_key(header::ORIGIN) || headers.contains_key("sec-fetch-site") {
            return Err(SidecarError::Browser);
        }
        if path != "/v1/samples" {
            return Ok(());
        }
        if method != Method::POST {
            return Err(SidecarError::Method);
        }
        if let Some(expected) = &self.token {
            let presented = headers.get(header::AUTHORIZATION).and_then(|v| bearer(v.as_bytes()));
            if !presented.is_some_and(|t| same_hash(&keccak256(t), expected)) {
                return Err(SidecarError::Unauthorized);
            }
        }
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(SidecarError::ContentType);
        }
        Ok(())
    }
}

/// The token of an `Authorization: Bearer TOKEN` value.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then(|| token.trim_ascii())
}

/// Compares two hashes without an early exit (the token is compared by hash, so timing reveals nothing useful).
fn same_hash(a: &B256, b: &B256) -> bool {
    std::hint::black_box(a.iter().zip(b.iter()).fold(0u8, |diff, (x, y)| diff | (x ^ y))) == 0
}

/// Whether a Host header names this machine: an IP address, `localhost`, or an allowed name (ports are ignored).
/// A DNS-rebinding page reaches the sidecar under the attacker's own name, which is none of these.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = host_name(host);
    name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|a| !a.is_empty() && host_name(a).eq_ignore_ascii_case(name))
}

/// The name of a Host value without its port (`[::1]:8090` is `::1`).
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(ip, _)| ip);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Runs [`Guard::check`] before the route (and before the body is read).
async fn guard(
    State(guard): State<std::sync::Arc<Guard>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match guard.check(request.method(), request.uri().path(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

/// Binds an owner-only unix socket: bound under a temporary name, made 0600, then renamed into place, so no one
/// can connect while it is still open to others. A stale socket (nothing answers) is replaced.
fn bind_unix(path: &std::path::Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            anyhow::bail!("{} exists and is not a socket", path.display());
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!("{} is in use by another process", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let name = path.file_name().with_context(|| format!("{} is not a socket path", path.display()))?;
    let temporary = path.with_file_name(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let listener = tokio::net::UnixListener::bind(&temporary)
        .with_context(|| format!("cannot listen on unix:{}", path.display()))?;
    let placed = std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("cannot create the socket {}", path.display()));
    }
    Ok(listener)
}

#[derive(Clone)]
struct Sidecar {
    pool: sqlx::PgPool,
    keep: Keep,
    sampler: std::sync::Arc<Mutex<Sampler>>,
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let token = load_token(args.token_file.as_deref(), &args.listen)?;
    let guard_state = std::sync::Arc::new(Guard {
        token,
        hosts: match &args.listen {
            Listen::Tcp(_) => Some(args.allowed_hosts.clone()),
            Listen::Unix(_) => None,
        },
    });
    let pool = prova_db::connect_and_migrate(
        &args.publish.db.database_url,
        args.publish.db.db_max_connections,
        prova_db::Schema::Attestor,
    )
    .await?;
    let state = Sidecar {
        pool: pool.clone(),
        keep: args.keep.keep(),
        sampler: std::sync::Arc::new(Mutex::new(args.sampling.sampler())),
    };
    let app = Router::new()
        .route("/v1/samples", post(post_samples))
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .layer(axum::middleware::from_fn_with_state(guard_state, guard))
        .with_state(state);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = match &args.listen {
        Listen::Tcp(addr) => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            tokio::spawn(axum::serve(listener, app).with_graceful_shutdown(stopped(stop_rx.clone())).into_future())
        }
        Listen::Unix(path) => {
            let listener = bind_unix(path)?;
            tokio::spawn(axum::serve(listener, app).with_graceful_shutdown(stopped(stop_rx.clone())).into_future())
        }
    };
    tracing::info!(listen = %args.listen, token = token.is_some(), "outputs sidecar listening");
    let publisher = {
        let stop = stopped(stop_rx);
        async move { publish_loop(&args.publish, pool, stop).await }
    };
    let result = tokio::select! {
        result = publisher => result,
        () = crate::shutdown_signal() => Ok(()),
    };
    let _ = stop_tx.send(true);
    let _ = server.await;
    if let Listen::Unix(path) = &args.listen {
        let _ = std::fs::remove_file(path);
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// `POST /v1/samples`: one record or `{ "samples": [records] }`. Answers only after the kept samples are durable.
/// [`guard`] has checked the Host, the token and the Content-Type before the body is read.
async fn post_samples(
    State(state): State<Sidecar>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), SidecarError> {
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| SidecarError::InvalidBody(format!("not JSON: {e}")))?;
    let records: Vec<Record> = value
        .get("samples")
        .cloned()
        .map_or_else(|| serde_json::from_value(json!([value])), serde_json::from_value)
        .map_err(|e| {
            SidecarError::InvalidBody(format!("expected {{model_version, request, response, timestamp?}}: {e}"))
        })?;
    let kept: Vec<Record> = {
        let mut sampler = state.sampler.lock().await;
        records.iter().filter(|r| sampler.keep(r.model_version)).cloned().collect()
    };
    let samples = tokio::task::block_in_place(|| to_samples(&kept, Clock::Live, state.keep))
        .map_err(SidecarError::InvalidBody)?;
    if let Err(e) = store::insert_samples(&state.pool, &samples).await {
        tracing::error!(error = %e, "storing samples failed");
        return Err(SidecarError::Unavailable);
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "received": records.len(),
            "stored": samples.len(),
            "response_hashes": samples.iter().map(|s| s.leaf.response_hash).collect::<Vec<_>>(),
        })),
    ))
}

async fn receipt(args: ReceiptArgs) -> anyhow::Result<ExitCode> {
    let pool =
        prova_db::connect_and_migrate(&args.db.database_url, args.db.db_max_connections, prova_db::Schema::Attestor)
            .await?;
    let sample_id = match (args.sample_id, &args.request, &args.response) {
        (Some(id), _, _) => id,
        (None, Some(request), Some(response)) => {
            let request = std::fs::read(request).with_context(|| format!("cannot read {}", request.display()))?;
            let response = std::fs::read(response).with_context(|| format!("cannot read {}", response.display()))?;
            let ids = store::find_samples(&pool, keccak256(&request), keccak256(&response)).await?;
            *ids.first().context("no attested output with exactly this request and response")?
        }
        _ => anyhow::bail!("pass REQUEST RESPONSE files or --sample-id"),
    };
    let receipt = ReceiptMaker::default()
        .receipt(&pool, sample_id)
        .await?
        .with_context(|| format!("sample {sample_id} is not in a confirmed batch yet; run `prova outputs publish`"))?;
    let text = serde_json::to_string_pretty(&receipt)? + "\n";
    match &args.out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn scan_dataset(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let options = args.options()?;
    let pool =
        prova_db::connect_and_migrate(&args.db.database_url, args.db.db_max_connections, prova_db::Schema::Attestor)
            .await?;
    if let Some(dir) = &args.receipts_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let provider = match (&args.evidence, &args.rpc) {
        (Some(_), Some(rpc)) => Some(prova_chain::connect(rpc)?),
        _ => None,
    };
    let started = Instant::now();
    let stdout = std::io::stdout();
    let mut matches: Vec<ScanMatch> = Vec::new();
    let summary = scan(&pool, &args.dataset, &options, |found| {
        let fail = |e: String| prova_attestor::Error::Input(e);
        if args.json {
            let mut out = stdout.lock();
            serde_json::to_writer(&mut out, found).map_err(|e| fail(e.to_string()))?;
            writeln!(out).map_err(|e| fail(e.to_string()))?;
        }
        if let (Some(dir), Some(receipt)) = (&args.receipts_dir, &found.receipt) {
            let path = dir.join(format!("record-{}.json", found.record));
            let text = serde_json::to_string_pretty(receipt).map_err(|e| fail(e.to_string()))?;
            std::fs::write(&path, text).map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
        }
        if args.evidence.is_some() {
            matches.push(found.clone());
        }
        Ok(())
    })
    .await?;
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string(&json!({ "summary": summary }))?);
    } else {
        println!("records       {}", summary.records);
        println!(
            "matched       {} ({} exact, {} normalized, {} near)",
            summary.matched, summary.exact, summary.normalized, summary.near
        );
        for (version, n) in &summary.by_version {
            println!("  version     {version}: {n}");
        }
        for (day, n) in &summary.by_day {
            println!("  day         {day}: {n}");
        }
        if let Some(near) = &options.near {
            println!(
                "near          {} records compared against {} fingerprinted outputs, threshold {}",
                summary.records_compared, summary.store_outputs, near.threshold
            );
        }
        if let (Some(q), Some(log10)) = (summary.p_record_at_threshold, summary.log10_p_value_of_count) {
            println!(
                "chance        an unrelated record matches at the threshold with p <= {}; {} or more near matches \
                 by chance: p <= {}",
                probability(q),
                summary.near,
                p_from_log10(log10)
            );
        }
        for limit in limitations() {
            println!("cannot see    {limit}");
        }
    }
    eprintln!(
        "scanned {} records in {secs:.2} s ({:.0} records/min)",
        summary.records,
        summary.records as f64 / secs.max(1e-9) * 60.0
    );
    if let (Some(dir), Some(provider)) = (&args.evidence, &provider) {
        let input = BundleInput {
            dataset: &args.dataset,
            matches: &matches,
            summary: &summary,
            near: options.near.as_ref(),
            attested_texts: !args.no_texts,
        };
        let written = write_bundle(dir, provider, &input).await?;
        eprintln!(
            "wrote the evidence bundle {} ({} matches; {} wait for their batch to be anchored)",
            dir.display(),
            written.matches,
            written.unanchored
        );
        for (record, reason) in &written.not_verified {
            eprintln!("left out record {record}: its receipt does not verify: {reason}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn guard() -> Guard {
        Guard { token: Some(keccak256(TOKEN)), hosts: Some(vec!["sidecar.internal".into()]) }
    }

    /// A request a gateway sends: Host, token and JSON.
    fn gateway() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:8090"));
        headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap());
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers
    }

    fn check(headers: &HeaderMap) -> Result<(), SidecarError> {
        guard().check(&Method::POST, "/v1/samples", headers)
    }

    #[test]
    fn a_gateway_request_passes() {
        check(&gateway()).unwrap();
        let mut headers = gateway();
        headers.insert("content-type", HeaderValue::from_static("Application/JSON; charset=utf-8"));
        headers.insert("authorization", HeaderValue::from_str(&format!("bearer {TOKEN}")).unwrap());
        check(&headers).unwrap();
    }

    #[test]
    fn missing_or_wrong_tokens_are_unauthorized() {
        for value in
            [None, Some("Bearer wrong-token-0123456789"), Some(TOKEN), Some("Basic dXNlcjpwYXNz"), Some("Bearer")]
        {
            let mut headers = gateway();
            headers.remove("authorization");
            if let Some(v) = value {
                headers.insert("authorization", HeaderValue::from_str(v).unwrap());
            }
            assert!(matches!(check(&headers), Err(SidecarError::Unauthorized)), "{value:?}");
        }
    }

    #[test]
    fn only_this_machine_and_allowed_names_are_served() {
        for host in ["127.0.0.1:8090", "localhost:8090", "LOCALHOST", "[::1]:8090", "10.0.0.5", "sidecar.internal:80"] {
            assert!(host_allowed(host, &["sidecar.internal".into()]), "{host}");
        }
        for host in ["evil.example", "evil.example:8090", "localhost.evil.example", "sidecar.internal.evil.example", ""]
        {
            assert!(!host_allowed(host, &["sidecar.internal".into()]), "{host}");
        }
        let mut headers = gateway();
        headers.insert("host", HeaderValue::from_static("evil.example:8090"));
        assert!(matches!(check(&headers), Err(SidecarError::Host)));
        headers.remove("host");
        assert!(matches!(check(&headers), Err(SidecarError::Host)));
    }

    #[test]
    fn browsers_non_json_and_other_methods_are_refused() {
        let mut headers = gateway();
        headers.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(matches!(check(&headers), Err(SidecarError::Browser)));
        let mut headers = gateway();
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(matches!(check(&headers), Err(SidecarError::Browser)));
        for mime in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            let mut headers = gateway();
            headers.insert("content-type", HeaderValue::from_static(mime));
            assert!(matches!(check(&headers), Err(SidecarError::ContentType)), "{mime}");
        }
        let mut headers = gateway();
        headers.remove("content-type");
        assert!(matches!(check(&headers), Err(SidecarError::ContentType)));
        assert!(matches!(guard().check(&Method::GET, "/v1/samples", &gateway()), Err(SidecarError::Method)));
        let mut health = HeaderMap::new();
        health.insert("host", HeaderValue::from_static("127.0.0.1:8090"));
        guard().check(&Method::GET, "/healthz", &health).unwrap();
    }

    #[test]
    fn a_unix_socket_skips_the_host_check_and_may_run_without_a_token() {
        let unix = Guard { token: None, hosts: None };
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("sidecar"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        unix.check(&Method::POST, "/v1/samples", &headers).unwrap();
        headers.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(matches!(unix.check(&Method::POST, "/v1/samples", &headers), Err(SidecarError::Browser)));
    }

    #[test]
    fn listen_parses_tcp_and_unix() {
        assert_eq!("127.0.0.1:8090".parse::<Listen>().unwrap(), Listen::Tcp("127.0.0.1:8090".parse().unwrap()));
        assert_eq!("unix:/run/s.sock".parse::<Listen>().unwrap(), Listen::Unix("/run/s.sock".into()));
        assert!("unix:".parse::<Listen>().is_err());
        assert!("localhost".parse::<Listen>().is_err());
    }
}
