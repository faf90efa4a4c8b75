//! The indexer: mirrors every event of prova's contracts (and any ERC-8004 deployment) into Postgres.
//!
//! It backfills from a start block with `eth_getLogs`, then follows the head. Each block range is written in one
//! transaction together with the cursor, so re-running is a no-op and a crash loses or duplicates nothing.

pub mod error;
pub mod events;
pub mod metrics;
pub mod rpc;
pub mod store;
pub mod sync;

pub use error::{Error, Result};
pub use events::ContractKind;
pub use metrics::Metrics;
pub use sync::{Indexer, IndexerConfig, SyncReport};

/// The schema migrations under `migrations/`, shared by the indexer, the API and the tests.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects to Postgres and applies pending migrations.
pub async fn connect_db(url: &str, max_connections: u32) -> Result<sqlx::PgPool> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(5))
        // No ping before each use: a connection broken by a server restart fails its next query, which is
        // retried (indexer) or answered 503 (API), and is then replaced.
        .test_before_acquire(false)
        .connect(url)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
