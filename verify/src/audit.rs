//! Auditing facts that an indexer or API states about the chain (`prova verify api`): reading the event at a stated
//! chain pointer (transaction receipt, log index, block, emitting contract), telling a contract's answer (a revert
//! included) from an endpoint that could not be reached (`prova_chain::revert`), and random samples.
//!
//! Nothing here trusts the pointer: every stated field is compared with what the node returns, and each difference
//! is kept as a [`Difference`] rather than an error. Errors are for "could not check" (the node did not answer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Log, TransactionReceipt};
use alloy::sol_types::SolEvent;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use prova_chain::{decode, describe_log};
use prova_views::ChainPointer;
use serde::Serialize;

use crate::error::Result;

/// Where a stated fact's event is said to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The emitting contract.
    pub contract: Address,
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Block time (unix seconds), when stated.
    pub block_time: Option<u64>,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Index of the log within its block.
    pub log_index: u64,
}

impl From<&ChainPointer> for Pointer {
    /// The pointer an API answer states (a block time before 1970 is not compared).
    fn from(p: &ChainPointer) -> Self {
        Self {
            chain_id: p.chain_id,
            contract: p.contract,
            block_number: p.block_number,
            block_hash: p.block_hash,
            block_time: u64::try_from(p.block_time.timestamp()).ok(),
            tx_hash: p.tx_hash,
            log_index: p.log_index,
        }
    }
}

/// One stated field that is not what the chain says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The field, named as the statement names it (e.g. `chain.block_hash`).
    pub field: String,
    /// What the statement says, as text.
    pub stated: String,
    /// What the chain says, as text.
    pub chain: String,
}

impl Difference {
    /// A difference in `field`.
    pub fn new(field: impl Into<String>, stated: impl ToString, chain: impl ToString) -> Self {
        Self { field: field.into(), stated: stated.to_string(), chain: chain.to_string() }
    }
}

/// Reads events and blocks from one chain for an audit, each receipt and block header once.
#[derive(Debug)]
pub struct ChainReader {
    provider: DynProvider,
    chain_id: u64,
    receipts: Mutex<HashMap<B256, Option<Arc<TransactionReceipt>>>>,
    blocks: Mutex<HashMap<u64, Option<(B256, u64)>>>,
}

impl ChainReader {
    /// A reader of the chain behind `provider`, which serves `chain_id`.
    pub fn new(provider: DynProvider, chain_id: u64) -> Self {
        Self { provider, chain_id, receipts: Mutex::default(), blocks: Mutex::default() }
    }

    /// The provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The chain id the provider serves.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The receipt of `tx_hash`, or `None` if the chain has no such transaction.
    pub async fn receipt(&self, tx_hash: B256) -> Result<Option<Arc<TransactionReceipt>>> {
        if let Some(cached) = self.receipts.lock().expect("receipt cache").get(&tx_hash) {
            return Ok(cached.clone());
        }
        let receipt = self
            .provider
            .get_transaction_receipt(tx_hash)
            .await
            .map_err(|source| prova_chain::Error::Rpc { what: format!("reading the receipt of {tx_hash}"), source })?
            .map(Arc::new);
        self.receipts.lock().expect("receipt cache").insert(tx_hash, receipt.clone());
        Ok(receipt)
    }

    /// The canonical hash and the timestamp of block `number`, or `None` past the head.
    pub async fn block(&self, number: u64) -> Result<Option<(B256, u64)>> {
        if let Some(cached) = self.blocks.lock().expect("block cache").get(&number) {
            return Ok(*cached);
        }
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(|source| prova_chain::Error::Rpc { what: format!("reading block {number}"), source })?
            .map(|b| (b.header.hash, b.header.timestamp));
        self.blocks.lock().expect("block cache").insert(number, block);
        Ok(block)
    }

    /// The log a pointer names, after checking every field of the pointer against the chain: the chain id, that
    /// the transaction exists in the stated block (number and hash, which must be canonical), that it has a log at
    /// the stated index, emitted by the stated contract, and the block time. Differences are appended to `out`
    /// with fields named `{prefix}chain_id` and so on; the log is `None` when there is none to decode.
    pub async fn log_at(&self, pointer: &Pointer, prefix: &str, out: &mut Vec<Difference>) -> Result<Option<Log>> {
        let field = |name: &str| format!("{prefix}{name}");
        if pointer.chain_id != self.chain_id {
            out.push(Difference::new(field("chain_id"), pointer.chain_id, format!("the RPC serves {}", self.chain_id)));
            return Ok(None);
        }
        let Some(receipt) = self.receipt(pointer.tx_hash).await? else {
            out.push(Difference::new(field("tx_hash"), pointer.tx_hash, "no such transaction"));
            return Ok(None);
        };
        let block_number = receipt.block_number.unwrap_or_default();
        if block_number != pointer.block_number {
            out.push(Difference::new(field("block_number"), pointer.block_number, block_number));
        }
        let canonical = self.block(block_number).await?;
        let receipt_hash = receipt.block_hash.unwrap_or_default();
        let block_hash = canonical.map_or(receipt_hash, |(hash, _)| hash);
        if block_hash != pointer.block_hash {
            out.push(Difference::new(field("block_hash"), pointer.block_hash, block_hash));
        }
        if let (Some(stated), Some((_, time))) = (pointer.block_time, canonical)
            && stated != time
        {
            out.push(Difference::new(field("block_time"), rfc3339(stated), rfc3339(time)));
        }
        let Some(log) = receipt.inner.logs().iter().find(|l| l.log_index == Some(pointer.log_index)) else {
            let indexes: Vec<String> =
                receipt.inner.logs().iter().filter_map(|l| l.log_index).map(|i| i.to_string()).collect();
            let chain = format!("transaction {} has logs [{}] only", pointer.tx_hash, indexes.join(", "));
            out.push(Difference::new(field("log_index"), pointer.log_index, chain));
            return Ok(None);
        };
        if log.address() != pointer.contract {
            out.push(Difference::new(field("contract"), pointer.contract, log.address()));
        }
        Ok(Some(log.clone()))
    }

    /// The event of type `E` a pointer names: [`ChainReader::log_at`], then the log decoded as `E` with the
    /// contract's bindings. A log of another event is a difference in `{prefix}event`.
    pub async fn event_at<E: SolEvent>(
        &self,
        pointer: &Pointer,
        prefix: &str,
        out: &mut Vec<Difference>,
    ) -> Result<Option<E>> {
        let Some(log) = self.log_at(pointer, prefix, out).await? else { return Ok(None) };
        match decode::<E>(&log) {
            Some(event) => Ok(Some(event)),
            None => {
                out.push(Difference::new(format!("{prefix}event"), E::SIGNATURE, describe_log(&log)));
                Ok(None)
            }
        }
    }
}

/// A random sample of `n` of `items` (all of them, in order, when `n` is `None` or not smaller), reproducible from
/// `seed`.
pub fn sample<T>(mut items: Vec<T>, n: Option<usize>, seed: u64) -> Vec<T> {
    match n {
        Some(n) if n < items.len() => {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            items.shuffle(&mut rng);
            items.truncate(n);
            items
        }
        _ => items,
    }
}

/// Unix seconds as an RFC 3339 UTC time (`1970-01-01T00:00:00Z`).
pub fn rfc3339(unix: u64) -> String {
    match i64::try_from(unix).ok().and_then(|secs| chrono::DateTime::from_timestamp(secs, 0)) {
        Some(time) => time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => format!("unix time {unix}"),
    }
}

/// Parses an RFC 3339 time to unix seconds (any fraction dropped); `None` if it is not one or is before 1970.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let time = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(time.timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        for unix in [0, 951_782_400, 1_700_000_000, 1_798_761_599, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(unix)), Some(unix), "{}", rfc3339(unix));
        }
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20.123456Z"), Some(1_700_000_000));
        assert_eq!(parse_rfc3339("2023-11-14T23:13:20+01:00"), Some(1_700_000_000));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        for bad in [
            "",
            "2023-11-14",
            "2023-13-14T22:13:20Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "x023-11-14T22:13:20Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn samples_are_reproducible_subsets() {
        let items: Vec<u32> = (0..100).collect();
        let a = sample(items.clone(), Some(10), 7);
        assert_eq!(a, sample(items.clone(), Some(10), 7));
        assert_eq!(a.len(), 10);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
        assert_eq!(sample(items.clone(), None, 7), items);
        assert_eq!(sample(items.clone(), Some(500), 7), items);
    }
}
