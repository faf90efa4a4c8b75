//! Output attestation throughput, printed as figures for BENCHMARKS.md.
//!
//! ```sh
//! eval "$(scripts/pg-test-cluster.sh start)"   # or any DATABASE_URL (a fresh database is created in it)
//! cargo bench -p prova-attestor --bench outputs -- [SAMPLES] [STORE] [DATASET] [ROUNDS]
//! ```
//! 1. The limit: raw keccak256 of the same request and response bytes, on all cores.
//! 2. ROUNDS rounds (default 5) of: the parts alone (hashing on all cores, durable COPY), then the ingest: parse
//!    JSONL records with 1 KB requests and responses, hash them (exact and normalized), salt, store durably in
//!    Postgres (COPY, commit per chunk) and merkleize every 4096 leaves. Prints the ceiling the two parts allow on
//!    these cores and the ingest's share of it, from the same rounds.
//! 3. Scan: a dataset of DATASET records with 100 planted matches against a store of STORE attested leaves
//!    (STORE 0: skipped).

use std::time::Instant;

use alloy::primitives::{B256, keccak256};
use prova_attestor::outputs::scan::{ScanOptions, scan};
use prova_attestor::outputs::store::{PipelinedInserter, Sample, insert_samples, root_of_hashes};
use prova_attestor::outputs::{Record, RecordRef};
use prova_core::merkle::leaf_hash;
use rayon::prelude::*;

fn text(i: usize, tag: &str) -> String {
    let mut s = format!("{tag} {i}: ");
    while s.len() < 1024 {
        s.push_str("lorem ipsum dolor sit amet, consectetur adipiscing elit. ");
    }
    s.truncate(1024);
    s
}

/// Samples per durable commit.
const CHUNK: usize = 8192;
/// Leaves per Merkle root.
const BATCH: usize = 4096;

fn median(rates: &[f64]) -> f64 {
    let mut rates = rates.to_vec();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// `(rounds min to max, spread (max - min) / median)`.
fn spread(rates: &[f64]) -> String {
    let (min, max) = rates.iter().fold((f64::INFINITY, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    format!("(rounds {min:.0} to {max:.0}, spread {:.1}%)", (max - min) / median(rates) * 100.0)
}

/// Ingest's hashing stage for one record, the code both the part and the ingest run: the sample (exact and
/// normalized hashes, fresh salt) and its leaf hash.
fn hash_record(version: B256, request: &str, response: &str, timestamp: u64) -> (Sample, B256) {
    let sample = Sample::new(version, request.as_bytes(), response.as_bytes(), timestamp);
    let leaf = sample.leaf.hash();
    (sample, leaf)
}

/// Runs `f` on all cores (rayon) from the runtime; its result and the samples per second it ran at.
fn timed<T>(n: usize, f: impl FnOnce() -> T + Send) -> (T, f64)
where
    T: Send,
{
    let t = Instant::now();
    let out = tokio::task::block_in_place(f);
    (out, n as f64 / t.elapsed().as_secs_f64())
}

/// The ingest path: parse JSONL lines (texts borrowed from the line), hash (exact and normalized), salt and
/// leaf-hash them on all cores, merkleize every `BATCH` leaves, and hand each chunk of `CHUNK` to the durable writer
/// while the next is hashed. Samples per second, once every sample is durable.
async fn ingest(pool: &sqlx::PgPool, lines: &[String]) -> anyhow::Result<f64> {
    let t = Instant::now();
    let writer = PipelinedInserter::new(pool.clone());
    for chunk in lines.chunks(CHUNK) {
        // Each batch's root is built as soon as its leaves are hashed, while the other core hashes the next batch.
        let samples: Vec<Sample> = tokio::task::block_in_place(|| {
            let batches: Vec<Vec<Sample>> = chunk
                .par_chunks(BATCH)
                .map(|batch| {
                    let (samples, leaves): (Vec<Sample>, Vec<B256>) = batch
                        .par_iter()
                        .map(|line| {
                            let r: RecordRef<'_> = serde_json::from_str(line).expect("valid record");
                            hash_record(r.model_version, &r.request, &r.response, 1_700_000_000)
                        })
                        .unzip();
                    std::hint::black_box(root_of_hashes(leaves));
                    samples
                })
                .collect();
            batches.concat()
        });
        writer.send(samples).await?;
    }
    assert_eq!(writer.finish().await? as usize, lines.len());
    Ok(lines.len() as f64 / t.elapsed().as_secs_f64())
}

/// The ingest path as measured on 2026-11-22, as the peer: owned records, leaves hashed with the generic ABI
/// encoder inside the root.
async fn ingest_before(pool: &sqlx::PgPool, lines: &[String]) -> anyhow::Result<f64> {
    let t = Instant::now();
    let writer = PipelinedInserter::new(pool.clone());
    for chunk in lines.chunks(CHUNK) {
        let samples: Vec<Sample> = tokio::task::block_in_place(|| {
            let samples: Vec<Sample> = chunk
                .par_iter()
                .map(|line| {
                    let r: Record = serde_json::from_str(line).expect("valid record");
                    Sample::new(r.model_version, r.request.as_bytes(), r.response.as_bytes(), 1_700_000_000)
                })
                .collect();
            for batch in samples.chunks(BATCH) {
                let hashes = batch
                    .par_iter()
                    .map(|s| {
                        let l = &s.leaf;
                        leaf_hash(&(l.version_hash, l.request_hash, l.response_hash, l.timestamp, l.salt))
                    })
                    .collect();
                std::hint::black_box(root_of_hashes(hashes));
            }
            samples
        });
        writer.send(samples).await?;
    }
    assert_eq!(writer.finish().await? as usize, lines.len());
    Ok(lines.len() as f64 / t.elapsed().as_secs_f64())
}

/// One round's figures (samples per second).
#[derive(Debug, Clone, Copy)]
struct Round {
    /// `Sample::new` alone, all cores.
    sample: f64,
    /// The hashing part: [`hash_record`] (`Sample::new` and the leaf hash), all cores.
    hash: f64,
    /// Durable binary COPY alone.
    copy: f64,
    /// Ingest.
    ingest: f64,
    /// Ingest as measured on 2026-11-22.
    before: f64,
}

impl Round {
    /// The parts share the cores: hashing costs `cores / hash` of core time per sample, COPY `1 / copy` (one core),
    /// so `cores` cores ingest at most `cores / (cores / hash + 1 / copy)` samples per second.
    fn ceiling(&self, cores: f64) -> f64 {
        cores / (cores / self.hash + 1.0 / self.copy)
    }

    /// The same with `Sample::new` alone as the hashing part (the leaf hash counted as ingest's own work, as the
    /// bench of 2026-11-22 did).
    fn ceiling_without_leaf(&self, cores: f64) -> f64 {
        cores / (cores / self.sample + 1.0 / self.copy)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let samples = args.first().copied().unwrap_or(200_000);
    let store_size = args.get(1).copied().unwrap_or(1_000_000);
    let dataset = args.get(2).copied().unwrap_or(1_000_000);
    let rounds = args.get(3).copied().unwrap_or(5).max(1);
    let server = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("set DATABASE_URL"))?;
    let name = format!("prova_bench_{}", &B256::random().to_string()[2..12]);
    let admin = sqlx::PgPool::connect(&server).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
    let url = format!("{}/{name}", server.rsplit_once('/').map_or(server.as_str(), |(root, _)| root));
    let pool = prova_db::connect_and_migrate(&url, 8, prova_db::Schema::Attestor).await?;
    let version = B256::repeat_byte(7);
    println!(
        "cores {}, samples {samples}, store {store_size}, dataset {dataset}, rounds {rounds}",
        rayon::current_num_threads()
    );

    // The same bytes for both measurements.
    let lines: Vec<String> = (0..samples)
        .map(|i| {
            serde_json::json!({ "model_version": version, "request": text(i, "q"), "response": text(i, "a") })
                .to_string()
        })
        .collect();
    let records: Vec<Record> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();

    let (digests, keccak) = timed(samples, || {
        records
            .par_iter()
            .map(|r| (keccak256(r.request.as_bytes()), keccak256(r.response.as_bytes())))
            .collect::<Vec<_>>()
    });
    assert_eq!(digests.len(), samples);
    println!("limit: raw keccak256 of request + response: {keccak:.0} samples/s");

    // Alternating rounds, so that the parts and the ingest see the same machine (others share it); medians, and
    // the spread from min to max.
    let cores = rayon::current_num_threads() as f64;
    let mut rounds_seen: Vec<Round> = Vec::new();
    for round in 1..=rounds {
        let (samples_only, sample) = timed(samples, || {
            records
                .par_iter()
                .map(|r| Sample::new(r.model_version, r.request.as_bytes(), r.response.as_bytes(), 1))
                .collect::<Vec<_>>()
        });
        drop(samples_only);
        let (hashed, hash) = timed(samples, || {
            records.par_iter().map(|r| hash_record(r.model_version, &r.request, &r.response, 1)).collect::<Vec<_>>()
        });
        let hashed: Vec<Sample> = hashed.into_iter().map(|(s, _)| s).collect();
        sqlx::query("CHECKPOINT").execute(&pool).await?;
        let t = Instant::now();
        for chunk in hashed.chunks(CHUNK) {
            insert_samples(&pool, chunk).await?;
        }
        let copy = samples as f64 / t.elapsed().as_secs_f64();
        drop(hashed);
        let mut ingests = [0.0; 2];
        // The two ingest paths take turns going first.
        for which in [round % 2, 1 - round % 2] {
            sqlx::query("TRUNCATE attestor_samples").execute(&pool).await?;
            sqlx::query("CHECKPOINT").execute(&pool).await?;
            ingests[which] =
                if which == 0 { ingest(&pool, &lines).await? } else { ingest_before(&pool, &lines).await? };
        }
        sqlx::query("TRUNCATE attestor_samples").execute(&pool).await?;
        let r = Round { sample, hash, copy, ingest: ingests[0], before: ingests[1] };
        println!(
            "round {round}: Sample::new {sample:.0}/s, hashing part {hash:.0}/s, COPY {copy:.0}/s, ceiling {:.0}/s; \
             ingest {:.0}/s = {:.3} of it; ingest as before {:.0}/s = {:.3}",
            r.ceiling(cores),
            r.ingest,
            r.ingest / r.ceiling(cores),
            r.before,
            r.before / r.ceiling(cores),
        );
        rounds_seen.push(r);
    }
    let all = |f: fn(&Round) -> f64| rounds_seen.iter().map(f).collect::<Vec<f64>>();
    let (sample, hash, copy) = (all(|r| r.sample), all(|r| r.hash), all(|r| r.copy));
    let (ingest, before) = (all(|r| r.ingest), all(|r| r.before));
    let ratios: Vec<f64> = rounds_seen.iter().map(|r| r.ingest / r.ceiling(cores)).collect();
    let ratios_before: Vec<f64> = rounds_seen.iter().map(|r| r.before / r.ceiling(cores)).collect();
    let narrow: Vec<f64> = rounds_seen.iter().map(|r| r.ingest / r.ceiling_without_leaf(cores)).collect();
    let narrow_before: Vec<f64> = rounds_seen.iter().map(|r| r.before / r.ceiling_without_leaf(cores)).collect();
    let ceilings: Vec<f64> = rounds_seen.iter().map(|r| r.ceiling(cores)).collect();
    let range = |r: &[f64]| {
        let (min, max) = r.iter().fold((f64::INFINITY, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        format!("{:.3} (rounds {min:.3} to {max:.3})", median(r))
    };
    println!(
        "part: hashing, normalizing, salting and the leaf hash, all cores: {:.0} samples/s {} = {:.2} us of core \
         time per sample",
        median(&hash),
        spread(&hash),
        cores / median(&hash) * 1e6
    );
    println!("  of which Sample::new alone (no leaf hash): {:.0} samples/s {}", median(&sample), spread(&sample));
    println!(
        "part: durable binary COPY alone, one core: {:.0} samples/s {} = {:.2} us per sample",
        median(&copy),
        spread(&copy),
        1e6 / median(&copy)
    );
    println!(
        "ceiling: {cores} cores / (hashing + COPY core time per sample): {:.0} samples/s {}",
        median(&ceilings),
        spread(&ceilings)
    );
    println!(
        "ingest (parse, hash, normalize, salt, leaf hash, durable COPY, merkleize): {:.0} samples/s {} = {:.2} of the \
         keccak limit",
        median(&ingest),
        spread(&ingest),
        median(&ingest) / keccak
    );
    println!("ingest as of 2026-11-22 (peer, same rounds): {:.0} samples/s {}", median(&before), spread(&before));
    println!("ingest / ceiling: {}; as of 2026-11-22: {}", range(&ratios), range(&ratios_before));
    println!(
        "ingest / ceiling with Sample::new alone as the hashing part (leaf hash counted as ingest's own work): {}; \
         as of 2026-11-22: {}",
        range(&narrow),
        range(&narrow_before)
    );
    if store_size == 0 {
        pool.close().await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin).await?;
        return Ok(());
    }

    // A store of `store_size` leaves with short texts, then a dataset with 100 planted matches.
    let t = Instant::now();
    let mut planted = Vec::new();
    for start in (0..store_size).step_by(50_000) {
        let chunk: Vec<Sample> = (start..(start + 50_000).min(store_size))
            .into_par_iter()
            .map(|i| {
                Sample::new(
                    version,
                    format!("q{i}").as_bytes(),
                    format!("stored answer {i}").as_bytes(),
                    1_700_000_000 + i as u64,
                )
            })
            .collect();
        insert_samples(&pool, &chunk).await?;
    }
    println!("filled the store with {store_size} leaves in {:.1} s", t.elapsed().as_secs_f64());
    let step = (dataset / 100).max(1);
    let mut data = String::with_capacity(dataset * 48);
    for line in 0..dataset {
        if line % step == 0 && planted.len() < 100 {
            let i = (line * 7) % store_size;
            planted.push(line + 1);
            data.push_str(&serde_json::json!({ "response": format!("stored answer {i}") }).to_string());
        } else {
            data.push_str(&serde_json::json!({ "response": format!("unrelated record {line}") }).to_string());
        }
        data.push('\n');
    }
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), data)?;
    let t = Instant::now();
    let summary = scan(&pool, file.path(), &ScanOptions::default(), |_| Ok(())).await?;
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(summary.matched as usize, planted.len(), "exactly the planted records match");
    println!(
        "scan: {dataset} records against {store_size} leaves in {secs:.1} s = {:.0} records/min",
        dataset as f64 / secs * 60.0
    );

    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin).await?;
    Ok(())
}
