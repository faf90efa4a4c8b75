//! The indexing loop: undo any reorg, backfill with concurrent adaptive `eth_getLogs` from the cursor to the head,
//! commit in large batches with the cursor, then follow the head. One writer per contract holds a Postgres advisory
//! lock; a second instance stands by until the lock frees.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, keccak256};
use alloy::providers::DynProvider;
use alloy::rpc::types::Log;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::stream::{FuturesOrdered, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::{Connection, PgConnection, PgPool};
use tracing::{debug, error, info, warn};

use crate::error::{Error, Result};
use crate::events::ContractKind;
use crate::metrics::{ContractLabels, EventLabels, Metrics};
use crate::store::{self, IndexedEvent, LogMeta};
use prova_chain::rpc::{Fetched, RetryPolicy, Rpc, backoff};

/// How to index one contract. Its `Debug` shows `ws_url` redacted ([`prova_chain::redact_url`]).
#[derive(Clone)]
pub struct IndexerConfig {
    /// The contract's address.
    pub contract: Address,
    /// What it is.
    pub kind: ContractKind,
    /// First block to index when the contract was never indexed (usually its deployment block).
    pub start_block: u64,
    /// First `eth_getLogs` range, in blocks; it grows after small fast answers and halves on range errors.
    pub batch_blocks: u64,
    /// Largest `eth_getLogs` range.
    pub max_batch_blocks: u64,
    /// `eth_getLogs` requests in flight at once.
    pub concurrency: usize,
    /// Events per database transaction, at most (ranges fetched concurrently are merged up to this).
    pub commit_events: usize,
    /// Pause between head polls once caught up.
    pub poll_interval: Duration,
    /// Depth of the window below the head where block hashes are kept densely for reorg detection; below it, anchors
    /// at doubling distances limit what a deeper reorg undoes to about four times its depth. Only a reorg below the
    /// lowest anchor re-syncs from `start_block`.
    pub kept_blocks: u64,
    /// Depth taken as final where the node has no `finalized` block tag.
    pub finality_depth: u64,
    /// Timeouts and retries of RPC calls.
    pub retry: RetryPolicy,
    /// This instance's name, recorded while it holds the write lock.
    pub instance: String,
    /// Show a progress bar on a terminal during backfill.
    pub progress: bool,
    /// A `ws://` or `wss://` endpoint of the same chain: new heads wake the loop at once instead of at the next
    /// poll. Polling goes on regardless, so a dropped subscription only costs latency until it reconnects.
    pub ws_url: Option<String>,
}

impl IndexerConfig {
    /// Defaults for a ProvenanceRegistry at `contract`: start at block 0, ranges of 100 growing to 100,000 blocks,
    /// 4 requests in flight, 50,000 events per transaction, poll every 500 ms, 4,096 kept hashes, finality 64 blocks.
    pub fn new(contract: Address) -> Self {
        Self {
            contract,
            kind: ContractKind::Provenance,
            start_block: 0,
            batch_blocks: 100,
            max_batch_blocks: 100_000,
            concurrency: 4,
            commit_events: 50_000,
            poll_interval: Duration::from_millis(500),
            kept_blocks: 4_096,
            finality_depth: 64,
            retry: RetryPolicy::default(),
            instance: format!("pid-{}", std::process::id()),
            progress: false,
            ws_url: None,
        }
    }
}

impl std::fmt::Debug for IndexerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            contract,
            kind,
            start_block,
            batch_blocks,
            max_batch_blocks,
            concurrency,
            commit_events,
            poll_interval,
            kept_blocks,
            finality_depth,
            retry,
            instance,
            progress,
            ws_url,
        } = self;
        f.debug_struct("IndexerConfig")
            .field("contract", contract)
            .field("kind", kind)
            .field("start_block", start_block)
            .field("batch_blocks", batch_blocks)
            .field("max_batch_blocks", max_batch_blocks)
            .field("concurrency", concurrency)
            .field("commit_events", commit_events)
            .field("poll_interval", poll_interval)
            .field("kept_blocks", kept_blocks)
            .field("finality_depth", finality_depth)
            .field("retry", retry)
            .field("instance", instance)
            .field("progress", progress)
            .field("ws_url", &ws_url.as_deref().map(prova_chain::redact_url))
            .finish()
    }
}

/// Totals of one [`Indexer::sync_to_head`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The head caught up to.
    pub head: u64,
    /// Transactions committed.
    pub ranges: u64,
    /// Events written (including ones already present).
    pub events: u64,
    /// Blocks undone by reorgs (zero if none).
    pub reorged: u64,
    /// Time spent in the write transactions.
    pub writing: Duration,
}

/// Ranges queued or read ahead per permitted concurrent read: enough that reads never wait for a write of
/// `commit_events` to finish.
const READ_AHEAD: usize = 3;

/// Indexes one contract on one chain into Postgres.
#[derive(Debug, Clone)]
pub struct Indexer {
    pool: PgPool,
    rpc: Rpc,
    chain_id: u64,
    config: IndexerConfig,
    metrics: Arc<Metrics>,
    labels: ContractLabels,
    linked: Arc<std::sync::atomic::AtomicBool>,
}

impl Indexer {
    /// Connects the pieces with their own metrics; reads the chain id from the RPC endpoint.
    pub async fn new(pool: PgPool, provider: DynProvider, config: IndexerConfig) -> Result<Self> {
        Self::with_metrics(pool, provider, config, Arc::default()).await
    }

    /// Connects the pieces, recording into shared `metrics`.
    pub async fn with_metrics(
        pool: PgPool,
        provider: DynProvider,
        config: IndexerConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let probe = Rpc::new(provider.clone(), 0, config.retry, metrics.clone(), 1, 1);
        let chain_id = probe.call("eth_chainId", || alloy::providers::Provider::get_chain_id(&provider)).await?;
        let rpc =
            Rpc::new(provider, chain_id, config.retry, metrics.clone(), config.batch_blocks, config.max_batch_blocks);
        let labels = ContractLabels { chain_id, contract: format!("{:#x}", config.contract) };
        Ok(Self { pool, rpc, chain_id, config, metrics, labels, linked: Arc::default() })
    }

    /// The chain being indexed.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The metrics this indexer records into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Indexes every block from the cursor up to the current head, undoing reorgs first. If the chain changes while
    /// a range is read, the range is dropped and the pass starts again from the reorg check. A head below the last
    /// indexed block is waited out ([`Indexer::head`]), never taken for a reorg.
    pub async fn sync_to_head(&self) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        loop {
            let cursor = store::load_cursor(
                &self.pool,
                self.chain_id,
                self.config.contract,
                self.config.kind,
                self.config.start_block,
            )
            .await?;
            let head = self.head(cursor.next_block).await?;
            let finalized = self.rpc.finalized(head, self.config.finality_depth).await?;
            self.link_identity_registry().await?;
            report.reorged += self.undo_reorg(head).await?;
            store::record_head(&self.pool, self.chain_id, self.config.contract, head, finalized).await?;
            self.metrics.head.get_or_create(&self.labels).set(head as i64);
            self.metrics.finalized.get_or_create(&self.labels).set(finalized as i64);
            report.head = head;
            if self.pass(head, &mut report).await? {
                return Ok(report);
            }
            warn!(chain_id = self.chain_id, contract = %self.config.contract, "chain changed while reading; checking for a reorg and reading again");
        }
    }

    /// The node's head, once it is at least the last indexed block (`next_block - 1`). A head below it is a
    /// lagging, syncing or lying node, not a reorg (that a chain got shorter says nothing of which blocks changed;
    /// only a block hash that changed at a kept height is a reorg): it is counted as a `head_behind` fault and
    /// asked again after a backoff, up to the retry policy's attempts, then [`Error::HeadBehind`] (which
    /// [`Indexer::run`] retries in turn).
    async fn head(&self, next_block: u64) -> Result<u64> {
        let indexed = (next_block > self.config.start_block).then(|| next_block - 1);
        let mut attempt = 0;
        loop {
            let head = self.rpc.head().await?;
            let Some(block) = indexed.filter(|&block| head < block) else { return Ok(head) };
            self.rpc.fault("eth_blockNumber", prova_chain::rpc::Fault::HeadBehind);
            attempt += 1;
            if attempt >= self.config.retry.attempts {
                return Err(Error::HeadBehind { head, block });
            }
            let pause = backoff(self.config.retry.base, self.config.retry.cap, attempt - 1);
            warn!(
                chain_id = self.chain_id,
                contract = %self.config.contract,
                head,
                indexed = block,
                retry_in_ms = pause.as_millis() as u64,
                "the node's head is below the last indexed block (lagging or syncing, not a reorg); asking again"
            );
            tokio::time::sleep(pause).await;
        }
    }

    /// For an ERC-8004 reputation or validation registry, records the identity registry it points at (once).
    async fn link_identity_registry(&self) -> Result<()> {
        use prova_core::bindings::{IReputationRegistry, IValidationRegistry};
        if !matches!(self.config.kind, ContractKind::Reputation | ContractKind::Validation)
            || self.linked.load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        let provider = self.rpc.provider();
        let contract = self.config.contract;
        let identity = match self.config.kind {
            ContractKind::Reputation => {
                let registry = IReputationRegistry::new(contract, provider);
                self.rpc
                    .call("eth_call", || async { registry.getIdentityRegistry().call().await.map_err(contract_error) })
                    .await?
            }
            _ => {
                let registry = IValidationRegistry::new(contract, provider);
                self.rpc
                    .call("eth_call", || async { registry.getIdentityRegistry().call().await.map_err(contract_error) })
                    .await?
            }
        };
        store::record_link(&self.pool, self.chain_id, contract, identity).await?;
        self.linked.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// One pass from the cursor to `head`. Returns `false` if it must start again (the chain changed under it or
    /// another writer moved the cursor).
    async fn pass(&self, head: u64, report: &mut SyncReport) -> Result<bool> {
        let contract = self.config.contract;
        let mut next =
            store::load_cursor(&self.pool, self.chain_id, contract, self.config.kind, self.config.start_block)
                .await?
                .next_block;
        let progress = self.progress_bar(next, head);
        let started = Instant::now();
        let mut inflight = FuturesOrdered::new();
        // Reads run as tasks, `concurrency` of them talking to the node at once (the permits), and up to
        // `READ_AHEAD` times as many ranges queued or read ahead, so reading goes on while a batch is written.
        let permits = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        let top_up = |inflight: &mut FuturesOrdered<_>, next: &mut u64| {
            while inflight.len() < READ_AHEAD * self.config.concurrency.max(1) && *next <= head {
                let (from, to) = (*next, head.min(*next + self.rpc.range() - 1));
                let (this, permits) = (self.clone(), permits.clone());
                inflight.push_back(Task(tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    this.fetch(from, to).await
                })));
                *next = to + 1;
            }
        };
        loop {
            top_up(&mut inflight, &mut next);
            let Some(first) = inflight.next().await else { break };
            // Merge every range already fetched into one transaction, up to `commit_events`.
            let mut events = match &first {
                Ok(Some(f)) => f.1.len(),
                _ => 0,
            };
            let mut ready = vec![first];
            while events < self.config.commit_events {
                match inflight.next().now_or_never() {
                    Some(Some(result)) => {
                        if let Ok(Some(f)) = &result {
                            events += f.1.len();
                        }
                        ready.push(result);
                    }
                    _ => break,
                }
            }
            top_up(&mut inflight, &mut next);
            let mut batch = Vec::new();
            let mut stop = None;
            for result in ready {
                match result {
                    Ok(Some(fetched)) => batch.push(fetched),
                    Ok(None) => {
                        stop = Some(Ok(false));
                        break;
                    }
                    Err(error) => {
                        stop = Some(Err(error));
                        break;
                    }
                }
            }
            if !batch.is_empty() && !self.commit(head, batch, report, progress.as_ref()).await? {
                return Ok(false);
            }
            if let Some(stop) = stop {
                return stop;
            }
        }
        if let Some(bar) = progress {
            bar.finish_and_clear();
            info!(chain_id = self.chain_id, %contract, head, events = report.events, seconds = started.elapsed().as_secs_f64(), "backfill done");
        }
        Ok(true)
    }

    /// Reads `from..=to` and decodes it: `None` if the chain changed while reading.
    async fn fetch(&self, from: u64, to: u64) -> Result<Option<(Fetched, Vec<IndexedEvent>)>> {
        let started = Instant::now();
        let Some(mut fetched) = self.rpc.fetch(self.config.contract, from, to).await? else { return Ok(None) };
        let events = self.decode(&fetched.logs).await?;
        // The rows hold all that is written: the logs are freed here, in the reading task, not by the writer.
        fetched.logs = Vec::new();
        debug!(
            chain_id = self.chain_id,
            from,
            to,
            events = events.len(),
            fetch_ms = started.elapsed().as_millis() as u64,
            "fetched"
        );
        Ok(Some((fetched, events)))
    }

    /// Writes consecutive fetched ranges and the cursor in one transaction.
    async fn commit(
        &self,
        head: u64,
        batch: Vec<(Fetched, Vec<IndexedEvent>)>,
        report: &mut SyncReport,
        progress: Option<&ProgressBar>,
    ) -> Result<bool> {
        let from = batch[0].0.from;
        let to = batch.last().map_or(from, |(f, _)| f.to);
        // The ranges were read concurrently, so a reorg between two reads could mix branches. If every range end
        // and the highest block already committed are still canonical now, all of it comes from one chain (a
        // reorg after this check is caught by the next pass through the kept hashes).
        let mut ends: Vec<(u64, B256)> = batch.iter().map(|(f, _)| (f.to, f.to_hash)).collect();
        // Hashes to keep besides the range ends, read before the check below so that it vouches for them too (a
        // block hash commits to its ancestry): samples inside the kept window, so a shallow reorg finds a fork near
        // its depth, and anchors below it, so a deeper one undoes a few times its depth, not everything. Each anchor
        // moves once every kept·2^j blocks, so it is rarely read.
        let mut wanted: Vec<u64> =
            batch.iter().flat_map(|(f, _)| sample_blocks(f.from, f.to, head, self.config.kept_blocks)).collect();
        let anchors = anchor_blocks(self.config.start_block, to, self.config.kept_blocks);
        let have = store::kept_among(&self.pool, self.chain_id, self.config.contract, &anchors).await?;
        wanted.extend(anchors.iter().filter(|n| !have.contains(n)));
        let mut samples = Vec::with_capacity(wanted.len());
        for number in wanted {
            match self.rpc.block(number).await? {
                Some((hash, _)) => samples.push((number, hash)),
                None => return Ok(false),
            }
        }
        let previous = store::kept_top(&self.pool, self.chain_id, self.config.contract).await?;
        for &(number, hash) in ends.iter().chain(previous.iter()) {
            if self.rpc.block(number).await?.map(|(h, _)| h) != Some(hash) {
                warn!(chain_id = self.chain_id, block = number, "chain changed while reading; reading again");
                return Ok(false);
            }
        }
        ends.extend(samples);
        let events: Vec<IndexedEvent> = batch.into_iter().flat_map(|(_, events)| events).collect();
        let writing = Instant::now();
        let committed = store::commit_range(
            &self.pool,
            self.chain_id,
            self.config.contract,
            from,
            to,
            &ends,
            &anchors,
            &events,
            self.config.kept_blocks,
        )
        .await?;
        debug!(
            chain_id = self.chain_id,
            from,
            to,
            events = events.len(),
            write_ms = writing.elapsed().as_millis() as u64,
            "committed"
        );
        if !committed {
            warn!(chain_id = self.chain_id, from, "cursor moved by another writer; reloading");
            return Ok(false);
        }
        report.ranges += 1;
        report.events += events.len() as u64;
        report.writing += writing.elapsed();
        let mut by_table: HashMap<&str, u64> = HashMap::new();
        for event in &events {
            *by_table.entry(event.row.table).or_default() += 1;
        }
        for (table, count) in by_table {
            self.metrics
                .events
                .get_or_create(&EventLabels { chain_id: self.chain_id, event: table.into() })
                .inc_by(count);
        }
        self.metrics.commits.get_or_create(&self.labels).inc();
        self.metrics.indexed.get_or_create(&self.labels).set(to as i64);
        self.metrics.lag.get_or_create(&self.labels).set(head.saturating_sub(to) as i64);
        self.metrics.range_blocks.get_or_create(&self.labels).set(self.rpc.range() as i64);
        if let Some(bar) = progress {
            bar.set_position(to + 1);
            let seconds = bar.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!("{} events ({:.0}/s)", report.events, report.events as f64 / seconds));
        } else if !events.is_empty() {
            info!(chain_id = self.chain_id, from, to, events = events.len(), "indexed range");
        }
        Ok(true)
    }

    /// A progress bar over the blocks left, when asked for, on a terminal, and the gap is worth one.
    fn progress_bar(&self, next: u64, head: u64) -> Option<ProgressBar> {
        if !self.config.progress || !std::io::stderr().is_terminal() || head < next + 10_000 {
            return None;
        }
        let bar = ProgressBar::new(head + 1);
        bar.set_position(next);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} block {pos}/{len} ({per_sec}, ETA {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.reset_eta();
        Some(bar)
    }

    /// Decodes the contract's logs, with block times from the logs or, where the node leaves them out, the block.
    async fn decode(&self, logs: &[Log]) -> Result<Vec<IndexedEvent>> {
        let mut times: HashMap<u64, DateTime<Utc>> = HashMap::new();
        let mut events = Vec::with_capacity(logs.len());
        for log in logs {
            // The pager refuses such answers already (`prova_chain::rpc::Fault::ForeignLog`); nothing is stored from
            // another contract even if one slipped through.
            if log.address() != self.config.contract {
                return Err(Error::rpc(
                    "eth_getLogs",
                    format!("a log of {} in the logs of {}; refused", log.address(), self.config.contract),
                ));
            }
            let Some(row) = self.config.kind.decode(&log.inner) else {
                debug!(tx = ?log.transaction_hash, kind = %self.config.kind, "skipping a log this kind does not store");
                continue;
            };
            let incomplete = || Error::rpc("eth_getLogs", "log without block or transaction position");
            let block_number = log.block_number.ok_or_else(incomplete)?;
            let block_time = match (times.get(&block_number), log.block_timestamp) {
                (Some(time), _) => *time,
                (None, Some(ts)) => unix(ts),
                (None, None) => {
                    let (_, ts) =
                        self.rpc.block(block_number).await?.ok_or_else(|| {
                            Error::rpc("eth_getBlockByNumber", format!("block {block_number} not found"))
                        })?;
                    unix(ts)
                }
            };
            times.insert(block_number, block_time);
            let meta = LogMeta {
                chain_id: self.chain_id,
                contract: log.address(),
                block_number,
                block_hash: log.block_hash.ok_or_else(incomplete)?,
                block_time,
                tx_hash: log.transaction_hash.ok_or_else(incomplete)?,
                log_index: log.log_index.ok_or_else(incomplete)?,
            };
            events.push(IndexedEvent { meta, row });
        }
        Ok(events)
    }

    /// Detects a reorg (the highest kept block hash no longer canonical), finds the fork point among the kept hashes
    /// by binary search and undoes everything above it in one transaction. A reorg deeper than every kept hash
    /// re-syncs from the start block. Returns the number of blocks undone, or zero.
    ///
    /// Only a kept block whose hash changed is a reorg: a kept block the node has no block at (above its `head`, or
    /// missing below it) is a fault ([`Error::HeadBehind`]), and nothing is undone.
    async fn undo_reorg(&self, head: u64) -> Result<u64> {
        let kept = store::kept_blocks(&self.pool, self.chain_id, self.config.contract).await?;
        let Some(&(top, _)) = kept.first() else { return Ok(0) };
        let canonical = |i: usize| {
            let (number, hash) = kept[i];
            async move {
                match self.rpc.block(number).await? {
                    Some((canonical, _)) => Ok::<_, Error>(canonical == hash),
                    None => {
                        self.rpc.fault("eth_getBlockByNumber", prova_chain::rpc::Fault::HeadBehind);
                        Err(Error::HeadBehind { head, block: number })
                    }
                }
            }
        };
        if canonical(0).await? {
            return Ok(0);
        }
        // kept is highest first; canonical-ness is monotone (true from some index on). Find the first true.
        let (mut lo, mut hi) = (1, kept.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if canonical(mid).await? {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let next = match kept.get(lo) {
            Some(&(fork, _)) => fork + 1,
            None => {
                error!(
                    chain_id = self.chain_id,
                    contract = %self.config.contract,
                    kept = kept.len(),
                    start_block = self.config.start_block,
                    "REORG DEEPER THAN EVERY KEPT BLOCK HASH: undoing everything and re-syncing from the start block"
                );
                self.config.start_block
            }
        };
        let depth = top + 1 - next;
        warn!(chain_id = self.chain_id, contract = %self.config.contract, fork = next.saturating_sub(1), depth, "reorg detected; undoing the blocks above the fork");
        store::rewind(&self.pool, self.chain_id, self.config.contract, next).await?;
        self.metrics.reorgs.get_or_create(&self.labels).inc();
        self.metrics.reorg_depth.get_or_create(&self.labels).observe(depth as f64);
        Ok(depth)
    }

    /// The advisory lock key of this chain and contract.
    fn lock_key(&self) -> i64 {
        let mut seed = b"prova-indexer".to_vec();
        seed.extend_from_slice(&self.chain_id.to_be_bytes());
        seed.extend_from_slice(self.config.contract.as_slice());
        i64::from_be_bytes(keccak256(seed)[..8].try_into().unwrap_or_default())
    }

    /// A connection holding the write lock, or `None` if another instance holds it.
    async fn try_lock(&self) -> Result<Option<PgConnection>> {
        let mut conn = self.pool.acquire().await?.detach();
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(self.lock_key()).fetch_one(&mut conn).await?;
        if !locked {
            conn.close().await.ok();
            return Ok(None);
        }
        store::load_cursor(&self.pool, self.chain_id, self.config.contract, self.config.kind, self.config.start_block)
            .await?;
        store::record_writer(&self.pool, self.chain_id, self.config.contract, &self.config.instance).await?;
        Ok(Some(conn))
    }

    /// Waits for the write lock, standing by while another instance holds it.
    async fn acquire_lock(&self) -> PgConnection {
        let mut announced = false;
        let mut failures = 0;
        loop {
            let pause = match self.try_lock().await {
                Ok(Some(conn)) => {
                    self.metrics.writer.get_or_create(&self.labels).set(1);
                    info!(chain_id = self.chain_id, contract = %self.config.contract, instance = %self.config.instance, "holding the write lock");
                    return conn;
                }
                Ok(None) => {
                    self.metrics.writer.get_or_create(&self.labels).set(0);
                    if !announced {
                        info!(chain_id = self.chain_id, contract = %self.config.contract, "another indexer holds the write lock; standing by");
                        announced = true;
                    }
                    failures = 0;
                    self.config.poll_interval.max(Duration::from_millis(200))
                }
                Err(error) => {
                    failures += 1;
                    warn!(chain_id = self.chain_id, %error, "cannot take the write lock; retrying");
                    backoff(self.config.poll_interval, Duration::from_secs(30), failures)
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Follows the head until `shutdown` resolves, holding the write lock (or standing by for it). Transient
    /// failures (RPC, Postgres) are recorded for `/v1/status` and retried with jittered exponential backoff; the
    /// loop never exits on them. If the lock's connection dies (a Postgres restart), the lock is taken again.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        tokio::pin!(shutdown);
        let heads = Arc::new(tokio::sync::Notify::new());
        let _subscription = self.config.ws_url.clone().map(|url| {
            let heads = heads.clone();
            let chain_id = self.chain_id;
            AbortOnDrop(tokio::spawn(follow_heads(url, chain_id, heads)))
        });
        loop {
            let mut lock = tokio::select! {
                () = &mut shutdown => return Ok(()),
                lock = self.acquire_lock() => lock,
            };
            let mut failures = 0;
            loop {
                if sqlx::query("SELECT 1").execute(&mut lock).await.is_err() {
                    warn!(chain_id = self.chain_id, "lost the connection holding the write lock; taking it again");
                    self.metrics.writer.get_or_create(&self.labels).set(0);
                    break;
                }
                let pause = match self.sync_to_head().await {
                    Ok(_) => {
                        if failures > 0 {
                            info!(chain_id = self.chain_id, "indexing recovered");
                            store::record_fault(&self.pool, self.chain_id, self.config.contract, None).await.ok();
                        }
                        failures = 0;
                        self.config.poll_interval
                    }
                    Err(error) => {
                        failures += 1;
                        let pause = backoff(self.config.poll_interval, Duration::from_secs(30), failures);
                        warn!(chain_id = self.chain_id, %error, retry_in_ms = pause.as_millis() as u64, "indexing failed; retrying");
                        store::record_fault(&self.pool, self.chain_id, self.config.contract, Some(&error.to_string()))
                            .await
                            .ok();
                        pause
                    }
                };
                tokio::select! {
                    () = &mut shutdown => {
                        lock.close().await.ok();
                        return Ok(());
                    }
                    () = tokio::time::sleep(pause) => {}
                    () = heads.notified(), if failures == 0 => {}
                }
            }
        }
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A spawned fetch, aborted when dropped (a pass that stops early abandons the reads in flight).
struct Task<T>(tokio::task::JoinHandle<Result<T>>);

impl<T> std::future::Future for Task<T> {
    type Output = Result<T>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| joined.unwrap_or_else(|e| Err(Error::rpc("eth_getLogs", format!("fetch task failed: {e}")))))
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Subscribes to new heads over WebSocket and wakes the indexing loop on each; reconnects with backoff forever.
async fn follow_heads(url: String, chain_id: u64, heads: Arc<tokio::sync::Notify>) {
    use alloy::providers::{Provider, ProviderBuilder, WsConnect};
    // The URL may hold the provider's key: logs show its scheme, host and port only, and errors are scrubbed of it.
    let shown = prova_chain::redact_url(&url);
    let mut failures = 0;
    loop {
        let subscribed = async {
            let provider = ProviderBuilder::new().connect_ws(WsConnect::new(url.clone())).await?;
            let mut stream = provider.subscribe_blocks().await?.into_stream();
            info!(chain_id, url = %shown, "following new heads over WebSocket");
            while stream.next().await.is_some() {
                heads.notify_one();
            }
            Ok::<_, alloy::transports::TransportError>(())
        };
        match subscribed.await {
            Ok(()) => {
                warn!(chain_id, url = %shown, "WebSocket head subscription ended; reconnecting (polling continues)");
            }
            Err(error) => {
                let error = prova_chain::scrub_url(&prova_chain::rpc::describe(&error), &url);
                warn!(chain_id, url = %shown, %error, "WebSocket head subscription failed; polling continues");
            }
        }
        failures += 1;
        tokio::time::sleep(backoff(Duration::from_millis(500), Duration::from_secs(30), failures)).await;
    }
}

/// A contract call's error as a transport error, so [`Rpc::call`] can classify and retry it.
fn contract_error(error: alloy::contract::Error) -> alloy::transports::RpcError<alloy::transports::TransportErrorKind> {
    match error {
        alloy::contract::Error::TransportError(e) => e,
        other => alloy::transports::RpcError::LocalUsageError(Box::new(other)),
    }
}

/// Blocks of the range `from..=to` worth keeping a hash of besides `to` (and the blocks holding events): those at
/// distances 1, 2, 4, 8, … below `to` that lie within the last `kept` blocks before `head`. A reorg of depth d then
/// finds a kept canonical hash within 2d blocks of the fork, even after a long range without events, at the cost of
/// about log2(kept) block reads per range near the head and none during a backfill far from it.
fn sample_blocks(from: u64, to: u64, head: u64, kept: u64) -> Vec<u64> {
    let floor = from.max(head.saturating_sub(kept));
    std::iter::successors(Some(1u64), |step| step.checked_mul(2))
        .map_while(|step| to.checked_sub(step).filter(|&n| n >= floor))
        .collect()
}

/// Blocks below the kept window (the last `kept` blocks up to `to`) whose hashes are kept as anchors: for each level
/// j, with s = kept·2^j, the multiple of s just below the window's floor F less s, so in (F − 2s, F − s]; down to
/// `start`. The levels are disjoint, so the anchors are distinct and about doubling in distance, and each moves only
/// once every s blocks. A reorg forking d blocks below `to` then finds a canonical kept hash within max(3·kept, 4·d)
/// blocks of `to`; only one forking below the lowest anchor re-syncs from `start`.
fn anchor_blocks(start: u64, to: u64, kept: u64) -> Vec<u64> {
    let floor = to.saturating_sub(kept);
    let mut anchors = Vec::new();
    let mut step = kept.max(1);
    while let Some(anchor) = (floor / step * step).checked_sub(step).filter(|&b| b >= start) {
        anchors.push(anchor);
        let Some(next) = step.checked_mul(2) else { break };
        step = next;
    }
    anchors
}

fn unix(seconds: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds as i64, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{anchor_blocks, sample_blocks};

    #[test]
    fn anchors_double_their_distance_below_the_window_and_stay_put() {
        // Window floor 1,000 - 16 = 984: levels of 16, 32, 64, … blocks.
        assert_eq!(anchor_blocks(0, 1_000, 16), [960, 928, 896, 768, 512, 0]);
        // They move only when the floor crosses a multiple of their level.
        assert_eq!(anchor_blocks(0, 1_001, 16), anchor_blocks(0, 1_000, 16));
        assert_eq!(anchor_blocks(0, 1_008, 16), [976, 960, 896, 768, 512, 0]);
        // Never below the start block; none when the chain is shorter than the window and a level.
        assert_eq!(anchor_blocks(900, 1_000, 16), [960, 928]);
        assert!(anchor_blocks(10, 40, 16).is_empty());
        // A floor on a large power of two gives distinct anchors still.
        let anchors = anchor_blocks(0, 1_024 + 16, 16);
        assert!(anchors.windows(2).all(|w| w[0] > w[1]), "{anchors:?}");
        for depth in [20, 50, 100, 300, 1_000] {
            let (to, fork) = (1_040u64, 1_040 - depth);
            let anchor = anchors.iter().copied().find(|&a| a <= fork).unwrap_or(0);
            assert!(to - anchor <= (3 * 16).max(4 * depth), "depth {depth}: anchor {anchor}");
        }
    }

    #[test]
    fn sampled_blocks_double_their_distance_inside_the_window_and_the_range() {
        assert_eq!(sample_blocks(100, 120, 120, 16), [119, 118, 116, 112, 104]);
        assert_eq!(sample_blocks(115, 120, 120, 16), [119, 118, 116]);
        // A range far below the head (a backfill) samples nothing; a one-block range has nothing to sample.
        assert!(sample_blocks(0, 1_000, 100_000, 4_096).is_empty());
        assert!(sample_blocks(120, 120, 120, 16).is_empty());
        assert_eq!(sample_blocks(0, 5, 5, 4_096), [4, 3, 1]);
    }
}
