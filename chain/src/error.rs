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

/// The text of a fault seen by the retry loop, kept as an error so it stays in the `source()` chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FaultDetail(pub String);
