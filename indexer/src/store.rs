//! Writing decoded registry events and the cursor to Postgres, in one transaction per block range.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256};
use chrono::{DateTime, Utc};
use prova_db::copy::{BinaryCopy, EncodeError};
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::{Error, Result};
use crate::events::{self, ContractKind, Row, Value};

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
    /// What it says, as its table row.
    pub row: Row,
}

/// Postgres' BIGINT for a chain quantity; values beyond i64 cannot occur on real chains and are refused.
pub fn to_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::Inconsistent(format!("value {value} does not fit in BIGINT")))
}

/// COPY data flushed to the server in pieces of about this size, so that it parses while the rest is encoded.
const COPY_CHUNK: usize = 1 << 20;

/// Appends `value` to a binary COPY stream.
fn copy_value(copy: &mut BinaryCopy, value: &Value) -> std::result::Result<(), EncodeError> {
    match value {
        Value::Bytes(bytes) => copy.field(bytes),
        // TEXT in binary is its UTF-8 bytes (Value::text already replaced NUL, which TEXT cannot hold).
        Value::Text(text) => copy.field(text.as_bytes()),
        Value::Int(n) => {
            copy.int8(*n);
            Ok(())
        }
        Value::Numeric(decimal) => copy.numeric(decimal),
        Value::Bool(b) => {
            copy.bool(*b);
            Ok(())
        }
    }
}

/// Writes a batch of events with one binary `COPY` per table.
///
/// `COPY` cannot skip duplicates, and needs not: [`commit_range`] only writes blocks at or above the cursor it holds
/// locked, and no row can exist there (rows and cursor commit together; [`rewind`] deletes from the cursor on).
/// A duplicate would therefore be a bug, and fails the transaction instead of being hidden.
async fn insert_events(tx: &mut Transaction<'_, Postgres>, events: &[IndexedEvent]) -> Result<()> {
    let mut by_table: BTreeMap<&'static str, Vec<&IndexedEvent>> = BTreeMap::new();
    for event in events {
        by_table.entry(event.row.table).or_default().push(event);
    }
    for (table, rows) in by_table {
        let columns = rows[0].row.columns;
        let statement = format!(
            "COPY {table} (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time, {}) \
             FROM STDIN (FORMAT binary)",
            columns.join(", ")
        );
        let mut copy = tx.copy_in_raw(&statement).await?;
        let mut data = BinaryCopy::new(COPY_CHUNK + 4_096);
        let encoding = |e: EncodeError| Error::Inconsistent(e.to_string());
        for event in &rows {
            let meta = &event.meta;
            if event.row.columns != columns {
                return Err(Error::Inconsistent(format!("rows of {table} disagree on their columns")));
            }
            data.tuple(7 + columns.len()).map_err(encoding)?;
            data.int8(to_i64(meta.chain_id)?);
            data.field(meta.tx_hash.as_slice()).map_err(encoding)?;
            data.int8(to_i64(meta.log_index)?);
            data.field(meta.contract.as_slice()).map_err(encoding)?;
            data.int8(to_i64(meta.block_number)?);
            data.field(meta.block_hash.as_slice()).map_err(encoding)?;
            data.timestamptz(meta.block_time.timestamp(), meta.block_time.timestamp_subsec_micros());
            for value in &event.row.values {
                copy_value(&mut data, value).map_err(encoding)?;
            }
            if data.len() >= COPY_CHUNK {
                copy.send(data.take(COPY_CHUNK + 4_096)).await?;
            }
        }
        copy.send(data.finish()).await?;
        copy.finish().await?;
    }
    Ok(())
}

/// The indexer's position for one registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// First block not yet indexed.
    pub next_block: u64,
}

/// Reads the cursor, creating it at `start_block` if this contract was never indexed.
pub async fn load_cursor(
    pool: &PgPool,
    chain_id: u64,
    contract: Address,
    kind: ContractKind,
    start_block: u64,
) -> Result<Cursor> {
    sqlx::query(
        "INSERT INTO indexer_cursors (chain_id, contract, next_block, kind) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(to_i64(start_block)?)
    .bind(kind.to_string())
    .execute(pool)
    .await?;
    let next: i64 = sqlx::query_scalar("SELECT next_block FROM indexer_cursors WHERE chain_id = $1 AND contract = $2")
        .bind(to_i64(chain_id)?)
        .bind(contract.to_vec())
        .fetch_one(pool)
        .await?;
    Ok(Cursor { next_block: next as u64 })
}

/// Records the identity registry an ERC-8004 reputation or validation registry points at.
pub async fn record_link(pool: &PgPool, chain_id: u64, contract: Address, identity: Address) -> Result<()> {
    sqlx::query(
        "INSERT INTO erc8004_links (chain_id, contract, identity_registry) VALUES ($1, $2, $3)
         ON CONFLICT (chain_id, contract) DO UPDATE SET identity_registry = EXCLUDED.identity_registry",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(identity.to_vec())
    .execute(pool)
    .await?;
    Ok(())
}

/// Records which instance holds the write lock.
pub async fn record_writer(pool: &PgPool, chain_id: u64, contract: Address, instance: &str) -> Result<()> {
    sqlx::query("UPDATE indexer_cursors SET writer = $3 WHERE chain_id = $1 AND contract = $2")
        .bind(to_i64(chain_id)?)
        .bind(contract.to_vec())
        .bind(instance)
        .execute(pool)
        .await?;
    Ok(())
}

/// Records the latest chain head and finalized block seen, for `/v1/status` and the API's finality.
pub async fn record_head(pool: &PgPool, chain_id: u64, contract: Address, head: u64, finalized: u64) -> Result<()> {
    sqlx::query(
        "UPDATE indexer_cursors SET head_block = $3, finalized_block = $4, head_seen_at = now()
         WHERE chain_id = $1 AND contract = $2",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(to_i64(head)?)
    .bind(to_i64(finalized.min(head))?)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records the last transient fault (or clears it with `None`), for `/v1/status`.
pub async fn record_fault(pool: &PgPool, chain_id: u64, contract: Address, fault: Option<&str>) -> Result<()> {
    sqlx::query(
        "UPDATE indexer_cursors SET last_error = $3, last_error_at = CASE WHEN $3::TEXT IS NULL THEN last_error_at ELSE now() END
         WHERE chain_id = $1 AND contract = $2 AND last_error IS DISTINCT FROM $3::TEXT",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(fault)
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes the events of blocks `from..=to` and moves the cursor to `to + 1`, all in one transaction, together with
/// the block hashes in `ends` (range ends, sampled blocks and anchors) and of every block holding an event, for reorg
/// detection; hashes more than `kept` blocks below `to` are dropped, but for those of the blocks in `anchors`.
///
/// The cursor row is locked and must still read `from`; if another writer moved it, nothing is written and
/// `Ok(false)` is returned. A crash before commit leaves both rows and cursor untouched, so nothing is lost or
/// duplicated.
#[allow(clippy::too_many_arguments)]
pub async fn commit_range(
    pool: &PgPool,
    chain_id: u64,
    contract: Address,
    from: u64,
    to: u64,
    ends: &[(u64, B256)],
    anchors: &[u64],
    events: &[IndexedEvent],
    kept: u64,
) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT next_block FROM indexer_cursors WHERE chain_id = $1 AND contract = $2 FOR UPDATE")
            .bind(to_i64(chain_id)?)
            .bind(contract.to_vec())
            .fetch_optional(&mut *tx)
            .await?;
    if current != Some(to_i64(from)?) {
        tx.rollback().await?;
        return Ok(false);
    }
    insert_events(&mut tx, events).await?;
    let mut blocks: Vec<(i64, Vec<u8>)> =
        events.iter().map(|e| (e.meta.block_number as i64, e.meta.block_hash.to_vec())).collect();
    for (number, hash) in ends {
        blocks.push((to_i64(*number)?, hash.to_vec()));
    }
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
    let anchors = anchors.iter().map(|&n| to_i64(n)).collect::<Result<Vec<_>>>()?;
    sqlx::query(
        "DELETE FROM indexed_blocks WHERE chain_id = $1 AND contract = $2 AND block_number < $3
           AND block_number <> ALL($4::BIGINT[])",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(to_i64(to)? - to_i64(kept)?)
    .bind(anchors)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE indexer_cursors SET next_block = $3, updated_at = now() WHERE chain_id = $1 AND contract = $2")
        .bind(to_i64(chain_id)?)
        .bind(contract.to_vec())
        .bind(to_i64(to + 1)?)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// The highest kept block hash of a contract.
pub async fn kept_top(pool: &PgPool, chain_id: u64, contract: Address) -> Result<Option<(u64, B256)>> {
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT block_number, block_hash FROM indexed_blocks WHERE chain_id = $1 AND contract = $2
         ORDER BY block_number DESC LIMIT 1",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(n, h)| (n as u64, B256::from_slice(&h))))
}

/// Which of `numbers` have a kept block hash.
pub async fn kept_among(pool: &PgPool, chain_id: u64, contract: Address, numbers: &[u64]) -> Result<Vec<u64>> {
    let numbers = numbers.iter().map(|&n| to_i64(n)).collect::<Result<Vec<_>>>()?;
    let kept: Vec<i64> = sqlx::query_scalar(
        "SELECT block_number FROM indexed_blocks WHERE chain_id = $1 AND contract = $2 AND block_number = ANY($3)",
    )
    .bind(to_i64(chain_id)?)
    .bind(contract.to_vec())
    .bind(numbers)
    .fetch_all(pool)
    .await?;
    Ok(kept.into_iter().map(|n| n as u64).collect())
}

/// The kept block hashes of a contract, highest first.
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

/// Undoes everything indexed from block `next` on (events of every kind and kept hashes) and moves the cursor back
/// to `next`, in one transaction.
pub async fn rewind(pool: &PgPool, chain_id: u64, contract: Address, next: u64) -> Result<()> {
    let mut tx = pool.begin().await?;
    for table in events::all_tables().chain(["indexed_blocks"]) {
        sqlx::query(&format!("DELETE FROM {table} WHERE chain_id = $1 AND contract = $2 AND block_number >= $3"))
            .bind(to_i64(chain_id)?)
            .bind(contract.to_vec())
            .bind(to_i64(next)?)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE indexer_cursors SET next_block = $3, updated_at = now() WHERE chain_id = $1 AND contract = $2")
        .bind(to_i64(chain_id)?)
        .bind(contract.to_vec())
        .bind(to_i64(next)?)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes everything indexed for one contract, and its cursor, in one transaction.
///
/// For a registry address that was just deployed: anything stored under it came from an earlier chain that
/// reused the address (a restarted dev chain), not from this one.
pub async fn purge_registry(pool: &PgPool, chain_id: u64, contract: Address) -> Result<()> {
    let mut tx = pool.begin().await?;
    for table in events::all_tables().chain(["indexed_blocks", "indexer_cursors"]) {
        sqlx::query(&format!("DELETE FROM {table} WHERE chain_id = $1 AND contract = $2"))
            .bind(to_i64(chain_id)?)
            .bind(contract.to_vec())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
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
            row: events::provenance_row(IProvenanceRegistry::IProvenanceRegistryEvents::ModelVersionRegistered(
                IProvenanceRegistry::ModelVersionRegistered {
                    versionHash: b256!("00000000000000000000000000000000000000000000000000000000000000aa"),
                    modelId: B256::repeat_byte(1),
                    publisher: Address::repeat_byte(2),
                    parent: B256::ZERO,
                    attestor: Address::repeat_byte(3),
                    metadataURI: "ipfs://x\0y".into(),
                    metadataHash: B256::ZERO,
                    committedAt: 0,
                    committedBlock: 0,
                    modelName: "acme/llm\0\u{1F600}".into(),
                },
            )),
        }
    }

    async fn rows(pool: &PgPool) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM model_version_registered").fetch_one(pool).await.unwrap()
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn range_and_cursor_commit_together_once(pool: PgPool) {
        assert_eq!(load_cursor(&pool, 31337, REGISTRY, ContractKind::Provenance, 5).await.unwrap().next_block, 5);
        assert!(commit_range(&pool, 31337, REGISTRY, 5, 9, &[(9, B256::ZERO)], &[], &[event(7, 0)], 64).await.unwrap());
        assert_eq!(load_cursor(&pool, 31337, REGISTRY, ContractKind::Provenance, 0).await.unwrap().next_block, 10);
        assert_eq!(rows(&pool).await, 1);
        // A writer that still believes the cursor is at 5 (a crashed or duplicate indexer) writes nothing.
        assert!(
            !commit_range(&pool, 31337, REGISTRY, 5, 9, &[(9, B256::ZERO)], &[], &[event(7, 0), event(8, 1)], 64)
                .await
                .unwrap()
        );
        assert_eq!(rows(&pool).await, 1);
        assert_eq!(load_cursor(&pool, 31337, REGISTRY, ContractKind::Provenance, 0).await.unwrap().next_block, 10);
        // NUL cannot be stored in TEXT; it is replaced, not dropped or fatal.
        let uri: String =
            sqlx::query_scalar("SELECT metadata_uri FROM model_version_registered").fetch_one(&pool).await.unwrap();
        assert_eq!(uri, "ipfs://x\u{FFFD}y");
        let name: String =
            sqlx::query_scalar("SELECT model_name FROM model_version_registered").fetch_one(&pool).await.unwrap();
        assert_eq!(name, "acme/llm\u{FFFD}\u{1F600}", "the model name is kept, NUL replaced");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn binary_copy_round_trips_every_kind_of_value(pool: PgPool) {
        use alloy::primitives::U256;
        let mut feedback = event(7, 0);
        feedback.row = Row {
            table: "feedback_given",
            columns: &crate::events::FEEDBACK_GIVEN_COLUMNS,
            values: vec![
                Value::numeric(U256::MAX),
                Value::bytes(Address::repeat_byte(9)),
                Value::int(u64::MAX >> 1),
                Value::numeric(i128::MIN),
                Value::int(18),
                Value::text("tab\there\nand a backslash \\ é"),
                Value::text(""),
                Value::text("\0"),
                Value::text("ipfs://\u{1F600}"),
                Value::bytes(B256::repeat_byte(0xAB)),
            ],
        };
        let mut zero = event(7, 1);
        zero.row = feedback.row.clone();
        zero.row.values[0] = Value::numeric(U256::ZERO);
        zero.row.values[3] = Value::numeric(-10_000i128);
        let mut time = event(8, 2);
        time.meta.block_time = DateTime::from_timestamp(946_684_799, 999_999_000).unwrap();
        load_cursor(&pool, 31337, REGISTRY, ContractKind::Reputation, 0).await.unwrap();
        let events = [feedback, zero, time];
        assert!(commit_range(&pool, 31337, REGISTRY, 0, 9, &[(9, B256::ZERO)], &[], &events, 64).await.unwrap());
        type FeedbackRow = (String, Vec<u8>, i64, String, i64, String, String, DateTime<Utc>, Vec<u8>, i64);
        let rows: Vec<FeedbackRow> = sqlx::query_as(
            "SELECT agent_id::TEXT, client, feedback_index, value::TEXT, value_decimals, tag1, feedback_uri, block_time,
                    tx_hash, chain_id
             FROM feedback_given ORDER BY log_index",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, U256::MAX.to_string());
        assert_eq!(rows[0].1, Address::repeat_byte(9).to_vec());
        assert_eq!(rows[0].2, i64::MAX);
        assert_eq!(rows[0].3, i128::MIN.to_string());
        assert_eq!(rows[0].4, 18);
        assert_eq!(rows[0].5, "tab\there\nand a backslash \\ é");
        assert_eq!(rows[0].6, "ipfs://\u{1F600}");
        assert_eq!(rows[0].7, DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        assert_eq!(rows[0].8, B256::repeat_byte(0x17).to_vec());
        assert_eq!(rows[0].9, 31337);
        assert_eq!((rows[1].0.as_str(), rows[1].3.as_str()), ("0", "-10000"));
        let before_2000: DateTime<Utc> =
            sqlx::query_scalar("SELECT block_time FROM model_version_registered").fetch_one(&pool).await.unwrap();
        assert_eq!(before_2000, DateTime::from_timestamp(946_684_799, 999_999_000).unwrap());
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn purge_removes_one_registry_only(pool: PgPool) {
        load_cursor(&pool, 31337, REGISTRY, ContractKind::Provenance, 0).await.unwrap();
        commit_range(&pool, 31337, REGISTRY, 0, 9, &[(9, B256::ZERO)], &[], &[event(7, 0)], 64).await.unwrap();
        let mut other = event(7, 1);
        other.meta.contract = Address::repeat_byte(0xEE);
        load_cursor(&pool, 31337, other.meta.contract, ContractKind::Provenance, 0).await.unwrap();
        commit_range(&pool, 31337, other.meta.contract, 0, 9, &[(9, B256::ZERO)], &[], &[other], 64).await.unwrap();
        purge_registry(&pool, 31337, REGISTRY).await.unwrap();
        assert_eq!(rows(&pool).await, 1);
        assert_eq!(load_cursor(&pool, 31337, REGISTRY, ContractKind::Provenance, 3).await.unwrap().next_block, 3);
    }
}
