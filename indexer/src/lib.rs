//! The indexer: mirrors every event of prova's contracts (and any ERC-8004 deployment) into Postgres.
//!
//! It backfills from a start block with `eth_getLogs`, then follows the head. Each block range is written in one
//! transaction together with the cursor, so re-running is a no-op and a crash loses or duplicates nothing.
//!
//! This crate may depend on `prova-core`, `prova-chain` (RPC with retries, the log pager) and `prova-db` (the
//! registry schema it writes); nothing reads from it but through Postgres.

pub mod error;
pub mod events;
pub mod metrics;
pub mod store;
pub mod sync;

pub use error::{Error, Result};
pub use events::ContractKind;
pub use metrics::Metrics;
pub use sync::{Indexer, IndexerConfig, SyncReport};
