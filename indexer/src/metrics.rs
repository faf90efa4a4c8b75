//! Prometheus metrics of the indexer: head, indexed and finalized blocks, lag, events by table, reorgs and their
//! depth, RPC faults by kind, and whether an instance writes or stands by.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of one indexed contract.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ContractLabels {
    /// Chain id.
    pub chain_id: u64,
    /// Contract address, lowercase hex.
    pub contract: String,
}

/// Labels of an event count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// Chain id.
    pub chain_id: u64,
    /// The event's table.
    pub event: String,
}

/// Labels of an RPC fault.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    /// Chain id.
    pub chain_id: u64,
    /// The JSON-RPC method.
    pub method: String,
    /// The kind of fault (`timeout`, `rate_limited`, `http`, `malformed`, `rpc`, `range_limit`, `transport`,
    /// `head_behind`, `foreign_log`).
    pub kind: String,
}

type DepthHistogram = Family<ContractLabels, Histogram, fn() -> Histogram>;

/// Every metric, shared by the indexers of one process.
#[derive(Debug)]
pub struct Metrics {
    /// Latest chain head seen.
    pub head: Family<ContractLabels, Gauge>,
    /// Last block indexed.
    pub indexed: Family<ContractLabels, Gauge>,
    /// Latest finalized block seen.
    pub finalized: Family<ContractLabels, Gauge>,
    /// Head minus indexed.
    pub lag: Family<ContractLabels, Gauge>,
    /// Events written, by table.
    pub events: Family<EventLabels, Counter>,
    /// Committed transactions.
    pub commits: Family<ContractLabels, Counter>,
    /// Reorgs undone.
    pub reorgs: Family<ContractLabels, Counter>,
    /// Depth of undone reorgs, in blocks.
    pub reorg_depth: DepthHistogram,
    /// RPC faults, by method and kind.
    pub rpc_faults: Family<FaultLabels, Counter>,
    /// Current `eth_getLogs` range, in blocks.
    pub range_blocks: Family<ContractLabels, Gauge>,
    /// 1 while this instance holds the write lock, 0 while it stands by.
    pub writer: Family<ContractLabels, Gauge>,
    registry: Registry,
}

fn depth_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Metrics {
            head: Family::default(),
            indexed: Family::default(),
            finalized: Family::default(),
            lag: Family::default(),
            events: Family::default(),
            commits: Family::default(),
            reorgs: Family::default(),
            reorg_depth: Family::new_with_constructor(depth_histogram),
            rpc_faults: Family::default(),
            range_blocks: Family::default(),
            writer: Family::default(),
            registry: Registry::with_prefix("prova_indexer"),
        };
        let r = &mut metrics.registry;
        r.register("head_block", "Latest chain head seen", metrics.head.clone());
        r.register("indexed_block", "Last block indexed", metrics.indexed.clone());
        r.register("finalized_block", "Latest finalized block seen", metrics.finalized.clone());
        r.register("lag_blocks", "Chain head minus the last indexed block", metrics.lag.clone());
        r.register("events", "Events written, by event table", metrics.events.clone());
        r.register("commits", "Block ranges committed", metrics.commits.clone());
        r.register("reorgs", "Reorgs undone", metrics.reorgs.clone());
        r.register("reorg_depth_blocks", "Depth of undone reorgs", metrics.reorg_depth.clone());
        r.register("rpc_faults", "JSON-RPC faults, by method and kind", metrics.rpc_faults.clone());
        r.register("getlogs_range_blocks", "Current eth_getLogs block range", metrics.range_blocks.clone());
        r.register("writer", "1 while this instance holds the write lock, 0 on standby", metrics.writer.clone());
        metrics
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl prova_chain::rpc::FaultObserver for Metrics {
    fn fault(&self, chain_id: u64, method: &'static str, fault: prova_chain::rpc::Fault) {
        self.rpc_faults
            .get_or_create(&FaultLabels { chain_id, method: method.into(), kind: fault.label().into() })
            .inc();
    }
}
