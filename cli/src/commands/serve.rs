//! `prova serve`: the HTTP API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::Duration;

use crate::args::DatabaseArgs;
use alloy::primitives::Address;
use anyhow::Context;
use axum::http::HeaderValue;
use clap::Args;
use prova_api::layers::DEFAULT_MAX_REPLICA_LAG;
use prova_api::{ApiConfig, AppState, RateLimit, Readiness};

/// Arguments of `prova serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The database: the primary, which uploads (manifests, output leaves) write to, and reads come from unless
    /// `--read-database-url` is given.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// A streaming replica of the primary to answer reads from, e.g. postgres://prova@replica:5432/prova. Uploads,
    /// and the checks before them, still go to `--database-url`; `/readyz` and `/v1/status` report the replica's
    /// lag (see docs/replicas.md). Never printed: logs show its host and port only, and `--help` hides the
    /// environment variable's value.
    #[arg(long, env = "PROVA_READ_DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub read_database_url: Option<String>,
    /// Apply the registry schema's pending migrations before serving. Off by default: the API only reads, and the
    /// schema belongs to its writer (`prova index`) or to `prova db migrate`.
    #[arg(long, env = "PROVA_SERVE_MIGRATE")]
    pub migrate: bool,
    /// Address to listen on.
    #[arg(long, env = "PROVA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Default seed addresses of the `trust` reputation algorithm (comma-separated), used when a query names none.
    #[arg(long, env = "PROVA_TRUST_SEEDS", value_delimiter = ',')]
    pub trust_seeds: Vec<alloy::primitives::Address>,
    /// Limits, CORS, caching and readiness.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// How the API protects itself and tells caches what to keep.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Tokens per second allowed per client IP, on average (0 turns the limit off). A request costs one token, a
    /// body one per started 64 KiB, a score with parameters of its own 5 (`docs/api-limits.md`). Past it: 429 and
    /// `Retry-After`. `/healthz`, `/readyz` and `/metrics` are never limited.
    #[arg(long, env = "PROVA_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,
    /// Tokens a client IP may spend in one burst before the per-second rate applies.
    #[arg(long, env = "PROVA_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// Reverse proxies in front of the API that append to `X-Forwarded-For` (0: none). The rate limit then keys on
    /// that header's entry this many places from the right instead of on the connection's address.
    #[arg(long, env = "PROVA_TRUSTED_PROXY_HOPS", default_value_t = 0)]
    pub trusted_proxy_hops: usize,
    /// Origins allowed by CORS (repeat or comma-separate); default: any origin.
    #[arg(long = "cors-origin", env = "PROVA_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Longest a request may run, in seconds, before it is stopped with a 503.
    #[arg(long, env = "PROVA_REQUEST_TIMEOUT", default_value_t = 10)]
    pub request_timeout_secs: u64,
    /// `Cache-Control: max-age` of answers whose facts are all finalized but whose state can still change
    /// (revocation, new feedback), in seconds.
    #[arg(long, env = "PROVA_CACHE_MAX_AGE", default_value_t = 60)]
    pub cache_max_age_secs: u32,
    /// `/readyz` fails while an indexed contract lags its chain head by more than this many blocks.
    #[arg(long, env = "PROVA_READY_MAX_LAG", default_value_t = 64)]
    pub ready_max_lag_blocks: u64,
    /// `/readyz` fails while an indexer has not seen its chain head for this many seconds (0: never).
    #[arg(long, env = "PROVA_READY_MAX_HEAD_AGE", default_value_t = 300)]
    pub ready_max_head_age_secs: u64,
    /// With `--read-database-url`: `/readyz` fails while the replica has WAL left to replay and the last
    /// transaction it replayed committed on the primary more than this many seconds ago (0: never on lag alone; an
    /// unreachable or promoted replica still fails it).
    #[arg(long, env = "PROVA_READY_MAX_REPLICA_LAG", default_value_t = DEFAULT_MAX_REPLICA_LAG.as_secs())]
    pub ready_max_replica_lag_secs: u64,
    /// The canonical ProvenanceRegistry of a chain, as `CHAIN_ID:ADDRESS` (repeat, or comma-separate in the
    /// environment variable). On that chain the provenance answers leave out every other registry's facts unless a
    /// request names it with `?registry=`; chains without one answer every indexed registry's side by side.
    #[arg(
        long = "canonical-registry",
        env = "PROVA_CANONICAL_REGISTRIES",
        value_delimiter = ',',
        value_name = "CHAIN_ID:ADDRESS",
        value_parser = parse_canonical_registry
    )]
    pub canonical_registries: Vec<(u64, Address)>,
    /// A publisher whose batches' leaves this API stores (repeat, or comma-separate in the environment variable).
    /// Without any, the leaves of every publisher's batches are stored, as long as the attestor key that anchored
    /// the batch signs the upload; a public instance should list the labs it serves (`docs/leaf-uploads.md`).
    #[arg(long = "upload-publisher", env = "PROVA_UPLOAD_PUBLISHERS", value_delimiter = ',', value_name = "ADDRESS")]
    pub upload_publishers: Vec<Address>,
    /// Memory for the in-process cache of point lookups (model versions, agents, output batches), in MiB; 0 turns
    /// it off. Answers are dropped on every commit to the database, which it hears over a `LISTEN` connection of its
    /// own (docs/api-limits.md).
    #[arg(long, env = "PROVA_RESPONSE_CACHE_MB", default_value_t = 64)]
    pub response_cache_mb: u64,
    /// Most leaves stored per publisher over all its uploaded batches; uploads past it are refused (403
    /// `leaf_quota_exceeded`).
    #[arg(long, env = "PROVA_MAX_LEAVES_PER_PUBLISHER", default_value_t = prova_api::layers::DEFAULT_MAX_LEAVES_PER_PUBLISHER)]
    pub max_leaves_per_publisher: u64,
    /// The RPC endpoint the explorer's in-browser checks use by default for a chain, as `CHAIN_ID=URL` (repeat, or
    /// comma-separate in the environment variable). Visitors can choose another; it is shown to them, so name a
    /// public endpoint, never one with a key in it.
    #[arg(long = "explorer-rpc", env = "PROVA_EXPLORER_RPC", value_delimiter = ',', value_name = "CHAIN_ID=URL",
          value_parser = parse_chain_url)]
    pub explorer_rpc: Vec<(u64, String)>,
    /// A block explorer for a chain's links, as `CHAIN_ID=URL` (repeat, or comma-separate in the environment
    /// variable): the explorer links transactions to `URL/tx/HASH` and addresses to `URL/address/ADDRESS`.
    #[arg(long = "explorer-link", env = "PROVA_EXPLORER_LINKS", value_delimiter = ',', value_name = "CHAIN_ID=URL",
          value_parser = parse_chain_url)]
    pub explorer_links: Vec<(u64, String)>,
}

/// Parses `CHAIN_ID=URL`.
fn parse_chain_url(text: &str) -> Result<(u64, String), String> {
    let (chain, url) = text.trim().split_once('=').ok_or_else(|| format!("expected CHAIN_ID=URL, got {text:?}"))?;
    let chain = chain.trim().parse::<u64>().map_err(|e| format!("chain id {chain:?}: {e}"))?;
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("{url:?} is not an http(s) URL"));
    }
    Ok((chain, url.to_owned()))
}

/// The explorer's per-chain settings from `--explorer-rpc` and `--explorer-link`.
fn explorer_config(rpc: &[(u64, String)], links: &[(u64, String)]) -> prova_api::explorer::ExplorerConfig {
    let mut config = prova_api::explorer::ExplorerConfig::default();
    for (chain, url) in rpc {
        config.chains.entry(*chain).or_default().rpc_url = Some(url.clone());
    }
    for (chain, url) in links {
        config.chains.entry(*chain).or_default().block_explorer = Some(url.clone());
    }
    config
}

/// Parses `CHAIN_ID:ADDRESS`.
fn parse_canonical_registry(text: &str) -> Result<(u64, Address), String> {
    let (chain, registry) =
        text.trim().split_once(':').ok_or_else(|| format!("expected CHAIN_ID:ADDRESS, got {text:?}"))?;
    let chain = chain.trim().parse::<u64>().map_err(|e| format!("chain id {chain:?}: {e}"))?;
    let registry = registry.trim().parse::<Address>().map_err(|e| format!("registry {registry:?}: {e}"))?;
    Ok((chain, registry))
}

impl ApiArgs {
    /// `state` with the response cache these flags ask for.
    pub async fn with_response_cache(&self, state: AppState) -> anyhow::Result<AppState> {
        if self.response_cache_mb == 0 {
            return Ok(state);
        }
        state
            .with_response_cache(self.response_cache_mb << 20)
            .await
            .context("cannot start the response cache (it listens for the database's commits; --response-cache-mb 0 turns it off)")
    }

    /// The API settings these flags describe.
    pub fn config(&self) -> anyhow::Result<ApiConfig> {
        let rate_limit = NonZeroU32::new(self.rate_limit).map(|per_second| RateLimit {
            per_second,
            burst: NonZeroU32::new(self.rate_limit_burst).unwrap_or(per_second),
        });
        let cors_origins = self
            .cors_origins
            .iter()
            .map(|origin| HeaderValue::try_from(origin.trim()).with_context(|| format!("--cors-origin {origin:?}")))
            .collect::<anyhow::Result<_>>()?;
        anyhow::ensure!(self.request_timeout_secs > 0, "--request-timeout-secs must be at least 1");
        let mut canonical_registries = BTreeMap::new();
        for (chain, registry) in &self.canonical_registries {
            if let Some(other) = canonical_registries.insert(*chain, *registry)
                && other != *registry
            {
                anyhow::bail!("--canonical-registry names two registries for chain {chain}: {other} and {registry}");
            }
        }
        Ok(ApiConfig {
            rate_limit,
            trusted_proxy_hops: self.trusted_proxy_hops,
            cors_origins,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            settled_max_age_secs: self.cache_max_age_secs,
            readiness: Readiness {
                max_lag_blocks: self.ready_max_lag_blocks,
                max_head_age: (self.ready_max_head_age_secs > 0)
                    .then(|| Duration::from_secs(self.ready_max_head_age_secs)),
                max_replica_lag: (self.ready_max_replica_lag_secs > 0)
                    .then(|| Duration::from_secs(self.ready_max_replica_lag_secs)),
            },
            canonical_registries,
            upload_publishers: (!self.upload_publishers.is_empty())
                .then(|| self.upload_publishers.iter().copied().collect()),
            max_leaves_per_publisher: self.max_leaves_per_publisher,
            explorer: explorer_config(&self.explorer_rpc, &self.explorer_links),
        })
    }
}

impl ServeArgs {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let config = self.api.config()?;
        let pool = prova_db::connect(&self.db.database_url, self.db.db_max_connections).await?;
        if self.migrate {
            prova_db::migrate(&pool, prova_db::Schema::Registry).await?;
        }
        // Uploaded leaves and trees live in monthly partitions (docs/partitioning.md): keep this month's and the
        // next ones' in place, so uploads never land in the DEFAULT partition.
        prova_db::spawn_output_partition_maintenance(
            pool.clone(),
            prova_db::OUTPUT_PARTITION_MONTHS_AHEAD,
            prova_db::OUTPUT_PARTITION_CHECK_INTERVAL,
        );
        let mut state = AppState::new(pool).with_trust_seeds(self.trust_seeds).with_config(config);
        if let Some(url) = &self.read_database_url {
            // The URL may hold a password: only its scheme, host and port are ever shown.
            let shown = prova_chain::redact_url(url);
            let replica = prova_db::connect(url, self.db.db_max_connections)
                .await
                .with_context(|| format!("cannot connect to the read replica {shown}"))?;
            tracing::info!(replica = %shown, "reads go to the read replica, uploads to the primary");
            state = state.with_read_replica(replica);
        }
        let state = self.api.with_response_cache(state).await?;
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.listen))?;
        prova_api::serve(listener, state, crate::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    }
}
