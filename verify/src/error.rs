//! Errors of verification: the cases where a claim could not be checked (a claim checked and found false is a
//! verdict, not an error).

use alloy::primitives::Address;

/// Result with the verify [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chain could not be asked.
    #[error(transparent)]
    Chain(#[from] prova_chain::Error),
    /// A format could not be read.
    #[error(transparent)]
    Core(#[from] prova_core::Error),
    /// A contract's log does not decode as its event.
    #[error("undecodable log of {contract}")]
    Undecodable {
        /// The emitting contract.
        contract: Address,
        /// Why.
        #[source]
        source: alloy::sol_types::Error,
    },
    /// The logs the node returned are inconsistent (a message we write).
    #[error("{0}")]
    Logs(String),
}
