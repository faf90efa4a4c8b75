//! Errors of verification: the cases where a claim could not be checked (a claim checked and found false is a
//! verdict, not an error). An audit (`prova verify api`) that fails with one of these printed no verdict.

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
    /// A score could not be computed from the feedback read (the parameters are out of range, or the logs hold
    /// what the contract never accepts).
    #[error(transparent)]
    Reputation(#[from] prova_reputation::ReputationError),
    /// The API could not be asked, or refused: unreachable, an HTTP error, a list that does not page.
    #[error("{what}")]
    Api {
        /// What was asked and what went wrong, with the URL.
        what: String,
        /// The HTTP client's error, when there is one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The API answered, but not with the shape `prova-views` gives that answer, so nothing in it can be checked.
    #[error("the API's answer to {url} is not {expected}: {reason}")]
    Unreadable {
        /// The URL asked.
        url: String,
        /// What the answer should have been (e.g. `a reputation answer`).
        expected: &'static str,
        /// Why it is not (the JSON parser's message).
        reason: String,
    },
    /// The RPC endpoint and the API (or the chain asked for) are not about the same chain.
    #[error("wrong chain: {0}")]
    WrongChain(String),
    /// RPC endpoints gave different verdicts: one of them lies or lags, so nothing is verified.
    #[error("could not check: endpoints disagree on {fields}: {first} and {other} differ (one of them lies or lags)")]
    Disagree {
        /// The endpoint whose verdict the others are compared with (redacted).
        first: String,
        /// The first endpoint that differs from it (redacted).
        other: String,
        /// The differing fields, with both values.
        fields: String,
    },
    /// An endpoint did not answer the audit's first question, so nothing was checked.
    #[error("cannot check anything: {endpoint} does not answer")]
    Unanswered {
        /// The endpoint (e.g. `the API http://127.0.0.1:8080`).
        endpoint: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
}
