//! Evidence bundles (`prova outputs scan --evidence DIR`): a self-contained folder that a lab hands to a court or a
//! platform, and that the other side checks against the chain alone with `prova verify evidence DIR`.
//!
//! The folder holds `evidence.json` (`prova_verify::evidence::Bundle`: every match with its receipt file, chain
//! pointer, time bound, similarities and p-values), `receipts/record-N.json` (each checks with
//! `prova verify output`), `texts/record-N.suspect.txt` and, where the lab kept the text and did not pass
//! `--no-texts`, `texts/record-N.attested.txt`, and `index.html`: the report, with the similarity histogram of the
//! matches against the null distribution as an inline SVG chart and each match's texts side by side with their
//! differences marked. Every receipt is checked against the chain before it is written; one that does not verify is
//! left out and counted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use alloy::primitives::{Address, B256, Keccak256, keccak256};
use alloy::providers::DynProvider;
use prova_core::time::iso8601;
use prova_verify::evidence::{
    BUNDLE_FILE, BUNDLE_FORMAT, Bundle, BundleMatch, CalibrationSummary, ChainClaim, Dataset, MatchKind, Method,
    Summary,
};
use prova_verify::outputs::verify_receipt;

use super::near::Scheme;
use super::scan::{NearOptions, ScanMatch, ScanSummary};
use crate::error::{Error, Result};

/// What goes into a bundle.
#[derive(Debug)]
pub struct BundleInput<'a> {
    /// The suspect dataset file.
    pub dataset: &'a Path,
    /// The scan's matches.
    pub matches: &'a [ScanMatch],
    /// The scan's totals.
    pub summary: &'a ScanSummary,
    /// Its near-duplicate options (`None` for an exact-only scan).
    pub near: Option<&'a NearOptions>,
    /// Include the attested texts the lab kept (they are then disclosed to whoever gets the bundle).
    pub attested_texts: bool,
}

/// What writing a bundle did.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Matches in the bundle.
    pub matches: usize,
    /// Matches left out because their batch is not confirmed yet.
    pub unanchored: usize,
    /// Matches left out because their receipt does not verify on-chain, with the reason.
    pub not_verified: Vec<(u64, String)>,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, bytes).map_err(io(format!("write {}", path.display())))
}

/// keccak256 of a file's bytes, read in pieces.
fn file_keccak(path: &Path) -> Result<B256> {
    let mut file = std::fs::File::open(path).map_err(io(format!("open {}", path.display())))?;
    let mut hasher = Keccak256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io(format!("read {}", path.display())))?;
        if n == 0 {
            return Ok(hasher.finalize());
        }
        hasher.update(&buf[..n]);
    }
}

/// Writes a bundle into `dir` (created if needed), checking every receipt against the chain behind `provider`.
pub async fn write_bundle(dir: &Path, provider: &DynProvider, input: &BundleInput<'_>) -> Result<Written> {
    for sub in ["receipts", "texts"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(io(format!("create {}", path.display())))?;
    }
    let mut written = Written::default();
    let mut publisher: Option<Address> = None;
    let mut matches = Vec::new();
    let mut texts = BTreeMap::new();
    for m in input.matches {
        let Some(receipt) = &m.receipt else {
            written.unanchored += 1;
            continue;
        };
        let attested = m.attested_text.as_deref().filter(|_| input.attested_texts);
        let chain = match verify_receipt(provider, receipt, None, attested.map(str::as_bytes)).await? {
            Ok(chain) => chain,
            Err(problem) => {
                written.not_verified.push((m.record, problem.to_string()));
                continue;
            }
        };
        match publisher {
            None => publisher = Some(chain.publisher),
            Some(p) if p != chain.publisher => {
                return Err(Error::Refused(format!(
                    "record {}'s output was anchored for publisher {}, the others for {p}: one bundle per publisher",
                    m.record, chain.publisher
                )));
            }
            Some(_) => {}
        }
        let name = format!("record-{}", m.record);
        let receipt_path = format!("receipts/{name}.json");
        let text = serde_json::to_string_pretty(receipt).map_err(|e| Error::Input(e.to_string()))? + "\n";
        write(&dir.join(&receipt_path), text)?;
        let suspect_path = format!("texts/{name}.suspect.txt");
        write(&dir.join(&suspect_path), &m.suspect_text)?;
        let attested_path = match attested {
            Some(text) => {
                let path = format!("texts/{name}.attested.txt");
                write(&dir.join(&path), text)?;
                Some(path)
            }
            None => None,
        };
        texts.insert(m.record, (m.suspect_text.clone(), attested.map(str::to_owned)));
        matches.push(BundleMatch {
            record: m.record,
            kind: m.kind,
            receipt: receipt_path,
            suspect_text: suspect_path,
            suspect_text_hash: keccak256(m.suspect_text.as_bytes()),
            similarity: if attested.is_some() { m.similarity } else { None },
            estimated_similarity: m.estimated_similarity,
            attested_text: attested_path,
            p_pair: m.p_pair,
            p_record: m.p_record,
            chain: ChainClaim {
                chain_id: receipt.chain_id,
                registry: receipt.registry,
                root: receipt.root,
                tx_hash: receipt.tx_hash,
                block_number: chain.anchored_block,
                anchored_at: chain.anchored_at,
                publisher: chain.publisher,
            },
        });
    }
    written.matches = matches.len();
    let summary = input.summary;
    let mut by_kind = BTreeMap::new();
    for m in &matches {
        *by_kind.entry(m.kind).or_insert(0u64) += 1;
    }
    let scheme = summary.scheme.unwrap_or_default();
    let near = input.near;
    let calibration = near.map(|n| &n.calibration);
    let histogram_total = calibration.map_or(0, |c| c.histogram.iter().sum::<u64>()).max(1) as f64;
    let bundle = Bundle {
        format: BUNDLE_FORMAT.into(),
        created_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        publisher: publisher.unwrap_or_default(),
        dataset: Dataset {
            name: input.dataset.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            keccak256: file_keccak(input.dataset)?,
            records: summary.records,
        },
        method: Method {
            similarity: format!("jaccard of {}-word shingle sets", scheme.shingle),
            shingle: scheme.shingle,
            bins: scheme.bins(),
            bands: near.map_or(0, |n| n.banding.bands),
            rows: near.map_or(0, |n| n.banding.rows),
            threshold: near.map_or(1.0, |n| n.threshold),
            min_shingles: near.map_or(0, |n| n.min_shingles),
        },
        calibration: CalibrationSummary {
            source: calibration.map_or_else(|| "none (exact-only scan)".into(), |c| c.source.clone()),
            pairs: calibration.map_or(0.0, |c| c.pairs),
            pairs_at_threshold: near.and_then(|n| n.calibration.pairs_at_least(n.threshold)),
            null_histogram: calibration
                .map(|c| c.histogram.iter().map(|n| *n as f64 / histogram_total).collect())
                .unwrap_or_default(),
        },
        summary: Summary {
            matched: matches.len() as u64,
            by_kind,
            records_compared: summary.records_compared,
            store_outputs: summary.store_outputs,
            p_record_at_threshold: summary.p_record_at_threshold,
            log10_p_value_of_count: summary.log10_p_value_of_count,
            unanchored: written.unanchored as u64,
        },
        limitations: summary.limitations.clone(),
        matches,
    };
    let json = serde_json::to_string_pretty(&bundle).map_err(|e| Error::Input(e.to_string()))? + "\n";
    write(&dir.join(BUNDLE_FILE), json)?;
    write(&dir.join("index.html"), render_html(&bundle, &texts, scheme))?;
    Ok(written)
}

/// HTML-escapes text.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A probability as text: `< 1e-300`, `3.2e-12`, `0.41`.
pub fn probability(p: f64) -> String {
    if p <= 0.0 {
        "< 1e-300".into()
    } else if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// A p-value from its log10, as text.
pub fn p_from_log10(log10: f64) -> String {
    if log10 < -300.0 { format!("10^{log10:.0}") } else { probability(10f64.powf(log10)) }
}

/// Texts by record: the suspect's and the attested one (when included).
type Texts = BTreeMap<u64, (String, Option<String>)>;

/// The report.
fn render_html(bundle: &Bundle, texts: &Texts, scheme: Scheme) -> String {
    let mut h = String::new();
    let s = &bundle.summary;
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Distillation evidence: {name}</title>\n\
         <style>{CSS}</style></head><body>\n<h1>Distillation evidence</h1>\n\
         <p class=\"lead\">{n} records of <code>{name}</code> are copies or near-copies of outputs that publisher \
         <code>{publisher}</code> attested on-chain. Each is listed below with its receipt; check all of them \
         against the chain with <code>prova verify evidence DIR --rpc URL</code>.</p>\n",
        name = esc(&bundle.dataset.name),
        n = s.matched,
        publisher = bundle.publisher,
    );
    h.push_str("<table class=\"facts\">\n");
    let mut fact = |k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    fact(
        "Dataset",
        format!(
            "<code>{}</code>, {} records, keccak256 <code>{}</code>",
            esc(&bundle.dataset.name),
            bundle.dataset.records,
            bundle.dataset.keccak256
        ),
    );
    let kinds: Vec<String> = s.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
    fact("Matches", format!("{} ({})", s.matched, kinds.join(", ")));
    if s.unanchored > 0 {
        fact("Not yet anchored", format!("{} further matches wait for their batch to be anchored", s.unanchored));
    }
    fact(
        "Method",
        format!(
            "Jaccard similarity of {}-word shingle sets; one-permutation MinHash fingerprints of {} bins, LSH {} \
             bands &times; {} rows; near match at similarity &ge; {}; texts of at least {} shingles",
            bundle.method.shingle,
            bundle.method.bins,
            bundle.method.bands,
            bundle.method.rows,
            bundle.method.threshold,
            bundle.method.min_shingles
        ),
    );
    fact(
        "Compared",
        format!("{} records against {} fingerprinted outputs of the lab's store", s.records_compared, s.store_outputs),
    );
    if let (Some(q), Some(log10)) = (s.p_record_at_threshold, s.log10_p_value_of_count) {
        fact(
            "Chance",
            format!(
                "An unrelated record matches some stored output at the threshold with probability at most {} (95% \
                 bound); the chance of {} or more near matches among {} unrelated records is at most <b>{}</b>.",
                probability(q),
                s.by_kind.get(&MatchKind::Near).copied().unwrap_or(0),
                s.records_compared,
                p_from_log10(log10)
            ),
        );
    }
    fact(
        "Null distribution",
        format!(
            "{} ({:.2e} unrelated pairs; {} at or above the threshold)",
            esc(&bundle.calibration.source),
            bundle.calibration.pairs,
            bundle.calibration.pairs_at_threshold.map_or_else(|| "not measured".into(), |n| n.to_string())
        ),
    );
    fact("Written", iso8601(bundle.created_at));
    h.push_str("</table>\n<div class=\"limits\"><h2>What this method cannot see</h2><ul>\n");
    for limit in &bundle.limitations {
        let _ = writeln!(h, "<li>{}</li>", esc(limit));
    }
    h.push_str("</ul></div>\n<h2>Similarity of the matches against unrelated pairs</h2>\n");
    h.push_str(&histogram_svg(bundle));
    h.push_str("<h2>Matches</h2>\n<table class=\"matches\"><tr><th>record</th><th>kind</th><th>similarity</th>\
                <th>p (pair)</th><th>p (record)</th><th>existed no later than</th><th>anchoring</th><th>receipt</th></tr>\n");
    for m in &bundle.matches {
        let similarity = match (m.kind, m.similarity, m.estimated_similarity) {
            (MatchKind::Near, Some(exact), _) => format!("{exact:.3}"),
            (MatchKind::Near, None, Some(est)) => format!("~{est:.3} (estimated)"),
            _ => "1".into(),
        };
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#r{r}\">{r}</a></td><td>{kind}</td><td>{similarity}</td><td>{pp}</td><td>{pr}</td>\
             <td>{time}</td><td>chain {chain}, block {block}<br><code>{tx}</code></td><td><a href=\"{receipt}\">{receipt}</a></td></tr>",
            r = m.record,
            kind = m.kind,
            pp = m.p_pair.map_or_else(|| "-".into(), probability),
            pr = m.p_record.map_or_else(|| "-".into(), probability),
            time = iso8601(m.chain.anchored_at),
            chain = m.chain.chain_id,
            block = m.chain.block_number,
            tx = m.chain.tx_hash,
            receipt = esc(&m.receipt),
        );
    }
    h.push_str("</table>\n<h2>Each match</h2>\n");
    for m in &bundle.matches {
        let Some((suspect, attested)) = texts.get(&m.record) else { continue };
        let _ = writeln!(
            h,
            "<section id=\"r{r}\"><h3>Record {r}: {kind} match</h3><p>Attested response hash <code>{hash}</code>, \
             anchored in block {block} ({time}) in transaction <code>{tx}</code>.</p>",
            r = m.record,
            kind = m.kind,
            hash =
                keccak_of_attested(attested.as_deref()).map_or_else(|| "(text not included)".into(), |h| h.to_string()),
            block = m.chain.block_number,
            time = iso8601(m.chain.anchored_at),
            tx = m.chain.tx_hash,
        );
        match attested {
            Some(attested) => {
                let (left, right) = diff_html(suspect, attested);
                let _ = writeln!(
                    h,
                    "<div class=\"pair\"><div><h4>Suspect record</h4><pre>{left}</pre></div>\
                     <div><h4>Attested output</h4><pre>{right}</pre></div></div>\
                     <p class=\"legend\"><del>struck</del>: words only in that text; unmarked words are shared \
                     ({}-word shingles decide the similarity).</p>",
                    scheme.shingle
                );
            }
            None => {
                let _ = writeln!(
                    h,
                    "<div class=\"pair\"><div><h4>Suspect record</h4><pre>{}</pre></div><div><h4>Attested output</h4>\
                     <p>The lab did not include this text; the similarity is estimated from its private fingerprint \
                     and cannot be recomputed from the bundle.</p></div></div>",
                    esc(suspect)
                );
            }
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body></html>\n");
    h
}

fn keccak_of_attested(text: Option<&str>) -> Option<B256> {
    text.map(|t| keccak256(t.as_bytes()))
}

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
code{font-size:12px;word-break:break-all}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;\
padding:4px 8px;text-align:left;vertical-align:top}table.facts th{width:11em;background:#f6f6f6}.lead{font-size:17px}\
.limits{background:#fff8e1;border:1px solid #f0c36d;padding:0 1em;margin:1em 0}.pair{display:flex;gap:1em}\
.pair>div{flex:1;min-width:0}pre{white-space:pre-wrap;background:#fafafa;border:1px solid #ddd;padding:8px;\
font-size:13px}del{background:#ffd7d5;text-decoration:line-through}.legend{font-size:12px;color:#555}\
section{border-top:1px solid #ddd;margin-top:1.5em}svg text{font:11px system-ui,sans-serif}";

/// The similarity histogram: the share of unrelated pairs per bin (null, grey) and of this bundle's matches (red),
/// on a log scale, as an inline SVG.
fn histogram_svg(bundle: &Bundle) -> String {
    let bins = 20usize;
    let mut matched = vec![0u64; bins];
    for m in &bundle.matches {
        let s = m.similarity.or(m.estimated_similarity).unwrap_or(1.0);
        matched[((s * bins as f64) as usize).min(bins - 1)] += 1;
    }
    let total = matched.iter().sum::<u64>().max(1) as f64;
    let null = &bundle.calibration.null_histogram;
    let (width, height, left, bottom, top) = (760.0, 312.0, 60.0, 40.0, 12.0);
    let decades = 10.0;
    let plot = height - bottom - top;
    let y = |share: f64| {
        let log = share.max(1e-10).log10();
        top + plot * (-log / decades)
    };
    let bar = (width - left - 20.0) / bins as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" \
         aria-label=\"similarity histogram\">\n"
    );
    for d in 0..=10 {
        let yy = top + plot * d as f64 / decades;
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - 20.0,
            left - 4.0,
            yy + 4.0,
            if d == 0 { "1".to_owned() } else { format!("1e-{d}") }
        );
    }
    for (i, matched) in matched.iter().copied().enumerate() {
        let x = left + i as f64 * bar;
        if let Some(share) = null.get(i).copied().filter(|s| *s > 0.0) {
            let top = y(share);
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#9e9e9e\">\
                 <title>unrelated pairs {:.2}-{:.2}: {share:.2e}</title></rect>",
                x + 1.0,
                bar / 2.0 - 1.0,
                height - bottom - top,
                i as f64 / bins as f64,
                (i + 1) as f64 / bins as f64
            );
        }
        if matched > 0 {
            let share = matched as f64 / total;
            let top = y(share);
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#d32f2f\">\
                 <title>matches {:.2}-{:.2}: {}</title></rect>",
                x + bar / 2.0,
                bar / 2.0 - 1.0,
                height - bottom - top,
                i as f64 / bins as f64,
                (i + 1) as f64 / bins as f64,
                matched
            );
        }
        if i % 2 == 0 {
            let _ = writeln!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.1}</text>",
                height - bottom + 14.0,
                i as f64 / bins as f64
            );
        }
    }
    let threshold_x = left + bundle.method.threshold * bins as f64 * bar;
    let _ = writeln!(
        svg,
        "<line x1=\"{threshold_x:.1}\" x2=\"{threshold_x:.1}\" y1=\"0\" y2=\"{:.1}\" stroke=\"#1565c0\" \
         stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"12\" fill=\"#1565c0\">threshold {}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">similarity (Jaccard of word shingles)</text>\
         <text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">share (log scale)</text>\
         <rect x=\"{:.1}\" y=\"20\" width=\"10\" height=\"10\" fill=\"#9e9e9e\"/><text x=\"{:.1}\" y=\"29\">unrelated \
         pairs (null corpus)</text><rect x=\"{:.1}\" y=\"36\" width=\"10\" height=\"10\" fill=\"#d32f2f\"/>\
         <text x=\"{:.1}\" y=\"45\">matches in this bundle</text>\n</svg>\n",
        height - bottom,
        threshold_x + 4.0,
        bundle.method.threshold,
        left + (width - left) / 2.0,
        height - 6.0,
        (height - bottom) / 2.0,
        (height - bottom) / 2.0,
        left + bar * 3.0,
        left + bar * 3.0 + 15.0,
        left + bar * 3.0,
        left + bar * 3.0 + 15.0,
    );
    let at_threshold = bundle.calibration.pairs_at_threshold.map_or_else(
        || "The calibration did not measure the threshold.".to_owned(),
        |n| format!("Of all {:.2e} unrelated pairs, {n} reached the threshold.", bundle.calibration.pairs),
    );
    let _ = writeln!(
        svg,
        "<p class=\"legend\">Grey: share of random unrelated pairs of human text (the null corpus) in each \
         similarity bin; red: share of this bundle's matches. {at_threshold}</p>"
    );
    svg
}

/// The two texts with the words the other lacks struck out: a word-level longest common subsequence (texts of
/// up to 4,000 words; longer ones are shown without marks).
fn diff_html(a: &str, b: &str) -> (String, String) {
    let words_a: Vec<&str> = a.split_inclusive(char::is_whitespace).collect();
    let words_b: Vec<&str> = b.split_inclusive(char::is_whitespace).collect();
    if words_a.len() * words_b.len() > 16_000_000 {
        return (esc(a), esc(b));
    }
    let key = |w: &str| w.trim().trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    let ka: Vec<String> = words_a.iter().map(|w| key(w)).collect();
    let kb: Vec<String> = words_b.iter().map(|w| key(w)).collect();
    let (n, m) = (ka.len(), kb.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if ka[i] == kb[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    let (mut left, mut right) = (String::new(), String::new());
    let (mut i, mut j) = (0, 0);
    let mark = |out: &mut String, word: &str, shared: bool| {
        if shared || word.trim().is_empty() {
            out.push_str(&esc(word));
        } else {
            let trimmed = word.trim_end();
            let _ = write!(out, "<del>{}</del>{}", esc(trimmed), esc(&word[trimmed.len()..]));
        }
    };
    while i < n || j < m {
        if i < n && j < m && ka[i] == kb[j] {
            mark(&mut left, words_a[i], true);
            mark(&mut right, words_b[j], true);
            i += 1;
            j += 1;
        } else if j >= m || (i < n && lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
            mark(&mut left, words_a[i], false);
            i += 1;
        } else {
            mark(&mut right, words_b[j], false);
            j += 1;
        }
    }
    (left, right)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_strike_the_words_only_one_side_has() {
        let (left, right) = diff_html("the quick brown fox", "the slow brown fox <b>");
        assert_eq!(left, "the <del>quick</del> brown fox");
        assert_eq!(right, "the <del>slow</del> brown fox <del>&lt;b&gt;</del>");
        assert_eq!(probability(0.0), "< 1e-300");
        assert_eq!(probability(2.5e-9), "2.5e-9");
        assert_eq!(p_from_log10(-412.3), "10^-412");
    }
}
