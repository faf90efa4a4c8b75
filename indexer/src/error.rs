//! Errors of the indexer.

/// Result with the indexer [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while indexing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Chain access failed.
    #[error(transparent)]
    Core(#[from] prova_core::Error),
    /// A JSON-RPC call failed (retried by the follow loop).
    #[error("rpc {method} failed: {message}")]
    Rpc {
        /// The RPC method.
        method: &'static str,
        /// What the node or transport said.
        message: String,
    },
    /// `eth_getLogs` refused a single block's logs as too large (a range cannot be split further).
    #[error("eth_getLogs range limit: {0}")]
    RangeLimit(String),
    /// A Postgres statement failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database already holds data for this registry from a different chain history.
    #[error("{0}")]
    Inconsistent(String),
}

impl Error {
    /// Wraps an RPC failure.
    pub fn rpc(method: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Rpc { method, message: error.to_string() }
    }
}
