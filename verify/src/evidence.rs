//! Distillation evidence bundles (`prova outputs scan --evidence DIR`), and their check against the chain alone
//! (`prova verify evidence DIR`).
//!
//! A bundle is a folder: `evidence.json` ([`Bundle`]), one receipt per match in `receipts/` (each also checks with
//! `prova verify output`), the suspect records' texts and, where the lab kept and chose to include them, the attested
//! texts in `texts/`, and a human-readable `index.html`. The format is specified in `docs/distillation.md`.
//!
//! [`check_bundle`] trusts nothing the bundle says: every receipt is checked as `prova verify output` checks it
//! (the proof, the anchoring, the batch window, the publisher's claim, revocations, the anchoring key's compromise,
//! the registry's own `verifyOutput`), its chain pointer is read back (the anchoring transaction, in the stated
//! block, emitted the batch's event), the time bound and the publisher the bundle states are compared with the chain,
//! and every similarity the bundle states between two texts it includes is recomputed
//! ([`crate::similarity`]).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use alloy::primitives::{Address, B256, keccak256};
use alloy::providers::DynProvider;
use alloy::sol_types::SolEvent;
use prova_core::bindings::IProvenanceRegistry;
use prova_core::outputs::{Receipt, normalized_hash};
use serde::{Deserialize, Serialize};

use crate::audit::ChainReader;
use crate::error::Result;
use crate::outputs::verify_receipt;
use crate::similarity::{jaccard, rounded};

/// Format tag of `evidence.json`.
pub const BUNDLE_FORMAT: &str = "prova.evidence-bundle/v1";

/// The bundle's machine-readable part.
pub const BUNDLE_FILE: &str = "evidence.json";

/// How a suspect record matches an attested output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    /// The same bytes: keccak256 of the record's text is the receipt's response hash.
    Exact,
    /// The same text after normalization (NFC, whitespace collapsed, trimmed).
    Normalized,
    /// A near-copy: the word-shingle Jaccard similarity is at least the threshold.
    Near,
}

impl std::fmt::Display for MatchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Exact => "exact",
            Self::Normalized => "normalized",
            Self::Near => "near",
        })
    }
}

/// `evidence.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// When the bundle was written (unix seconds; the lab's clock).
    pub created_at: u64,
    /// The publisher whose outputs the matches are, as the lab states it (checked against every receipt).
    pub publisher: Address,
    /// The suspect dataset.
    pub dataset: Dataset,
    /// How matches were found.
    pub method: Method,
    /// The null distribution the p-values come from.
    pub calibration: CalibrationSummary,
    /// Totals and the chance of the count.
    pub summary: Summary,
    /// What the method cannot see, in words (also in the HTML report).
    pub limitations: Vec<String>,
    /// Every match.
    pub matches: Vec<BundleMatch>,
}

/// The suspect dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dataset {
    /// Its file name, as given to the scan.
    pub name: String,
    /// keccak256 of the file's bytes.
    pub keccak256: B256,
    /// Records (lines) read.
    pub records: u64,
}

/// The matching method and its parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Method {
    /// The similarity measure (`jaccard of k-word shingle sets`, as [`crate::similarity`] defines it).
    pub similarity: String,
    /// Words per shingle.
    pub shingle: usize,
    /// Fingerprint bins (one-permutation MinHash, 16 bits per bin).
    pub bins: usize,
    /// LSH bands.
    pub bands: usize,
    /// LSH rows per band.
    pub rows: usize,
    /// Least similarity of a near match.
    pub threshold: f64,
    /// Least number of shingles a text needs to be compared for near matches.
    pub min_shingles: usize,
}

/// What the p-values rest on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalibrationSummary {
    /// Where the null distribution was measured.
    pub source: String,
    /// Unrelated pairs compared there.
    pub pairs: f64,
    /// Unrelated pairs with a similarity of at least the threshold there.
    pub pairs_at_threshold: Option<u64>,
    /// Histogram of random unrelated pairs' similarities (20 bins of 0.05 over [0, 1]), as shares.
    pub null_histogram: Vec<f64>,
}

/// Totals of the scan and the chance of its count.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Records that match.
    pub matched: u64,
    /// By kind.
    pub by_kind: BTreeMap<MatchKind, u64>,
    /// Records long enough to be compared for near matches.
    pub records_compared: u64,
    /// Fingerprinted outputs in the lab's store at the time of the scan.
    pub store_outputs: u64,
    /// Chance that an unrelated record has a near match at the threshold with any stored output (95% bound).
    pub p_record_at_threshold: Option<f64>,
    /// log10 of the chance that this many near matches (or more) arise by chance among the records compared.
    pub log10_p_value_of_count: Option<f64>,
    /// Matches left out of the bundle because their batch is not confirmed on-chain yet.
    pub unanchored: u64,
}

/// One match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleMatch {
    /// Line of the record in the dataset (from 1).
    pub record: u64,
    /// How it matches.
    pub kind: MatchKind,
    /// The receipt of the attested output, relative to the bundle (`receipts/record-N.json`).
    pub receipt: String,
    /// The suspect record's text, relative to the bundle.
    pub suspect_text: String,
    /// keccak256 of the suspect text's bytes.
    pub suspect_text_hash: B256,
    /// The attested response text, when the lab kept and included it (its keccak256 is the receipt's response
    /// hash).
    pub attested_text: Option<String>,
    /// The exact similarity of the two texts, when both are included (6 decimals).
    pub similarity: Option<f64>,
    /// The similarity estimated from the lab's private fingerprints (near matches).
    pub estimated_similarity: Option<f64>,
    /// 95% bound of the chance that an unrelated pair is this similar.
    pub p_pair: Option<f64>,
    /// 95% bound of the chance that an unrelated record has a match this strong in the store.
    pub p_record: Option<f64>,
    /// The chain facts the lab states.
    pub chain: ChainClaim,
}

/// What the bundle states about a match's anchoring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainClaim {
    /// Chain id.
    pub chain_id: u64,
    /// The registry.
    pub registry: Address,
    /// The batch root.
    pub root: B256,
    /// The anchoring transaction.
    pub tx_hash: B256,
    /// Its block.
    pub block_number: u64,
    /// That block's time: the attested output existed no later than this.
    pub anchored_at: u64,
    /// The publisher whose attestor key anchored the batch.
    pub publisher: Address,
}

/// The verdict on one match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchVerdict {
    /// The record.
    pub record: u64,
    /// The kind the bundle states.
    pub kind: MatchKind,
    /// Whether every check passed.
    pub verified: bool,
    /// The first check that failed.
    pub reason: Option<String>,
    /// The similarity recomputed from the two texts, when both are included.
    pub similarity: Option<f64>,
    /// Whether the similarity (or the kind) could be recomputed from texts in the bundle.
    pub similarity_checked: bool,
    /// The anchoring block's time, from the chain, when the receipt verified.
    pub anchored_at: Option<u64>,
}

/// The verdict on a bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleVerdict {
    /// Whether the bundle and every match verified.
    pub verified: bool,
    /// Problems of the bundle as a whole.
    pub problems: Vec<String>,
    /// Per match.
    pub matches: Vec<MatchVerdict>,
}

/// A bundle read from its folder.
#[derive(Debug, Clone)]
pub struct LoadedBundle {
    /// The folder.
    pub dir: PathBuf,
    /// `evidence.json`.
    pub bundle: Bundle,
}

/// Reads `evidence.json` of a bundle folder. An unreadable one is an error (could not check).
pub fn load(dir: &Path) -> std::result::Result<LoadedBundle, String> {
    let path = dir.join(BUNDLE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bundle: Bundle =
        serde_json::from_str(&text).map_err(|e| format!("{} is not an evidence bundle: {e}", path.display()))?;
    Ok(LoadedBundle { dir: dir.to_owned(), bundle })
}

impl LoadedBundle {
    /// A file the bundle names, refusing paths that leave the folder.
    fn read(&self, relative: &str) -> std::result::Result<Vec<u8>, String> {
        let path = Path::new(relative);
        if path.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(format!("the bundle names {relative:?}, which is not a path inside the bundle"));
        }
        std::fs::read(self.dir.join(path)).map_err(|e| format!("cannot read {relative}: {e}"))
    }

    /// Checks the bundle against the chain behind `provider` (see the module docs). `Err` means the chain could not
    /// be asked.
    pub async fn check(&self, provider: &DynProvider) -> Result<BundleVerdict> {
        let bundle = &self.bundle;
        let mut problems = Vec::new();
        if bundle.format != BUNDLE_FORMAT {
            problems.push(format!("evidence.json is in format {:?}, not {BUNDLE_FORMAT}", bundle.format));
        }
        let chain_id = prova_chain::chain_id(provider).await?;
        let reader = ChainReader::new(provider.clone(), chain_id);
        let mut matches = Vec::new();
        for m in &bundle.matches {
            matches.push(self.check_match(provider, &reader, m).await?);
        }
        let counted = matches.iter().filter(|m| m.verified).count();
        let stated: u64 = bundle.summary.by_kind.values().sum();
        if stated != bundle.matches.len() as u64 || bundle.summary.matched != stated {
            problems.push(format!(
                "the summary counts {} matches, the bundle lists {}",
                bundle.summary.matched,
                bundle.matches.len()
            ));
        }
        let verified = problems.is_empty() && counted == matches.len();
        Ok(BundleVerdict { verified, problems, matches })
    }

    async fn check_match(&self, provider: &DynProvider, reader: &ChainReader, m: &BundleMatch) -> Result<MatchVerdict> {
        let mut verdict = MatchVerdict {
            record: m.record,
            kind: m.kind,
            verified: false,
            reason: None,
            similarity: None,
            similarity_checked: false,
            anchored_at: None,
        };
        let fail = |mut v: MatchVerdict, reason: String| {
            v.reason = Some(reason);
            Ok(v)
        };
        let receipt = match self.read(&m.receipt).and_then(|bytes| {
            serde_json::from_slice::<Receipt>(&bytes).map_err(|e| format!("{} is not a receipt: {e}", m.receipt))
        }) {
            Ok(receipt) => receipt,
            Err(reason) => return fail(verdict, reason),
        };
        let suspect = match self.read(&m.suspect_text) {
            Ok(bytes) => bytes,
            Err(reason) => return fail(verdict, reason),
        };
        if keccak256(&suspect) != m.suspect_text_hash {
            return fail(
                verdict,
                format!(
                    "the suspect text {} is not the record's text the bundle states: keccak256 {}, stated {}",
                    m.suspect_text,
                    keccak256(&suspect),
                    m.suspect_text_hash
                ),
            );
        }
        let attested = match m.attested_text.as_deref().map(|p| self.read(p)).transpose() {
            Ok(attested) => attested,
            Err(reason) => return fail(verdict, reason),
        };
        // The receipt, as `prova verify output` checks it (with the attested text's bytes when included).
        let chain = match verify_receipt(provider, &receipt, None, attested.as_deref()).await? {
            Ok(chain) => chain,
            Err(problem) => return fail(verdict, format!("receipt {}: {problem}", m.receipt)),
        };
        verdict.anchored_at = Some(chain.anchored_at);
        let claim = &m.chain;
        let stated = [
            ("chain_id", claim.chain_id.to_string(), receipt.chain_id.to_string()),
            ("registry", claim.registry.to_string(), receipt.registry.to_string()),
            ("root", claim.root.to_string(), receipt.root.to_string()),
            ("tx_hash", claim.tx_hash.to_string(), receipt.tx_hash.to_string()),
            ("block_number", claim.block_number.to_string(), chain.anchored_block.to_string()),
            ("anchored_at", claim.anchored_at.to_string(), chain.anchored_at.to_string()),
            ("publisher", claim.publisher.to_string(), chain.publisher.to_string()),
            ("publisher (of the bundle)", self.bundle.publisher.to_string(), chain.publisher.to_string()),
        ];
        if let Some((field, said, actual)) = stated.iter().find(|(_, said, actual)| said != actual) {
            return fail(verdict, format!("the bundle states {field} {said}, the receipt and chain say {actual}"));
        }
        if receipt.block_number != chain.anchored_block {
            return fail(
                verdict,
                format!(
                    "receipt {} points to block {}, the batch was anchored in block {}",
                    m.receipt, receipt.block_number, chain.anchored_block
                ),
            );
        }
        if let Some(reason) = anchoring_transaction_problem(reader, &receipt).await? {
            return fail(verdict, format!("receipt {}: {reason}", m.receipt));
        }
        // The kind and the similarity, recomputed from the texts.
        let leaf = &receipt.leaf;
        let shingle = self.bundle.method.shingle;
        match (m.kind, &attested) {
            (MatchKind::Exact, _) => {
                verdict.similarity_checked = true;
                if keccak256(&suspect) != leaf.response_hash {
                    return fail(
                        verdict,
                        "an exact match whose suspect text does not hash to the receipt's response".into(),
                    );
                }
            }
            (MatchKind::Normalized, Some(attested)) => {
                verdict.similarity_checked = true;
                if normalized_hash(&suspect) != normalized_hash(attested) {
                    return fail(verdict, "a normalized match whose texts differ after normalization".into());
                }
            }
            (MatchKind::Near, Some(attested)) => {
                verdict.similarity_checked = true;
                let (Ok(a), Ok(b)) = (std::str::from_utf8(&suspect), std::str::from_utf8(attested)) else {
                    return fail(verdict, "a near match whose texts are not UTF-8".into());
                };
                let recomputed = rounded(jaccard(a, b, shingle));
                verdict.similarity = Some(recomputed);
                match m.similarity {
                    Some(stated) if (stated - recomputed).abs() > 1.5e-6 => {
                        return fail(
                            verdict,
                            format!("the recomputed similarity is {recomputed}, the bundle states {stated}"),
                        );
                    }
                    None => return fail(verdict, "a near match with both texts but no stated similarity".into()),
                    _ => {}
                }
                if recomputed + 1e-9 < self.bundle.method.threshold {
                    return fail(
                        verdict,
                        format!(
                            "the recomputed similarity {recomputed} is below the bundle's threshold {}",
                            self.bundle.method.threshold
                        ),
                    );
                }
            }
            (MatchKind::Normalized | MatchKind::Near, None) => {}
        }
        verdict.verified = true;
        Ok(verdict)
    }
}

/// Why the receipt's chain pointer does not hold (the anchoring transaction is not in the stated block, or did not
/// emit the batch's `OutputsAttested` from the registry), or `None`.
async fn anchoring_transaction_problem(reader: &ChainReader, receipt: &Receipt) -> Result<Option<String>> {
    let Some(tx) = reader.receipt(receipt.tx_hash).await? else {
        return Ok(Some(format!("the chain has no transaction {}", receipt.tx_hash)));
    };
    let block = tx.block_number.unwrap_or_default();
    if block != receipt.block_number {
        return Ok(Some(format!("transaction {} is in block {block}, not {}", receipt.tx_hash, receipt.block_number)));
    }
    let emitted = tx.inner.logs().iter().any(|log| {
        log.address() == receipt.registry
            && log.topics().first() == Some(&IProvenanceRegistry::OutputsAttested::SIGNATURE_HASH)
            && log.topics().get(1) == Some(&receipt.root)
    });
    Ok((!emitted).then(|| format!("transaction {} did not anchor root {}", receipt.tx_hash, receipt.root)))
}
