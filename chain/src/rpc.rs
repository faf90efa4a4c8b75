//! JSON-RPC calls that survive real providers: faults classified (for metrics, `/v1/status` and retry decisions),
//! a retry policy for alloy's retry layer, and [`Rpc`]: a timeout on every call, retries with jittered exponential
//! backoff reported to a [`FaultObserver`], and the one `eth_getLogs` pager, over block ranges that adapt to the
//! provider's limits.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};
use alloy::transports::{RpcError, TransportErrorKind};
use rand::Rng;
use tracing::{debug, warn};

use alloy::transports::TransportError;
use alloy::transports::layers::RetryPolicy as LayerRetryPolicy;

use crate::error::{Error, FaultDetail, Result};

/// Told of every fault an [`Rpc`] call hits (the indexer counts them in its metrics).
pub trait FaultObserver: Send + Sync + std::fmt::Debug {
    /// `method` on `chain_id` hit `fault`.
    fn fault(&self, chain_id: u64, method: &'static str, fault: Fault);
}

/// A [`FaultObserver`] that ignores faults.
#[derive(Debug, Clone, Copy, Default)]
pub struct IgnoreFaults;

impl FaultObserver for IgnoreFaults {
    fn fault(&self, _: u64, _: &'static str, _: Fault) {}
}

/// Alloy retry-layer policy of [`crate::connect`]: retry the faults that can pass (timeouts, rate limits, HTTP
/// errors, dropped connections), never a JSON-RPC error object (a revert, a bad request) or a range limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransientFaults;

impl LayerRetryPolicy for TransientFaults {
    fn should_retry(&self, error: &TransportError) -> bool {
        Fault::of(error).is_transient()
    }

    fn backoff_hint(&self, _: &TransportError) -> Option<Duration> {
        None
    }
}

/// What kind of fault an RPC call hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The call took longer than the timeout.
    Timeout,
    /// HTTP 429 or a "rate limit" error.
    RateLimited,
    /// Another HTTP status (5xx, 4xx).
    Http,
    /// The body was not a valid JSON-RPC response (truncated, HTML, wrong shape).
    Malformed,
    /// `eth_getLogs` refused the block range or the result size.
    RangeLimit,
    /// A JSON-RPC error object.
    Rpc,
    /// The connection failed.
    Transport,
    /// The node's head is below blocks already read from it (a lagging or syncing node, or a lying one): a fault
    /// to wait out, never a reorg.
    HeadBehind,
    /// `eth_getLogs` returned a log of a contract the filter did not ask for (a lying or broken node).
    ForeignLog,
}

impl Fault {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Fault::Timeout => "timeout",
            Fault::RateLimited => "rate_limited",
            Fault::Http => "http",
            Fault::Malformed => "malformed",
            Fault::RangeLimit => "range_limit",
            Fault::Rpc => "rpc",
            Fault::Transport => "transport",
            Fault::HeadBehind => "head_behind",
            Fault::ForeignLog => "foreign_log",
        }
    }

    /// Whether a retry can succeed (a lagging node catches up; a load balancer may send the retry elsewhere).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Fault::Timeout
                | Fault::RateLimited
                | Fault::Http
                | Fault::Transport
                | Fault::HeadBehind
                | Fault::ForeignLog
        )
    }

    /// Classifies an alloy transport error.
    pub fn of(error: &RpcError<TransportErrorKind>) -> Fault {
        match error {
            RpcError::ErrorResp(payload) => {
                let message = payload.message.to_lowercase();
                if is_rate_limit(&message) || payload.code == 429 {
                    Fault::RateLimited
                } else if is_range_limit(&message) {
                    Fault::RangeLimit
                } else {
                    Fault::Rpc
                }
            }
            RpcError::DeserError { .. } | RpcError::SerError(_) | RpcError::NullResp => Fault::Malformed,
            RpcError::LocalUsageError(e) if e.to_string().contains("deserializ") => Fault::Malformed,
            RpcError::Transport(kind) if kind.as_http_error().is_some() => {
                if kind.as_http_error().is_some_and(|http| http.status == 429) {
                    Fault::RateLimited
                } else {
                    Fault::Http
                }
            }
            other => {
                let message = describe(other).to_lowercase();
                if message.contains("timed out") || message.contains("timeout") {
                    Fault::Timeout
                } else if is_rate_limit(&message) {
                    Fault::RateLimited
                } else {
                    Fault::Transport
                }
            }
        }
    }
}

/// An error and its causes, as one line (`error: cause: cause`), skipping a cause its parent already repeats.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

fn is_rate_limit(message: &str) -> bool {
    ["rate limit", "too many requests", "exceeded its compute units", "request rate"]
        .iter()
        .any(|m| message.contains(m))
}

/// Whether a provider's error message says the `eth_getLogs` range or result is too large. Covers the messages of
/// geth, Erigon, Alchemy, Infura, QuickNode, Ankr and public gateways.
pub fn is_range_limit(message: &str) -> bool {
    [
        "more than",
        "too many",
        "response size",
        "block range",
        "range is too",
        "range too",
        "limit exceeded",
        "exceed maximum",
        "exceeds max",
        "max results",
        "query timeout",
        "returned more",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// How RPC calls are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per call before the fault is surfaced.
    pub attempts: u32,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// First backoff; it doubles per attempt, with jitter.
    pub base: Duration,
    /// Longest backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            timeout: Duration::from_secs(10),
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

/// A jittered exponential backoff: `base * 2^attempt`, capped, times a random factor in [0.5, 1].
pub fn backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    exp.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

/// One chain's JSON-RPC endpoint, with retries, fault metrics and the adaptive `eth_getLogs` range.
#[derive(Debug, Clone)]
pub struct Rpc {
    provider: DynProvider,
    chain_id: u64,
    policy: RetryPolicy,
    observer: Arc<dyn FaultObserver>,
    range: Arc<AtomicU64>,
    max_range: u64,
    finality: Arc<std::sync::Mutex<Finality>>,
}

/// What the node's `finalized` tag told so far, so that one failed call does not move the finalized block.
#[derive(Debug, Default)]
struct Finality {
    /// The node has answered the tag at least once.
    tagged: bool,
    /// The last finalized block given out.
    last: u64,
}

impl Finality {
    /// The finalized block after the tag answered `block` (`None`: an error, no such block, or no answer).
    ///
    /// A node that has answered the tag is trusted alone: a failed call keeps the last block, and the block never
    /// moves back (but for its first answer, which replaces the depth-based guess). A node that never has answered
    /// gets `head - depth`.
    fn next(&mut self, block: Option<u64>, head: u64, depth: u64) -> u64 {
        match block {
            // The first answer replaces the depth-based guess, even downwards.
            Some(number) if !self.tagged => {
                self.tagged = true;
                self.last = number.min(head);
            }
            Some(number) => self.last = self.last.max(number.min(head)),
            None if self.tagged => {}
            None => self.last = head.saturating_sub(depth),
        }
        self.last
    }
}

/// Logs fetched for `from..=to`, with the hash of block `to` they were read against.
#[derive(Debug)]
pub struct Fetched {
    /// First block.
    pub from: u64,
    /// Last block.
    pub to: u64,
    /// Hash of block `to`.
    pub to_hash: B256,
    /// The logs, in chain order.
    pub logs: Vec<Log>,
}

impl Rpc {
    /// Wraps `provider`; `range` is the first `eth_getLogs` range, which grows up to `max_range`.
    pub fn new(
        provider: DynProvider,
        chain_id: u64,
        policy: RetryPolicy,
        observer: Arc<dyn FaultObserver>,
        range: u64,
        max_range: u64,
    ) -> Self {
        let max_range = max_range.max(1);
        Self {
            provider,
            chain_id,
            policy,
            observer,
            range: Arc::new(AtomicU64::new(range.clamp(1, max_range))),
            max_range,
            finality: Default::default(),
        }
    }

    /// The provider behind this endpoint.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The current `eth_getLogs` range, in blocks.
    pub fn range(&self) -> u64 {
        self.range.load(Ordering::Relaxed)
    }

    /// Runs `call` with a timeout, retrying transient faults with jittered exponential backoff. A range-limit
    /// fault is not retried: it is returned at once as [`Error::RangeLimit`] for the caller to split the range.
    pub async fn call<T, F, Fut>(&self, method: &'static str, call: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, RpcError<TransportErrorKind>>>,
    {
        self.call_checked(method, call, |_| Ok(())).await
    }

    /// [`Rpc::call`], where an answer that `check` refuses (with its fault and why) is a fault too: counted, and
    /// retried like a transient one; after the last attempt it is the call's error.
    pub async fn call_checked<T, F, Fut, C>(&self, method: &'static str, call: F, check: C) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, RpcError<TransportErrorKind>>>,
        C: Fn(&T) -> std::result::Result<(), (Fault, String)>,
    {
        let mut attempt = 0;
        loop {
            let (fault, message) = match tokio::time::timeout(self.policy.timeout, call()).await {
                Ok(Ok(value)) => match check(&value) {
                    Ok(()) => return Ok(value),
                    Err(refused) => refused,
                },
                Ok(Err(error)) => (Fault::of(&error), describe(&error)),
                Err(_) => (Fault::Timeout, format!("no answer within {:?}", self.policy.timeout)),
            };
            self.observer.fault(self.chain_id, method, fault);
            if fault == Fault::RangeLimit {
                return Err(Error::RangeLimit(FaultDetail(message)));
            }
            attempt += 1;
            if attempt >= self.policy.attempts {
                return Err(Error::Fault { method, fault: fault.label(), source: FaultDetail(message) });
            }
            let pause = backoff(self.policy.base, self.policy.cap, attempt - 1);
            debug!(method, fault = fault.label(), %message, attempt, retry_in_ms = pause.as_millis() as u64, "rpc fault; retrying");
            tokio::time::sleep(pause).await;
        }
    }

    /// A fault the caller found in an answer (e.g. a head below blocks already read): counted like the faults of
    /// [`Rpc::call`].
    pub fn fault(&self, method: &'static str, fault: Fault) {
        self.observer.fault(self.chain_id, method, fault);
    }

    /// The current head.
    pub async fn head(&self) -> Result<u64> {
        self.call("eth_blockNumber", || self.provider.get_block_number()).await
    }

    /// The latest finalized block by the node's `finalized` tag, or `head - depth` for a node that has never
    /// answered it (see [`Finality::next`]).
    pub async fn finalized(&self, head: u64, depth: u64) -> Result<u64> {
        let tagged =
            tokio::time::timeout(self.policy.timeout, self.provider.get_block_by_number(BlockNumberOrTag::Finalized))
                .await;
        let block = match tagged {
            Ok(Ok(Some(block))) => Some(block.header.number),
            _ => None,
        };
        Ok(self.finality.lock().expect("finality lock").next(block, head, depth))
    }

    /// The canonical hash and time of block `number`, or `None` past the head.
    pub async fn block(&self, number: u64) -> Result<Option<(B256, u64)>> {
        let block = self
            .call("eth_getBlockByNumber", || {
                self.provider.get_block_by_number(BlockNumberOrTag::Number(number)).into_future()
            })
            .await?;
        Ok(block.map(|b| (b.header.hash, b.header.timestamp)))
    }

    /// The logs of `addresses` in `from..=to`, read against the hash of block `to`. `None` if the chain changed
    /// while reading (block `to` replaced, or a log marked removed): the caller re-reads after undoing the reorg.
    pub async fn fetch(&self, address: Address, from: u64, to: u64) -> Result<Option<Fetched>> {
        let Some((before, _)) = self.block(to).await? else { return Ok(None) };
        let logs = self.logs(&Filter::new().address(address), from, to).await?;
        let after = self.block(to).await?.map(|(hash, _)| hash);
        let changed = after != Some(before)
            || logs.iter().any(|log| log.removed || (log.block_number == Some(to) && log.block_hash != Some(before)));
        Ok((!changed).then_some(Fetched { from, to, to_hash: before, logs }))
    }

    /// `eth_getLogs` for `filter` (its addresses and topics; its block range is replaced) over `from..=to`, in
    /// ranges of the shared range size, halving a range (and the shared size) whenever the provider refuses it as
    /// too large, and growing the shared size after small, fast answers. Logs come in chain order.
    ///
    /// An answer holding a log the filter does not match (another contract's, other topics, another block) is
    /// refused ([`Fault::ForeignLog`]) and the range read again: a node cannot slip another contract's events in.
    pub async fn logs(&self, filter: &Filter, from: u64, to: u64) -> Result<Vec<Log>> {
        let mut out = Vec::new();
        let mut todo = Vec::new();
        let mut start = to.saturating_add(1);
        while start > from {
            let end = start - 1;
            start = end.saturating_sub(self.range() - 1).max(from);
            todo.push((start, end));
        }
        while let Some((a, b)) = todo.pop() {
            let filter = filter.clone().from_block(a).to_block(b);
            let started = Instant::now();
            let fetched =
                self.call_checked("eth_getLogs", || self.provider.get_logs(&filter), |logs| foreign(&filter, logs));
            match fetched.await {
                Ok(logs) => {
                    self.adapt(b - a + 1, logs.len(), started.elapsed());
                    out.extend(logs);
                }
                Err(Error::RangeLimit(FaultDetail(message))) if b > a => {
                    let span = b - a + 1;
                    let smaller = (span / 2).max(1);
                    self.range.fetch_min(smaller, Ordering::Relaxed);
                    warn!(chain_id = self.chain_id, from = a, to = b, range = smaller, %message, "eth_getLogs range too large; splitting");
                    let mid = a + span / 2 - 1;
                    todo.push((mid + 1, b));
                    todo.push((a, mid));
                }
                Err(error) => return Err(error),
            }
        }
        Ok(out)
    }

    /// Grows the shared range after an answer that was small and fast for a span at least the current size, and
    /// after a large one aims it at [`TARGET_LOGS`] per range: large answers delay the first write and stall the
    /// pipeline of reads and writes, while small ones cost a round trip each.
    fn adapt(&self, span: u64, logs: usize, elapsed: Duration) {
        let _ = self.range.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
            Some(next_range(current, self.max_range, span, logs, elapsed))
        });
    }
}

/// The first log of `logs` that `filter` does not match (another contract's, other topics, or outside the block
/// range), as a refusal.
fn foreign(filter: &Filter, logs: &[Log]) -> std::result::Result<(), (Fault, String)> {
    let unasked = |log: &&Log| {
        !filter.matches_address(log.address())
            || !filter.matches_topics(log.topics())
            || log.block_number.is_some_and(|n| !filter.matches_block_range(n))
    };
    let Some(log) = logs.iter().find(unasked) else { return Ok(()) };
    let asked = filter.address.iter().map(Address::to_string).collect::<Vec<_>>().join(", ");
    Err((
        Fault::ForeignLog,
        format!(
            "the node returned a log of {} (block {:?}, index {:?}) that the filter (contracts [{asked}]) does not \
             match; refused",
            log.address(),
            log.block_number,
            log.log_index,
        ),
    ))
}

/// Logs per `eth_getLogs` answer aimed at once an answer has been large.
pub const TARGET_LOGS: usize = 10_000;

/// The range after `span` blocks answered `logs` logs in `elapsed`, from `current` (see [`Rpc::adapt`]).
fn next_range(current: u64, max_range: u64, span: u64, logs: usize, elapsed: Duration) -> u64 {
    if logs > 2 * TARGET_LOGS {
        let aimed = (span as u128 * TARGET_LOGS as u128 / logs as u128) as u64;
        return current.min(aimed.max(1));
    }
    if span >= current && logs < TARGET_LOGS / 2 && elapsed < Duration::from_secs(2) {
        return (current * 2).min(max_range);
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_grow_on_small_answers_and_aim_at_the_target_after_large_ones() {
        let fast = Duration::from_millis(50);
        assert_eq!(next_range(100, 100_000, 100, 10, fast), 200);
        assert_eq!(next_range(100, 150, 100, 10, fast), 150);
        // A smaller span than the current range (the chain's tail) says nothing about growing.
        assert_eq!(next_range(100, 100_000, 3, 10, fast), 100);
        // Slow answers do not grow it.
        assert_eq!(next_range(100, 100_000, 100, 10, Duration::from_secs(3)), 100);
        // 100,000 logs in 1,000 blocks: 100 blocks hold the target.
        assert_eq!(next_range(1_000, 100_000, 1_000, 100_000, fast), 100);
        // A concurrent shrink below that wins.
        assert_eq!(next_range(40, 100_000, 1_000, 100_000, fast), 40);
        assert_eq!(next_range(1_000, 100_000, 1, 1_000_000, fast), 1);
        // In between: unchanged.
        assert_eq!(next_range(1_000, 100_000, 1_000, TARGET_LOGS, fast), 1_000);
    }

    #[test]
    fn logs_the_filter_did_not_ask_for_are_refused() {
        use alloy::primitives::{LogData, address};
        let registry = address!("0x00000000000000000000000000000000000000aa");
        let other = address!("0x00000000000000000000000000000000000000bb");
        let topic = B256::repeat_byte(1);
        let log = |address: Address, topic: B256, block: u64| Log {
            inner: alloy::primitives::Log { address, data: LogData::new_unchecked(vec![topic], Default::default()) },
            block_number: Some(block),
            ..Default::default()
        };
        let filter = Filter::new().address(registry).from_block(10).to_block(20);
        assert!(foreign(&filter, &[log(registry, topic, 10), log(registry, topic, 20)]).is_ok());
        let (fault, message) = foreign(&filter, &[log(registry, topic, 10), log(other, topic, 11)]).unwrap_err();
        assert_eq!(fault, Fault::ForeignLog);
        assert!(message.contains(&other.to_string()), "{message}");
        assert!(foreign(&filter, &[log(registry, topic, 21)]).is_err(), "outside the range");
        let by_topic = filter.clone().event_signature(topic);
        assert!(foreign(&by_topic, &[log(registry, topic, 12)]).is_ok());
        assert!(foreign(&by_topic, &[log(registry, B256::repeat_byte(2), 12)]).is_err(), "another event");
    }

    #[test]
    fn provider_messages_for_oversized_log_queries_are_recognised() {
        for message in [
            "query returned more than 10000 results",
            "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
            "exceed maximum block range: 1000",
            "block range is too wide",
            "limit exceeded",
            "eth_getLogs block range too large, range: 5001, max: 5000",
        ] {
            assert!(is_range_limit(&message.to_lowercase()), "{message}");
        }
        assert!(!is_range_limit("execution reverted"));
        assert!(!is_range_limit("header not found"));
    }

    #[test]
    fn a_failed_finalized_call_keeps_the_tagged_block() {
        let mut finality = Finality::default();
        // No tag yet: the configured depth.
        assert_eq!(finality.next(None, 100, 64), 36);
        // The tag answers: it alone counts from now on (replacing the guess), and never moves back.
        assert_eq!(finality.next(Some(20), 100, 64), 20);
        assert_eq!(finality.next(Some(50), 110, 64), 50);
        assert_eq!(finality.next(None, 200, 64), 50, "a failed call does not fall back to head - depth");
        assert_eq!(finality.next(Some(40), 200, 64), 50);
        assert_eq!(finality.next(Some(500), 210, 64), 210, "never past the head");
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(1);
        for attempt in 0..3 {
            let pause = backoff(base, cap, attempt);
            let full = base * (1 << attempt);
            assert!(pause >= full / 2 && pause <= full, "{pause:?} for attempt {attempt}");
        }
        assert!(backoff(base, cap, 30) <= cap);
    }
}
