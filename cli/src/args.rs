//! Command-line arguments shared by several `prova` commands, flattened into each command's parser.

use alloy::primitives::Address;
use clap::Args;

/// Where the chain and the registry are.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// JSON-RPC endpoint of the chain, e.g. http://127.0.0.1:8545.
    #[arg(long = "rpc", env = "PROVA_RPC_URL")]
    pub rpc_url: String,
    /// Address of the ProvenanceRegistry contract.
    #[arg(long, env = "PROVA_REGISTRY")]
    pub registry: Address,
}

/// Where Postgres is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Postgres connection URL, e.g. postgres://prova@127.0.0.1:5432/prova.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Maximum connections in the pool.
    #[arg(long, env = "PROVA_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
}
