//! `prova verify api`: audits a prova API against the chain, trusting nothing it says.
//!
//! The audit itself is `prova_verify::api::audit`: it walks the API's answers (model versions, output batches, the
//! publishers of those and their attestor keys, agents with their feedback and validations, and reputation scores),
//! read as the `prova-views` types, and checks each fact through the RPC endpoint alone (the event at the stated
//! chain pointer, the contracts' current views, scores recomputed from raw logs). This module holds the arguments,
//! the progress bar on a terminal, and the rendering of the report (text, or `--json`).
//!
//! Exit 0 when every checked fact matches, 1 on any mismatch, 2 when the audit could not run (an endpoint is
//! unreachable, the chains differ).

use std::io::IsTerminal;
use std::process::ExitCode;

use alloy::primitives::Address;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use prova_reputation::Algorithm;
use prova_verify::api::{ApiClient, AuditOptions, Kind, Progress, Report};

use super::api_client;

/// Arguments of `prova verify api`.
#[derive(Debug, Args)]
pub struct VerifyApiArgs {
    /// The prova API to audit.
    #[arg(long, env = "PROVA_API")]
    pub api: String,
    /// JSON-RPC endpoint of the chain the API indexes; every fact is re-read from it.
    #[arg(long = "rpc", env = "PROVA_RPC_URL")]
    pub rpc_url: String,
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
    /// The audit's options.
    fn options(&self) -> AuditOptions {
        AuditOptions {
            rpc_url: self.rpc_url.clone(),
            chain_id: self.chain_id,
            sample: self.sample,
            seed: self.seed,
            registry: self.registry,
            identity_registry: self.identity_registry,
            algorithms: self.algorithms.clone(),
            from_block: self.from_block,
            concurrency: usize::from(self.concurrency),
        }
    }

    /// Runs the audit and prints its report.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let api = ApiClient::with_client(&self.api, api_client::http()?)?;
        let bar = Bar::new();
        let report = prova_verify::api::audit(&self.options(), &api, &bar).await;
        bar.0.finish_and_clear();
        let report = report?;
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
