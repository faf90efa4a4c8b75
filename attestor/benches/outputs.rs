//! Output attestation throughput, printed as figures for BENCHMARKS.md.
//!
//! ```sh
//! eval "$(scripts/pg-test-cluster.sh start)"   # or any DATABASE_URL (a fresh database is created in it)
//! cargo bench -p prova-attestor --bench outputs -- [SAMPLES] [STORE] [DATASET]
//! ```
//! 1. The limit: raw keccak256 of the same request and response bytes, on all cores.
//! 2. Ingest: parse JSONL records with 1 KB requests and responses, hash them (exact and normalized), salt, store
//!    durably in Postgres (COPY, commit per chunk) and merkleize every 4096 leaves.
//! 3. Scan: a dataset of DATASET records with 100 planted matches against a store of STORE attested leaves.

use std::time::Instant;

use alloy::primitives::{B256, keccak256};
use prova_attestor::outputs::Record;
use prova_attestor::outputs::scan::{ScanOptions, scan};
use prova_attestor::outputs::store::{PipelinedInserter, Sample, insert_samples, root_of};
use rayon::prelude::*;

fn text(i: usize, tag: &str) -> String {
    let mut s = format!("{tag} {i}: ");
    while s.len() < 1024 {
        s.push_str("lorem ipsum dolor sit amet, consectetur adipiscing elit. ");
    }
    s.truncate(1024);
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let samples = args.first().copied().unwrap_or(200_000);
    let store_size = args.get(1).copied().unwrap_or(1_000_000);
    let dataset = args.get(2).copied().unwrap_or(1_000_000);
    let server = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("set DATABASE_URL"))?;
    let name = format!("prova_bench_{}", &B256::random().to_string()[2..12]);
    let admin = sqlx::PgPool::connect(&server).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
    let url = format!("{}/{name}", server.rsplit_once('/').map_or(server.as_str(), |(root, _)| root));
    let pool = prova_db::connect_and_migrate(&url, 8, prova_db::Schema::Attestor).await?;
    let version = B256::repeat_byte(7);
    println!("cores {}, samples {samples}, store {store_size}, dataset {dataset}", rayon::current_num_threads());

    // The same bytes for both measurements.
    let lines: Vec<String> = (0..samples)
        .map(|i| {
            serde_json::json!({ "model_version": version, "request": text(i, "q"), "response": text(i, "a") })
                .to_string()
        })
        .collect();
    let records: Vec<Record> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();

    let t = Instant::now();
    let digests: Vec<(B256, B256)> =
        records.par_iter().map(|r| (keccak256(r.request.as_bytes()), keccak256(r.response.as_bytes()))).collect();
    let keccak = samples as f64 / t.elapsed().as_secs_f64();
    assert_eq!(digests.len(), samples);
    println!("limit: raw keccak256 of request + response: {keccak:.0} samples/s");

    // The parts on their own, to show where the time goes.
    let t = Instant::now();
    let hashed: Vec<Sample> = tokio::task::block_in_place(|| {
        records
            .par_iter()
            .map(|r| Sample::new(r.model_version, r.request.as_bytes(), r.response.as_bytes(), 1))
            .collect()
    });
    println!(
        "part: hashing, normalizing and salting alone: {:.0} samples/s",
        samples as f64 / t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    for chunk in hashed.chunks(8192) {
        insert_samples(&pool, chunk).await?;
    }
    println!("part: durable COPY alone: {:.0} samples/s", samples as f64 / t.elapsed().as_secs_f64());
    sqlx::query("TRUNCATE attestor_samples").execute(&pool).await?;

    let t = Instant::now();
    let writer = PipelinedInserter::new(pool.clone());
    for chunk in lines.chunks(8192) {
        let parsed: Vec<Sample> = tokio::task::block_in_place(|| {
            let parsed: Vec<Sample> = chunk
                .par_iter()
                .map(|line| {
                    let r: Record = serde_json::from_str(line).expect("valid record");
                    Sample::new(r.model_version, r.request.as_bytes(), r.response.as_bytes(), 1_700_000_000)
                })
                .collect();
            for batch in parsed.chunks(4096) {
                let leaves: Vec<_> = batch.iter().map(|s| s.leaf).collect();
                std::hint::black_box(root_of(&leaves));
            }
            parsed
        });
        writer.send(parsed).await?;
    }
    assert_eq!(writer.finish().await? as usize, samples);
    let ingest = samples as f64 / t.elapsed().as_secs_f64();
    println!(
        "ingest (parse, hash, normalize, salt, durable COPY, merkleize): {ingest:.0} samples/s = {:.2} of the keccak limit",
        ingest / keccak
    );

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
