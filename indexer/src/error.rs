//! Errors of the indexer.

/// Result with the indexer [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while indexing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Chain access failed (after the retries of `prova_chain::rpc::Rpc`).
    #[error(transparent)]
    Chain(#[from] prova_chain::Error),
    /// The node's answer is unusable (a message we write; retried by the follow loop).
    #[error("rpc {method} failed: {message}")]
    Rpc {
        /// The RPC method.
        method: &'static str,
        /// What the node or transport said.
        message: String,
    },
    /// A Postgres statement failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// Connecting to Postgres or migrating it failed.
    #[error(transparent)]
    Db(#[from] prova_db::Error),
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
