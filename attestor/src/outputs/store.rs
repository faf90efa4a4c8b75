//! The attestor's own Postgres store of sampled outputs and batches (migration 0004).

use alloy::primitives::B256;
use prova_db::copy::{BinaryCopy, EncodeError};
use sqlx::{PgPool, Row};

use super::near::{Fingerprint, Scheme};
use crate::error::{Error, Result};
use prova_core::outputs::{OutputLeaf, normalized_hash_with};

/// A sample ready to store: its leaf, plus the normalized hashes, the near-duplicate fingerprint and (when the lab
/// keeps texts) the response text used by distillation scans. None of these but the leaf is ever published.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The leaf (salt included).
    pub leaf: OutputLeaf,
    /// keccak256 of the normalized request.
    pub request_norm_hash: B256,
    /// keccak256 of the normalized response.
    pub response_norm_hash: B256,
    /// The response's near-duplicate fingerprint (`near`), when made.
    pub fingerprint: Option<Fingerprint>,
    /// The response text, when the lab keeps texts (`--keep-text`).
    pub text: Option<String>,
}

/// What ingest stores besides the leaf and its hashes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    /// Fingerprint responses with this scheme (`None`: no fingerprints, exact and normalized scans only).
    pub fingerprints: Option<Scheme>,
    /// Keep the response texts (private to the store), so that scans compute exact similarities and evidence
    /// bundles can show and prove the attested text.
    pub texts: bool,
}

impl Sample {
    /// Hashes a request/response pair into a sample with a fresh salt.
    pub fn new(version_hash: B256, request: &[u8], response: &[u8], timestamp: u64) -> Self {
        Self::keeping(version_hash, request, response, timestamp, Keep::default())
    }

    /// [`Sample::new`], with a fingerprint and the text as `keep` says (a response that is not UTF-8 gets
    /// neither).
    pub fn keeping(version_hash: B256, request: &[u8], response: &[u8], timestamp: u64, keep: Keep) -> Self {
        let leaf = OutputLeaf::new(version_hash, request, response, timestamp);
        let text = std::str::from_utf8(response).ok();
        Self {
            request_norm_hash: normalized_hash_with(request, leaf.request_hash),
            response_norm_hash: normalized_hash_with(response, leaf.response_hash),
            fingerprint: keep.fingerprints.zip(text).and_then(|(scheme, text)| scheme.fingerprint(text)),
            text: text.filter(|_| keep.texts).map(str::to_owned),
            leaf,
        }
    }
}

/// A value binary COPY cannot carry, as an input error.
fn encoding(error: EncodeError) -> Error {
    Error::Input(error.to_string())
}

/// Stores samples with one binary `COPY` and commits; when this returns, every sample is durable.
pub async fn insert_samples(pool: &PgPool, samples: &[Sample]) -> Result<()> {
    if samples.is_empty() {
        return Ok(());
    }
    let mut data = BinaryCopy::new(19 + samples.len() * 260 + 2);
    for s in samples {
        let l = &s.leaf;
        let timestamp =
            i64::try_from(l.timestamp).map_err(|_| Error::Input(format!("timestamp {} too large", l.timestamp)))?;
        data.tuple(7).map_err(encoding)?;
        for hash in [l.version_hash, l.request_hash, l.response_hash, s.request_norm_hash, s.response_norm_hash] {
            data.field(hash.as_slice()).map_err(encoding)?;
        }
        data.int8(timestamp);
        data.field(l.salt.as_slice()).map_err(encoding)?;
    }
    let mut tx = pool.begin().await?;
    let mut copy = tx
        .copy_in_raw(
            "COPY attestor_samples (version_hash, request_hash, response_hash, request_norm_hash, response_norm_hash, \
             timestamp, salt) FROM STDIN WITH (FORMAT binary)",
        )
        .await?;
    copy.send(data.finish()).await?;
    copy.finish().await?;
    let fingerprints = samples.iter().filter_map(|s| s.fingerprint.as_ref().map(|f| (s, f.0.as_slice())));
    copy_pairs(&mut tx, "attestor_fingerprints (response_hash, fingerprint)", fingerprints).await?;
    let texts = samples.iter().filter_map(|s| s.text.as_ref().map(|t| (s, t.as_bytes())));
    copy_pairs(&mut tx, "attestor_texts (response_hash, response)", texts).await?;
    let mut versions: Vec<Vec<u8>> = samples.iter().map(|s| s.leaf.version_hash.to_vec()).collect();
    versions.sort_unstable();
    versions.dedup();
    sqlx::query(
        "INSERT INTO attestor_seal_cursor (version_hash, sealed_through) SELECT unnest($1::BYTEA[]), 0 ON CONFLICT DO NOTHING",
    )
    .bind(versions)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Binary-COPYs `(response_hash, bytes)` rows into `table (columns)`; nothing when there are none.
async fn copy_pairs<'s>(
    tx: &mut sqlx::PgConnection,
    table: &str,
    rows: impl Iterator<Item = (&'s Sample, &'s [u8])>,
) -> Result<()> {
    let mut data = BinaryCopy::new(0);
    let mut count = 0usize;
    for (sample, bytes) in rows {
        data.tuple(2).map_err(encoding)?;
        data.field(sample.leaf.response_hash.as_slice()).map_err(encoding)?;
        data.field(bytes).map_err(encoding)?;
        count += 1;
    }
    if count == 0 {
        return Ok(());
    }
    let mut copy = tx.copy_in_raw(&format!("COPY {table} FROM STDIN WITH (FORMAT binary)")).await?;
    copy.send(data.finish()).await?;
    copy.finish().await?;
    Ok(())
}

/// A stored batch.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BatchRow {
    /// Id.
    pub id: i64,
    /// Model version.
    pub version_hash: Vec<u8>,
    /// First sample id.
    pub first_sample: i64,
    /// Last sample id.
    pub last_sample: i64,
    /// Leaves.
    pub leaf_count: i32,
    /// Root.
    pub root: Vec<u8>,
    /// Earliest timestamp.
    pub window_start: i64,
    /// Latest timestamp.
    pub window_end: i64,
    /// sealed, submitted or confirmed.
    pub state: String,
    /// Signed raw transaction, once submitted.
    pub raw_tx: Option<Vec<u8>>,
    /// Its hash.
    pub tx_hash: Option<Vec<u8>>,
    /// Chain id, once confirmed.
    pub chain_id: Option<i64>,
    /// Registry, once confirmed.
    pub registry: Option<Vec<u8>>,
    /// Block, once confirmed.
    pub block_number: Option<i64>,
    /// Whether the leaves were uploaded to the API.
    pub leaves_uploaded: bool,
}

impl BatchRow {
    /// The root as a hash.
    pub fn root(&self) -> B256 {
        B256::from_slice(&self.root)
    }

    /// The version as a hash.
    pub fn version(&self) -> B256 {
        B256::from_slice(&self.version_hash)
    }
}

const BATCH_COLUMNS: &str = "id, version_hash, first_sample, last_sample, leaf_count, root, window_start, window_end, \
     state, raw_tx, tx_hash, chain_id, registry, block_number, leaves_uploaded";

/// When to close a batch.
#[derive(Debug, Clone, Copy)]
pub struct SealPolicy {
    /// Close at this many leaves.
    pub max_leaves: usize,
    /// Close when the oldest unsealed sample is this old (seconds), even if smaller.
    pub max_age_secs: i64,
}

/// Seals every due batch (full, or old enough) for every version, in one transaction per batch.
///
/// The table is locked in SHARE mode while a batch is cut, which waits for in-flight inserts to commit, so no
/// sample with a smaller id can appear behind a sealed range.
pub async fn seal_due(pool: &PgPool, policy: SealPolicy) -> Result<Vec<BatchRow>> {
    let mut sealed = Vec::new();
    loop {
        let mut tx = pool.begin().await?;
        sqlx::query("LOCK TABLE attestor_samples IN SHARE MODE").execute(&mut *tx).await?;
        // A version is due when a full batch waits, or when its oldest unsealed sample is old enough.
        let due: Option<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT c.version_hash, c.sealed_through FROM attestor_seal_cursor c
             WHERE (SELECT count(*) FROM (SELECT 1 FROM attestor_samples s
                      WHERE s.version_hash = c.version_hash AND s.id > c.sealed_through LIMIT $1) z) >= $1
                OR (SELECT s.received_at FROM attestor_samples s
                      WHERE s.version_hash = c.version_hash AND s.id > c.sealed_through ORDER BY s.id LIMIT 1)
                   <= now() - make_interval(secs => $2)
             ORDER BY c.version_hash
             LIMIT 1",
        )
        .bind(policy.max_leaves as i64)
        .bind(policy.max_age_secs as f64)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((version, after)) = due else {
            tx.commit().await?;
            return Ok(sealed);
        };
        let rows = sqlx::query(
            "SELECT id, request_hash, response_hash, timestamp, salt FROM attestor_samples
             WHERE version_hash = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(&version)
        .bind(after)
        .bind(policy.max_leaves as i64)
        .fetch_all(&mut *tx)
        .await?;
        let version_hash = B256::from_slice(&version);
        let leaves: Vec<OutputLeaf> = rows.iter().map(|r| leaf_from_row(version_hash, r)).collect();
        // A few milliseconds of hashing for a full batch: fine inline, and safe on any runtime flavour.
        let root = root_of(&leaves);
        let first: i64 = rows[0].get("id");
        let last: i64 = rows[rows.len() - 1].get("id");
        let start = leaves.iter().map(|l| l.timestamp).min().unwrap_or_default() as i64;
        let end = leaves.iter().map(|l| l.timestamp).max().unwrap_or_default() as i64;
        let batch: BatchRow = sqlx::query_as(&format!(
            "INSERT INTO attestor_batches (version_hash, first_sample, last_sample, leaf_count, root, window_start,
               window_end, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'sealed') RETURNING {BATCH_COLUMNS}"
        ))
        .bind(&version)
        .bind(first)
        .bind(last)
        .bind(leaves.len() as i32)
        .bind(root.to_vec())
        .bind(start)
        .bind(end)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO attestor_seal_cursor (version_hash, sealed_through) VALUES ($1, $2)
             ON CONFLICT (version_hash) DO UPDATE SET sealed_through = EXCLUDED.sealed_through",
        )
        .bind(&version)
        .bind(last)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(batch = batch.id, leaves = leaves.len(), root = %root, "sealed batch");
        sealed.push(batch);
    }
}

fn leaf_from_row(version_hash: B256, row: &sqlx::postgres::PgRow) -> OutputLeaf {
    OutputLeaf {
        version_hash,
        request_hash: B256::from_slice(row.get::<&[u8], _>("request_hash")),
        response_hash: B256::from_slice(row.get::<&[u8], _>("response_hash")),
        timestamp: row.get::<i64, _>("timestamp") as u64,
        salt: B256::from_slice(row.get::<&[u8], _>("salt")),
    }
}

/// The Merkle root over leaves.
pub fn root_of(leaves: &[OutputLeaf]) -> B256 {
    use rayon::prelude::*;
    root_of_hashes(leaves.par_iter().map(OutputLeaf::hash).collect())
}

/// The Merkle root over leaf hashes ([`OutputLeaf::hash`]), for a caller that hashed the leaves already (ingest
/// hashes each leaf on all cores with the rest of its sample); zero for none.
pub fn root_of_hashes(hashes: Vec<B256>) -> B256 {
    prova_core::merkle::MerkleTree::from_leaf_hashes(hashes).map(|t| t.root()).unwrap_or_default()
}

/// The leaves of a batch with their sample ids, in leaf (id) order.
pub async fn batch_leaves(pool: &PgPool, batch: &BatchRow) -> Result<Vec<(i64, OutputLeaf)>> {
    leaves_of(pool, batch).await
}

/// [`batch_leaves`] through any connection (a transaction included).
async fn leaves_of<'c>(
    db: impl sqlx::Executor<'c, Database = sqlx::Postgres>,
    batch: &BatchRow,
) -> Result<Vec<(i64, OutputLeaf)>> {
    let rows = sqlx::query(
        "SELECT id, request_hash, response_hash, timestamp, salt FROM attestor_samples
         WHERE version_hash = $1 AND id BETWEEN $2 AND $3 ORDER BY id",
    )
    .bind(&batch.version_hash)
    .bind(batch.first_sample)
    .bind(batch.last_sample)
    .fetch_all(db)
    .await?;
    let version = batch.version();
    Ok(rows.iter().map(|r| (r.get::<i64, _>("id"), leaf_from_row(version, r))).collect())
}

/// Batches in a state, oldest first.
pub async fn batches_in(pool: &PgPool, state: &str) -> Result<Vec<BatchRow>> {
    Ok(sqlx::query_as(&format!("SELECT {BATCH_COLUMNS} FROM attestor_batches WHERE state = $1 ORDER BY id"))
        .bind(state)
        .fetch_all(pool)
        .await?)
}

/// Confirmed batches whose leaves are not uploaded yet.
pub async fn batches_to_upload(pool: &PgPool) -> Result<Vec<BatchRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {BATCH_COLUMNS} FROM attestor_batches WHERE state = 'confirmed' AND NOT leaves_uploaded ORDER BY id"
    ))
    .fetch_all(pool)
    .await?)
}

/// The batch holding a sample id, if sealed.
pub async fn batch_of_sample(pool: &PgPool, sample_id: i64) -> Result<Option<BatchRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {BATCH_COLUMNS} FROM attestor_batches b
         WHERE b.first_sample <= $1 AND b.last_sample >= $1
           AND b.version_hash = (SELECT version_hash FROM attestor_samples WHERE id = $1)"
    ))
    .bind(sample_id)
    .fetch_optional(pool)
    .await?)
}

/// Records the signed transaction before it is broadcast (sealed -> submitted).
pub async fn mark_submitted(
    pool: &PgPool,
    id: i64,
    nonce: B256,
    signature: &[u8],
    raw_tx: &[u8],
    tx_hash: B256,
) -> Result<()> {
    sqlx::query(
        "UPDATE attestor_batches SET state = 'submitted', nonce = $2, signature = $3, raw_tx = $4, tx_hash = $5,
           submitted_at = now() WHERE id = $1 AND state = 'sealed'",
    )
    .bind(id)
    .bind(nonce.to_vec())
    .bind(signature)
    .bind(raw_tx)
    .bind(tx_hash.to_vec())
    .execute(pool)
    .await?;
    Ok(())
}

/// Sends a submitted batch back to sealed (its transaction can never land; it will be signed afresh).
pub async fn mark_resealed(pool: &PgPool, id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE attestor_batches SET state = 'sealed', raw_tx = NULL, tx_hash = NULL WHERE id = $1 AND state = 'submitted'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives the leaves of an unconfirmed batch fresh random salts and the batch their new root (back to `sealed`);
/// returns the new root. For a root another publisher anchored first (see `Submitter`).
pub async fn resalt(pool: &PgPool, batch: &BatchRow) -> Result<B256> {
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM attestor_samples WHERE version_hash = $1 AND id BETWEEN $2 AND $3 ORDER BY id FOR UPDATE",
    )
    .bind(&batch.version_hash)
    .bind(batch.first_sample)
    .bind(batch.last_sample)
    .fetch_all(&mut *tx)
    .await?;
    let salts: Vec<Vec<u8>> = ids.iter().map(|_| B256::random().to_vec()).collect();
    sqlx::query(
        "UPDATE attestor_samples s SET salt = n.salt FROM UNNEST($1::BIGINT[], $2::BYTEA[]) AS n(id, salt)
         WHERE s.id = n.id",
    )
    .bind(&ids)
    .bind(&salts)
    .execute(&mut *tx)
    .await?;
    let leaves: Vec<OutputLeaf> = leaves_of(&mut *tx, batch).await?.into_iter().map(|(_, leaf)| leaf).collect();
    let root = root_of(&leaves);
    let updated = sqlx::query(
        "UPDATE attestor_batches SET root = $2, state = 'sealed', raw_tx = NULL, tx_hash = NULL
         WHERE id = $1 AND state <> 'confirmed'",
    )
    .bind(batch.id)
    .bind(root.to_vec())
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(Error::Refused(format!("batch {} is confirmed: its leaves keep their salts", batch.id)));
    }
    tx.commit().await?;
    Ok(root)
}

/// Where a batch landed (submitted -> confirmed).
#[derive(Debug, Clone, Copy)]
pub struct Landing {
    /// Chain id.
    pub chain_id: u64,
    /// Registry.
    pub registry: alloy::primitives::Address,
    /// Anchoring transaction.
    pub tx_hash: B256,
    /// Its block.
    pub block_number: u64,
    /// Its block hash.
    pub block_hash: B256,
}

/// Marks a batch confirmed.
pub async fn mark_confirmed(pool: &PgPool, id: i64, landing: Landing) -> Result<()> {
    sqlx::query(
        "UPDATE attestor_batches SET state = 'confirmed', chain_id = $2, registry = $3, tx_hash = $4, block_number = $5,
           block_hash = $6, confirmed_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(landing.chain_id as i64)
    .bind(landing.registry.to_vec())
    .bind(landing.tx_hash.to_vec())
    .bind(landing.block_number as i64)
    .bind(landing.block_hash.to_vec())
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a batch's leaves as uploaded.
pub async fn mark_uploaded(pool: &PgPool, id: i64) -> Result<()> {
    sqlx::query("UPDATE attestor_batches SET leaves_uploaded = true WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

/// Sample ids whose exact request and response hashes match, newest first.
pub async fn find_samples(pool: &PgPool, request_hash: B256, response_hash: B256) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM attestor_samples WHERE response_hash = $1 AND request_hash = $2 ORDER BY id DESC",
    )
    .bind(response_hash.to_vec())
    .bind(request_hash.to_vec())
    .fetch_all(pool)
    .await?)
}

/// Stores chunks of samples in the background, so that hashing the next chunk overlaps Postgres' COPY of this one.
/// Each chunk is committed on its own; [`PipelinedInserter::finish`] returns once all are durable.
#[derive(Debug)]
pub struct PipelinedInserter {
    tx: tokio::sync::mpsc::Sender<Vec<Sample>>,
    task: tokio::task::JoinHandle<Result<u64>>,
}

impl PipelinedInserter {
    /// Starts the background writer.
    pub fn new(pool: PgPool) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Sample>>(2);
        let task = tokio::spawn(async move {
            let mut stored = 0u64;
            while let Some(chunk) = rx.recv().await {
                insert_samples(&pool, &chunk).await?;
                stored += chunk.len() as u64;
            }
            Ok(stored)
        });
        Self { tx, task }
    }

    /// Queues a chunk (waits while two chunks are already queued).
    pub async fn send(&self, chunk: Vec<Sample>) -> Result<()> {
        if self.tx.send(chunk).await.is_err() {
            // The writer stopped early: its error is reported by `finish`.
            return Err(Error::Input("the sample writer stopped".into()));
        }
        Ok(())
    }

    /// Waits until every queued chunk is committed; returns how many samples were stored.
    pub async fn finish(self) -> Result<u64> {
        drop(self.tx);
        self.task.await.map_err(|e| Error::Input(format!("the sample writer failed: {e}")))?
    }
}

/// Advisory lock key held by the one active publisher of a store ("prova-pu" in ASCII).
const PUBLISHER_LOCK: i64 = 0x7072_6f76_612d_7075;

/// Tries to become the store's one active publisher. The lock lives as long as `conn`'s session, so a crashed
/// publisher releases it with its connection.
pub async fn try_lock_publisher(conn: &mut sqlx::PgConnection) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(PUBLISHER_LOCK).fetch_one(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[sqlx::test(migrator = "prova_db::ATTESTOR_MIGRATOR")]
    async fn one_publisher_per_store_until_its_session_ends(pool: PgPool) {
        let mut first = pool.acquire().await.unwrap().detach();
        let mut second = pool.acquire().await.unwrap();
        assert!(try_lock_publisher(&mut first).await.unwrap());
        assert!(!try_lock_publisher(&mut second).await.unwrap(), "a second publisher waits");
        first.close().await.unwrap();
        // The server ends the first session asynchronously; the lock is free once it has.
        let mut freed = false;
        for _ in 0..100 {
            if try_lock_publisher(&mut second).await.unwrap() {
                freed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(freed, "the lock goes with the first session");
    }

    #[sqlx::test(migrator = "prova_db::ATTESTOR_MIGRATOR")]
    async fn batches_tile_samples_and_wait_for_size_or_age(pool: PgPool) {
        let version = B256::repeat_byte(1);
        let samples: Vec<Sample> = (0..10).map(|i| Sample::new(version, format!("q{i}").as_bytes(), b"a", i)).collect();
        insert_samples(&pool, &samples).await.unwrap();
        // Neither full (4 of 10 would be, twice) nor old: two full batches, two samples left waiting.
        let sealed = seal_due(&pool, SealPolicy { max_leaves: 4, max_age_secs: 3600 }).await.unwrap();
        assert_eq!(sealed.iter().map(|b| b.leaf_count).collect::<Vec<_>>(), [4, 4]);
        assert_eq!(sealed[0].last_sample + 1, sealed[1].first_sample);
        // Old enough (age 0): the rest is sealed too.
        let rest = seal_due(&pool, SealPolicy { max_leaves: 4, max_age_secs: 0 }).await.unwrap();
        assert_eq!(rest.iter().map(|b| b.leaf_count).collect::<Vec<_>>(), [2]);
        let leaves: Vec<OutputLeaf> =
            batch_leaves(&pool, &rest[0]).await.unwrap().into_iter().map(|(_, l)| l).collect();
        assert_eq!(root_of(&leaves), rest[0].root());
        assert!(seal_due(&pool, SealPolicy { max_leaves: 4, max_age_secs: 0 }).await.unwrap().is_empty());
    }
}
