//! `prova index`: mirror registry events into Postgres and follow the head.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use prova_core::args::{ChainArgs, DatabaseArgs};
use prova_indexer::{Indexer, IndexerConfig};

/// Arguments of `prova index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The chain and registry.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The database.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// First block to index when this registry was never indexed (its deployment block saves time).
    #[arg(long, env = "PROVA_START_BLOCK", default_value_t = 0)]
    pub start_block: u64,
    /// Blocks per eth_getLogs request.
    #[arg(long, env = "PROVA_BATCH_BLOCKS", default_value_t = 2_000)]
    pub batch_blocks: u64,
    /// Milliseconds between head polls once caught up.
    #[arg(long, env = "PROVA_POLL_MS", default_value_t = 500)]
    pub poll_ms: u64,
    /// Index up to the current head, then exit.
    #[arg(long)]
    pub once: bool,
}

impl IndexArgs {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let pool = prova_indexer::connect_db(&self.db.database_url, self.db.db_max_connections).await?;
        let provider = prova_core::chain::connect(&self.chain.rpc_url)?;
        prova_core::chain::check_registry(&provider, self.chain.registry, None).await?;
        let config = IndexerConfig {
            start_block: self.start_block,
            batch_blocks: self.batch_blocks,
            poll_interval: Duration::from_millis(self.poll_ms),
            ..IndexerConfig::new(self.chain.registry)
        };
        let indexer = Indexer::new(pool, provider, config).await?;
        if self.once {
            let report = indexer.sync_to_head().await?;
            println!("indexed to block {} ({} events)", report.head, report.events);
        } else {
            indexer.run(crate::shutdown_signal()).await?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
