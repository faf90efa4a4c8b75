//! Receipts from the lab's store, and the distillation-evidence scan: which records of a suspect dataset are
//! outputs this lab attested, each with a receipt that verifies on-chain.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use alloy::primitives::{Address, B256, keccak256};
use prova_core::merkle::MerkleTree;
use prova_core::outputs::{OutputLeaf, RECEIPT_FORMAT, Receipt, normalized_hash};
use serde::Serialize;
use sqlx::{PgPool, Row};

use super::store::{self, BatchRow};
use crate::error::{Error, Result};

/// A batch as the store holds it, its leaves by sample id, and its Merkle tree.
type BatchTree = (BatchRow, Vec<(i64, OutputLeaf)>, MerkleTree);

/// Builds receipts, keeping the trees of batches already seen.
#[derive(Debug, Default)]
pub struct ReceiptMaker {
    trees: HashMap<i64, BatchTree>,
}

impl ReceiptMaker {
    /// The receipt of a stored sample, or `None` while its batch is not confirmed on-chain.
    pub async fn receipt(&mut self, pool: &PgPool, sample_id: i64) -> Result<Option<Receipt>> {
        let Some(batch) = store::batch_of_sample(pool, sample_id).await? else { return Ok(None) };
        if batch.state != "confirmed" {
            return Ok(None);
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.trees.entry(batch.id) {
            let leaves = store::batch_leaves(pool, &batch).await?;
            let tree = MerkleTree::from_leaf_hashes(leaves.iter().map(|(_, leaf)| leaf.hash()).collect())
                .ok_or_else(|| Error::Input(format!("batch {} has no leaves", batch.id)))?;
            e.insert((batch.clone(), leaves, tree));
        }
        let (batch, leaves, tree) = &self.trees[&batch.id];
        let leaf = leaves
            .binary_search_by_key(&sample_id, |(id, _)| *id)
            .map(|i| leaves[i].1)
            .map_err(|_| Error::Input(format!("sample {sample_id} is not in batch {}", batch.id)))?;
        let proof = tree.proof(leaf.hash()).expect("a batch leaf is in its tree");
        Ok(Some(Receipt {
            format: RECEIPT_FORMAT.into(),
            chain_id: batch.chain_id.unwrap_or_default() as u64,
            registry: batch.registry.as_deref().map(Address::from_slice).unwrap_or_default(),
            root: batch.root(),
            leaf,
            proof,
            tx_hash: batch.tx_hash.as_deref().map(B256::from_slice).unwrap_or_default(),
            block_number: batch.block_number.unwrap_or_default() as u64,
        }))
    }
}

/// One dataset record that matches an attested output.
#[derive(Debug, Clone, Serialize)]
pub struct ScanMatch {
    /// Line number in the dataset (from 1).
    pub record: u64,
    /// `exact` (same bytes) or `normalized` (same after NFC, whitespace collapsing and trimming).
    pub kind: &'static str,
    /// The matching sample in the lab's store.
    pub sample_id: i64,
    /// Its model version.
    pub version_hash: B256,
    /// When it was produced.
    pub timestamp: u64,
    /// A receipt that verifies on-chain, once its batch is confirmed.
    pub receipt: Option<Receipt>,
}

/// Totals of a scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanSummary {
    /// Records read.
    pub records: u64,
    /// Records that match an attested output.
    pub matched: u64,
    /// Of which byte-exact.
    pub exact: u64,
    /// Of which only after normalization.
    pub normalized: u64,
    /// Matches per model version.
    pub by_version: BTreeMap<B256, u64>,
    /// Matches per UTC day of the attested output.
    pub by_day: BTreeMap<String, u64>,
}

/// The text a dataset record offers as a (suspected) model response.
fn record_text(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    match value {
        serde_json::Value::String(text) => Some(text),
        serde_json::Value::Object(map) => ["response", "text", "completion", "output"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()).map(str::to_owned)),
        _ => None,
    }
}

/// Scans a JSONL dataset (`{request, response}`, `{text}` or bare strings) against the store, streaming it through
/// a temporary table so that datasets larger than memory work. Calls `on_match` for every matching record.
pub async fn scan(
    pool: &PgPool,
    dataset: impl BufRead,
    mut on_match: impl FnMut(&ScanMatch) -> Result<()>,
) -> Result<ScanSummary> {
    let mut conn = pool.acquire().await?;
    sqlx::query("CREATE TEMP TABLE IF NOT EXISTS scan_input (record BIGINT NOT NULL, exact BYTEA NOT NULL, norm BYTEA NOT NULL)")
        .execute(&mut *conn)
        .await?;
    sqlx::query("TRUNCATE scan_input").execute(&mut *conn).await?;
    let mut summary = ScanSummary::default();
    let mut chunk = String::new();
    let mut rows_in_chunk = 0usize;
    for (n, line) in dataset.lines().enumerate() {
        let line = line.map_err(|e| Error::Input(format!("cannot read the dataset: {e}")))?;
        summary.records += 1;
        let Some(text) = record_text(&line) else { continue };
        let exact = keccak256(text.as_bytes());
        let norm = normalized_hash(text.as_bytes());
        chunk.push_str(&format!(
            "{}\t\\\\x{}\t\\\\x{}\n",
            n + 1,
            alloy::primitives::hex::encode(exact),
            alloy::primitives::hex::encode(norm)
        ));
        rows_in_chunk += 1;
        if rows_in_chunk == 50_000 {
            copy_chunk(&mut conn, std::mem::take(&mut chunk)).await?;
            rows_in_chunk = 0;
        }
    }
    copy_chunk(&mut conn, chunk).await?;
    sqlx::query("ANALYZE scan_input").execute(&mut *conn).await?;

    // Exact matches first; a record that matches exactly is not reported again as normalized.
    let rows = sqlx::query(
        "WITH m AS (
             SELECT d.record, 0 AS kind, s.id, s.version_hash, s.timestamp
             FROM scan_input d JOIN attestor_samples s ON s.response_hash = d.exact
           UNION ALL
             SELECT d.record, 1 AS kind, s.id, s.version_hash, s.timestamp
             FROM scan_input d JOIN attestor_samples s ON s.response_norm_hash = d.norm
         )
         SELECT DISTINCT ON (record) record, kind, id, version_hash, timestamp FROM m ORDER BY record, kind, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut maker = ReceiptMaker::default();
    for row in rows {
        let kind: i32 = row.get("kind");
        let version = B256::from_slice(row.get::<&[u8], _>("version_hash"));
        let timestamp = row.get::<i64, _>("timestamp") as u64;
        let sample_id: i64 = row.get("id");
        let found = ScanMatch {
            record: row.get::<i64, _>("record") as u64,
            kind: if kind == 0 { "exact" } else { "normalized" },
            sample_id,
            version_hash: version,
            timestamp,
            receipt: maker.receipt(pool, sample_id).await?,
        };
        summary.matched += 1;
        if kind == 0 {
            summary.exact += 1;
        } else {
            summary.normalized += 1;
        }
        *summary.by_version.entry(version).or_default() += 1;
        let day = chrono_day(timestamp);
        *summary.by_day.entry(day).or_default() += 1;
        on_match(&found)?;
    }
    Ok(summary)
}

async fn copy_chunk(conn: &mut sqlx::PgConnection, chunk: String) -> Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let mut copy = conn.copy_in_raw("COPY scan_input (record, exact, norm) FROM STDIN").await?;
    copy.send(chunk.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// `YYYY-MM-DD` (UTC) of a unix time.
fn chrono_day(timestamp: u64) -> String {
    chrono::DateTime::from_timestamp(timestamp as i64, 0)
        .map_or_else(|| "invalid".into(), |t| t.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(chrono_day(0), "1970-01-01");
        assert_eq!(chrono_day(1_700_000_000), "2023-11-14");
        assert_eq!(chrono_day(951_782_400), "2000-02-29");
    }

    #[test]
    fn dataset_records_in_all_shapes() {
        assert_eq!(record_text(r#"{"request":"q","response":"a"}"#).as_deref(), Some("a"));
        assert_eq!(record_text(r#"{"text":"t"}"#).as_deref(), Some("t"));
        assert_eq!(record_text(r#""bare""#).as_deref(), Some("bare"));
        assert_eq!(record_text("not json"), None);
    }
}
