//! `prova verify api`: audits a prova API against the chain, trusting nothing it says.
//!
//! The audit itself is `prova_verify::api::audit`: it walks the API's answers (model versions, output batches, the
//! publishers of those and their attestor keys, agents with their feedback and validations, and reputation scores),
//! read as the `prova-views` types, and checks each fact through the RPC endpoint alone (the event at the stated
//! chain pointer, the contracts' current views, scores recomputed from raw logs). This module holds the arguments,
//! the progress bar on a terminal, and the rendering of the report (text, or `--json`).
//!
//! Exit 0 when every checked fact matches, 1 on any mismatch, 2 when the audit could not run (an endpoint is
//! unreachable, the chains differ, a pinned contract holds other code, or several `--rpc` endpoints gave different
//! reports: the audit runs once per endpoint, with one sample seed, and the reports must be identical).

use std::io::IsTerminal;
use std::process::ExitCode;

use alloy::primitives::Address;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use prova_reputation::Algorithm;
use prova_verify::api::{ApiClient, AuditOptions, Kind, Progress, Report};

use super::api_client;
use crate::args::{CodePinArgs, RpcEndpoints, check_pins};

/// Arguments of `prova verify api`.
#[derive(Debug, Args)]
pub struct VerifyApiArgs {
    /// The prova API to audit.
    #[arg(long, env = "PROVA_API")]
    pub api: String,
    /// The chain the API indexes; every fact is re-read from each endpoint.
    #[command(flatten)]
    pub rpc: RpcEndpoints,
    /// Pins of the code of --registry (a bare `--code-hash` pins it) and --identity-registry, checked first.
    #[command(flatten)]
    pub pins: CodePinArgs,
    /// The chain to audit (default: the one the RPC endpoint serves). The RPC endpoint must serve it and the API
    /// must index it.
    #[arg(long, env = "PROVA_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// Check a random sample of N facts of each kind (default: every fact). Agents are sampled first; feedback,
    /// validations and reputation scores are then those of the sampled agents (feedback and validations sampled
    /// again to N).
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Seed of the random sample (default: a random one, printed so that the run can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Require every provenance fact to come from this ProvenanceRegistry (default: whichever contract the API
    /// names; the report lists them).
    #[arg(long)]
    pub registry: Option<Address>,
    /// Require every agent to come from this ERC-8004 identity registry (default: whichever the API names).
    #[arg(long)]
    pub identity_registry: Option<Address>,
    /// Reputation algorithms recomputed from chain logs for every checked agent (comma-separated: mean,
    /// bayesian, decay, trust).
    #[arg(long, value_delimiter = ',', default_value = "mean,trust")]
    pub algorithms: Vec<Algorithm>,
    /// First block whose logs are read to recompute reputation (the identity registry's deployment block saves
    /// time on a long chain).
    #[arg(long, default_value_t = 0)]
    pub from_block: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Facts checked at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

impl VerifyApiArgs {
    /// The audit's options against `rpc_url`, with the sample's `seed`.
    fn options(&self, rpc_url: &str, seed: Option<u64>) -> AuditOptions {
        AuditOptions {
            rpc_url: rpc_url.to_owned(),
            chain_id: self.chain_id,
            sample: self.sample,
            seed,
            registry: self.registry,
            identity_registry: self.identity_registry,
            algorithms: self.algorithms.clone(),
            from_block: self.from_block,
            concurrency: usize::from(self.concurrency),
        }
    }

    /// The contracts pinned, with their pins.
    fn pinned(&self) -> anyhow::Result<Vec<(Address, Option<prova_chain::CodePin>)>> {
        use prova_chain::Shipped;
        let named: Vec<Address> = self.registry.iter().chain(&self.identity_registry).copied().collect();
        self.pins.ensure_used(&named, self.registry, "or --registry")?;
        let mut pins: Vec<_> =
            self.registry.map(|r| (r, self.pins.pin(r, Shipped::Provenance, true))).into_iter().collect();
        pins.extend(self.identity_registry.map(|i| (i, self.pins.pin(i, Shipped::Identity, false))));
        Ok(pins)
    }

    /// Runs the audit (once per endpoint) and prints its report.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let api = ApiClient::with_client(&self.api, api_client::http()?)?;
        let pins = self.pinned()?;
        // One seed for every endpoint, so that each checks the same sample.
        let seed = self.seed.or_else(|| self.sample.map(|_| rand::random()));
        let mut reports = Vec::new();
        for url in &self.rpc.urls {
            if pins.iter().any(|(_, pin)| pin.is_some()) {
                let provider = prova_chain::connect(url)?;
                check_pins(&provider, prova_chain::chain_id(&provider).await?, &pins).await?;
            }
            let bar = Bar::new();
            let report = prova_verify::api::audit(&self.options(url, seed), &api, &bar).await;
            bar.0.finish_and_clear();
            reports.push((prova_chain::redact_url(url), report?));
        }
        let compared = reports
            .iter()
            .map(|(url, report)| {
                let mut value = serde_json::to_value(report)?;
                // The one field that names the endpoint.
                value.as_object_mut().map(|fields| fields.remove("rpc"));
                Ok((url.clone(), value))
            })
            .collect::<serde_json::Result<Vec<_>>>()?;
        prova_verify::endpoints::agree(&compared)?;
        let Some((_, report)) = reports.into_iter().next() else { anyhow::bail!("give --rpc") };
        if self.json {
            // Through a `Value`, whose keys are sorted, as the report has always been printed.
            println!("{}", serde_json::to_string_pretty(&serde_json::to_value(&report)?)?);
        } else {
            print(&report);
        }
        Ok(if report.verified { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}

/// A progress bar on a terminal's stderr (hidden otherwise).
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} checking {msg} {pos}/{len} [{bar:30}] {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Self(bar)
    }
}

impl Progress for Bar {
    fn phase(&self, kind: Kind, len: usize) {
        self.0.set_message(kind.plural());
        self.0.set_length(len as u64);
        self.0.set_position(0);
    }

    fn checked(&self) {
        self.0.inc(1);
    }
}

/// The report as text: where, what was checked, the counts per kind, every difference, the verdict.
fn print(report: &Report) {
    let sample = match (report.sample, report.seed) {
        (Some(n), Some(seed)) => format!("a random sample of up to {n} per kind (--seed {seed})"),
        _ => "every fact".into(),
    };
    println!("api           {}", report.api);
    println!("rpc           {} (chain {})", report.rpc, report.chain_id);
    println!("checked       {sample}");
    for (role, contracts) in &report.contracts {
        let list = contracts.iter().map(alloy::hex::encode_prefixed).collect::<Vec<_>>().join(", ");
        println!("{role:<22} {list}");
    }
    for note in &report.notes {
        println!("note          {note}");
    }
    println!();
    println!("{:<20} {:>8} {:>11}", "kind", "checked", "mismatched");
    for s in &report.summary {
        println!("{:<20} {:>8} {:>11}", s.kind.plural(), s.checked, s.mismatched);
    }
    let wrong: Vec<_> = report.mismatched().collect();
    if !wrong.is_empty() {
        println!();
    }
    for fact in &wrong {
        for d in &fact.differences {
            println!("{} {}: {}: api {} != chain {}", fact.kind.singular(), fact.id, d.field, d.stated, d.chain);
        }
    }
    println!();
    if wrong.is_empty() {
        println!("VERIFIED: every checked fact of the API matches the chain");
    } else {
        println!("NOT VERIFIED: {} mismatch(es) in {} fact(s)", report.difference_count(), wrong.len());
    }
}
