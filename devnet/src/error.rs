//! Errors of the local devnet.

use std::path::PathBuf;

/// Result with the devnet [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong starting local processes or sending demo transactions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file, folder or socket operation failed.
    #[error("{path}")]
    Io {
        /// What the operation was on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A tool the local stack needs (anvil, Postgres) could not be found or started.
    #[error("{0}")]
    Tool(String),
    /// Chain access failed.
    #[error(transparent)]
    Chain(#[from] prova_chain::Error),
    /// A JSON-RPC call failed.
    #[error("{what} failed")]
    Rpc {
        /// The call.
        what: String,
        /// What the node or transport said.
        #[source]
        source: alloy::transports::RpcError<alloy::transports::TransportErrorKind>,
    },
    /// A transaction could not be signed.
    #[error("cannot sign {label}")]
    Sign {
        /// The transaction's label.
        label: String,
        /// Why.
        #[source]
        source: alloy::network::TransactionBuilderError<alloy::network::Ethereum>,
    },
    /// A bulk send did not go through (a revert, or transactions not mined).
    #[error("{0}")]
    Bulk(String),
    /// A JSON value did not have the expected shape.
    #[error("unexpected JSON")]
    Json(#[from] serde_json::Error),
    /// The demo's flows failed.
    #[error(transparent)]
    Attestor(#[from] prova_attestor::Error),
    /// A demo interaction receipt could not be signed.
    #[error(transparent)]
    Core(#[from] prova_core::Error),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
