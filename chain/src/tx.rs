//! Accounts that send transactions, where a transaction landed, and the events it emitted.

use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::revert::rpc_error;

/// A signing account on one chain: a provider that sends as it, and its address.
#[derive(Debug, Clone)]
pub struct Account {
    /// Signs and sends as [`Account::address`].
    pub provider: DynProvider,
    /// The account's address.
    pub address: Address,
}

impl Account {
    /// Connects to `rpc_url`, sending as `signer`.
    pub fn connect(rpc_url: &str, signer: PrivateKeySigner) -> Result<Self> {
        let address = signer.address();
        Ok(Self { provider: crate::connect_with_signer(rpc_url, signer)?, address })
    }

    /// Sends `input` to `to`, waits for one confirmation and checks that it succeeded; a refusal is explained.
    pub async fn send(&self, to: Address, input: Bytes) -> Result<TransactionReceipt> {
        let tx = TransactionRequest::default().with_to(to).with_input(input);
        let pending = self.provider.send_transaction(tx).await.map_err(|e| rpc_error("sending the transaction", e))?;
        crate::wait(pending, 1).await
    }
}

/// Where a transaction landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxInfo {
    /// The transaction hash.
    pub tx_hash: B256,
    /// Its block.
    pub block_number: u64,
    /// Gas it used.
    pub gas_used: u64,
}

impl From<&TransactionReceipt> for TxInfo {
    fn from(receipt: &TransactionReceipt) -> Self {
        Self {
            tx_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
        }
    }
}

/// The first log of `event` emitted by `contract` in `receipt`, decoded.
pub fn find_event<E: SolEvent>(receipt: &TransactionReceipt, contract: Address) -> Result<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == contract && log.topic0() == Some(&E::SIGNATURE_HASH))
        .find_map(|log| log.log_decode::<E>().ok())
        .map(|log| log.inner.data)
        .ok_or_else(|| {
            Error::Missing(format!("transaction {} holds no {} event", receipt.transaction_hash, E::SIGNATURE))
        })
}

/// The latest block's timestamp: "now" as the chain sees it (what receipt deadlines are checked against).
pub async fn chain_time(provider: &DynProvider) -> Result<u64> {
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|e| Error::Rpc { what: "reading the latest block".into(), source: e })?
        .ok_or_else(|| Error::Missing("the RPC endpoint returned no latest block".into()))?;
    Ok(block.header.timestamp)
}

/// The time of the block a transaction sent now would land in: the pending block's, or the latest block's on a
/// node that has no pending block (some answer null, some an error). A block's time may lag the wall clock (a slot's
/// start, an L2 sequencer, a node started in the past), so code that must satisfy `x <= block.timestamp` asks the
/// chain, not the local clock.
pub async fn next_block_time(provider: &DynProvider) -> Result<u64> {
    match provider.get_block_by_number(BlockNumberOrTag::Pending).await {
        Ok(Some(block)) => Ok(block.header.timestamp),
        Ok(None) | Err(_) => chain_time(provider).await,
    }
}
