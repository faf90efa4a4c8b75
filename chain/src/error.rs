//! Errors of chain access.

use alloy::primitives::{Address, B256, TxHash};
use alloy::transports::{RpcError, TransportErrorKind};

/// Result with the chain [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to a chain. Messages never repeat the RPC URL (it may carry an API key).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The RPC URL does not parse.
    #[error("invalid RPC URL (it is not repeated here: it may hold a key)")]
    InvalidUrl,
    /// The endpoint did not answer a first call.
    #[error("cannot reach the RPC endpoint")]
    Unreachable(#[source] RpcError<TransportErrorKind>),
    /// A JSON-RPC call failed after any retries.
    #[error("{what} failed")]
    Rpc {
        /// What was asked (the method, or what it was for).
        what: String,
        /// What the node or transport said.
        #[source]
        source: RpcError<TransportErrorKind>,
    },
    /// A JSON-RPC call failed in the indexer's retry loop, classified by fault kind.
    #[error("rpc {method} failed: {fault}")]
    Fault {
        /// The RPC method.
        method: &'static str,
        /// The fault kind of the last attempt (a fault label: timeout, rate_limited, http, ...).
        fault: &'static str,
        /// What the node or transport said last.
        #[source]
        source: FaultDetail,
    },
    /// `eth_getLogs` refused a single block's logs as too large (a range cannot be split further).
    #[error("eth_getLogs range limit")]
    RangeLimit(#[source] FaultDetail),
    /// A contract refused a call or transaction with one of the registries' custom errors (explained).
    #[error("the registry refused the {action}: {reason}")]
    Refused {
        /// `call` or `transaction`.
        action: &'static str,
        /// The custom error, in words.
        reason: String,
    },
    /// A contract call failed without a custom error.
    #[error("{what} failed")]
    Call {
        /// The call.
        what: String,
        /// Alloy's error.
        #[source]
        source: Box<alloy::contract::Error>,
    },
    /// The endpoint serves another chain than the one expected.
    #[error("wrong chain: the RPC endpoint serves chain {actual}, expected {expected}")]
    WrongChain {
        /// The chain the endpoint serves.
        actual: u64,
        /// The chain asked for.
        expected: u64,
    },
    /// No contract code at an address.
    #[error("no contract at {address} on chain {chain_id}")]
    NoContract {
        /// The address.
        address: Address,
        /// The chain.
        chain_id: u64,
    },
    /// The address given as a ProvenanceRegistry holds no contract, or a contract that is not one.
    #[error("no ProvenanceRegistry at {address} on chain {chain_id} ({reason})")]
    NotARegistry {
        /// The address.
        address: Address,
        /// The chain.
        chain_id: u64,
        /// What is there instead.
        reason: &'static str,
    },
    /// The code at a contract's address is not the code pinned for it (see [`crate::code`]).
    #[error("the code at {address} on chain {chain_id} (hash {actual}) is not {pin}: refusing to trust it")]
    CodeMismatch {
        /// The address.
        address: Address,
        /// The chain.
        chain_id: u64,
        /// `keccak256` of the code found.
        actual: B256,
        /// What was expected.
        pin: crate::code::CodePin,
    },
    /// A transaction was mined but reverted.
    #[error("transaction {0} reverted")]
    Reverted(TxHash),
    /// A transaction was not confirmed in time.
    #[error("transaction {hash} not confirmed")]
    NotConfirmed {
        /// The transaction.
        hash: TxHash,
        /// Why waiting stopped.
        #[source]
        source: Box<alloy::providers::PendingTransactionError>,
    },
    /// The node's answer lacks something it must hold (a receipt's contract address, an event, a block).
    #[error("{0}")]
    Missing(String),
}

impl Error {
    /// The JSON-RPC error this error wraps, when it wraps one (a refused or failed call, an unreachable endpoint).
    pub fn rpc_source(&self) -> Option<&RpcError<TransportErrorKind>> {
        match self {
            Error::Unreachable(source) | Error::Rpc { source, .. } => Some(source),
            Error::Call { source, .. } => match source.as_ref() {
                alloy::contract::Error::TransportError(source) => Some(source),
                alloy::contract::Error::PendingTransactionError(
                    alloy::providers::PendingTransactionError::TransportError(source),
                ) => Some(source),
                _ => None,
            },
            Error::NotConfirmed { source, .. } => match source.as_ref() {
                alloy::providers::PendingTransactionError::TransportError(source) => Some(source),
                _ => None,
            },
            _ => None,
        }
    }

    /// Why the node refused to take a transaction, when that is what happened.
    pub fn refusal(&self) -> Option<Refusal> {
        self.rpc_source().and_then(Refusal::of)
    }

    /// Whether the endpoint could not be reached at all (no connection, no answer, or an HTTP error instead of a
    /// JSON-RPC answer), as opposed to a node that answered with an error.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Unreachable(_) => true,
            Error::Fault { fault, .. } => matches!(*fault, "transport" | "timeout"),
            _ => self.rpc_source().is_some_and(|source| matches!(source, RpcError::Transport(_))),
        }
    }
}

/// Why a node refused to take a transaction into its pool, read from its error message (geth's, Erigon's,
/// Nethermind's, anvil's and hosted providers' wordings). Nothing was sent when a node answers one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The sending account's balance cannot pay for gas times price plus value.
    InsufficientFunds,
    /// The transaction's nonce is already used: another transaction of the account was mined first.
    NonceTooLow,
    /// The transaction's nonce is ahead of the account's next one.
    NonceTooHigh,
    /// A pending transaction of the account has the same nonce and a fee this one does not outbid.
    ReplacementUnderpriced,
    /// The node already holds this very transaction.
    AlreadyKnown,
}

impl Refusal {
    /// The refusal a node's error message states, if any.
    pub fn of_message(message: &str) -> Option<Self> {
        let message = message.to_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|needle| message.contains(needle));
        if has(&["insufficient funds", "insufficientfunds", "insufficient balance", "exceeds balance"]) {
            Some(Refusal::InsufficientFunds)
        } else if has(&["replacement transaction underpriced", "replacement fee too low", "replacementunderpriced"]) {
            Some(Refusal::ReplacementUnderpriced)
        } else if has(&["nonce too low", "oldnonce", "nonce has already been used", "invalid nonce; got"]) {
            Some(Refusal::NonceTooLow)
        } else if has(&["nonce too high", "noncegap", "nonce gap"]) {
            Some(Refusal::NonceTooHigh)
        } else if has(&["already known", "already imported", "known transaction", "alreadyknown"]) {
            Some(Refusal::AlreadyKnown)
        } else {
            None
        }
    }

    /// The refusal in a JSON-RPC error object, if the error is one and states a refusal.
    pub fn of(error: &RpcError<TransportErrorKind>) -> Option<Self> {
        error.as_error_resp().and_then(|payload| Self::of_message(&payload.message))
    }
}

/// The text of a fault seen by the retry loop, kept as an error so it stays in the `source()` chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FaultDetail(pub String);

#[cfg(test)]
mod tests {
    use super::Refusal;

    /// The messages anvil answers (seen in `tests/e2e/errors.rs`), geth's and a few providers'.
    #[test]
    fn node_refusals_are_recognised_in_every_wording() {
        let cases = [
            ("Insufficient funds for gas * price + value", Some(Refusal::InsufficientFunds)),
            (
                "insufficient funds for gas * price + value: address 0xab have 0 want 21000",
                Some(Refusal::InsufficientFunds),
            ),
            ("nonce too low", Some(Refusal::NonceTooLow)),
            ("nonce too low: next nonce 5, tx nonce 3", Some(Refusal::NonceTooLow)),
            ("OldNonce", Some(Refusal::NonceTooLow)),
            ("nonce too high", Some(Refusal::NonceTooHigh)),
            ("replacement transaction underpriced", Some(Refusal::ReplacementUnderpriced)),
            ("transaction already imported", Some(Refusal::AlreadyKnown)),
            ("already known", Some(Refusal::AlreadyKnown)),
            ("execution reverted", None),
            ("header not found", None),
        ];
        for (message, refusal) in cases {
            assert_eq!(Refusal::of_message(message), refusal, "{message}");
        }
    }
}
