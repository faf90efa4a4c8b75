//! Near-duplicate scan: the calibration on real human text, the data of the `datasketch` peer, and throughput at
//! scale, printed as figures for BENCHMARKS.md ("Near-duplicate scan and calibration"). Run by
//! `scripts/bench-near.sh`, which installs the corpora and the peer:
//!
//! ```sh
//! eval "$(scripts/pg-test-cluster.sh start)"
//! cargo bench -p prova-attestor --bench near -- --corpus DIR [--export DIR] [--calibration-out FILE]
//!     [--store 10000000] [--dataset 1000000] [--ingest 200000] [--originals 2000] [--rounds 3]
//!     [--skip-throughput] [--skip-sweep] [--only-ingest] [--only-throughput]
//! ```
//! 1. Sweep: shingle sizes and bandings, matched in memory with the scan's own code (fingerprint, band index,
//!    estimate): recall on planted near-copies with Jaccard >= 0.7 and false matches per million unrelated pairs.
//! 2. Calibration of the defaults: the null distribution of unrelated pairs (manual pages and docs against fortunes
//!    and the Jargon File), written as the calibration `prova outputs scan` ships.
//! 3. The real scan (Postgres) with the defaults: recall per edit kind and strength, false matches, p-values.
//! 4. Throughput: ingest with and without fingerprints (same run), a store of STORE fingerprinted outputs and a
//!    dataset of DATASET records scanned with and without near matching; memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use alloy::primitives::B256;
use prova_attestor::outputs::Record;
use prova_attestor::outputs::calibration::Calibration;
use prova_attestor::outputs::near::{BandIndex, Banding, Fingerprint, Scheme, estimate};
use prova_attestor::outputs::plant::{Edit, Zipf, answer, vocabulary};
use prova_attestor::outputs::scan::{NearOptions, ScanOptions, scan};
use prova_attestor::outputs::store::{Keep, PipelinedInserter, Sample, insert_samples};
use prova_verify::evidence::MatchKind;
use prova_verify::similarity::{jaccard_of_sets, shingle_set};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde_json::json;

#[derive(Debug)]
struct Args {
    corpus: PathBuf,
    export: Option<PathBuf>,
    calibration_out: Option<PathBuf>,
    store: usize,
    dataset: usize,
    ingest: usize,
    originals: usize,
    throughput: bool,
    sweep: bool,
    rounds: usize,
    only_ingest: bool,
    only_throughput: bool,
}

fn args() -> Args {
    let mut args = Args {
        corpus: PathBuf::from("target/near-corpus"),
        export: None,
        calibration_out: None,
        store: 10_000_000,
        dataset: 1_000_000,
        ingest: 200_000,
        originals: 2_000,
        throughput: true,
        sweep: true,
        rounds: 3,
        only_ingest: false,
        only_throughput: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().expect("a value");
        match a.as_str() {
            "--corpus" => args.corpus = value().into(),
            "--export" => args.export = Some(value().into()),
            "--calibration-out" => args.calibration_out = Some(value().into()),
            "--store" => args.store = value().parse().expect("a number"),
            "--dataset" => args.dataset = value().parse().expect("a number"),
            "--ingest" => args.ingest = value().parse().expect("a number"),
            "--originals" => args.originals = value().parse().expect("a number"),
            "--skip-throughput" => args.throughput = false,
            "--skip-sweep" => args.sweep = false,
            "--rounds" => args.rounds = value().parse().expect("a number"),
            "--only-ingest" => args.only_ingest = true,
            "--only-throughput" => args.only_throughput = true,
            _ => {}
        }
    }
    args
}

fn read_texts(path: &Path) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/bench-near.sh)", path.display()));
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            (v["text"].as_str().unwrap_or_default().to_owned(), v["source"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// A planted near-copy: the edit, the original's index in the store corpus, its text and its exact similarity.
#[derive(Debug, Clone)]
struct Planted {
    edit: Edit,
    original: usize,
    text: String,
}

/// Peak resident memory of this process (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// All pairs (query, stored, estimate) with an estimate of at least `floor` among LSH candidates: the scan's
/// matching in memory (the queries are indexed, the store probes them).
fn pairs_in_memory(
    store: &[Option<Fingerprint>],
    queries: &[Option<Fingerprint>],
    banding: Banding,
    min_shingles: u32,
    floor: f64,
) -> (Vec<(u32, u32, f64)>, u64) {
    fn keep(f: &Option<Fingerprint>, min_shingles: u32) -> Option<&Fingerprint> {
        f.as_ref().filter(|f| f.view().shingles() >= min_shingles)
    }
    let values: Vec<Option<&[u8]>> = queries.iter().map(|f| keep(f, min_shingles).map(|f| f.view().values())).collect();
    let values = &values;
    let index = BandIndex::build(banding, values);
    let candidates = std::sync::atomic::AtomicU64::new(0);
    let pairs = store
        .par_iter()
        .enumerate()
        .flat_map_iter(|(s, print)| {
            let mut seen = Vec::new();
            if let Some(print) = keep(print, min_shingles) {
                index.probe(print.view().values(), |q| {
                    if !seen.contains(&q) {
                        seen.push(q);
                    }
                });
            }
            candidates.fetch_add(seen.len() as u64, std::sync::atomic::Ordering::Relaxed);
            let mine = print.as_ref().map(|p| p.view().values().to_vec()).unwrap_or_default();
            seen.into_iter().filter_map(move |q| {
                let theirs = values[q as usize].expect("indexed");
                let e = estimate(&mine, theirs);
                (e >= floor).then_some((q, s as u32, e))
            })
        })
        .collect();
    (pairs, candidates.into_inner())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    println!("cores {}, args {args:?}", rayon::current_num_threads());
    if args.only_ingest || args.only_throughput {
        let (pool, admin, name) = fresh_database().await?;
        throughput(&pool, &args).await?;
        pool.close().await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin).await?;
        return Ok(());
    }
    let store_corpus = read_texts(&args.corpus.join("store.jsonl"));
    let null_corpus = read_texts(&args.corpus.join("null.jsonl"));
    let store_texts: Vec<&str> = store_corpus.iter().map(|(t, _)| t.as_str()).collect();
    let null_texts: Vec<&str> = null_corpus.iter().map(|(t, _)| t.as_str()).collect();
    println!(
        "corpus: {} store texts (manual pages, docs), {} null texts (fortunes, Jargon File)",
        store_texts.len(),
        null_texts.len()
    );

    // Planted near-copies of originals of at least 40 words, every edit of the calibration set.
    let mut rng = rand::rngs::StdRng::seed_from_u64(18);
    let vocab: Vec<String> = {
        let mut words: Vec<String> =
            store_texts.iter().take(5_000).flat_map(|t| t.split_whitespace().map(str::to_owned)).collect();
        words.sort_unstable();
        words.dedup();
        words
    };
    let mut candidates: Vec<usize> =
        (0..store_texts.len()).filter(|i| store_texts[*i].split_whitespace().count() >= 40).collect();
    candidates.shuffle(&mut rng);
    candidates.truncate(args.originals * 2);
    // Originals without a near-duplicate elsewhere in the store (manual pages repeat paragraphs): a copy of one is
    // then found as a copy of its own original, not of a twin.
    {
        let scheme = Scheme::default();
        let prints: Vec<Option<Fingerprint>> = store_texts.par_iter().map(|t| scheme.fingerprint(t)).collect();
        let mine: Vec<Option<Fingerprint>> = candidates.iter().map(|i| prints[*i].clone()).collect();
        let (pairs, _) = pairs_in_memory(&prints, &mine, Banding { bands: 64, rows: 2 }, 0, 0.3);
        let twinned: HashSet<usize> = pairs
            .iter()
            .filter(|(q, s, _)| candidates[*q as usize] != *s as usize)
            .map(|(q, _, _)| *q as usize)
            .collect();
        let kept: Vec<usize> =
            candidates.iter().enumerate().filter(|(q, _)| !twinned.contains(q)).map(|(_, i)| *i).collect();
        println!(
            "originals: {} of {} candidates have no near-duplicate (J >= 0.3) in the store",
            kept.len(),
            candidates.len()
        );
        candidates = kept;
    }
    candidates.truncate(args.originals);
    let mut planted = Vec::new();
    for &original in &candidates {
        for edit in Edit::calibration_set() {
            planted.push(Planted { edit, original, text: edit.apply(store_texts[original], &mut rng, &vocab) });
        }
    }
    let queries: Vec<&str> = planted.iter().map(|p| p.text.as_str()).chain(null_texts.iter().copied()).collect();
    let n_planted = planted.len();
    let null_pairs = null_texts.len() as f64 * store_texts.len() as f64;
    println!("planted: {n_planted} near-copies of {} originals; null pairs: {null_pairs:.3e}", candidates.len());

    // 1. The sweep.
    let threshold = prova_attestor::outputs::scan::DEFAULT_THRESHOLD;
    let min_shingles = prova_attestor::outputs::scan::DEFAULT_MIN_SHINGLES as u32;
    let mut sweep_rows = Vec::new();
    if args.sweep {
        println!("\n## sweep: recall on planted copies with J >= 0.7, false matches per 1e6 null pairs");
        println!(
            "| shingle | bands x rows | threshold | recall (J >= 0.7) | planted J >= 0.7 | false / 1e6 pairs | candidates / suspect record | match time |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for shingle in [2usize, 3, 4, 5] {
            let scheme = Scheme { shingle, log2_bins: 7 };
            let store_prints: Vec<Option<Fingerprint>> =
                store_texts.par_iter().map(|t| scheme.fingerprint(t)).collect();
            let query_prints: Vec<Option<Fingerprint>> = queries.par_iter().map(|t| scheme.fingerprint(t)).collect();
            let exact: Vec<f64> = planted
                .par_iter()
                .map(|p| {
                    jaccard_of_sets(&shingle_set(store_texts[p.original], shingle), &shingle_set(&p.text, shingle))
                })
                .collect();
            for banding in [
                Banding { bands: 16, rows: 4 },
                Banding { bands: 32, rows: 4 },
                Banding { bands: 25, rows: 5 },
                Banding { bands: 42, rows: 3 },
            ] {
                let t = Instant::now();
                let (pairs, candidates) = pairs_in_memory(&store_prints, &query_prints, banding, min_shingles, 0.3);
                let secs = t.elapsed().as_secs_f64();
                for th in [0.4, 0.5, 0.6] {
                    let found: HashSet<(u32, u32)> =
                        pairs.iter().filter(|(_, _, e)| *e >= th).map(|(q, s, _)| (*q, *s)).collect();
                    let eligible: Vec<usize> = (0..n_planted).filter(|i| exact[*i] >= 0.7).collect();
                    let hit =
                        eligible.iter().filter(|i| found.contains(&(**i as u32, planted[**i].original as u32))).count();
                    let false_pairs = found.iter().filter(|(q, _)| *q as usize >= n_planted).count();
                    let row = json!({
                        "shingle": shingle, "bands": banding.bands, "rows": banding.rows, "threshold": th,
                        "recall": hit as f64 / eligible.len().max(1) as f64, "eligible": eligible.len(),
                        "false_per_million": false_pairs as f64 / null_pairs * 1e6, "false_pairs": false_pairs,
                    });
                    println!(
                        "| {shingle} | {} x {} | {th} | {:.4} | {} | {:.4} ({false_pairs}) | {:.2} | {secs:.1} s |",
                        banding.bands,
                        banding.rows,
                        row["recall"].as_f64().unwrap(),
                        eligible.len(),
                        row["false_per_million"].as_f64().unwrap(),
                        candidates as f64 / queries.len() as f64,
                    );
                    sweep_rows.push(row);
                }
            }
        }
    }

    // 2. The calibration of the defaults: the null distribution.
    let scheme = Scheme::default();
    let t = Instant::now();
    let store_prints: Vec<Option<Fingerprint>> = store_texts.par_iter().map(|t| scheme.fingerprint(t)).collect();
    let query_prints: Vec<Option<Fingerprint>> = queries.par_iter().map(|t| scheme.fingerprint(t)).collect();
    let fingerprint_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (default_pairs, _) = pairs_in_memory(&store_prints, &query_prints, Banding::default(), min_shingles, threshold);
    let match_secs = t.elapsed().as_secs_f64();
    let null_prints = &query_prints[n_planted..];
    let tail_banding = Banding { bands: 64, rows: 2 };
    let (tail_pairs, tail_candidates) = pairs_in_memory(&store_prints, null_prints, tail_banding, min_shingles, 0.0);
    // Exact similarity of every tail candidate (the larger of exact and estimated counts, conservatively).
    let tail_sims: Vec<(u32, f64)> = tail_pairs
        .par_iter()
        .map(|(q, s, e)| {
            let j =
                jaccard_of_sets(&shingle_set(null_texts[*q as usize], 3), &shingle_set(store_texts[*s as usize], 3));
            (*q, j.max(*e))
        })
        .collect();
    let levels: Vec<f64> = (4..=20).map(|i| i as f64 * 0.05).collect();
    let tail_from = 0.3;
    let tail: Vec<(f64, u64)> = levels
        .iter()
        .filter(|l| **l >= tail_from - 1e-9)
        .map(|l| (*l, tail_sims.iter().filter(|(_, s)| *s >= *l - 1e-12).count() as u64))
        .collect();
    let records_matching: Vec<(f64, u64)> = levels
        .iter()
        .filter(|l| **l >= tail_from - 1e-9)
        .map(|l| {
            let records: HashSet<u32> = tail_sims.iter().filter(|(_, s)| *s >= *l - 1e-12).map(|(q, _)| *q).collect();
            (*l, records.len() as u64)
        })
        .collect();
    let mut top: Vec<&(u32, f64)> = tail_sims.iter().filter(|(_, s)| *s >= 0.2).collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!(
        "\n## null distribution: {tail_candidates} tail candidates (64 x 2 bands), highest unrelated similarities:"
    );
    for (q, s) in top.iter().take(8) {
        let best = tail_pairs.iter().filter(|(qq, _, _)| qq == q).max_by(|a, b| a.2.total_cmp(&b.2)).map(|p| p.1);
        println!(
            "  {s:.3}  null {:?} ({})  ~  store {:?}",
            null_texts[*q as usize].chars().take(90).collect::<String>(),
            null_corpus[*q as usize].1,
            best.map(|b| store_corpus[b as usize].1.clone()).unwrap_or_default()
        );
    }
    let sample_pairs = 1_000_000usize;
    let histogram: Vec<u64> = {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let picks: Vec<(usize, usize)> = (0..sample_pairs)
            .map(|_| (rng.gen_range(0..null_texts.len()), rng.gen_range(0..store_texts.len())))
            .collect();
        let null_sets: Vec<HashSet<u64>> = null_texts.par_iter().map(|t| shingle_set(t, 3)).collect();
        let bins: Vec<usize> = picks
            .par_iter()
            .map(|(q, s)| {
                let j = jaccard_of_sets(&null_sets[*q], &shingle_set(store_texts[*s], 3));
                ((j * 20.0) as usize).min(19)
            })
            .collect();
        let mut h = vec![0u64; 20];
        for b in bins {
            h[b] += 1;
        }
        h
    };
    let calibration = Calibration {
        source: format!(
            "{} fortunes and Jargon File entries against {} manual-page and doc paragraphs (Debian), cargo bench --bench near, {}",
            null_texts.len(),
            store_texts.len(),
            chrono_today()
        ),
        scheme,
        null_records: null_texts.len() as u64,
        other_records: store_texts.len() as u64,
        pairs: null_pairs,
        tail_from,
        tail: tail.clone(),
        records_matching: records_matching.clone(),
        histogram: histogram.clone(),
        histogram_pairs: sample_pairs as u64,
        banding: tail_banding,
    };
    println!("tail (s, pairs >= s): {tail:?}");
    println!("null records with a match >= s: {records_matching:?}");
    println!("histogram of {sample_pairs} random unrelated pairs (bins of 0.05): {histogram:?}");
    println!(
        "p_pair(0.5) <= {:.3e}; p_record(0.5) for a store of 10,000,000 <= {:.3e}",
        calibration.p_pair(0.5),
        calibration.p_record(0.5, 10_000_000)
    );
    if let Some(out) = &args.calibration_out {
        std::fs::write(out, serde_json::to_string_pretty(&calibration)? + "\n")?;
        println!("wrote {}", out.display());
    }

    // Defaults in memory (the peer's comparison): fingerprint everything, match, per edit.
    let found: HashSet<(u32, u32)> = default_pairs.iter().map(|(q, s, _)| (*q, *s)).collect();
    let exact3: Vec<f64> = planted
        .par_iter()
        .map(|p| jaccard_of_sets(&shingle_set(store_texts[p.original], 3), &shingle_set(&p.text, 3)))
        .collect();
    let eligible: Vec<usize> = (0..n_planted).filter(|i| exact3[*i] >= 0.7).collect();
    let hit = eligible.iter().filter(|i| found.contains(&(**i as u32, planted[**i].original as u32))).count();
    let false_pairs = found.iter().filter(|(q, _)| *q as usize >= n_planted).count();
    let rust = json!({
        "fingerprint_secs": fingerprint_secs, "match_secs": match_secs,
        "texts": store_texts.len() + queries.len(),
        "recall_j07": hit as f64 / eligible.len().max(1) as f64, "eligible": eligible.len(),
        "false_pairs": false_pairs, "null_pairs": null_pairs,
    });
    println!(
        "\n## defaults in memory: fingerprints of {} texts in {fingerprint_secs:.2} s, matching in {match_secs:.2} s; \
         recall (J >= 0.7) {:.4} of {}; false pairs {false_pairs} of {null_pairs:.3e}",
        store_texts.len() + queries.len(),
        rust["recall_j07"].as_f64().unwrap(),
        eligible.len()
    );
    if let Some(dir) = &args.export {
        std::fs::create_dir_all(dir)?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("store.jsonl"))?);
        for t in &store_texts {
            writeln!(f, "{}", json!({ "text": t }))?;
        }
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("queries.jsonl"))?);
        for (i, p) in planted.iter().enumerate() {
            writeln!(
                f,
                "{}",
                json!({ "text": p.text, "original": p.original, "edit": p.edit.label(), "jaccard": exact3[i] })
            )?;
        }
        for t in &null_texts {
            writeln!(f, "{}", json!({ "text": t, "original": null }))?;
        }
        std::fs::write(
            dir.join("rust.json"),
            serde_json::to_string_pretty(&json!({ "defaults": rust, "sweep": sweep_rows }))?,
        )?;
        println!("exported the peer's data to {}", dir.display());
    }

    // 3. The real scan with the defaults (Postgres).
    let (pool, admin, name) = fresh_database().await?;
    let version = B256::repeat_byte(7);
    let fingerprints = Keep { fingerprints: Some(scheme), texts: false };
    for (start, chunk) in store_texts.chunks(20_000).enumerate() {
        let samples: Vec<Sample> = chunk
            .par_iter()
            .enumerate()
            .map(|(i, t)| {
                Sample::keeping(
                    version,
                    format!("q{}", start * 20_000 + i).as_bytes(),
                    t.as_bytes(),
                    1_700_000_000,
                    fingerprints,
                )
            })
            .collect();
        insert_samples(&pool, &samples).await?;
    }
    let dataset = tempfile::NamedTempFile::new()?;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dataset.path())?);
        for q in &queries {
            writeln!(f, "{}", json!({ "response": q }))?;
        }
    }
    let options = ScanOptions { near: Some(NearOptions::default()) };
    let t = Instant::now();
    let mut got: HashMap<u64, (MatchKind, B256, f64)> = HashMap::new();
    let summary = scan(&pool, dataset.path(), &options, |m| {
        got.insert(m.record, (m.kind, m.response_hash, m.decided_similarity()));
        Ok(())
    })
    .await?;
    let scan_secs = t.elapsed().as_secs_f64();
    println!(
        "\n## the scan (Postgres, defaults, fingerprints only: no texts kept): {} records in {scan_secs:.1} s",
        queries.len()
    );
    let mut per_edit: BTreeMap<String, (usize, usize, usize, usize, f64)> = BTreeMap::new();
    let mut eligible_found = (0usize, 0usize);
    for (i, p) in planted.iter().enumerate() {
        let record = i as u64 + 1;
        let original_hash = alloy::primitives::keccak256(store_texts[p.original].as_bytes());
        let ok = got.get(&record).is_some_and(|(kind, hash, _)| {
            *hash == original_hash && (*kind == p.edit.expected_kind() || p.edit.expected_kind() == MatchKind::Near)
        });
        let e = per_edit.entry(p.edit.label()).or_default();
        e.0 += 1;
        e.1 += usize::from(ok);
        e.4 += exact3[i];
        if exact3[i] >= 0.7 {
            e.2 += 1;
            e.3 += usize::from(ok);
            eligible_found.0 += 1;
            eligible_found.1 += usize::from(ok);
        }
    }
    println!("| edit | planted | found | mean J to the original | J >= 0.7: found / planted |");
    println!("|---|---|---|---|---|");
    for edit in Edit::calibration_set() {
        let (n, found, el, el_found, jsum) = per_edit[&edit.label()];
        println!(
            "| {} | {n} | {:.3} | {:.3} | {} |",
            edit.label(),
            found as f64 / n as f64,
            jsum / n as f64,
            if el > 0 { format!("{:.3} ({el_found}/{el})", el_found as f64 / el as f64) } else { "-".into() }
        );
    }
    let null_matched = (n_planted + 1..=queries.len()).filter(|r| got.contains_key(&(*r as u64))).count();
    println!(
        "recall on copies with J >= 0.7: {:.4} ({}/{}); null records matched: {null_matched} of {} ({:.4} per 1e6 pairs); \
         p of the count: 10^{:.0}",
        eligible_found.1 as f64 / eligible_found.0.max(1) as f64,
        eligible_found.1,
        eligible_found.0,
        null_texts.len(),
        null_matched as f64 / null_pairs * 1e6,
        summary.log10_p_value_of_count.unwrap_or(0.0)
    );
    for r in (n_planted + 1..=queries.len()).filter(|r| got.contains_key(&(*r as u64))).take(10) {
        let (_, _, s) = got[&(r as u64)];
        println!("  null match {s:.3}: {:?}", null_texts[r - n_planted - 1].chars().take(100).collect::<String>());
    }

    // 4. Throughput.
    if args.throughput {
        throughput(&pool, &args).await?;
    }
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin).await?;
    Ok(())
}

/// A fresh database in the server of DATABASE_URL, with the attestor's migrations: its pool, the server's pool and
/// its name.
async fn fresh_database() -> anyhow::Result<(sqlx::PgPool, sqlx::PgPool, String)> {
    let server = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("set DATABASE_URL"))?;
    let name = format!("prova_bench_{}", &B256::random().to_string()[2..12]);
    let admin = sqlx::PgPool::connect(&server).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
    let url = format!("{}/{name}", server.rsplit_once('/').map_or(server.as_str(), |(root, _)| root));
    let pool = prova_db::connect_and_migrate(&url, 8, prova_db::Schema::Attestor).await?;
    Ok((pool, admin, name))
}

fn chrono_today() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    prova_core::time::iso8601(now)[..10].to_owned()
}

/// The synthetic answer number `i` (about 1 KB), the same for the same `i`.
fn synthetic(i: u64, vocab: &[String], zipf: &Zipf) -> String {
    let mut rng = rand::rngs::StdRng::seed_from_u64(i ^ 0x5eed);
    answer(150, vocab, zipf, &mut rng)
}

async fn throughput(pool: &sqlx::PgPool, args: &Args) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let vocab = vocabulary(50_000, &mut rng);
    let zipf = Zipf::new(vocab.len());
    let version = B256::repeat_byte(9);

    // Ingest, same lines, with and without fingerprints (and with texts kept).
    let lines: Vec<String> = (0..args.ingest as u64)
        .into_par_iter()
        .map(|i| {
            json!({ "model_version": version, "request": synthetic(u64::MAX - i, &vocab, &zipf), "response": synthetic(i, &vocab, &zipf) })
                .to_string()
        })
        .collect();
    // Alternating rounds, so that both see the same machine (other work on it shifts single runs); medians.
    let variants = [
        ("today's ingest (no fingerprints)", Keep::default()),
        ("with fingerprints", Keep { fingerprints: Some(Scheme::default()), texts: false }),
        ("with fingerprints and texts kept", Keep { fingerprints: Some(Scheme::default()), texts: true }),
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _round in 0..args.rounds {
        for (v, (_, keep)) in variants.iter().enumerate() {
            sqlx::query("TRUNCATE attestor_samples, attestor_fingerprints, attestor_texts").execute(pool).await?;
            sqlx::query("CHECKPOINT").execute(pool).await?;
            let keep = *keep;
            let t = Instant::now();
            let writer = PipelinedInserter::new(pool.clone());
            for chunk in lines.chunks(8192) {
                let parsed: Vec<Sample> = tokio::task::block_in_place(|| {
                    chunk
                        .par_iter()
                        .map(|line| {
                            let r: Record = serde_json::from_str(line).expect("valid record");
                            Sample::keeping(
                                r.model_version,
                                r.request.as_bytes(),
                                r.response.as_bytes(),
                                1_700_000_000,
                                keep,
                            )
                        })
                        .collect()
                });
                writer.send(parsed).await?;
            }
            writer.finish().await?;
            rates[v].push(args.ingest as f64 / t.elapsed().as_secs_f64());
        }
    }
    let median = |r: &[f64]| {
        let mut r = r.to_vec();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    let base = median(&rates[0]);
    for ((label, _), r) in variants.iter().zip(&rates) {
        let rounds: Vec<String> = r.iter().map(|x| format!("{x:.0}")).collect();
        println!(
            "ingest {label}: median {:.0} samples/s = {:.2} of today's (rounds: {})",
            median(r),
            median(r) / base,
            rounds.join(", ")
        );
    }
    // The parts: fingerprinting alone on all cores.
    let responses: Vec<String> = (0..args.ingest as u64).map(|i| synthetic(i, &vocab, &zipf)).collect();
    let t = Instant::now();
    let prints: usize = responses.par_iter().filter_map(|r| Scheme::default().fingerprint(r)).count();
    println!(
        "part: fingerprinting alone (1 KB answers, all cores): {:.0} /s ({prints})",
        prints as f64 / t.elapsed().as_secs_f64()
    );
    if args.only_ingest {
        return Ok(());
    }
    drop(lines);
    sqlx::query("TRUNCATE attestor_samples, attestor_fingerprints, attestor_texts").execute(pool).await?;

    // A store of `store` fingerprinted outputs.
    let t = Instant::now();
    let step = 50_000usize;
    for start in (0..args.store).step_by(step) {
        let chunk: Vec<Sample> = (start..(start + step).min(args.store))
            .into_par_iter()
            .map(|i| {
                let text = synthetic(i as u64, &vocab, &zipf);
                let keep = Keep { fingerprints: Some(Scheme::default()), texts: false };
                Sample::keeping(version, format!("q{i}").as_bytes(), text.as_bytes(), 1_700_000_000, keep)
            })
            .collect();
        insert_samples(pool, &chunk).await?;
    }
    sqlx::query("VACUUM ANALYZE attestor_samples").execute(pool).await?;
    sqlx::query("VACUUM ANALYZE attestor_fingerprints").execute(pool).await?;
    println!(
        "\nfilled a store of {} fingerprinted outputs (~1 KB answers) in {:.1} s",
        args.store,
        t.elapsed().as_secs_f64()
    );

    // A dataset: 100 exact copies, 100 near-copies (markdown), the rest unrelated answers.
    let dataset = tempfile::NamedTempFile::new()?;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dataset.path())?);
        let every = (args.dataset / 200).max(1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        for line in 0..args.dataset {
            let text = if line % every == 0 && line / every < 200 {
                let original = synthetic(((line * 7919) % args.store) as u64, &vocab, &zipf);
                if (line / every).is_multiple_of(2) {
                    original
                } else {
                    Edit::Markdown.apply(&original, &mut rng, &vocab)
                }
            } else {
                synthetic(u64::MAX / 2 + line as u64, &vocab, &zipf)
            };
            writeln!(f, "{}", json!({ "response": text }))?;
        }
    }
    let before = peak_rss_mb();
    for (label, options) in [
        ("exact and normalized only", ScanOptions::default()),
        ("exact, normalized and near (defaults)", ScanOptions { near: Some(NearOptions::default()) }),
    ] {
        let t = Instant::now();
        let summary = scan(pool, dataset.path(), &options, |_| Ok(())).await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "scan {label}: {} records against {} outputs in {secs:.1} s = {:.0} records/min; matched {} ({} exact, {} near); peak RSS {:.0} MB (before the scans {before:.0} MB)",
            args.dataset,
            args.store,
            args.dataset as f64 / secs * 60.0,
            summary.matched,
            summary.exact,
            summary.near,
            peak_rss_mb()
        );
    }
    let size: (i64, i64) = sqlx::query_as(
        "SELECT pg_total_relation_size('attestor_samples'), pg_total_relation_size('attestor_fingerprints')",
    )
    .fetch_one(pool)
    .await?;
    println!("store on disk: samples {:.0} MB, fingerprints {:.0} MB", size.0 as f64 / 1e6, size.1 as f64 / 1e6);
    Ok(())
}
