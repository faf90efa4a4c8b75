//! `prova verify model`: which registered version is this folder? Re-hashes the folder (never from a cache),
//! checks the exact version hash on-chain, and otherwise names the closest registered version with the files
//! added, removed and changed. Candidate manifests come from `--manifest` (file or URL, prova or model_signing
//! format) or from an API (`--api`); either way their version hashes are checked against the chain itself.
//! `prova verify output` checks an output receipt; `prova verify reputation` (in `verify_reputation`) recomputes an
//! agent's reputation from chain logs; `prova verify api` (in `verify_api`) audits a whole API against the chain;
//! `prova verify evidence` (in `verify_evidence`) checks a distillation evidence bundle.
//!
//! Every subcommand takes `--rpc` once or several times: the verdict is computed against each endpoint, and any
//! difference between them is "could not check" (exit 2; `prova_verify::endpoints`). Each can pin the code of the
//! contracts it reads (`--code-hash`, `--pin-code`): other code is refused (exit 2).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::{CodePinArgs, RpcEndpoints, check_pins};
use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
use clap::{Args, Subcommand};
use prova_core::manifest::{AnyManifest, Manifest, ManifestDiff, diff_digests};
use prova_core::time::iso8601;
use prova_verify::model::{ModelVerdict, verify_model_version};
use serde::Serialize;

use super::api_client;
use super::hashing::HashingArgs;

/// Verify subcommands.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Is this folder a registered model version, and by whom? Exit 0 if verified, 1 if not.
    Model(VerifyModelArgs),
    /// Does this receipt prove that a model version produced this response to this request? Chain only.
    Output(VerifyOutputArgs),
    /// Recompute an agent's reputation from raw chain logs (no database) and, with --api, check the API's answer:
    /// exit 0 if every score is identical, 1 if one differs.
    Reputation(super::verify_reputation::VerifyReputationArgs),
    /// Audit a prova API: check every fact it states (or a sample) against the chain through the RPC endpoint
    /// alone. Exit 0 if all match, 1 on any mismatch, 2 if it could not check.
    Api(super::verify_api::VerifyApiArgs),
    /// Check a distillation evidence bundle (`prova outputs scan --evidence DIR`) against the chain alone: every
    /// receipt, chain pointer, time bound and publisher, and every similarity recomputed from the included texts.
    /// Exit 0 if all verify, 1 if anything does not, 2 if it could not check.
    Evidence(super::verify_evidence::VerifyEvidenceArgs),
}

/// Arguments of `prova verify output`.
#[derive(Debug, Args)]
pub struct VerifyOutputArgs {
    /// The receipt JSON (from `prova outputs receipt`, `prova outputs scan` or the API).
    pub receipt: PathBuf,
    /// File with the exact request bytes.
    #[arg(long)]
    pub request: Option<PathBuf>,
    /// File with the exact response bytes.
    #[arg(long)]
    pub response: Option<PathBuf>,
    /// The receipt's chain.
    #[command(flatten)]
    pub rpc: RpcEndpoints,
    /// Pins of the receipt's registry's code (a bare `--code-hash` pins it).
    #[command(flatten)]
    pub pins: CodePinArgs,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

impl VerifyOutputArgs {
    async fn run(self) -> anyhow::Result<ExitCode> {
        use anyhow::Context;
        let text = std::fs::read_to_string(&self.receipt)
            .with_context(|| format!("cannot read {}", self.receipt.display()))?;
        let receipt: prova_core::outputs::Receipt = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a prova output receipt", self.receipt.display()))?;
        let read = |p: &Option<PathBuf>| -> anyhow::Result<Option<Vec<u8>>> {
            p.as_ref().map(|p| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))).transpose()
        };
        let (request, response) = (read(&self.request)?, read(&self.response)?);
        self.pins.ensure_used(&[receipt.registry], Some(receipt.registry), "")?;
        let pin = self.pins.pin(receipt.registry, prova_chain::Shipped::Provenance, true);
        let mut verdicts = Vec::new();
        for url in &self.rpc.urls {
            let provider = prova_chain::connect(url)?;
            let chain_id = prova_chain::chain_id(&provider).await?;
            check_pins(&provider, chain_id, &[(receipt.registry, pin)]).await?;
            let verdict =
                prova_verify::outputs::verify_receipt(&provider, &receipt, request.as_deref(), response.as_deref())
                    .await?;
            let value = match &verdict {
                Ok(v) => serde_json::json!({ "verified": true, "reason": null, "chain": v, "receipt": receipt }),
                Err(p) => serde_json::json!({ "verified": false, "reason": p.to_string(), "receipt": receipt }),
            };
            verdicts.push((prova_chain::redact_url(url), value, verdict));
        }
        let compared: Vec<(String, serde_json::Value)> =
            verdicts.iter().map(|(u, v, _)| (u.clone(), v.clone())).collect();
        prova_verify::endpoints::agree(&compared)?;
        let Some((_, value, verdict)) = verdicts.into_iter().next() else { anyhow::bail!("give --rpc") };
        let leaf = &receipt.leaf;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            match verdict.as_ref().ok().and_then(|v| v.model_name.as_deref()) {
                Some(name) => println!("model version {} of {name}", leaf.version_hash),
                None => println!("model version {}", leaf.version_hash),
            }
            println!(
                "request hash  {}{}",
                leaf.request_hash,
                if request.is_some() { " (matches the file)" } else { " (file not given)" }
            );
            println!(
                "response hash {}{}",
                leaf.response_hash,
                if response.is_some() { " (matches the file)" } else { " (file not given)" }
            );
            println!("batch root    {} on chain {}, registry {}", receipt.root, receipt.chain_id, receipt.registry);
            match &verdict {
                Ok(v) => {
                    println!(
                        "publisher     {} ({}), by the key that anchored the batch",
                        v.publisher_name, v.publisher
                    );
                    println!(
                        "anchored      block {} at {} by attestor {} ({} outputs in the batch)",
                        v.anchored_block,
                        iso8601(v.anchored_at),
                        v.attestor,
                        v.leaf_count
                    );
                    println!(
                        "claimed time  {} (the attestor's claim, inside the batch window {} to {})",
                        iso8601(leaf.timestamp),
                        iso8601(v.window_start),
                        iso8601(v.window_end)
                    );
                    println!(
                        "VERIFIED: model version {} produced this response to this request no later than {} \
                         (the anchoring block's time)",
                        leaf.version_hash,
                        iso8601(v.anchored_at)
                    );
                }
                Err(problem) => {
                    println!("claimed time  {} (the attestor's claim)", iso8601(leaf.timestamp));
                    println!("NOT VERIFIED: {problem}");
                }
            }
        }
        Ok(if verdict.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}

/// Arguments of `prova verify model`.
#[derive(Debug, Args)]
pub struct VerifyModelArgs {
    /// The model folder (always re-hashed; no cache is trusted).
    pub dir: PathBuf,
    /// Manifest of a registered version to compare against when the folder is not an exact match (file or
    /// http(s) URL; prova JSON, model_signing statement or sigstore bundle). Repeatable.
    #[arg(long = "manifest")]
    pub manifests: Vec<String>,
    /// A prova API to ask for the closest registered versions; its manifests are re-checked against the chain.
    #[arg(long, env = "PROVA_API")]
    pub api: Option<String>,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcEndpoints,
    /// Address of the ProvenanceRegistry contract.
    #[arg(long, env = "PROVA_REGISTRY")]
    pub registry: Address,
    /// Pins of the registry's code (a bare `--code-hash` pins it).
    #[command(flatten)]
    pub pins: CodePinArgs,
    /// The publisher whose claim to check. Every claim of the version is listed either way; without it the folder
    /// verifies when at least one claim stands, and the verdict names no single publisher as the author.
    #[arg(long)]
    pub publisher: Option<alloy::primitives::Address>,
    /// Refuse to answer unless the RPC endpoint serves this chain id.
    #[arg(long, env = "PROVA_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
    /// Hashing options (threads, ignore list); any cache flag is ignored here.
    #[command(flatten)]
    pub hashing: HashingArgs,
}

/// A registered version the folder was compared with.
#[derive(Debug, Serialize)]
struct Candidate {
    source: String,
    verdict: ModelVerdict,
    diff: ManifestDiff,
}

impl VerifyCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let args = match self {
            Self::Model(args) => args,
            Self::Output(args) => return args.run().await,
            Self::Reputation(args) => return args.run().await,
            Self::Api(args) => return args.run().await,
            Self::Evidence(args) => return args.run().await,
        };
        let folder = args.hashing.hash_uncached(&args.dir)?;
        args.pins.ensure_used(&[args.registry], Some(args.registry), "")?;
        let sources = args.sources(&folder).await?;
        let mut outcomes = Vec::new();
        for url in &args.rpc.urls {
            let provider = prova_chain::connect(url)?;
            outcomes.push((prova_chain::redact_url(url), args.verdict(&provider, &folder, &sources).await?));
        }
        let compared = outcomes
            .iter()
            .map(|(url, outcome)| Ok((url.clone(), serde_json::to_value(outcome)?)))
            .collect::<serde_json::Result<Vec<_>>>()?;
        prova_verify::endpoints::agree(&compared)?;
        let Some((_, Outcome { exact, closest, notes })) = outcomes.into_iter().next() else {
            anyhow::bail!("give --rpc")
        };
        let failure = exact.failure();

        if args.json {
            let value = serde_json::json!({
                "verified": failure.is_none(),
                "reason": failure,
                "folder_version_hash": folder.version_hash,
                "exact": exact,
                "closest": closest,
                "notes": notes,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            print_verdict(&args, &folder, &exact, failure.as_deref(), closest.as_ref(), &notes);
        }
        Ok(if failure.is_none() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}

/// What one endpoint says about the folder: the exact version's claims, the closest candidate and notes.
#[derive(Debug, Serialize)]
struct Outcome {
    exact: ModelVerdict,
    closest: Option<Candidate>,
    notes: Vec<String>,
}

impl VerifyModelArgs {
    /// The verdict of the endpoint behind `provider`: the registry's code checked against the pins, the folder's
    /// version looked up, and when no one claims it the closest of the candidate manifests.
    async fn verdict(&self, provider: &DynProvider, folder: &Manifest, sources: &Sources) -> anyhow::Result<Outcome> {
        let chain_id = prova_chain::chain_id(provider).await?;
        let pin = self.pins.pin(self.registry, prova_chain::Shipped::Provenance, true);
        check_pins(provider, chain_id, &[(self.registry, pin)]).await?;
        let exact =
            verify_model_version(provider, self.registry, folder.version_hash, self.publisher, self.chain_id).await?;
        let (candidates, notes) =
            if !exact.is_claimed() { self.candidates(provider, folder, sources).await? } else { (vec![], vec![]) };
        let closest = candidates.into_iter().max_by_key(|c| c.diff.unchanged);
        Ok(Outcome { exact, closest, notes })
    }

    /// The candidate manifests' texts from `--manifest` and `--api` (read once, whatever the endpoints), and notes
    /// on those that could not be read.
    async fn sources(&self, folder: &Manifest) -> anyhow::Result<Sources> {
        let mut sources = Sources::default();
        for source in &self.manifests {
            sources.texts.push((source.clone(), api_client::fetch_text(source).await?));
        }
        if let Some(api) = &self.api {
            for hash in api_client::match_candidates(api, &folder.files).await?.into_iter().take(3) {
                match api_client::get_manifest(api, hash).await {
                    Ok(text) => sources.texts.push((format!("{api} (version {hash})"), text)),
                    Err(error) => sources.notes.push(format!("API candidate {hash}: {error:#}")),
                }
            }
        }
        Ok(sources)
    }

    /// Registered versions to compare with, from `sources`, each confirmed on-chain.
    async fn candidates(
        &self,
        provider: &DynProvider,
        folder: &Manifest,
        sources: &Sources,
    ) -> anyhow::Result<(Vec<Candidate>, Vec<String>)> {
        let mut candidates = Vec::new();
        let mut notes = sources.notes.clone();
        let folder_digests: Vec<(String, B256)> = folder.files.iter().map(|e| (e.path.clone(), e.sha256)).collect();
        for (source, text) in &sources.texts {
            let manifest = match AnyManifest::parse(text) {
                Ok(manifest) => manifest,
                Err(error) => {
                    notes.push(format!("{source}: {error}"));
                    continue;
                }
            };
            let Some(version_hash) = manifest.version_hash(folder) else {
                notes.push(format!(
                    "{source}: a model_signing manifest has no file sizes, and the folder differs from it, so its \
                     prova version hash cannot be derived"
                ));
                continue;
            };
            let verdict =
                verify_model_version(provider, self.registry, version_hash, self.publisher, self.chain_id).await?;
            if !verdict.is_claimed() {
                notes.push(format!("{source}: version {version_hash} is not registered on-chain; ignored"));
                continue;
            }
            let diff = diff_digests(&folder_digests, &manifest.digests());
            candidates.push(Candidate { source: source.clone(), diff, verdict });
        }
        Ok((candidates, notes))
    }
}

/// Candidate manifests' texts by source, and notes on the candidates that could not be fetched.
#[derive(Debug, Default)]
struct Sources {
    texts: Vec<(String, String)>,
    notes: Vec<String>,
}

fn print_verdict(
    args: &VerifyModelArgs,
    folder: &Manifest,
    exact: &ModelVerdict,
    failure: Option<&str>,
    closest: Option<&Candidate>,
    notes: &[String],
) {
    println!("folder        {} ({} files)", args.dir.display(), folder.files.len());
    println!("version hash  {}", folder.version_hash);
    println!("registry      {} on chain {}", exact.registry, exact.chain_id);
    print_claims(exact);
    match (failure, exact.registration()) {
        (None, Some(reg)) if exact.asked_publisher.is_some() => {
            println!("VERIFIED: this folder is the version {} ({}) claims", reg.publisher_name, reg.publisher);
        }
        (None, _) => println!(
            "VERIFIED: this folder is a registered version; {} (pass --publisher to check one publisher's claim)",
            claim_count(exact.claims.len())
        ),
        (Some(reason), _) => println!("NOT VERIFIED: {reason}"),
    }
    if let Some(c) = closest {
        let d = &c.diff;
        println!();
        println!("closest registered version {} (from {})", c.verdict.version_hash, c.source);
        print_claims(&c.verdict);
        if let Some(problem) = c.verdict.failure() {
            println!("  note: {problem}");
        }
        println!("  files identical  {}", d.unchanged);
        for (label, paths) in [("changed", &d.changed), ("added", &d.added), ("removed", &d.removed)] {
            for path in paths {
                println!("  {label:<8} {path}");
            }
        }
    } else if !exact.is_claimed() && args.manifests.is_empty() && args.api.is_none() {
        println!("(pass --manifest FILE|URL or --api URL to find the closest registered version)");
    }
    for note in notes {
        println!("note: {note}");
    }
}

/// "1 publisher claims it" / "3 publishers claim it".
fn claim_count(n: usize) -> String {
    if n == 1 { "1 publisher claims it".into() } else { format!("{n} publishers claim it") }
}

/// Every claim, in priority order, the asked publisher's marked.
fn print_claims(verdict: &ModelVerdict) {
    if verdict.claims.len() > 1 {
        println!(
            "claims        {}, in priority order (who committed first; priority does not prove authorship)",
            claim_count(verdict.claims.len())
        );
    }
    for (i, reg) in verdict.claims.iter().enumerate() {
        let asked = verdict.asked_publisher == Some(reg.publisher);
        let label = if verdict.claims.len() > 1 { format!("claim {}", i + 1) } else { "claim".into() };
        println!("{label:<13} {}{}", reg.publisher, if asked { "  <- the publisher asked about" } else { "" });
        print_registration(reg);
    }
}

fn print_registration(reg: &prova_verify::model::Registration) {
    println!("  publisher   {} ({}, its own name: names are not unique)", reg.publisher_name, reg.publisher);
    println!("  attestor    {}", reg.attestor);
    match &reg.model_name {
        Some(name) => println!("  model       {name} (id {}, its keccak256)", reg.model_id),
        None => println!("  model id    {} (the publisher published no name)", reg.model_id),
    }
    println!("  registered  block {} at {}", reg.registered_block, iso8601(reg.registered_at));
    if reg.committed_block != 0 {
        println!("  committed   block {} at {} (its priority)", reg.committed_block, iso8601(reg.committed_at));
    }
    if !reg.parent.is_zero() {
        println!("  parent      {} (this publisher's claim of lineage)", reg.parent);
    }
    if let Some(problem) = reg.problem() {
        println!("  problem     {problem}");
    }
}
