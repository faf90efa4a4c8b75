//! Errors of the attestor.

use alloy::primitives::{Address, B256};

/// Result with the attestor [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while signing and publishing attestations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Hashing or reading a format failed.
    #[error(transparent)]
    Core(#[from] prova_core::Error),
    /// Chain access failed, or a contract refused.
    #[error(transparent)]
    Chain(#[from] prova_chain::Error),
    /// The checks made before signing or sending refused (the message says why and what to do).
    #[error("{0}")]
    Refused(String),
    /// The signing key is not an attestor key of any publisher on this registry.
    #[error("key {0} is not an attestor key of any publisher on this registry; ask the publisher's admin to add it")]
    NotAnAttestor(Address),
    /// The signing key was revoked by its publisher.
    #[error("attestor key {0} was revoked and can sign nothing new")]
    RevokedAttestor(Address),
    /// The publisher already claims the version.
    #[error("publisher {publisher} already claims version {version_hash}")]
    AlreadyRegistered {
        /// The version hash.
        version_hash: B256,
        /// The publisher.
        publisher: Address,
    },
    /// No publisher claims the parent version.
    #[error("parent version {0} is not claimed by any publisher on this registry")]
    UnknownParent(B256),
    /// A Postgres statement failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// An input record is malformed.
    #[error("{0}")]
    Input(String),
    /// A file could not be read or written.
    #[error("cannot {what}")]
    Io {
        /// What was being done, with the path (e.g. `write /tmp/bundle/evidence.json`).
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A check against the chain could not be made.
    #[error(transparent)]
    Verify(#[from] prova_verify::Error),
}

impl From<alloy::contract::Error> for Error {
    fn from(error: alloy::contract::Error) -> Self {
        Self::Chain(prova_chain::call_error("calling the registry", error))
    }
}
