//! Writing decoded registry events and the cursor to Postgres, in one transaction per block range.

use alloy::primitives::{Address, B256};
use chrono::{DateTime, Utc};
use prova_core::bindings::IProvenanceRegistry::IProvenanceRegistryEvents as Event;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::{Error, Result};

/// Where a log sits on the chain: the columns every event row shares.
#[derive(Debug, Clone)]
pub struct LogMeta {
    /// Chain id.
    pub chain_id: u64,
    /// Emitting contract.
    pub contract: Address,
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Block time.
    pub block_time: DateTime<Utc>,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Log index in the block.
    pub log_index: u64,
}

/// A decoded event with its position.
#[derive(Debug, Clone)]
pub struct IndexedEvent {
    /// Where it is.
    pub meta: LogMeta,
    /// What it says.
    pub event: Event,
}

/// Postgres' BIGINT for a chain quantity; values beyond i64 cannot occur on real chains and are refused.
pub fn to_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::Inconsistent(format!("value {value} does not fit in BIGINT")))
}

/// Postgres TEXT cannot hold NUL; event strings are stored with NUL replaced by U+FFFD.
fn text(value: &str) -> String {
    value.replace('\0', "\u{FFFD}")
}

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// Binds the seven columns every event table starts with.
fn bind_meta<'q>(query: PgQuery<'q>, meta: &LogMeta) -> Result<PgQuery<'q>> {
    Ok(query
        .bind(to_i64(meta.chain_id)?)
        .bind(meta.tx_hash.to_vec())
        .bind(to_i64(meta.log_index)?)
        .bind(meta.contract.to_vec())
        .bind(to_i64(meta.block_number)?)
        .bind(meta.block_hash.to_vec())
        .bind(meta.block_time))
}

/// `INSERT INTO table (the seven common columns, extra columns) VALUES (...) ON CONFLICT DO NOTHING`, as a
/// static string; the common columns take `$1..$7`, the extra ones the placeholders given.
macro_rules! insert_sql {
    ($table:literal, $columns:literal, $placeholders:literal) => {
        sqlx::query(concat!(
            "INSERT INTO ",
            $table,
            " (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time, ",
            $columns,
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, ",
            $placeholders,
            ") ON CONFLICT (chain_id, tx_hash, log_index) DO NOTHING"
        ))
    };
}

/// Inserts one event row; re-inserting the same event is a no-op.
async fn insert_event(tx: &mut Transaction<'_, Postgres>, indexed: &IndexedEvent) -> Result<()> {
    let meta = &indexed.meta;
    let query = match &indexed.event {
        Event::PublisherRegistered(e) => {
            bind_meta(insert_sql!("publisher_registered", "publisher, admin, name, metadata_uri", "$8, $9, $10, $11"), meta)?
                .bind(e.publisher.to_vec())
                .bind(e.admin.to_vec())
                .bind(text(&e.name))
                .bind(text(&e.metadataURI))
        }
        Event::PublisherAdminTransferStarted(e) => {
            bind_meta(insert_sql!("publisher_admin_transfer_started", "publisher, admin, pending_admin", "$8, $9, $10"), meta)?
                .bind(e.publisher.to_vec())
                .bind(e.admin.to_vec())
                .bind(e.pendingAdmin.to_vec())
        }
        Event::PublisherAdminTransferred(e) => {
            bind_meta(insert_sql!("publisher_admin_transferred", "publisher, previous_admin, new_admin", "$8, $9, $10"), meta)?
                .bind(e.publisher.to_vec())
                .bind(e.previousAdmin.to_vec())
                .bind(e.newAdmin.to_vec())
        }
        Event::AttestorAdded(e) => {
            bind_meta(insert_sql!("attestor_added", "publisher, key", "$8, $9"), meta)?.bind(e.publisher.to_vec()).bind(e.key.to_vec())
        }
        Event::AttestorRevoked(e) => {
            bind_meta(insert_sql!("attestor_revoked", "publisher, key", "$8, $9"), meta)?.bind(e.publisher.to_vec()).bind(e.key.to_vec())
        }
        Event::AttestorCompromised(e) => {
            bind_meta(insert_sql!("attestor_compromised", "publisher, key, since", "$8, $9, $10"), meta)?
                .bind(e.publisher.to_vec())
                .bind(e.key.to_vec())
                .bind(to_i64(e.since)?)
        }
        Event::ModelVersionRegistered(e) => {
            bind_meta(insert_sql!("model_version_registered", "version_hash, model_id, publisher, parent, attestor, metadata_uri, metadata_hash", "$8, $9, $10, $11, $12, $13, $14"), meta)?
                .bind(e.versionHash.to_vec())
                .bind(e.modelId.to_vec())
                .bind(e.publisher.to_vec())
                .bind(e.parent.to_vec())
                .bind(e.attestor.to_vec())
                .bind(text(&e.metadataURI))
                .bind(e.metadataHash.to_vec())
        }
        Event::ModelVersionRevoked(e) => {
            bind_meta(insert_sql!("model_version_revoked", "version_hash, publisher, reason", "$8, $9, $10"), meta)?
                .bind(e.versionHash.to_vec())
                .bind(e.publisher.to_vec())
                .bind(text(&e.reason))
        }
        Event::OutputsAttested(e) => bind_meta(
            insert_sql!(
                "outputs_attested",
                "root, version_hash, publisher, attestor, leaf_count, window_start, window_end, batch_uri",
                "$8, $9, $10, $11, $12, $13, $14, $15"
            ),
            meta,
        )?
        .bind(e.root.to_vec())
        .bind(e.versionHash.to_vec())
        .bind(e.publisher.to_vec())
        .bind(e.attestor.to_vec())
        .bind(to_i64(e.leafCount)?)
        .bind(to_i64(e.windowStart)?)
        .bind(to_i64(e.windowEnd)?)
        .bind(text(&e.batchURI)),
        Event::OutputBatchRevoked(e) => {
            bind_meta(insert_sql!("output_batch_revoked", "root, publisher, reason", "$8, $9, $10"), meta)?
                .bind(e.root.to_vec())
                .bind(e.publisher.to_vec())
                .bind(text(&e.reason))
        }
        Event::NonceInvalidated(e) => {
            bind_meta(insert_sql!("nonce_invalidated", "signer, nonce", "$8, $9"), meta)?
                .bind(e.signer.to_vec())
                .bind(e.nonce.to_be_bytes::<32>().to_vec())
        }
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

/// The indexer's position for one registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// First block not yet indexed.
    pub next_block: u64,
}

/// Reads the cursor, creating it at `start_block` if this registry was never indexed.
pub async fn load_cursor(pool: &PgPool, chain_id: u64, contract: Address, start_block: u64) -> Result<Cursor> {
    sqlx::query(
        "INSERT INTO indexer_cursors (chain_id, contract, next_block) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(to_i64(start_block)?)
    .execute(pool)
    .await?;
    let next: i64 = sqlx::query_scalar("SELECT next_block FROM indexer_cursors WHERE chain_id = $1 AND contract = $2")
        .bind(to_i64(chain_id)?)
        .bind(contract.to_vec())
        .fetch_one(pool)
        .await?;
    Ok(Cursor { next_block: next as u64 })
}

/// Records the latest chain head seen, for `/v1/status`.
pub async fn record_head(pool: &PgPool, chain_id: u64, contract: Address, head: u64) -> Result<()> {
    sqlx::query(
        "UPDATE indexer_cursors SET head_block = $3, head_seen_at = now() WHERE chain_id = $1 AND contract = $2",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(to_i64(head)?)
    .execute(pool)
    .await?;
    Ok(())
}

/// Block hashes kept per registry for reorg detection; a reorg deeper than this re-syncs from the start block.
pub const KEPT_BLOCKS: i64 = 4096;

/// Writes the events of blocks `from..=to` and moves the cursor to `to + 1`, all in one transaction, together with
/// the hash of block `to` and of every block holding an event (for reorg detection).
///
/// The cursor row is locked and must still read `from`; if another writer moved it, nothing is written and
/// `Ok(false)` is returned. A crash before commit leaves both rows and cursor untouched, so nothing is lost or
/// duplicated.
pub async fn commit_range(
    pool: &PgPool,
    chain_id: u64,
    contract: Address,
    from: u64,
    to: u64,
    to_hash: B256,
    events: &[IndexedEvent],
) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let current: Option<i64> = sqlx::query_scalar(
        "SELECT next_block FROM indexer_cursors WHERE chain_id = $1 AND contract = $2 FOR UPDATE",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .fetch_optional(&mut *tx)
    .await?;
    if current != Some(to_i64(from)?) {
        tx.rollback().await?;
        return Ok(false);
    }
    for event in events {
        insert_event(&mut tx, event).await?;
    }
    let mut blocks: Vec<(i64, Vec<u8>)> = events.iter().map(|e| (e.meta.block_number as i64, e.meta.block_hash.to_vec())).collect();
    blocks.push((to_i64(to)?, to_hash.to_vec()));
    blocks.sort();
    blocks.dedup_by_key(|b| b.0);
    let (numbers, hashes): (Vec<i64>, Vec<Vec<u8>>) = blocks.into_iter().unzip();
    sqlx::query(
        "INSERT INTO indexed_blocks (chain_id, contract, block_number, block_hash)
         SELECT $1, $2, * FROM unnest($3::BIGINT[], $4::BYTEA[])
         ON CONFLICT (chain_id, contract, block_number) DO UPDATE SET block_hash = EXCLUDED.block_hash",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(numbers)
    .bind(hashes)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM indexed_blocks WHERE chain_id = $1 AND contract = $2 AND block_number < $3")
        .bind(to_i64(chain_id)?)
        .bind(contract.to_vec())
        .bind(to_i64(to)? - KEPT_BLOCKS)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE indexer_cursors SET next_block = $3, updated_at = now() WHERE chain_id = $1 AND contract = $2",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(to_i64(to + 1)?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Every table holding registry events.
pub const EVENT_TABLES: &[&str] = &[
    "publisher_registered",
    "publisher_admin_transfer_started",
    "publisher_admin_transferred",
    "attestor_added",
    "attestor_revoked",
    "attestor_compromised",
    "model_version_registered",
    "model_version_revoked",
    "nonce_invalidated",
    "outputs_attested",
    "output_batch_revoked",
];

/// The kept block hashes of a registry, highest first.
pub async fn kept_blocks(pool: &PgPool, chain_id: u64, contract: Address) -> Result<Vec<(u64, B256)>> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT block_number, block_hash FROM indexed_blocks WHERE chain_id = $1 AND contract = $2
         ORDER BY block_number DESC",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(n, h)| (n as u64, B256::from_slice(&h))).collect())
}

/// Undoes everything indexed above block `fork` (events and kept hashes) and moves the cursor to `fork + 1`, in one
/// transaction.
pub async fn rewind(pool: &PgPool, chain_id: u64, contract: Address, fork: u64) -> Result<()> {
    let mut tx = pool.begin().await?;
    for table in EVENT_TABLES.iter().chain(&["indexed_blocks"]) {
        sqlx::query(&format!("DELETE FROM {table} WHERE chain_id = $1 AND contract = $2 AND block_number > $3"))
            .bind(to_i64(chain_id)?)
            .bind(contract.to_vec())
            .bind(to_i64(fork)?)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE indexer_cursors SET next_block = $3, updated_at = now() WHERE chain_id = $1 AND contract = $2")
        .bind(to_i64(chain_id)?)
        .bind(contract.to_vec())
        .bind(to_i64(fork + 1)?)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes everything indexed for one registry, and its cursor, in one transaction.
///
/// For a registry address that was just deployed: anything stored under it came from an earlier chain that
/// reused the address (a restarted dev chain), not from this one.
pub async fn purge_registry(pool: &PgPool, chain_id: u64, contract: Address) -> Result<()> {
    let mut tx = pool.begin().await?;
    for table in EVENT_TABLES.iter().chain(&["indexed_blocks", "indexer_cursors"]) {
        sqlx::query(&format!("DELETE FROM {table} WHERE chain_id = $1 AND contract = $2"))
            .bind(to_i64(chain_id)?)
            .bind(contract.to_vec())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Decodes a raw log of the registry, or `None` for a log that is not one of its events.
pub fn decode(log: &alloy::primitives::Log) -> Option<Event> {
    use alloy::sol_types::SolEventInterface;
    Event::decode_log(log).ok().map(|decoded| decoded.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{B256, address, b256};
    use prova_core::bindings::IProvenanceRegistry;

    const REGISTRY: Address = address!("5fbdb2315678afecb367f032d93f642f64180aa3");

    fn event(block: u64, log_index: u64) -> IndexedEvent {
        IndexedEvent {
            meta: LogMeta {
                chain_id: 31337,
                contract: REGISTRY,
                block_number: block,
                block_hash: B256::repeat_byte(block as u8),
                block_time: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                tx_hash: B256::repeat_byte(0x10 + block as u8),
                log_index,
            },
            event: Event::ModelVersionRegistered(IProvenanceRegistry::ModelVersionRegistered {
                versionHash: b256!("00000000000000000000000000000000000000000000000000000000000000aa"),
                modelId: B256::repeat_byte(1),
                publisher: Address::repeat_byte(2),
                parent: B256::ZERO,
                attestor: Address::repeat_byte(3),
                metadataURI: "ipfs://x\0y".into(),
                metadataHash: B256::ZERO,
            }),
        }
    }

    async fn rows(pool: &PgPool) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM model_version_registered").fetch_one(pool).await.unwrap()
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn range_and_cursor_commit_together_once(pool: PgPool) {
        assert_eq!(load_cursor(&pool, 31337, REGISTRY, 5).await.unwrap().next_block, 5);
        assert!(commit_range(&pool, 31337, REGISTRY, 5, 9, B256::ZERO, &[event(7, 0)]).await.unwrap());
        assert_eq!(load_cursor(&pool, 31337, REGISTRY, 0).await.unwrap().next_block, 10);
        assert_eq!(rows(&pool).await, 1);
        // A writer that still believes the cursor is at 5 (a crashed or duplicate indexer) writes nothing.
        assert!(!commit_range(&pool, 31337, REGISTRY, 5, 9, B256::ZERO, &[event(7, 0), event(8, 1)]).await.unwrap());
        assert_eq!(rows(&pool).await, 1);
        assert_eq!(load_cursor(&pool, 31337, REGISTRY, 0).await.unwrap().next_block, 10);
        // NUL cannot be stored in TEXT; it is replaced, not dropped or fatal.
        let uri: String = sqlx::query_scalar("SELECT metadata_uri FROM model_version_registered").fetch_one(&pool).await.unwrap();
        assert_eq!(uri, "ipfs://x\u{FFFD}y");
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn purge_removes_one_registry_only(pool: PgPool) {
        load_cursor(&pool, 31337, REGISTRY, 0).await.unwrap();
        commit_range(&pool, 31337, REGISTRY, 0, 9, B256::ZERO, &[event(7, 0)]).await.unwrap();
        let mut other = event(7, 1);
        other.meta.contract = Address::repeat_byte(0xEE);
        load_cursor(&pool, 31337, other.meta.contract, 0).await.unwrap();
        commit_range(&pool, 31337, other.meta.contract, 0, 9, B256::ZERO, &[other]).await.unwrap();
        purge_registry(&pool, 31337, REGISTRY).await.unwrap();
        assert_eq!(rows(&pool).await, 1);
        assert_eq!(load_cursor(&pool, 31337, REGISTRY, 3).await.unwrap().next_block, 3);
    }
}
