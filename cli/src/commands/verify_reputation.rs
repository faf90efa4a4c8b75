//! `prova verify reputation`: recomputes an agent's reputation from raw chain logs (the identity registry's
//! `Transfer` logs for owners; the reputation registry's `NewFeedback`, `FeedbackRevoked` and `VerifiedFeedback`
//! logs; block times), with `prova_reputation` and no database. With `--api`, it asks the API for the same
//! agent with the identical explicit parameters, at the block the API has indexed, and compares the whole score
//! JSON: exit 0 if every algorithm agrees, 1 if one differs, 2 if it could not run.
//!
//! The recomputation and the comparison are `prova_verify::reputation` (shared with `prova verify api`); this module
//! holds the arguments and the rendering (text, or `--json`).
//!
//! With several `--rpc` endpoints, each recomputes every score at the same blocks with the same parameters; any
//! difference between them is "could not check" (exit 2). Without `--block` or `--api`, the blocks are the lowest
//! head among the endpoints, so that an honest endpoint a block behind does not differ.

use std::collections::BTreeMap;
use std::process::ExitCode;

use alloy::primitives::{Address, U256};
use anyhow::bail;
use clap::Args;
use prova_reputation::Algorithm;
use prova_verify::api::ApiClient;
use prova_verify::feedback::ChainFeedback;
use prova_verify::reputation::{Checked, Recompute, ScoreOptions, flatten};

use super::api_client;
use crate::args::{CodePinArgs, RpcEndpoints, check_pins};

/// Arguments of `prova verify reputation`.
#[derive(Debug, Args)]
pub struct VerifyReputationArgs {
    /// The agent's chain id (the RPC endpoint must serve this chain).
    pub chain_id: u64,
    /// The agent id (its identity registry token id).
    pub agent_id: U256,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcEndpoints,
    /// Pins of the registries' code (a bare `--code-hash` pins the reputation registry).
    #[command(flatten)]
    pub pins: CodePinArgs,
    /// Address of the ERC-8004 identity registry (owners come from its Transfer logs).
    #[arg(long, env = "PROVA_IDENTITY_REGISTRY")]
    pub identity_registry: Address,
    /// Address of the ERC-8004 reputation registry (feedback comes from its logs).
    #[arg(long, env = "PROVA_REPUTATION_REGISTRY")]
    pub reputation_registry: Address,
    /// A prova API to check: its answer must equal the recomputed score exactly.
    #[arg(long, env = "PROVA_API")]
    pub api: Option<String>,
    /// mean, bayesian, decay, trust, or all (every one of them).
    #[arg(long, default_value = "all", value_parser = parse_algorithms)]
    pub algorithm: Algorithms,
    /// Filter and algorithm parameters, named as in the API's query.
    #[command(flatten)]
    pub score: ScoreArgs,
    /// First block whose logs are read (the identity registry's deployment block saves time).
    #[arg(long, default_value_t = 0)]
    pub from_block: u64,
    /// Score as of this block (default: the block the API says it has indexed, or the latest block without --api).
    #[arg(long)]
    pub block: Option<u64>,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The algorithms to check.
#[derive(Debug, Clone)]
pub struct Algorithms(pub Vec<Algorithm>);

fn parse_algorithms(text: &str) -> Result<Algorithms, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(Algorithms(Algorithm::ALL.to_vec()));
    }
    text.parse::<Algorithm>()
        .map(|a| Algorithms(vec![a]))
        .map_err(|_| format!("{text:?}: expected mean, bayesian, decay, trust or all"))
}

/// The filter and parameters of a score; each flag has the name of the API's query parameter. Unset parameters
/// take `prova_reputation`'s defaults, which are sent to the API explicitly (except `now` and `seeds`,
/// whose defaults depend on the feedback and on the API's configuration).
#[derive(Debug, Clone, Default, Args)]
pub struct ScoreArgs {
    /// Keep only feedback whose tag1 equals this.
    #[arg(long)]
    pub tag1: Option<String>,
    /// Keep only feedback whose tag2 equals this.
    #[arg(long)]
    pub tag2: Option<String>,
    /// Keep only these reviewers (comma-separated). mean walks them in order and counts a repeated one again.
    #[arg(long, value_delimiter = ',')]
    pub clients: Option<Vec<Address>>,
    /// Keep only feedback given with an interaction receipt.
    #[arg(long)]
    pub verified_only: bool,
    /// trust: the seed addresses (comma-separated). Without it, the seeds the API used are taken from its answer.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<Address>>,
    /// bayesian: the prior mean (default 50).
    #[arg(long)]
    pub prior_mean: Option<f64>,
    /// bayesian: the prior weight in pseudo-reviews (default 10).
    #[arg(long)]
    pub prior_weight: Option<f64>,
    /// decay: the half-life in seconds (default 30 days).
    #[arg(long)]
    pub half_life_secs: Option<u64>,
    /// decay: the reference time, unix seconds (default: the newest feedback's block time).
    #[arg(long, allow_hyphen_values = true)]
    pub now: Option<i64>,
    /// trust: the restart probability (default 0.3).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// trust: the convergence threshold (default 1e-12).
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// trust: the iteration cap (default 100).
    #[arg(long)]
    pub max_iterations: Option<u32>,
}

impl ScoreArgs {
    /// The options of `prova_verify::reputation`, field for field.
    pub fn options(&self) -> ScoreOptions {
        ScoreOptions {
            tag1: self.tag1.clone(),
            tag2: self.tag2.clone(),
            clients: self.clients.clone(),
            verified_only: self.verified_only,
            seeds: self.seeds.clone(),
            prior_mean: self.prior_mean,
            prior_weight: self.prior_weight,
            half_life_secs: self.half_life_secs,
            now: self.now,
            alpha: self.alpha,
            tolerance: self.tolerance,
            max_iterations: self.max_iterations,
        }
    }
}

impl VerifyReputationArgs {
    /// A provider for `url`, checked: it serves the agent's chain and the pinned registries hold their code.
    async fn connect(&self, url: &str) -> anyhow::Result<alloy::providers::DynProvider> {
        use prova_chain::Shipped;
        let provider = prova_chain::connect(url)?;
        let served = prova_chain::chain_id(&provider).await?;
        if served != self.chain_id {
            bail!(
                "wrong chain: the RPC endpoint {} serves chain {served}, but the agent is on chain {}",
                prova_chain::redact_url(url),
                self.chain_id
            );
        }
        let pins = [
            (self.identity_registry, self.pins.pin(self.identity_registry, Shipped::Identity, false)),
            (self.reputation_registry, self.pins.pin(self.reputation_registry, Shipped::Reputation, true)),
        ];
        check_pins(&provider, served, &pins).await?;
        Ok(provider)
    }

    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let registries = [self.identity_registry, self.reputation_registry];
        self.pins.ensure_used(&registries, Some(self.reputation_registry), "")?;
        let mut providers = Vec::with_capacity(self.rpc.urls.len());
        for url in &self.rpc.urls {
            providers.push((prova_chain::redact_url(url), self.connect(url).await?));
        }
        let mut block = self.block;
        if block.is_none() && self.api.is_none() && providers.len() > 1 {
            let mut heads = Vec::new();
            for (_, provider) in &providers {
                heads.push(alloy::providers::Provider::get_block_number(provider).await?);
            }
            block = heads.into_iter().min();
        }
        let api = match &self.api {
            Some(api) => Some(ApiClient::with_client(api, api_client::http()?)?),
            None => None,
        };
        let options = self.score.options();
        let mut endpoints = providers.into_iter();
        let Some((first, provider)) = endpoints.next() else { bail!("give --rpc") };
        let mut recompute = Recompute::new(provider, self.identity_registry, self.reputation_registry, self.from_block);
        let mut results = Vec::new();
        for &algorithm in &self.algorithm.0 {
            let checked =
                recompute.check(self.chain_id, self.agent_id, algorithm, &options, api.as_ref(), block).await?;
            if let Some(why) = &checked.not_registered {
                bail!("{why}");
            }
            results.push(checked);
        }
        // Every other endpoint scores the same agent at the same blocks with the same parameters.
        let first_scores: Vec<_> = results.iter().map(|r| (r.algorithm, r.blocks, r.chain.clone())).collect();
        let mut verdicts = vec![(first, serde_json::to_value(first_scores)?)];
        for (url, provider) in endpoints {
            let mut other = Recompute::new(provider, self.identity_registry, self.reputation_registry, self.from_block);
            let mut scores = Vec::new();
            for r in &results {
                let (score, _) = other.score_at(self.agent_id, r.algorithm, &options, &r.params, r.blocks).await?;
                scores.push((r.algorithm, r.blocks, score));
            }
            verdicts.push((url, serde_json::to_value(scores)?));
        }
        prova_verify::endpoints::agree(&verdicts)?;

        let differs = results.iter().any(|r| !r.differences.is_empty());
        if self.json {
            self.print_json(&results, &recompute.loaded, &recompute.notes)?;
        } else {
            self.print_text(&results, &recompute.loaded, &recompute.notes);
        }
        Ok(if differs { ExitCode::from(1) } else { ExitCode::SUCCESS })
    }

    fn print_text(&self, results: &[Checked], loaded: &BTreeMap<(u64, u64), ChainFeedback>, notes: &[String]) {
        println!(
            "agent         {} of identity registry {} on chain {}",
            self.agent_id, self.identity_registry, self.chain_id
        );
        for ((block, identity_block), f) in loaded {
            let agents = f.feedback.iter().map(|r| r.agent_id).collect::<std::collections::BTreeSet<_>>().len();
            println!(
                "chain logs    reputation registry {} up to block {block}: {} feedback records on {agents} agents",
                self.reputation_registry,
                f.feedback.len()
            );
            if let Some(owner) = f.owners.get(&self.agent_id) {
                println!("owner         {owner} (at block {identity_block})");
            }
        }
        if let Some(api) = &self.api {
            println!("api           {api}");
        }
        for note in notes {
            println!("note          {note}");
        }
        for r in results {
            println!();
            let verdict = match (&r.api, r.differences.is_empty()) {
                (None, _) => "recomputed from chain logs".to_owned(),
                (Some(_), true) => "MATCH: the API's score equals the chain's".to_owned(),
                (Some(_), false) => format!("DIFFERENT: {} field(s) differ", r.differences.len()),
            };
            println!("{:<9} {verdict}", r.algorithm.as_str());
            let chain = flatten(&r.chain);
            match &r.api {
                None => {
                    for (path, value) in &chain {
                        println!("  {path:<32} {value}");
                    }
                }
                Some(answer) => {
                    let api_block = answer.as_of_block.map_or("?".into(), |b| b.to_string());
                    println!("  {:<32} {:<44} api", "", "chain");
                    println!("  {:<32} {:<44} {api_block}", "(as of block)", r.blocks.0);
                    let api = flatten(&answer.score);
                    let paths: std::collections::BTreeSet<&String> = chain.keys().chain(api.keys()).collect();
                    for path in paths {
                        let (c, a) =
                            (chain.get(path).map_or("-", String::as_str), api.get(path).map_or("-", String::as_str));
                        println!("  {path:<32} {c:<44} {a}{}", if c == a { "" } else { "  <--" });
                    }
                    if let Some(why) = &answer.mismatch {
                        println!("  {why}");
                    }
                }
            }
        }
        println!();
        let differing: Vec<String> =
            results.iter().filter(|r| !r.differences.is_empty()).map(|r| r.algorithm.to_string()).collect();
        if self.api.is_none() {
            println!("(pass --api URL to check a prova API against these scores)");
        } else if differing.is_empty() {
            println!("VERIFIED: the API's scores equal the scores recomputed from chain logs");
        } else {
            println!("NOT VERIFIED: the API's {} score(s) differ from the chain's", differing.join(", "));
        }
    }

    fn print_json(
        &self,
        results: &[Checked],
        loaded: &BTreeMap<(u64, u64), ChainFeedback>,
        notes: &[String],
    ) -> anyhow::Result<()> {
        let value = serde_json::json!({
            "agent": { "chain_id": self.chain_id, "identity_registry": self.identity_registry, "agent_id": self.agent_id },
            "reputation_registry": self.reputation_registry,
            "verified": self.api.as_ref().map(|_| results.iter().all(|r| r.differences.is_empty())),
            "chain_logs": loaded.iter().map(|((b, i), f)| serde_json::json!({
                "block": b, "identity_block": i, "feedback_records": f.feedback.len(),
            })).collect::<Vec<_>>(),
            "results": results.iter().map(|r| serde_json::json!({
                "algorithm": r.algorithm,
                "block": r.blocks.0,
                "identity_block": r.blocks.1,
                "chain": r.chain,
                "api": r.api.as_ref().map(|a| &a.score),
                "api_url": r.api.as_ref().map(|a| &a.url),
                "api_as_of_block": r.api.as_ref().and_then(|a| a.as_of_block),
                "equal": r.api.as_ref().map(|_| r.differences.is_empty()),
                "differences": r.differences,
            })).collect::<Vec<_>>(),
            "notes": notes,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        score: ScoreArgs,
    }

    #[test]
    fn every_flag_reaches_the_score_options() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let cli = Cli::try_parse_from([
            "prova",
            "--tag1",
            "quality",
            "--tag2",
            "speed",
            "--clients",
            &format!("{a:#x},{b:#x}"),
            "--verified-only",
            "--seeds",
            &format!("{b:#x}"),
            "--prior-mean",
            "60",
            "--prior-weight",
            "0",
            "--half-life-secs",
            "3600",
            "--now",
            "-5",
            "--alpha",
            "0.2",
            "--tolerance",
            "1e-9",
            "--max-iterations",
            "7",
        ])
        .unwrap();
        let expected = ScoreOptions {
            tag1: Some("quality".into()),
            tag2: Some("speed".into()),
            clients: Some(vec![a, b]),
            verified_only: true,
            seeds: Some(vec![b]),
            prior_mean: Some(60.0),
            prior_weight: Some(0.0),
            half_life_secs: Some(3600),
            now: Some(-5),
            alpha: Some(0.2),
            tolerance: Some(1e-9),
            max_iterations: Some(7),
        };
        assert_eq!(cli.score.options(), expected);
        assert_eq!(Cli::try_parse_from(["prova"]).unwrap().score.options(), ScoreOptions::default());
    }
}
