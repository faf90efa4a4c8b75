//! The distillation-evidence scan: which records of a suspect dataset are attested outputs of this lab, exactly,
//! after normalization, or as near-copies, each with a receipt that verifies on-chain.
//!
//! One pass reads the dataset: each record's exact and normalized hashes go to a temporary table (answered with one
//! hash join per kind, so memory does not grow with the dataset), and its fingerprint (`near`) to a chunk held in
//! memory. For each chunk of `NearOptions::chunk` records, the store's fingerprints are streamed once with a binary
//! `COPY` and probed against the chunk's LSH bands; candidates are kept when their estimated similarity reaches the
//! threshold. Where the lab kept the attested text, the exact similarity decides instead of the estimate. A second
//! pass reads the matched records' texts back. p-values come from the null calibration (`calibration`).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use alloy::primitives::{B256, keccak256};
use futures::StreamExt;
use prova_core::outputs::{Receipt, normalized_hash};
use prova_verify::evidence::MatchKind;
use prova_verify::similarity::{jaccard, rounded};
use rayon::prelude::*;
use serde::Serialize;
use sqlx::{PgPool, Row};

use super::calibration::{Calibration, log10_count_p_value};
use super::evidence::ReceiptMaker;
use super::near::{BandIndex, Banding, FingerprintRef, Scheme, estimate};
use crate::error::{Error, Result};

/// Options of near-duplicate matching.
#[derive(Debug, Clone)]
pub struct NearOptions {
    /// LSH banding.
    pub banding: Banding,
    /// Least similarity of a near match.
    pub threshold: f64,
    /// Least number of shingles a record (and an attested output) needs to be compared.
    pub min_shingles: usize,
    /// Suspect records held in memory per pass over the store's fingerprints.
    pub chunk: usize,
    /// The null distribution for p-values.
    pub calibration: Calibration,
}

/// Default least similarity of a near match (chosen from the calibration in `BENCHMARKS.md`).
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// Default least number of shingles of a text compared for near matches.
pub const DEFAULT_MIN_SHINGLES: usize = 10;

/// How far below the threshold an estimate may fall and still be checked exactly when the lab kept the text.
const ESTIMATE_SLACK: f64 = 0.1;

impl Default for NearOptions {
    fn default() -> Self {
        Self {
            banding: Banding::default(),
            threshold: DEFAULT_THRESHOLD,
            min_shingles: DEFAULT_MIN_SHINGLES,
            chunk: 1_000_000,
            calibration: Calibration::shipped(),
        }
    }
}

/// What a scan looks for.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Near-duplicate matching, or `None` for exact and normalized matches only.
    pub near: Option<NearOptions>,
}

/// One dataset record that matches an attested output.
#[derive(Debug, Clone, Serialize)]
pub struct ScanMatch {
    /// Line number in the dataset (from 1).
    pub record: u64,
    /// `exact` (same bytes), `normalized` (same after NFC, whitespace collapsing and trimming) or `near`.
    pub kind: MatchKind,
    /// The matching sample in the lab's store (the earliest with that response).
    pub sample_id: i64,
    /// Its model version.
    pub version_hash: B256,
    /// When it was produced.
    pub timestamp: u64,
    /// keccak256 of the attested response.
    pub response_hash: B256,
    /// Exact similarity of the record and the attested text, when the lab kept the text (near matches).
    pub similarity: Option<f64>,
    /// Similarity estimated from the fingerprints (near matches).
    pub estimated_similarity: Option<f64>,
    /// 95% bound of the chance that an unrelated pair is this similar (near matches).
    pub p_pair: Option<f64>,
    /// 95% bound of the chance that an unrelated record has a match this strong in the store (near matches).
    pub p_record: Option<f64>,
    /// A receipt that verifies on-chain, once its batch is confirmed.
    pub receipt: Option<Receipt>,
    /// The record's text.
    #[serde(skip)]
    pub suspect_text: String,
    /// The attested text, when the lab kept it.
    #[serde(skip)]
    pub attested_text: Option<String>,
}

impl ScanMatch {
    /// The similarity that decided the match: exact when known, else estimated, 1 for exact and normalized ones.
    pub fn decided_similarity(&self) -> f64 {
        self.similarity.or(self.estimated_similarity).unwrap_or(1.0)
    }
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
    /// Of which near-copies.
    pub near: u64,
    /// Matches per model version.
    pub by_version: BTreeMap<B256, u64>,
    /// Matches per UTC day of the attested output.
    pub by_day: BTreeMap<String, u64>,
    /// Records long enough to be compared for near matches.
    pub records_compared: u64,
    /// Fingerprinted outputs in the store (of the scheme compared).
    pub store_outputs: u64,
    /// The fingerprint scheme of the store, when it has fingerprints.
    pub scheme: Option<Scheme>,
    /// 95% bound of the chance that an unrelated record has a near match at the threshold.
    pub p_record_at_threshold: Option<f64>,
    /// log10 of the chance of this many near matches or more among the records compared, by chance.
    pub log10_p_value_of_count: Option<f64>,
    /// What the method cannot see.
    pub limitations: Vec<String>,
}

/// What every report says the method cannot see.
pub fn limitations() -> Vec<String> {
    vec![
        "A near match means shared wording: the record and the attested output share at least the threshold share of \
         their 3-word sequences. A paraphrase that keeps the meaning but changes the words (rewording, translation, \
         summarizing) is not seen, so the matches are a lower bound on what was copied."
            .into(),
        "Text that both sides can have without copying (quotations, licences, boilerplate, standard answers) can \
         match; such matches say that the lab's model produced the text no later than the anchoring time, not that \
         the dataset copied it from the model."
            .into(),
        "The p-values bound the chance of matches between unrelated texts, from a null corpus of human text \
         (Debian's fortunes, Jargon File and manual pages); texts much shorter or of another kind than that corpus \
         may behave differently. Records with fewer shingles than the minimum are not compared for near matches."
            .into(),
        "A receipt proves that the lab's attestor committed to the output no later than the anchoring block's \
         time; the leaf's own timestamp is the attestor's claim."
            .into(),
    ]
}

/// The text a dataset record offers as a (suspected) model response.
pub fn record_text(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    match value {
        serde_json::Value::String(text) => Some(text),
        serde_json::Value::Object(map) => ["response", "text", "completion", "output"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()).map(str::to_owned)),
        _ => None,
    }
}

/// Dataset records read per step.
const STEP: usize = 50_000;

/// A best candidate of a record: the attested response and its estimated similarity.
type Hit = (B256, f64);

/// The suspect records of one near chunk: their lines and fingerprint values (flat, `2K` bytes each).
struct NearChunk {
    scheme: Scheme,
    records: Vec<u64>,
    values: Vec<u8>,
}

impl NearChunk {
    fn new(scheme: Scheme) -> Self {
        Self { scheme, records: Vec::new(), values: Vec::new() }
    }

    fn width(&self) -> usize {
        2 * self.scheme.bins()
    }
}

/// Scans a JSONL dataset (`{request, response}`, `{text}` or bare strings) against the store. Calls `on_match` for
/// every matching record, in record order.
pub async fn scan(
    pool: &PgPool,
    dataset: &Path,
    options: &ScanOptions,
    mut on_match: impl FnMut(&ScanMatch) -> Result<()>,
) -> Result<ScanSummary> {
    let open = || {
        std::fs::File::open(dataset)
            .map(|f| BufReader::with_capacity(1 << 20, f))
            .map_err(|e| Error::Input(format!("cannot open {}: {e}", dataset.display())))
    };
    let mut summary = ScanSummary { limitations: limitations(), ..ScanSummary::default() };
    let near = match &options.near {
        Some(near) => store_scheme(pool).await?.map(|scheme| (near, scheme)),
        None => None,
    };
    if let Some((near, scheme)) = near {
        near.banding.check(&scheme).map_err(Error::Input)?;
        summary.scheme = Some(scheme);
    }
    let mut conn = pool.acquire().await?;
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS scan_input (record BIGINT NOT NULL, exact BYTEA NOT NULL, norm BYTEA NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("TRUNCATE scan_input").execute(&mut *conn).await?;

    let mut hits: HashMap<u64, Hit> = HashMap::new();
    let mut chunk = near.map(|(_, scheme)| NearChunk::new(scheme));
    let mut reader = open()?;
    let mut next_record = 1u64;
    loop {
        let mut lines: Vec<String> = Vec::with_capacity(STEP);
        while lines.len() < STEP {
            let mut line = String::new();
            let read = reader
                .read_line(&mut line)
                .map_err(|e| Error::Input(format!("cannot read {}: {e}", dataset.display())))?;
            if read == 0 {
                break;
            }
            lines.push(line);
        }
        if lines.is_empty() {
            break;
        }
        let first = next_record;
        next_record += lines.len() as u64;
        summary.records += lines.len() as u64;
        let min_shingles = near.map_or(0, |(n, _)| n.min_shingles);
        let scheme = chunk.as_ref().map(|c| c.scheme);
        let batch = std::mem::take(&mut lines);
        let rows = tokio::task::spawn_blocking(move || hash_records(&batch, scheme, min_shingles))
            .await
            .map_err(|e| Error::Input(format!("hashing records failed: {e}")))?;
        let mut copy = String::with_capacity(rows.len() * 140);
        for (i, row) in rows.into_iter().enumerate() {
            let Some((exact, norm, values)) = row else { continue };
            let record = first + i as u64;
            copy.push_str(&format!(
                "{record}\t\\\\x{}\t\\\\x{}\n",
                alloy::primitives::hex::encode(exact),
                alloy::primitives::hex::encode(norm)
            ));
            if let (Some(chunk), Some(values)) = (chunk.as_mut(), values) {
                chunk.records.push(record);
                chunk.values.extend_from_slice(&values);
            }
        }
        copy_chunk(&mut conn, copy).await?;
        if let (Some(c), Some((near, _))) = (chunk.as_mut(), near)
            && c.records.len() >= near.chunk
        {
            let full = std::mem::replace(c, NearChunk::new(c.scheme));
            summary.records_compared += full.records.len() as u64;
            summary.store_outputs = near_pass(pool, full, near, &mut hits).await?;
        }
    }
    if let (Some(c), Some((near, _))) = (chunk.take(), near)
        && !c.records.is_empty()
    {
        summary.records_compared += c.records.len() as u64;
        summary.store_outputs = near_pass(pool, c, near, &mut hits).await?;
    }
    if let Some((_, scheme)) = near
        && summary.store_outputs == 0
    {
        summary.store_outputs = count_fingerprints(pool, scheme).await?;
    }
    sqlx::query("ANALYZE scan_input").execute(&mut *conn).await?;

    // Exact matches first; a record that matches exactly is not reported again as normalized or near.
    let rows = sqlx::query(
        "WITH m AS (
             SELECT d.record, 0 AS kind, s.id, s.version_hash, s.timestamp, s.response_hash
             FROM scan_input d JOIN attestor_samples s ON s.response_hash = d.exact
           UNION ALL
             SELECT d.record, 1 AS kind, s.id, s.version_hash, s.timestamp, s.response_hash
             FROM scan_input d JOIN attestor_samples s ON s.response_norm_hash = d.norm
         )
         SELECT DISTINCT ON (record) record, kind, id, version_hash, timestamp, response_hash FROM m
         ORDER BY record, kind, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut found: BTreeMap<u64, ScanMatch> = BTreeMap::new();
    for row in rows {
        let record = row.get::<i64, _>("record") as u64;
        hits.remove(&record);
        found.insert(
            record,
            ScanMatch {
                record,
                kind: if row.get::<i32, _>("kind") == 0 { MatchKind::Exact } else { MatchKind::Normalized },
                sample_id: row.get("id"),
                version_hash: B256::from_slice(row.get::<&[u8], _>("version_hash")),
                timestamp: row.get::<i64, _>("timestamp") as u64,
                response_hash: B256::from_slice(row.get::<&[u8], _>("response_hash")),
                similarity: None,
                estimated_similarity: None,
                p_pair: None,
                p_record: None,
                receipt: None,
                suspect_text: String::new(),
                attested_text: None,
            },
        );
    }
    let near_hashes: Vec<B256> = {
        let mut hashes: Vec<B256> = hits.values().map(|(h, _)| *h).collect();
        hashes.sort_unstable();
        hashes.dedup();
        hashes
    };
    let samples = earliest_samples(pool, &near_hashes).await?;
    for (record, (hash, estimated)) in &hits {
        let Some((id, version, timestamp)) = samples.get(hash) else { continue };
        found.insert(
            *record,
            ScanMatch {
                record: *record,
                kind: MatchKind::Near,
                sample_id: *id,
                version_hash: *version,
                timestamp: *timestamp,
                response_hash: *hash,
                similarity: None,
                estimated_similarity: Some(rounded(*estimated)),
                p_pair: None,
                p_record: None,
                receipt: None,
                suspect_text: String::new(),
                attested_text: None,
            },
        );
    }

    // The texts: the matched records' from a second pass over the dataset, the attested ones the lab kept.
    let mut reader = open()?;
    let mut line = String::new();
    let mut record = 0u64;
    for (wanted, m) in found.iter_mut() {
        while record < *wanted {
            line.clear();
            if reader.read_line(&mut line).map_err(|e| Error::Input(format!("cannot re-read the dataset: {e}")))? == 0 {
                return Err(Error::Input(format!("{} changed during the scan", dataset.display())));
            }
            record += 1;
        }
        m.suspect_text = record_text(&line).unwrap_or_default();
    }
    let all_hashes: Vec<B256> = found.values().map(|m| m.response_hash).collect();
    let texts = kept_texts(pool, &all_hashes).await?;

    let mut maker = ReceiptMaker::default();
    for m in found.values_mut() {
        m.attested_text = texts.get(&m.response_hash).cloned();
        if m.kind != MatchKind::Near {
            continue;
        }
        let Some((near, scheme)) = near else { continue };
        if let Some(attested) = &m.attested_text {
            m.similarity = Some(rounded(jaccard(&m.suspect_text, attested, scheme.shingle)));
        }
        let decided = m.decided_similarity();
        if decided >= near.threshold && near.calibration.scheme == scheme {
            m.p_pair = Some(near.calibration.p_pair(decided));
            m.p_record = Some(near.calibration.p_record(decided, summary.store_outputs));
        }
    }
    found.retain(|_, m| m.kind != MatchKind::Near || near.is_some_and(|(n, _)| m.decided_similarity() >= n.threshold));
    for m in found.values_mut() {
        m.receipt = maker.receipt(pool, m.sample_id).await?;
        summary.matched += 1;
        match m.kind {
            MatchKind::Exact => summary.exact += 1,
            MatchKind::Normalized => summary.normalized += 1,
            MatchKind::Near => summary.near += 1,
        }
        *summary.by_version.entry(m.version_hash).or_default() += 1;
        *summary.by_day.entry(chrono_day(m.timestamp)).or_default() += 1;
        on_match(m)?;
    }
    if let Some((near, scheme)) = near
        && near.calibration.scheme == scheme
    {
        let q = near.calibration.p_record(near.threshold, summary.store_outputs);
        summary.p_record_at_threshold = Some(q);
        summary.log10_p_value_of_count = Some(log10_count_p_value(summary.near, summary.records_compared, q));
    }
    Ok(summary)
}

/// Per record line: the exact and normalized hashes of its text, and its fingerprint values when `scheme` is given
/// and the text has at least `min_shingles` shingles; `None` for a line without a text.
type RecordHashes = Option<(B256, B256, Option<Vec<u8>>)>;

fn hash_records(lines: &[String], scheme: Option<Scheme>, min_shingles: usize) -> Vec<RecordHashes> {
    lines
        .par_iter()
        .map(|line| {
            let text = record_text(line)?;
            let print = scheme
                .and_then(|s| s.fingerprint(&text))
                .filter(|f| f.view().shingles() as usize >= min_shingles)
                .map(|f| f.view().values().to_vec());
            Some((keccak256(text.as_bytes()), normalized_hash(text.as_bytes()), print))
        })
        .collect()
}

/// The scheme of the store's fingerprints (of the first one found), or `None` when it has none.
async fn store_scheme(pool: &PgPool) -> Result<Option<Scheme>> {
    let bytes: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT fingerprint FROM attestor_fingerprints LIMIT 1").fetch_optional(pool).await?;
    Ok(bytes.as_deref().and_then(FingerprintRef::new).map(|f| f.scheme()))
}

async fn count_fingerprints(pool: &PgPool, scheme: Scheme) -> Result<u64> {
    // Every fingerprint of the store shares the scheme unless ingest changed it; count the ones that do.
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM attestor_fingerprints WHERE get_byte(fingerprint, 1) = $1 AND get_byte(fingerprint, 2) = $2",
    )
    .bind(scheme.shingle as i32)
    .bind(i32::from(scheme.log2_bins))
    .fetch_one(pool)
    .await?;
    Ok(rows as u64)
}

/// Rows of the store's fingerprints per probe batch.
const BATCH: usize = 32_768;

/// Streams the store's fingerprints once and probes them against a chunk of suspect records; keeps each record's
/// best candidate at or above the threshold (less the slack, for an exact check). Returns how many fingerprints of
/// the chunk's scheme the store holds.
async fn near_pass(pool: &PgPool, chunk: NearChunk, near: &NearOptions, hits: &mut HashMap<u64, Hit>) -> Result<u64> {
    let width = chunk.width();
    let scheme = chunk.scheme;
    let banding = near.banding;
    let (chunk, index) = tokio::task::spawn_blocking(move || {
        let values: Vec<Option<&[u8]>> = chunk.values.chunks_exact(width).map(Some).collect();
        let index = BandIndex::build(banding, &values);
        (chunk, index)
    })
    .await
    .map_err(|e| Error::Input(format!("indexing records failed: {e}")))?;
    let started = std::time::Instant::now();
    tracing::debug!(records = chunk.records.len(), index_bytes = index.memory(), "probing the store");
    let shared = Arc::new((chunk, index));
    let floor = near.threshold - ESTIMATE_SLACK;
    let min_shingles = near.min_shingles as u32;
    let mut best: HashMap<u32, Hit> = HashMap::new();
    let mut pending: Option<tokio::task::JoinHandle<Vec<(u32, Hit)>>> = None;
    let mut conn = pool.acquire().await?;
    let mut stream = conn
        .copy_out_raw(
            "COPY (SELECT response_hash, fingerprint FROM attestor_fingerprints) TO STDOUT WITH (FORMAT binary)",
        )
        .await?;
    let mut parser = CopyParser::default();
    let mut batch = StoreBatch::default();
    let mut stored = 0u64;
    let flush = |batch: StoreBatch, pending: &mut Option<tokio::task::JoinHandle<Vec<(u32, Hit)>>>| {
        let shared = shared.clone();
        pending.replace(tokio::task::spawn_blocking(move || probe(&shared.0, &shared.1, &batch, width, floor)))
    };
    while let Some(bytes) = stream.next().await {
        parser.feed(&bytes?);
        while let Some([hash, print]) = parser.row()? {
            let Some(print) = FingerprintRef::new(&parser.buf[print]) else { continue };
            if print.scheme() != scheme {
                continue;
            }
            stored += 1;
            if print.shingles() < min_shingles || hash.len() != 32 {
                continue;
            }
            batch.hashes.push(B256::from_slice(&parser.buf[hash]));
            batch.values.extend_from_slice(print.values());
            if batch.hashes.len() == BATCH
                && let Some(done) = flush(std::mem::take(&mut batch), &mut pending)
            {
                merge(&mut best, done.await.map_err(|e| Error::Input(format!("a probe failed: {e}")))?);
            }
        }
    }
    drop(stream);
    if let Some(done) = flush(batch, &mut pending) {
        merge(&mut best, done.await.map_err(|e| Error::Input(format!("a probe failed: {e}")))?);
    }
    if let Some(done) = pending.take() {
        merge(&mut best, done.await.map_err(|e| Error::Input(format!("a probe failed: {e}")))?);
    }
    let (chunk, _) = &*shared;
    tracing::info!(
        records = chunk.records.len(),
        stored,
        candidates_kept = best.len(),
        secs = started.elapsed().as_secs_f64(),
        "near pass over the store's fingerprints"
    );
    for (entry, hit) in best {
        let record = chunk.records[entry as usize];
        let slot = hits.entry(record).or_insert(hit);
        if hit.1 > slot.1 {
            *slot = hit;
        }
    }
    Ok(stored)
}

/// Fingerprints of stored outputs, flat.
#[derive(Debug, Default)]
struct StoreBatch {
    hashes: Vec<B256>,
    values: Vec<u8>,
}

/// Probes a batch of stored fingerprints against the chunk's index, on all cores; each hit at or above `floor`.
fn probe(chunk: &NearChunk, index: &BandIndex, batch: &StoreBatch, width: usize, floor: f64) -> Vec<(u32, Hit)> {
    batch
        .values
        .par_chunks_exact(width)
        .zip(batch.hashes.par_iter())
        .flat_map_iter(|(values, hash)| {
            let mut seen: Vec<u32> = Vec::new();
            index.probe(values, |entry| {
                if !seen.contains(&entry) {
                    seen.push(entry);
                }
            });
            seen.into_iter().filter_map(move |entry| {
                let theirs = &chunk.values[entry as usize * width..(entry as usize + 1) * width];
                let similarity = estimate(values, theirs);
                (similarity >= floor).then_some((entry, (*hash, similarity)))
            })
        })
        .collect()
}

fn merge(best: &mut HashMap<u32, Hit>, found: Vec<(u32, Hit)>) {
    for (entry, hit) in found {
        let slot = best.entry(entry).or_insert(hit);
        if hit.1 > slot.1 || (hit.1 == slot.1 && hit.0 < slot.0) {
            *slot = hit;
        }
    }
}

/// An incremental reader of Postgres' binary COPY output of two-column rows.
#[derive(Debug, Default)]
struct CopyParser {
    buf: Vec<u8>,
    at: usize,
    header: bool,
}

impl CopyParser {
    fn feed(&mut self, bytes: &[u8]) {
        if self.at > 0 && self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
        } else if self.at > (1 << 20) {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn take(&mut self, n: usize) -> Option<std::ops::Range<usize>> {
        let range = self.at..self.at + n;
        if range.end > self.buf.len() {
            return None;
        }
        self.at += n;
        Some(range)
    }

    fn int<const N: usize>(&mut self) -> Option<[u8; N]> {
        let range = self.take(N)?;
        self.buf[range].try_into().ok()
    }

    /// The byte ranges (in `buf`) of the two fields of the next complete row, `None` when more bytes are needed or
    /// the data ended. The ranges stay valid until the next `feed`.
    fn row(&mut self) -> Result<Option<[std::ops::Range<usize>; 2]>> {
        let start = self.at;
        if !self.header {
            let Some(head) = self.take(19) else { return Ok(None) };
            if &self.buf[head.start..head.start + 11] != b"PGCOPY\n\xff\r\n\0" {
                return Err(Error::Input("the store's COPY output is not in binary format".into()));
            }
            let extension = i32::from_be_bytes(self.buf[head.start + 15..head.end].try_into().expect("4 bytes"));
            if self.take(extension.max(0) as usize).is_none() {
                self.at = start;
                return Ok(None);
            }
            self.header = true;
        }
        let row_start = self.at;
        let Some(count) = self.int::<2>().map(i16::from_be_bytes) else { return Ok(None) };
        if count == -1 {
            self.at = row_start;
            return Ok(None);
        }
        let mut fields = [0..0, 0..0];
        for i in 0..count.max(0) as usize {
            let Some(len) = self.int::<4>().map(i32::from_be_bytes) else {
                self.at = row_start;
                return Ok(None);
            };
            let Some(range) = self.take(len.max(0) as usize) else {
                self.at = row_start;
                return Ok(None);
            };
            if let Some(field) = fields.get_mut(i) {
                *field = range;
            }
        }
        Ok(Some(fields))
    }
}

/// The earliest sample of each response hash: `(id, version, timestamp)`.
async fn earliest_samples(pool: &PgPool, hashes: &[B256]) -> Result<HashMap<B256, (i64, B256, u64)>> {
    let mut out = HashMap::new();
    for part in hashes.chunks(10_000) {
        let keys: Vec<Vec<u8>> = part.iter().map(|h| h.to_vec()).collect();
        let rows = sqlx::query(
            "SELECT DISTINCT ON (response_hash) response_hash, id, version_hash, timestamp FROM attestor_samples
             WHERE response_hash = ANY($1) ORDER BY response_hash, timestamp, id",
        )
        .bind(keys)
        .fetch_all(pool)
        .await?;
        for row in rows {
            out.insert(
                B256::from_slice(row.get::<&[u8], _>("response_hash")),
                (
                    row.get("id"),
                    B256::from_slice(row.get::<&[u8], _>("version_hash")),
                    row.get::<i64, _>("timestamp") as u64,
                ),
            );
        }
    }
    Ok(out)
}

/// The texts the lab kept, by response hash.
async fn kept_texts(pool: &PgPool, hashes: &[B256]) -> Result<HashMap<B256, String>> {
    let mut out = HashMap::new();
    for part in hashes.chunks(10_000) {
        let keys: Vec<Vec<u8>> = part.iter().map(|h| h.to_vec()).collect();
        let rows: Vec<(Vec<u8>, String)> = sqlx::query_as(
            "SELECT DISTINCT ON (response_hash) response_hash, response FROM attestor_texts WHERE response_hash = ANY($1)",
        )
        .bind(keys)
        .fetch_all(pool)
        .await?;
        for (hash, text) in rows {
            // A kept text is the attested response only if it hashes to it.
            if keccak256(text.as_bytes()).as_slice() == hash.as_slice() {
                out.insert(B256::from_slice(&hash), text);
            }
        }
    }
    Ok(out)
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
pub fn chrono_day(timestamp: u64) -> String {
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

    #[test]
    fn the_copy_parser_reads_rows_split_anywhere() {
        let mut data = b"PGCOPY\n\xff\r\n\0".to_vec();
        data.extend_from_slice(&0i32.to_be_bytes());
        data.extend_from_slice(&0i32.to_be_bytes());
        for i in 0..3u8 {
            data.extend_from_slice(&2i16.to_be_bytes());
            data.extend_from_slice(&1i32.to_be_bytes());
            data.push(i);
            data.extend_from_slice(&2i32.to_be_bytes());
            data.extend_from_slice(&[i, i]);
        }
        data.extend_from_slice(&(-1i16).to_be_bytes());
        for split in 1..data.len() {
            let mut parser = CopyParser::default();
            let mut rows = Vec::new();
            for part in [&data[..split], &data[split..]] {
                parser.feed(part);
                while let Some([a, b]) = parser.row().unwrap() {
                    rows.push([parser.buf[a].to_vec(), parser.buf[b].to_vec()]);
                }
            }
            assert_eq!(rows.len(), 3, "split at {split}");
            assert_eq!(rows[2], [vec![2], vec![2, 2]]);
        }
    }
}

#[cfg(test)]
mod planted {
    use std::io::Write;

    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::outputs::near::Scheme;
    use crate::outputs::plant::{Edit, Zipf, answer, vocabulary};
    use crate::outputs::store::{Keep, Sample, insert_samples};

    /// The edits a scan at the default threshold must find, one planted copy each.
    fn found_edits() -> Vec<Edit> {
        vec![
            Edit::Copy,
            Edit::Truncate(0.8),
            Edit::DropPrefix(0.1),
            Edit::DropSuffix(0.1),
            Edit::Rewrap(60),
            Edit::Markdown,
            Edit::Json,
            Edit::Substitute(0.05),
            Edit::Reorder,
        ]
    }

    #[sqlx::test(migrator = "prova_db::ATTESTOR_MIGRATOR")]
    async fn planted_near_copies_are_found_with_their_kind_and_null_records_are_not(pool: PgPool) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(18);
        let words = vocabulary(20_000, &mut rng);
        let zipf = Zipf::new(words.len());
        let version = B256::repeat_byte(0x42);
        let originals: Vec<String> =
            (0..200).map(|_| answer(rng.gen_range(80..220), &words, &zipf, &mut rng)).collect();
        // The first half keeps its texts (exact similarities), the second half fingerprints only.
        let samples: Vec<Sample> = originals
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let keep = Keep { fingerprints: Some(Scheme::default()), texts: i < 100 };
                Sample::keeping(version, format!("q{i}").as_bytes(), text.as_bytes(), 1_700_000_000 + i as u64, keep)
            })
            .collect();
        insert_samples(&pool, &samples).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suspect.jsonl");
        let mut file = std::fs::File::create(&path).unwrap();
        let mut planted = BTreeMap::new();
        let mut record = 0u64;
        for (n, edit) in found_edits().into_iter().enumerate() {
            for original in [n * 7, 100 + n * 7] {
                let text = edit.apply(&originals[original], &mut rng, &words);
                for _ in 0..50 {
                    record += 1;
                    let unrelated = answer(rng.gen_range(20..250), &words, &zipf, &mut rng);
                    writeln!(file, "{}", serde_json::json!({ "response": unrelated })).unwrap();
                }
                record += 1;
                writeln!(file, "{}", serde_json::json!({ "request": "?", "response": text })).unwrap();
                planted.insert(record, (edit, original));
            }
        }
        writeln!(file, "{}", serde_json::json!("too short to compare")).unwrap();
        drop(file);

        let options = ScanOptions { near: Some(NearOptions::default()) };
        let mut matches = Vec::new();
        let summary = scan(&pool, &path, &options, |m| {
            matches.push(m.clone());
            Ok(())
        })
        .await
        .unwrap();
        let found: BTreeMap<u64, &ScanMatch> = matches.iter().map(|m| (m.record, m)).collect();
        for (record, (edit, original)) in &planted {
            let m = found.get(record).unwrap_or_else(|| panic!("{} of output {original} not found", edit.label()));
            assert_eq!(m.kind, edit.expected_kind(), "{}", edit.label());
            assert_eq!(m.response_hash, keccak256(originals[*original].as_bytes()));
            if m.kind == MatchKind::Near {
                let estimated = m.estimated_similarity.unwrap();
                assert!(estimated >= 0.4, "{}: {estimated}", edit.label());
                assert_eq!(m.similarity.is_some(), *original < 100, "exact only where the text was kept");
                assert!(m.p_pair.unwrap() < 1e-6 && m.p_record.unwrap() < 1e-3, "{m:?}");
            }
            assert_eq!(m.attested_text.is_some(), *original < 100);
        }
        assert_eq!(found.len(), planted.len(), "no null record matches: {:?}", found.keys().collect::<Vec<_>>());
        assert_eq!(summary.records, record + 1);
        assert_eq!(
            summary.near as usize,
            planted.values().filter(|(e, _)| e.expected_kind() == MatchKind::Near).count()
        );
        assert_eq!((summary.exact, summary.normalized), (2, 2));
        assert_eq!(summary.store_outputs, 200);
        assert_eq!(summary.records_compared, record, "all but the short record");
        assert!(summary.log10_p_value_of_count.unwrap() < -20.0, "{summary:?}");
    }
}
