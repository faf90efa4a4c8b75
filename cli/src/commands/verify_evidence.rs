//! `prova verify evidence DIR`: checks a distillation evidence bundle (`prova outputs scan --evidence DIR`)
//! against the chain alone: every receipt as `prova verify output` checks it, its chain pointer, the time bound and
//! publisher the bundle states, and every similarity recomputed from the texts the bundle includes
//! (`prova_verify::evidence`). Exit 0 if all of it verifies, 1 if anything does not, 2 if it could not check.

use std::path::PathBuf;
use std::process::ExitCode;

use alloy::primitives::Address;
use anyhow::Context;
use clap::Args;
use prova_core::time::iso8601;
use prova_verify::evidence::{BundleVerdict, MatchKind, load};

use crate::args::{CodePinArgs, RpcEndpoints, check_pins};

/// Arguments of `prova verify evidence`.
#[derive(Debug, Args)]
pub struct VerifyEvidenceArgs {
    /// The bundle folder (with evidence.json).
    pub dir: PathBuf,
    /// The receipts' chain.
    #[command(flatten)]
    pub rpc: RpcEndpoints,
    /// Pins of the registry's code (a bare `--code-hash` pins it).
    #[command(flatten)]
    pub pins: CodePinArgs,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

impl VerifyEvidenceArgs {
    /// Runs the check.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let loaded = load(&self.dir).map_err(anyhow::Error::msg).context("could not check the bundle")?;
        let mut registries: Vec<Address> = loaded.bundle.matches.iter().map(|m| m.chain.registry).collect();
        registries.sort_unstable();
        registries.dedup();
        self.pins.ensure_used(&registries, registries.first().copied(), "")?;
        let mut verdicts: Vec<(String, serde_json::Value, BundleVerdict)> = Vec::new();
        for url in &self.rpc.urls {
            let provider = prova_chain::connect(url)?;
            let chain_id = prova_chain::chain_id(&provider).await?;
            let pins: Vec<_> = registries
                .iter()
                .enumerate()
                .map(|(i, r)| (*r, self.pins.pin(*r, prova_chain::Shipped::Provenance, i == 0)))
                .collect();
            check_pins(&provider, chain_id, &pins).await?;
            let verdict = loaded.check(&provider).await?;
            verdicts.push((prova_chain::redact_url(url), serde_json::to_value(&verdict)?, verdict));
        }
        let compared: Vec<(String, serde_json::Value)> =
            verdicts.iter().map(|(u, v, _)| (u.clone(), v.clone())).collect();
        prova_verify::endpoints::agree(&compared)?;
        let Some((_, value, verdict)) = verdicts.into_iter().next() else { anyhow::bail!("give --rpc") };
        let bundle = &loaded.bundle;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!(
                "bundle        {} ({} records of {})",
                self.dir.display(),
                bundle.dataset.records,
                bundle.dataset.name
            );
            println!("publisher     {} (as the bundle states it; checked against every receipt)", bundle.publisher);
            for m in &verdict.matches {
                let similarity = match (m.kind, m.similarity) {
                    (MatchKind::Near, Some(s)) => format!("similarity {s:.3} recomputed"),
                    (MatchKind::Near, None) => "similarity not recomputable (attested text not included)".into(),
                    (_, _) if m.similarity_checked => "texts checked".into(),
                    _ => "attested text not included".into(),
                };
                match &m.reason {
                    None => println!(
                        "record {:<7} {:<10} VERIFIED, {similarity}; existed no later than {}",
                        m.record,
                        m.kind,
                        m.anchored_at.map_or_else(String::new, iso8601)
                    ),
                    Some(reason) => println!("record {:<7} {:<10} NOT VERIFIED: {reason}", m.record, m.kind),
                }
            }
            for problem in &verdict.problems {
                println!("problem       {problem}");
            }
            let failed = verdict.matches.iter().filter(|m| !m.verified).count();
            let unchecked = verdict.matches.iter().filter(|m| m.verified && !m.similarity_checked).count();
            if verdict.verified {
                println!(
                    "VERIFIED: all {} matches' receipts hold on-chain for publisher {}{}",
                    verdict.matches.len(),
                    bundle.publisher,
                    if unchecked > 0 {
                        format!("; {unchecked} similarities could not be recomputed (texts not included)")
                    } else {
                        "; every similarity recomputed".into()
                    }
                );
            } else {
                println!(
                    "NOT VERIFIED: {failed} of {} matches fail{}",
                    verdict.matches.len(),
                    if verdict.problems.is_empty() { String::new() } else { ", and the bundle has problems".into() }
                );
            }
        }
        Ok(if verdict.verified { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}
