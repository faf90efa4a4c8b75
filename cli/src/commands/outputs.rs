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
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::{Args, Subcommand};
use prova_attestor::outputs::evidence::{ReceiptMaker, scan};
use prova_attestor::outputs::store::{self, Sample, SealPolicy};
use prova_attestor::outputs::{Clock, Rate, Record, Sampler, Submitter};
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
    /// Find attested outputs in a suspect dataset (exact and normalized matches), with receipts.
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
    /// The attestor's database.
    #[command(flatten)]
    pub db: DatabaseArgs,
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
    /// One pass, then exit.
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
}

/// Arguments of `prova outputs serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the sidecar.
    #[arg(long, default_value = "127.0.0.1:8090", env = "PROVA_OUTPUTS_LISTEN")]
    pub listen: SocketAddr,
    /// Sampling.
    #[command(flatten)]
    pub sampling: SamplingArgs,
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
    /// Print every match as a JSON line, then the summary.
    #[arg(long)]
    pub json: bool,
    /// The attestor's database.
    #[command(flatten)]
    pub db: DatabaseArgs,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

/// Hashes records into samples on all cores; a record whose timestamp `clock` does not allow is refused.
fn to_samples(records: &[Record], clock: Clock) -> Result<Vec<Sample>, String> {
    let at = now();
    records
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let time = r.leaf_time(at, clock).map_err(|e| format!("record {i}: {e}"))?;
            Ok(Sample::new(r.model_version, r.request.as_bytes(), r.response.as_bytes(), time))
        })
        .collect()
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
    let mut chunk: Vec<Record> = Vec::with_capacity(args.chunk);
    for (name, reader) in readers {
        for (n, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {name}"))?;
            if line.trim().is_empty() {
                continue;
            }
            read += 1;
            let record: Record = serde_json::from_str(&line)
                .with_context(|| format!("{name}:{}: not a {{model_version, request, response}} record", n + 1))?;
            if let Err(e) = record.leaf_time(now(), Clock::Log) {
                anyhow::bail!("{name}:{}: {e}", n + 1);
            }
            if sampler.keep(record.model_version) {
                chunk.push(record);
            }
            if chunk.len() == args.chunk {
                let samples = tokio::task::block_in_place(|| to_samples(&chunk, Clock::Log));
                writer.send(samples.map_err(anyhow::Error::msg)?).await?;
                chunk.clear();
            }
        }
    }
    writer.send(to_samples(&chunk, Clock::Log).map_err(anyhow::Error::msg)?).await?;
    let stored = writer.finish().await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "read {read} records, stored {stored} samples in {secs:.2} s ({:.0} samples/s), all durable",
        stored as f64 / secs.max(1e-9)
    );
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
        match submitter.run_once(policy).await {
            Ok(confirmed) => {
                for batch in &confirmed {
                    println!("anchored batch {} ({} leaves) root {}", batch.id, batch.leaf_count, batch.root());
                }
            }
            Err(error) if args.once => return Err(error.into()),
            Err(error) => tracing::warn!(%error, "publishing pass failed; retrying"),
        }
        if let Some(api) = &args.api
            && let Err(error) = upload_pending(&pool, api).await
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

/// Uploads the leaves of confirmed batches to the API (it accepts them once it has indexed the root).
async fn upload_pending(pool: &sqlx::PgPool, api: &str) -> anyhow::Result<()> {
    for batch in store::batches_to_upload(pool).await? {
        let leaves: Vec<_> = store::batch_leaves(pool, &batch).await?.into_iter().map(|(_, leaf)| leaf).collect();
        super::api_client::upload_leaves(api, batch.root(), &leaves).await?;
        store::mark_uploaded(pool, batch.id).await?;
    }
    Ok(())
}

#[derive(Clone)]
struct Sidecar {
    pool: sqlx::PgPool,
    sampler: std::sync::Arc<Mutex<Sampler>>,
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let pool = prova_db::connect_and_migrate(
        &args.publish.db.database_url,
        args.publish.db.db_max_connections,
        prova_db::Schema::Attestor,
    )
    .await?;
    let state = Sidecar { pool: pool.clone(), sampler: std::sync::Arc::new(Mutex::new(args.sampling.sampler())) };
    let app = Router::new()
        .route("/v1/samples", post(post_samples))
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(listen = %args.listen, "outputs sidecar listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server =
        tokio::spawn(axum::serve(listener, app).with_graceful_shutdown(stopped(stop_rx.clone())).into_future());
    let publisher = {
        let stop = stopped(stop_rx);
        async move { publish_loop(&args.publish, pool, stop).await }
    };
    tokio::select! {
        result = publisher => result?,
        () = crate::shutdown_signal() => {}
    }
    let _ = stop_tx.send(true);
    let _ = server.await;
    Ok(ExitCode::SUCCESS)
}

/// `POST /v1/samples`: one record or `{ "samples": [records] }`. Answers only after the kept samples are durable.
async fn post_samples(State(state): State<Sidecar>, body: axum::body::Bytes) -> (StatusCode, Json<Value>) {
    let error = |code: StatusCode, message: String| {
        (code, Json(json!({ "error": { "code": "invalid_body", "message": message } })))
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
    };
    let records: Vec<Record> = match value
        .get("samples")
        .cloned()
        .map_or_else(|| serde_json::from_value(json!([value])), serde_json::from_value)
    {
        Ok(records) => records,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{model_version, request, response, timestamp?}}: {e}"),
            );
        }
    };
    let kept: Vec<Record> = {
        let mut sampler = state.sampler.lock().await;
        records.iter().filter(|r| sampler.keep(r.model_version)).cloned().collect()
    };
    let samples = match tokio::task::block_in_place(|| to_samples(&kept, Clock::Live)) {
        Ok(samples) => samples,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match store::insert_samples(&state.pool, &samples).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({
                "received": records.len(),
                "stored": samples.len(),
                "response_hashes": samples.iter().map(|s| s.leaf.response_hash).collect::<Vec<_>>(),
            })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "storing samples failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": { "code": "unavailable", "message": "could not store the samples; retry" } })),
            )
        }
    }
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
    let pool =
        prova_db::connect_and_migrate(&args.db.database_url, args.db.db_max_connections, prova_db::Schema::Attestor)
            .await?;
    let file = std::fs::File::open(&args.dataset).with_context(|| format!("cannot open {}", args.dataset.display()))?;
    if let Some(dir) = &args.receipts_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let started = Instant::now();
    let stdout = std::io::stdout();
    let summary = scan(&pool, BufReader::with_capacity(1 << 20, file), |found| {
        if args.json {
            let mut out = stdout.lock();
            serde_json::to_writer(&mut out, found).map_err(|e| prova_attestor::Error::Input(e.to_string()))?;
            writeln!(out).map_err(|e| prova_attestor::Error::Input(e.to_string()))?;
        }
        if let (Some(dir), Some(receipt)) = (&args.receipts_dir, &found.receipt) {
            let path = dir.join(format!("record-{}.json", found.record));
            let text =
                serde_json::to_string_pretty(receipt).map_err(|e| prova_attestor::Error::Input(e.to_string()))?;
            std::fs::write(&path, text)
                .map_err(|e| prova_attestor::Error::Input(format!("cannot write {}: {e}", path.display())))?;
        }
        Ok(())
    })
    .await?;
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string(&json!({ "summary": summary }))?);
    } else {
        println!("records       {}", summary.records);
        println!("matched       {} ({} exact, {} normalized)", summary.matched, summary.exact, summary.normalized);
        for (version, n) in &summary.by_version {
            println!("  version     {version}: {n}");
        }
        for (day, n) in &summary.by_day {
            println!("  day         {day}: {n}");
        }
    }
    eprintln!(
        "scanned {} records in {secs:.2} s ({:.0} records/min)",
        summary.records,
        summary.records as f64 / secs.max(1e-9) * 60.0
    );
    Ok(ExitCode::SUCCESS)
}
