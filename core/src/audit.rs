//! Auditing facts that an indexer or API states about the chain (`prova verify api`): reading the event at a stated
//! chain pointer (transaction receipt, log index, block, emitting contract), telling a contract's answer (a revert
//! included) from an endpoint that could not be reached, random samples, and RFC 3339 times without a date crate.
//!
//! Nothing here trusts the pointer: every stated field is compared with what the node returns, and each difference
//! is kept as a [`Difference`] rather than an error. Errors are for "could not check" (the node did not answer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log, TransactionReceipt};
use alloy::sol_types::SolEvent;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};

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

/// One stated field that is not what the chain says.
#[derive(Debug, Clone, PartialEq, Eq)]
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
            .map_err(|e| Error::Chain(format!("cannot read the receipt of {tx_hash}: {e}")))?
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
            .map_err(|e| Error::Chain(format!("cannot read block {number}: {e}")))?
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

/// Every log matching `filter` (its address and topics; its block range is replaced) in `from..=to`, in chain
/// order. Ranges start at 100,000 blocks and are halved while the node refuses them.
pub async fn get_logs(provider: &DynProvider, filter: &Filter, from: u64, to: u64) -> Result<Vec<Log>> {
    let mut logs = Vec::new();
    let mut next = from;
    let mut range: u64 = 100_000;
    while next <= to {
        let end = to.min(next.saturating_add(range - 1));
        match provider.get_logs(&filter.clone().from_block(next).to_block(end)).await {
            Ok(mut page) => {
                logs.append(&mut page);
                next = end + 1;
            }
            Err(error) if range > 1 => {
                tracing::debug!(%error, from = next, to = end, "eth_getLogs refused; halving the range");
                range /= 2;
            }
            Err(error) => return Err(Error::Chain(format!("eth_getLogs at block {next} failed: {error}"))),
        }
    }
    logs.sort_by_key(|log| (log.block_number, log.log_index));
    Ok(logs)
}

/// `log` decoded as `E`, if it is one.
pub fn decode<E: SolEvent>(log: &Log) -> Option<E> {
    if log.topic0() != Some(&E::SIGNATURE_HASH) {
        return None;
    }
    log.log_decode::<E>().ok().map(|l| l.inner.data)
}

/// What a log is, for a message: its topic0.
pub fn describe_log(log: &Log) -> String {
    match log.topic0() {
        Some(topic) => format!("a log with topic0 {topic}"),
        None => "an anonymous log".into(),
    }
}

/// What a contract answered to a call that failed, when it did answer: a revert (with the registries' custom
/// errors explained), no code at the address, or undecodable data. `None` when the node could not be reached or
/// refused for another reason, i.e. the call could not be checked.
pub fn contract_answer(error: &alloy::contract::Error) -> Option<String> {
    use alloy::contract::Error as E;
    match error {
        E::TransportError(alloy::transports::RpcError::ErrorResp(payload)) => {
            let reverted = payload.as_revert_data().is_some() || payload.message.to_lowercase().contains("revert");
            reverted.then(|| format!("reverts ({})", crate::agents::describe_contract_error(error)))
        }
        E::TransportError(_) => None,
        E::ZeroData(..) => Some("no answer (no contract code at that address?)".into()),
        other => Some(format!("an unreadable answer ({other})")),
    }
}

/// A view call's result: `Ok(Ok(value))`, `Ok(Err(what the contract answered instead))`, or an error when the node
/// could not be reached.
pub fn view<T>(
    result: std::result::Result<T, alloy::contract::Error>,
    what: &str,
) -> Result<std::result::Result<T, String>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(error) => match contract_answer(&error) {
            Some(answer) => Ok(Err(answer)),
            None => {
                Err(Error::Chain(format!("cannot call {what}: {}", crate::agents::describe_contract_error(&error))))
            }
        },
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

/// Unix seconds as RFC 3339 UTC (`2026-01-31T12:00:00Z`).
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Parses an RFC 3339 time (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) to unix seconds (the fraction dropped);
/// `None` if it is not one or is before 1970.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let unix = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
    u64::try_from(unix).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
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
