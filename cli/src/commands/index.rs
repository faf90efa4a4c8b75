//! `prova index`: mirror contract events into Postgres and follow the head, for one chain given by flags or for
//! several chains and contracts given in a TOML file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::args::{CodePinArgs, DatabaseArgs, check_pins};
use alloy::primitives::{Address, B256};
use anyhow::Context;
use clap::Args;
use prova_chain::rpc::RetryPolicy;
use prova_indexer::{ContractKind, Indexer, IndexerConfig, Metrics};
use serde::Deserialize;
use tokio::sync::watch;

/// Arguments of `prova index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// JSON-RPC endpoint of the chain (with --registry); not needed with --config.
    #[arg(long = "rpc", env = "PROVA_RPC_URL", hide_env_values = true, required_unless_present = "config")]
    pub rpc_url: Option<String>,
    /// Address of the ProvenanceRegistry to index.
    #[arg(long, env = "PROVA_REGISTRY")]
    pub registry: Option<Address>,
    /// Address of an ERC-8004 identity registry to index (ours or any other deployment).
    #[arg(long, env = "PROVA_IDENTITY_REGISTRY")]
    pub identity_registry: Option<Address>,
    /// Address of an ERC-8004 reputation registry to index.
    #[arg(long, env = "PROVA_REPUTATION_REGISTRY")]
    pub reputation_registry: Option<Address>,
    /// Address of an ERC-8004 validation registry to index.
    #[arg(long, env = "PROVA_VALIDATION_REGISTRY")]
    pub validation_registry: Option<Address>,
    /// A ws:// endpoint of the same chain: follow new heads by subscription (polling continues as a fallback).
    #[arg(long = "ws", env = "PROVA_WS_URL", hide_env_values = true, conflicts_with = "config")]
    pub ws_url: Option<String>,
    /// A TOML file listing chains and contracts (see docs/indexer.md); replaces --rpc and --registry.
    #[arg(long, conflicts_with_all = ["rpc_url", "registry", "identity_registry", "reputation_registry", "validation_registry"])]
    pub config: Option<PathBuf>,
    /// The database.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// First block to index when a contract was never indexed (its deployment block saves time).
    #[arg(long, env = "PROVA_START_BLOCK", default_value_t = 0)]
    pub start_block: u64,
    /// First eth_getLogs range in blocks; it doubles after small fast answers, aims at 10,000 logs per answer after
    /// large ones, and halves on provider limits.
    #[arg(long, env = "PROVA_BATCH_BLOCKS", default_value_t = 100)]
    pub batch_blocks: u64,
    /// Largest eth_getLogs range in blocks.
    #[arg(long, env = "PROVA_MAX_BATCH_BLOCKS", default_value_t = 100_000)]
    pub max_batch_blocks: u64,
    /// eth_getLogs requests in flight at once.
    #[arg(long, env = "PROVA_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    /// Milliseconds between head polls once caught up.
    #[arg(long, env = "PROVA_POLL_MS", default_value_t = 500)]
    pub poll_ms: u64,
    /// Blocks taken as final where the node has no `finalized` tag.
    #[arg(long, env = "PROVA_FINALITY_DEPTH", default_value_t = 64)]
    pub finality_depth: u64,
    /// Depth of the window below the head where block hashes are kept densely for reorg detection; below it,
    /// anchors at doubling distances limit what a deeper reorg undoes to about four times its depth.
    #[arg(long, env = "PROVA_KEPT_BLOCKS", default_value_t = 4_096, value_parser = clap::value_parser!(u64).range(1..))]
    pub kept_blocks: u64,
    /// Timeout of one RPC call, in milliseconds.
    #[arg(long, env = "PROVA_RPC_TIMEOUT_MS", default_value_t = 10_000)]
    pub rpc_timeout_ms: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, env = "PROVA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Index up to the current head, then exit.
    #[arg(long)]
    pub once: bool,
    /// Pins of the contracts' code, checked before indexing (a `code_hash` in a --config contract pins it too).
    #[command(flatten)]
    pub pins: CodePinArgs,
}

/// The `--config` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    chain: Vec<ChainConfig>,
}

/// One chain of the `--config` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainConfig {
    rpc: String,
    /// WebSocket endpoint for head subscriptions.
    ws: Option<String>,
    /// Refuse to start if the endpoint serves another chain.
    chain_id: Option<u64>,
    finality_depth: Option<u64>,
    contract: Vec<ContractConfig>,
}

/// One contract of the `--config` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractConfig {
    address: Address,
    kind: ContractKind,
    #[serde(default)]
    start_block: u64,
    /// Refuse to index unless keccak256 of the contract's code is this.
    code_hash: Option<B256>,
}

impl IndexArgs {
    /// The chains and contracts to index, from --config or the flags.
    fn chains(&self) -> anyhow::Result<Vec<ChainConfig>> {
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let file: ConfigFile =
                toml::from_str(&text).with_context(|| format!("{} is not a valid indexer config", path.display()))?;
            anyhow::ensure!(!file.chain.is_empty(), "{} lists no [[chain]]", path.display());
            return Ok(file.chain);
        }
        let contract: Vec<ContractConfig> = [
            (self.registry, ContractKind::Provenance),
            (self.identity_registry, ContractKind::Identity),
            (self.reputation_registry, ContractKind::Reputation),
            (self.validation_registry, ContractKind::Validation),
        ]
        .into_iter()
        .filter_map(|(address, kind)| {
            address.map(|address| ContractConfig { address, kind, start_block: self.start_block, code_hash: None })
        })
        .collect();
        let Some(rpc) = &self.rpc_url else {
            anyhow::bail!("give --rpc and at least one contract (--registry, ...), or --config")
        };
        anyhow::ensure!(
            !contract.is_empty(),
            "nothing to index: give --registry, --identity-registry, --reputation-registry or --validation-registry (or --config)"
        );
        Ok(vec![ChainConfig {
            rpc: rpc.clone(),
            ws: self.ws_url.clone(),
            chain_id: None,
            finality_depth: None,
            contract,
        }])
    }

    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let chains = self.chains()?;
        let addresses: Vec<Address> = chains.iter().flat_map(|c| c.contract.iter().map(|c| c.address)).collect();
        let only = match addresses.as_slice() {
            [only] => Some(*only),
            _ => None,
        };
        self.pins.ensure_used(&addresses, only, "several contracts are indexed")?;
        let pool = prova_db::connect_and_migrate(
            &self.db.database_url,
            self.db.db_max_connections,
            prova_db::Schema::Registry,
        )
        .await?;
        let metrics = Arc::new(Metrics::default());
        let mut indexers = Vec::new();
        for chain in &chains {
            let provider = prova_chain::connect_without_retries(&chain.rpc)?;
            for contract in &chain.contract {
                let context =
                    || format!("{} {} on {}", contract.kind, contract.address, prova_chain::redact_url(&chain.rpc));
                let checked = match contract.kind {
                    ContractKind::Provenance => {
                        prova_chain::check_registry(&provider, contract.address, chain.chain_id).await
                    }
                    _ => prova_chain::check_contract(&provider, contract.address, chain.chain_id).await,
                };
                let chain_id = checked.with_context(context)?;
                let pin = match contract.code_hash {
                    Some(hash) => Some(prova_chain::CodePin::Hash(hash)),
                    None => self.pins.pin(contract.address, shipped(contract.kind), only.is_some()),
                };
                check_pins(&provider, chain_id, &[(contract.address, pin)]).await.with_context(context)?;
                let config = IndexerConfig {
                    kind: contract.kind,
                    start_block: contract.start_block,
                    batch_blocks: self.batch_blocks,
                    max_batch_blocks: self.max_batch_blocks,
                    concurrency: self.concurrency,
                    poll_interval: Duration::from_millis(self.poll_ms),
                    finality_depth: chain.finality_depth.unwrap_or(self.finality_depth),
                    kept_blocks: self.kept_blocks,
                    retry: RetryPolicy {
                        timeout: Duration::from_millis(self.rpc_timeout_ms),
                        ..RetryPolicy::default()
                    },
                    progress: true,
                    ws_url: chain.ws.clone(),
                    ..IndexerConfig::new(contract.address)
                };
                indexers.push(Indexer::with_metrics(pool.clone(), provider.clone(), config, metrics.clone()).await?);
            }
        }
        if let Some(listen) = self.metrics_listen {
            serve_metrics(listen, metrics.clone()).await?;
        }
        if self.once {
            for indexer in &indexers {
                let report = indexer.sync_to_head().await?;
                println!("chain {}: indexed to block {} ({} events)", indexer.chain_id(), report.head, report.events);
            }
            return Ok(ExitCode::SUCCESS);
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            crate::shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let runs = indexers.iter().map(|indexer| {
            let mut rx = stop_rx.clone();
            indexer.run(async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
        });
        for result in futures::future::join_all(runs).await {
            result?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The bytecode prova ships for a kind of contract (what `--pin-code` compares with).
fn shipped(kind: ContractKind) -> prova_chain::Shipped {
    match kind {
        ContractKind::Provenance => prova_chain::Shipped::Provenance,
        ContractKind::Identity => prova_chain::Shipped::Identity,
        ContractKind::Reputation => prova_chain::Shipped::Reputation,
        ContractKind::Validation => prova_chain::Shipped::Validation,
    }
}

/// Serves `GET /metrics` in the Prometheus text format, in the background.
async fn serve_metrics(listen: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for metrics"))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.encode())
            }
        }),
    );
    tracing::info!(%listen, "serving metrics at /metrics");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(())
}
