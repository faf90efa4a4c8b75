//! `prova serve`: the HTTP API.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use prova_api::AppState;
use prova_core::args::DatabaseArgs;

/// Arguments of `prova serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The database.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "PROVA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Default seed addresses of the `trust` reputation algorithm (comma-separated), used when a query names none.
    #[arg(long, env = "PROVA_TRUST_SEEDS", value_delimiter = ',')]
    pub trust_seeds: Vec<alloy::primitives::Address>,
}

impl ServeArgs {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let pool = prova_indexer::connect_db(&self.db.database_url, self.db.db_max_connections).await?;
        let listener =
            tokio::net::TcpListener::bind(self.listen).await.with_context(|| format!("cannot listen on {}", self.listen))?;
        prova_api::serve(listener, AppState::new(pool).with_trust_seeds(self.trust_seeds), crate::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    }
}
