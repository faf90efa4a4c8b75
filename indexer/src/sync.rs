//! The indexing loop: backfill with `eth_getLogs` from the cursor to the head, then follow the head.

use std::collections::HashMap;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::store::{self, IndexedEvent, LogMeta};

/// How to index one registry.
#[derive(Debug, Clone)]
pub struct IndexerConfig {
    /// The registry's address.
    pub registry: Address,
    /// First block to index when the registry was never indexed (usually its deployment block).
    pub start_block: u64,
    /// Blocks per `eth_getLogs` request.
    pub batch_blocks: u64,
    /// Pause between head polls once caught up.
    pub poll_interval: Duration,
}

impl IndexerConfig {
    /// Defaults for `registry`: start at block 0, 2,000 blocks per request, poll every 500 ms.
    pub fn new(registry: Address) -> Self {
        Self { registry, start_block: 0, batch_blocks: 2_000, poll_interval: Duration::from_millis(500) }
    }
}

/// Totals of one [`Indexer::sync_to_head`] pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The head the pass caught up to.
    pub head: u64,
    /// Block ranges committed.
    pub ranges: u64,
    /// Events written (including ones already present).
    pub events: u64,
    /// Depth of a reorg undone at the start of the pass, in blocks (zero if none).
    pub reorged: u64,
}

/// Indexes one registry on one chain into Postgres.
#[derive(Debug, Clone)]
pub struct Indexer {
    pool: PgPool,
    provider: DynProvider,
    chain_id: u64,
    config: IndexerConfig,
}

impl Indexer {
    /// Connects the pieces; reads the chain id from the RPC endpoint.
    pub async fn new(pool: PgPool, provider: DynProvider, config: IndexerConfig) -> Result<Self> {
        let chain_id = provider.get_chain_id().await.map_err(|e| Error::rpc("eth_chainId", e))?;
        Ok(Self { pool, provider, chain_id, config })
    }

    /// The chain being indexed.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Indexes every block from the cursor up to the current head, one committed range at a time.
    pub async fn sync_to_head(&self) -> Result<SyncReport> {
        let head = self.provider.get_block_number().await.map_err(|e| Error::rpc("eth_blockNumber", e))?;
        let registry = self.config.registry;
        store::load_cursor(&self.pool, self.chain_id, registry, self.config.start_block).await?;
        let reorged = self.undo_reorg().await?;
        let mut cursor = store::load_cursor(&self.pool, self.chain_id, registry, self.config.start_block).await?;
        store::record_head(&self.pool, self.chain_id, registry, head).await?;
        let mut report = SyncReport { head, reorged, ..SyncReport::default() };
        while cursor.next_block <= head {
            let from = cursor.next_block;
            let to = head.min(from + self.config.batch_blocks.max(1) - 1);
            // The range is only committed if block `to` is the same before and after reading its logs.
            let before = self.block_hash(to).await?;
            let events = self.fetch(from, to).await?;
            if self.block_hash(to).await? != before || events.iter().any(|e| e.meta.block_number == to && e.meta.block_hash != before) {
                warn!(chain_id = self.chain_id, block = to, "chain changed while reading; reading the range again");
                continue;
            }
            if store::commit_range(&self.pool, self.chain_id, registry, from, to, before, &events).await? {
                report.ranges += 1;
                report.events += events.len() as u64;
                if !events.is_empty() {
                    info!(chain_id = self.chain_id, from, to, events = events.len(), "indexed range");
                }
            } else {
                warn!(chain_id = self.chain_id, from, "cursor moved by another writer; reloading");
            }
            cursor = store::load_cursor(&self.pool, self.chain_id, registry, self.config.start_block).await?;
        }
        Ok(report)
    }

    /// The canonical hash of block `number`.
    async fn block_hash(&self, number: u64) -> Result<alloy::primitives::B256> {
        self.block_hash_or_none(number)
            .await?
            .ok_or_else(|| Error::rpc("eth_getBlockByNumber", format!("block {number} not found")))
    }

    /// Detects a reorg (a kept block hash no longer canonical), finds the fork point among the kept hashes and
    /// undoes everything above it in one transaction. A reorg deeper than the kept window re-syncs from the start
    /// block. Returns the depth undone (blocks), or zero.
    async fn undo_reorg(&self) -> Result<u64> {
        let kept = store::kept_blocks(&self.pool, self.chain_id, self.config.registry).await?;
        let Some(&(top, top_hash)) = kept.first() else { return Ok(0) };
        if self.block_hash_or_none(top).await? == Some(top_hash) {
            return Ok(0);
        }
        let mut fork = None;
        for &(number, hash) in &kept[1..] {
            if self.block_hash_or_none(number).await? == Some(hash) {
                fork = Some(number);
                break;
            }
        }
        let fork = match fork {
            Some(fork) => fork,
            None => {
                tracing::error!(
                    chain_id = self.chain_id,
                    kept = kept.len(),
                    "reorg deeper than every kept block hash; re-syncing from the start block"
                );
                self.config.start_block.saturating_sub(1)
            }
        };
        warn!(chain_id = self.chain_id, fork, depth = top - fork, "reorg detected; undoing the blocks above the fork");
        store::rewind(&self.pool, self.chain_id, self.config.registry, fork).await?;
        Ok(top - fork)
    }

    /// The canonical hash of block `number`, or `None` if the chain is now shorter.
    async fn block_hash_or_none(&self, number: u64) -> Result<Option<alloy::primitives::B256>> {
        Ok(self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(|e| Error::rpc("eth_getBlockByNumber", e))?
            .map(|b| b.header.hash))
    }

    /// Follows the head until `shutdown` resolves. Transient failures (RPC, Postgres) are logged and retried
    /// with exponential backoff; the loop never exits on them.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        tokio::pin!(shutdown);
        let mut backoff = self.config.poll_interval;
        loop {
            let pause = match self.sync_to_head().await {
                Ok(_) => {
                    backoff = self.config.poll_interval;
                    self.config.poll_interval
                }
                Err(error) => {
                    warn!(chain_id = self.chain_id, %error, retry_in_ms = backoff.as_millis() as u64, "indexing failed; retrying");
                    let pause = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    pause
                }
            };
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Fetches and decodes the registry's logs in `from..=to`.
    async fn fetch(&self, from: u64, to: u64) -> Result<Vec<IndexedEvent>> {
        let filter = Filter::new().address(self.config.registry).from_block(from).to_block(to);
        let logs = self.provider.get_logs(&filter).await.map_err(|e| Error::rpc("eth_getLogs", e))?;
        let mut times: HashMap<u64, DateTime<Utc>> = HashMap::new();
        let mut events = Vec::with_capacity(logs.len());
        for log in logs {
            if log.removed {
                continue;
            }
            let Some(event) = store::decode(&log.inner) else {
                warn!(tx = ?log.transaction_hash, "skipping a log that is not a registry event");
                continue;
            };
            let meta = self.meta(&log, &mut times).await?;
            events.push(IndexedEvent { meta, event });
        }
        Ok(events)
    }

    /// The position of a log, fetching its block's timestamp when the node does not include it.
    async fn meta(&self, log: &Log, times: &mut HashMap<u64, DateTime<Utc>>) -> Result<LogMeta> {
        let incomplete = || Error::rpc("eth_getLogs", "log without block or transaction position");
        let block_number = log.block_number.ok_or_else(incomplete)?;
        let block_time = match (times.get(&block_number), log.block_timestamp) {
            (Some(time), _) => *time,
            (None, Some(ts)) => unix(ts),
            (None, None) => {
                let block = self
                    .provider
                    .get_block_by_number(BlockNumberOrTag::Number(block_number))
                    .await
                    .map_err(|e| Error::rpc("eth_getBlockByNumber", e))?
                    .ok_or_else(|| Error::rpc("eth_getBlockByNumber", format!("block {block_number} not found")))?;
                unix(block.header.timestamp)
            }
        };
        times.insert(block_number, block_time);
        Ok(LogMeta {
            chain_id: self.chain_id,
            contract: log.address(),
            block_number,
            block_hash: log.block_hash.ok_or_else(incomplete)?,
            block_time,
            tx_hash: log.transaction_hash.ok_or_else(incomplete)?,
            log_index: log.log_index.ok_or_else(incomplete)?,
        })
    }
}

fn unix(seconds: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds as i64, 0).unwrap_or_default()
}
