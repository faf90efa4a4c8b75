//! Many transactions at once (demo data, tests): signed locally with explicit nonces and gas, sent in JSON-RPC
//! batches, and waited for together; and funding many accounts.

use std::collections::HashMap;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use serde::Serialize;

use prova_chain::batch::{BATCH_CALLS, rpc_batch};

use crate::error::{Error, Result};

/// Signs many transactions locally, each with an explicit nonce and gas limit so that none waits for another to be
/// mined, sends them in JSON-RPC batches and waits for all of them.
///
/// Transactions queued together must not depend on each other's effects unless they share a sender (nonces keep
/// one sender's transactions in order); send dependent ones in a later [`Bulk::send`].
#[derive(Debug)]
pub struct Bulk {
    provider: DynProvider,
    chain_id: u64,
    max_fee_per_gas: u128,
    priority_fee: u128,
    nonces: HashMap<Address, u64>,
    queued: Vec<Queued>,
}

#[derive(Debug)]
struct Queued {
    label: String,
    signer: PrivateKeySigner,
    to: Address,
    input: Bytes,
    value: U256,
    gas: u64,
}

impl Bulk {
    /// A bulk sender on the chain behind `provider` (read-only; the keys come with each transaction). The fee cap
    /// is fifty times the current estimate, so that the base fee can climb while full blocks are mined.
    pub async fn new(provider: DynProvider) -> Result<Self> {
        let chain_id = prova_chain::chain_id(&provider).await?;
        let fees = provider
            .estimate_eip1559_fees()
            .await
            .map_err(|source| Error::Rpc { what: "estimating fees".into(), source })?;
        let priority_fee = fees.max_priority_fee_per_gas.max(1);
        let max_fee_per_gas = fees.max_fee_per_gas.max(1_000_000_000) * 50 + priority_fee;
        Ok(Self { provider, chain_id, max_fee_per_gas, priority_fee, nonces: HashMap::new(), queued: Vec::new() })
    }

    /// The most a transaction of `gas` gas can cost at this sender's fee cap (fund senders with at least this).
    pub fn max_cost(&self, gas: u64) -> U256 {
        U256::from(self.max_fee_per_gas) * U256::from(gas)
    }

    /// Queues a call from `signer` to `to` with gas limit `gas`; `label` names it in errors.
    pub fn push(&mut self, label: impl Into<String>, signer: &PrivateKeySigner, to: Address, input: Bytes, gas: u64) {
        self.queued.push(Queued { label: label.into(), signer: signer.clone(), to, input, value: U256::ZERO, gas });
    }

    /// Queues a plain transfer of `value` wei from `signer` to `to`.
    pub fn push_transfer(&mut self, signer: &PrivateKeySigner, to: Address, value: U256) {
        let label = format!("transfer to {to}");
        self.queued.push(Queued { label, signer: signer.clone(), to, input: Bytes::new(), value, gas: 21_000 });
    }

    /// Number of queued transactions.
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Signs and sends every queued transaction, then waits until all are mined and checks that each succeeded.
    /// With `mine`, the node is anvil and blocks are mined with `evm_mine` until all are in (use it with automine
    /// off to put many transactions in each block); otherwise the node mines on its own.
    pub async fn send(&mut self, mine: bool) -> Result<Vec<TransactionReceipt>> {
        let queued = std::mem::take(&mut self.queued);
        if queued.is_empty() {
            return Ok(Vec::new());
        }
        self.load_nonces(&queued).await?;
        let mut raw = Vec::with_capacity(queued.len());
        for q in &queued {
            let nonce = self.nonces.get_mut(&q.signer.address()).expect("loaded above");
            let tx = TransactionRequest::default()
                .with_from(q.signer.address())
                .with_to(q.to)
                .with_input(q.input.clone())
                .with_value(q.value)
                .with_nonce(*nonce)
                .with_gas_limit(q.gas)
                .with_max_fee_per_gas(self.max_fee_per_gas)
                .with_max_priority_fee_per_gas(self.priority_fee)
                .with_chain_id(self.chain_id);
            *nonce += 1;
            let envelope = tx
                .build(&EthereumWallet::from(q.signer.clone()))
                .await
                .map_err(|source| Error::Sign { label: q.label.clone(), source })?;
            raw.push(Bytes::from(envelope.encoded_2718()));
        }
        let mut hashes = Vec::with_capacity(raw.len());
        for (chunk, labels) in raw.chunks(BATCH_CALLS).zip(queued.chunks(BATCH_CALLS)) {
            let sent: Vec<B256> =
                self.batch("eth_sendRawTransaction", chunk.iter().map(|r| (r.clone(),)).collect()).await?;
            debug_assert_eq!(sent.len(), labels.len());
            hashes.extend(sent);
        }
        let receipts = self.wait_all(&hashes, mine).await?;
        for (receipt, q) in receipts.iter().zip(&queued) {
            if !receipt.status() {
                return Err(Error::Bulk(format!("{} reverted (tx {})", q.label, receipt.transaction_hash)));
            }
        }
        Ok(receipts)
    }

    /// Reads the pending nonce of every sender not seen before.
    async fn load_nonces(&mut self, queued: &[Queued]) -> Result<()> {
        let mut new: Vec<Address> =
            queued.iter().map(|q| q.signer.address()).filter(|a| !self.nonces.contains_key(a)).collect();
        new.sort();
        new.dedup();
        for chunk in new.chunks(BATCH_CALLS) {
            let params = chunk.iter().map(|a| (*a, BlockNumberOrTag::Pending)).collect();
            let counts: Vec<alloy::primitives::U64> = self.batch("eth_getTransactionCount", params).await?;
            for (address, count) in chunk.iter().zip(counts) {
                self.nonces.insert(*address, count.to::<u64>());
            }
        }
        Ok(())
    }

    /// Waits for the receipts of `hashes`, in order.
    async fn wait_all(&self, hashes: &[B256], mine: bool) -> Result<Vec<TransactionReceipt>> {
        let mut receipts: Vec<Option<TransactionReceipt>> = vec![None; hashes.len()];
        let started = std::time::Instant::now();
        let mut mined_blocks = 0u32;
        loop {
            let missing: Vec<usize> = (0..hashes.len()).filter(|&i| receipts[i].is_none()).collect();
            if missing.is_empty() {
                return Ok(receipts.into_iter().map(|r| r.expect("all present")).collect());
            }
            if mine {
                if mined_blocks >= 10_000 {
                    return Err(Error::Bulk(format!(
                        "{} transactions still not mined after {mined_blocks} blocks",
                        missing.len()
                    )));
                }
                let _: serde_json::Value = self
                    .provider
                    .raw_request("evm_mine".into(), ())
                    .await
                    .map_err(|source| Error::Rpc { what: "evm_mine (is the node anvil?)".into(), source })?;
                mined_blocks += 1;
            } else {
                if started.elapsed() > Duration::from_secs(600) {
                    return Err(Error::Bulk(format!(
                        "{} transactions still not mined after 10 minutes",
                        missing.len()
                    )));
                }
                // No async sleep in core: wait for the next receipt the node's own way, then sweep the rest.
                let pending =
                    alloy::providers::PendingTransactionBuilder::new(self.provider.root().clone(), hashes[missing[0]])
                        .with_timeout(Some(Duration::from_secs(600)));
                let receipt = pending.get_receipt().await.map_err(|source| prova_chain::Error::NotConfirmed {
                    hash: hashes[missing[0]],
                    source: Box::new(source),
                })?;
                receipts[missing[0]] = Some(receipt);
            }
            for chunk in missing.chunks(BATCH_CALLS) {
                let params = chunk.iter().map(|&i| (hashes[i],)).collect();
                let found: Vec<Option<TransactionReceipt>> = self.batch("eth_getTransactionReceipt", params).await?;
                for (&i, receipt) in chunk.iter().zip(found) {
                    if receipts[i].is_none() {
                        receipts[i] = receipt;
                    }
                }
            }
        }
    }

    async fn batch<P: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        method: &'static str,
        params: Vec<P>,
    ) -> Result<Vec<R>> {
        Ok(rpc_batch(&self.provider, method, params).await?)
    }
}

/// Gives every address in `accounts` a balance of at least `amount` wei: with `anvil_setBalance` when the node has
/// it, else by transfers from `payer`.
pub async fn fund(provider: &DynProvider, accounts: &[Address], amount: U256, payer: &PrivateKeySigner) -> Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let anvil: std::result::Result<serde_json::Value, _> =
        provider.raw_request("anvil_setBalance".into(), (accounts[0], amount)).await;
    if anvil.is_ok() {
        let params: Vec<(Address, U256)> = accounts.iter().map(|a| (*a, amount)).collect();
        let _: Vec<serde_json::Value> = rpc_batch(provider, "anvil_setBalance", params).await?;
        return Ok(());
    }
    let mut bulk = Bulk::new(provider.clone()).await?;
    for account in accounts {
        bulk.push_transfer(payer, *account, amount);
    }
    bulk.send(false).await.map(drop)
}
