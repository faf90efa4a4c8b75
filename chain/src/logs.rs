//! Reading and decoding event logs over any block range, through the one pager ([`crate::rpc::Rpc::logs`]).

use std::sync::Arc;

use alloy::providers::DynProvider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;

use crate::error::Result;
use crate::rpc::{IgnoreFaults, RetryPolicy, Rpc};

/// First `eth_getLogs` range of [`get_logs`], in blocks; halved while the node refuses it.
const FIRST_RANGE: u64 = 100_000;

/// Every log matching `filter` (its addresses and topics; its block range is replaced) in `from..=to`, in chain
/// order. The provider's own retry layer ([`crate::connect`]) retries transient faults; this only pages.
pub async fn get_logs(provider: &DynProvider, filter: &Filter, from: u64, to: u64) -> Result<Vec<Log>> {
    if from > to {
        return Ok(Vec::new());
    }
    let chain_id = 0; // only reported to the observer, which ignores it
    let policy = RetryPolicy { attempts: 1, timeout: std::time::Duration::from_secs(60), ..RetryPolicy::default() };
    let rpc = Rpc::new(provider.clone(), chain_id, policy, Arc::new(IgnoreFaults), FIRST_RANGE, FIRST_RANGE);
    let mut logs = rpc.logs(filter, from, to).await?;
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
