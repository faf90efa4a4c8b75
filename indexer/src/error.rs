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
    /// The node has no block at a height already indexed: its head is below it (a lagging, syncing or lying node),
    /// or it answers no block there. A fault, retried; never taken for a reorg (only a changed block hash is one).
    #[error(
        "the rpc node has no block {block}, which is indexed (its head: {head}): a lagging or syncing node, not a reorg"
    )]
    HeadBehind {
        /// The head the node reported.
        head: u64,
        /// The indexed block it lacks.
        block: u64,
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
