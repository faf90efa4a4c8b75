//! `prova verify reputation`: recomputes an agent's reputation from raw chain logs (the identity registry's
//! `Transfer` logs for owners; the reputation registry's `NewFeedback`, `FeedbackRevoked` and `VerifiedFeedback`
//! logs; block times), with `prova_core::reputation` and no database. With `--api`, it asks the API for the same
//! agent with the identical explicit parameters, at the block the API has indexed, and compares the whole score
//! JSON: exit 0 if every algorithm agrees, 1 if one differs, 2 if it could not run.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use anyhow::{Context, bail};
use clap::Args;
use prova_core::agents::{ChainFeedback, load_feedback_split};
use prova_core::reputation::{self, Algorithm, Filter, Params, Score};
use serde_json::Value;

/// Arguments of `prova verify reputation`.
#[derive(Debug, Args)]
pub struct VerifyReputationArgs {
    /// The agent's chain id (the RPC endpoint must serve this chain).
    pub chain_id: u64,
    /// The agent id (its identity registry token id).
    pub agent_id: U256,
    /// JSON-RPC endpoint of the chain.
    #[arg(long = "rpc", env = "PROVA_RPC_URL")]
    pub rpc_url: String,
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
/// take `prova_core::reputation`'s defaults, which are sent to the API explicitly (except `now` and `seeds`,
/// whose defaults depend on the feedback and on the API's configuration).
#[derive(Debug, Clone, Args)]
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
    /// trust: the restart probability (default 0.15).
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
    /// The filter.
    pub fn filter(&self) -> Filter {
        Filter {
            tag1: self.tag1.clone(),
            tag2: self.tag2.clone(),
            clients: self.clients.clone(),
            verified_only: self.verified_only,
        }
    }

    /// The parameters, defaults filled in, with these seeds.
    pub fn params(&self, seeds: Vec<Address>) -> Params {
        let d = Params::default();
        Params {
            prior_mean: self.prior_mean.unwrap_or(d.prior_mean),
            prior_weight: self.prior_weight.unwrap_or(d.prior_weight),
            half_life_secs: self.half_life_secs.unwrap_or(d.half_life_secs),
            now: self.now,
            seeds,
            alpha: self.alpha.unwrap_or(d.alpha),
            tolerance: self.tolerance.unwrap_or(d.tolerance),
            max_iterations: self.max_iterations.unwrap_or(d.max_iterations),
        }
    }

    /// The API query for `algorithm`: the filter, and every parameter the algorithm reads, explicitly.
    pub fn query(&self, algorithm: Algorithm, params: &Params) -> Vec<(&'static str, String)> {
        let join = |a: &[Address]| a.iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>().join(",");
        let mut q = vec![("algorithm", algorithm.to_string())];
        if let Some(tag) = &self.tag1 {
            q.push(("tag1", tag.clone()));
        }
        if let Some(tag) = &self.tag2 {
            q.push(("tag2", tag.clone()));
        }
        if let Some(clients) = &self.clients {
            q.push(("clients", join(clients)));
        }
        if self.verified_only {
            q.push(("verified_only", "true".into()));
        }
        match algorithm {
            Algorithm::Mean => {}
            Algorithm::Bayesian => {
                q.push(("prior_mean", params.prior_mean.to_string()));
                q.push(("prior_weight", params.prior_weight.to_string()));
            }
            Algorithm::Decay => {
                q.push(("half_life_secs", params.half_life_secs.to_string()));
                if let Some(now) = params.now {
                    q.push(("now", now.to_string()));
                }
            }
            Algorithm::Trust => {
                if self.seeds.is_some() {
                    q.push(("seeds", join(&params.seeds)));
                }
                q.push(("alpha", params.alpha.to_string()));
                q.push(("tolerance", params.tolerance.to_string()));
                q.push(("max_iterations", params.max_iterations.to_string()));
            }
        }
        q
    }
}

/// The API's answer for one algorithm.
#[derive(Debug)]
struct ApiAnswer {
    url: String,
    /// The last block of the reputation registry the API had indexed.
    as_of_block: Option<u64>,
    /// The last block of the identity registry the API had indexed (owners).
    identity_as_of_block: Option<u64>,
    score: Value,
    /// Why the answer is not about the agent and registries asked for, if it is not.
    mismatch: Option<String>,
}

/// One algorithm's result.
#[derive(Debug)]
struct Checked {
    algorithm: Algorithm,
    /// The reputation and identity blocks the chain score was computed at.
    blocks: (u64, u64),
    chain: Value,
    api: Option<ApiAnswer>,
    differences: Vec<String>,
}

impl VerifyReputationArgs {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let provider = prova_core::chain::connect(&self.rpc_url)?;
        let served = prova_core::chain::chain_id(&provider).await?;
        if served != self.chain_id {
            bail!("wrong chain: the RPC endpoint serves chain {served}, but the agent is on chain {}", self.chain_id);
        }
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let mut notes = Vec::new();
        let mut loaded: BTreeMap<(u64, u64), ChainFeedback> = BTreeMap::new();
        let mut results = Vec::new();
        for &algorithm in &self.algorithm.0 {
            let mut params = self.score.params(self.score.seeds.clone().unwrap_or_default());
            let api = match &self.api {
                Some(api) => Some(self.ask_api(&http, api, algorithm, &params).await?),
                None => None,
            };
            if algorithm == Algorithm::Trust && self.score.seeds.is_none() {
                match api.as_ref().map(|a| seeds_of(&a.score)) {
                    Some(Ok(seeds)) => {
                        notes.push(format!(
                            "trust: no --seeds given; using the {} seed(s) the API used: {}",
                            seeds.len(),
                            seeds.iter().map(|s| format!("{s:#x}")).collect::<Vec<_>>().join(",")
                        ));
                        params.seeds = seeds;
                    }
                    Some(Err(error)) => {
                        notes.push(format!("trust: the API's answer names no seeds ({error}); using none"))
                    }
                    None => notes.push("trust: no --seeds given, so every trust score is null".into()),
                }
            }
            if let (Some(block), Some(api_block)) = (self.block, api.as_ref().and_then(|a| a.as_of_block))
                && block != api_block
            {
                notes.push(format!(
                    "{algorithm}: --block {block} differs from the block the API had indexed ({api_block}); the scores \
                     may differ for that reason alone"
                ));
            }
            let block = match (self.block, api.as_ref().and_then(|a| a.as_of_block)) {
                (Some(block), _) | (None, Some(block)) => block,
                (None, None) => match loaded.keys().next_back() {
                    Some(&(block, _)) => block,
                    None => {
                        alloy::providers::Provider::get_block_number(&provider).await.context("cannot read the head")?
                    }
                },
            };
            let identity_block = match (self.block, api.as_ref().and_then(|a| a.identity_as_of_block)) {
                (None, Some(identity_block)) => identity_block,
                _ => block,
            };
            let blocks = (block, identity_block);
            if let std::collections::btree_map::Entry::Vacant(slot) = loaded.entry(blocks) {
                let feedback = load_feedback_split(
                    &provider,
                    self.identity_registry,
                    self.reputation_registry,
                    self.from_block,
                    block,
                    identity_block,
                )
                .await?;
                if !feedback.owners.contains_key(&self.agent_id) {
                    bail!(
                        "agent {} is not registered in identity registry {} as of block {identity_block}",
                        self.agent_id,
                        self.identity_registry
                    );
                }
                if feedback.unknown_agent_records > 0 {
                    notes.push(format!(
                        "{} feedback record(s) up to block {block} rate agents with no Transfer up to block \
                         {identity_block} of the identity registry; they are left out, as the API leaves them out",
                        feedback.unknown_agent_records
                    ));
                }
                if identity_block != block {
                    notes.push(format!(
                        "the API had indexed the reputation registry to block {block} and the identity registry to \
                         block {identity_block}; the chain scores use the same blocks"
                    ));
                }
                slot.insert(feedback);
            }
            let feedback = &loaded[&blocks];
            let score =
                reputation::score_agent(&feedback.feedback, self.agent_id, &self.score.filter(), algorithm, &params)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            let chain = normalized(&score)?;
            let differences = match &api {
                None => Vec::new(),
                Some(answer) => {
                    let mut d = diff(&chain, &answer.score);
                    if let Some(why) = &answer.mismatch {
                        d.insert(0, why.clone());
                    }
                    d
                }
            };
            results.push(Checked { algorithm, blocks, chain, api, differences });
        }

        let differs = results.iter().any(|r| !r.differences.is_empty());
        if self.json {
            self.print_json(&results, &loaded, &notes)?;
        } else {
            self.print_text(&results, &loaded, &notes);
        }
        Ok(if differs { ExitCode::from(1) } else { ExitCode::SUCCESS })
    }

    /// Asks the API for the agent's score under `algorithm` with explicit parameters.
    async fn ask_api(
        &self,
        http: &reqwest::Client,
        api: &str,
        algorithm: Algorithm,
        params: &Params,
    ) -> anyhow::Result<ApiAnswer> {
        let base = format!("{}/v1/agents/{}/{}/reputation", api.trim_end_matches('/'), self.chain_id, self.agent_id);
        let mut query = self.score.query(algorithm, params);
        query.push(("registry", format!("{:#x}", self.identity_registry)));
        query.push(("reputation_registry", format!("{:#x}", self.reputation_registry)));
        let url = reqwest::Url::parse_with_params(&base, &query).with_context(|| format!("invalid API URL {base}"))?;
        let response = http.get(url.clone()).send().await.with_context(|| format!("cannot reach the API at {api}"))?;
        let status = response.status();
        let body: Value = response.json().await.with_context(|| format!("the API's answer to {url} is not JSON"))?;
        if !status.is_success() {
            let message = body["error"]["message"].as_str().map_or_else(|| body.to_string(), str::to_owned);
            bail!("the API refused {url} (HTTP {status}): {message}");
        }
        let mut mismatch = Vec::new();
        let agent = &body["agent"];
        let id = match &agent["agent_id"] {
            Value::String(s) => s.parse::<U256>().ok(),
            Value::Number(n) => n.as_u64().map(U256::from),
            _ => Some(self.agent_id),
        };
        if id != Some(self.agent_id) {
            mismatch.push(format!("the API answered for agent {}, not {}", agent["agent_id"], self.agent_id));
        }
        if let Some(identity) = agent["identity_registry"].as_str()
            && identity.parse::<Address>().ok() != Some(self.identity_registry)
        {
            mismatch.push(format!("the API answered for identity registry {identity}, not {}", self.identity_registry));
        }
        if let Some(reputation) = body["reputation_registry"].as_str()
            && reputation.parse::<Address>().ok() != Some(self.reputation_registry)
        {
            mismatch.push(format!("the API scored reputation registry {reputation}, not {}", self.reputation_registry));
        }
        let score =
            body.get("score").cloned().with_context(|| format!("the API's answer to {url} has no \"score\""))?;
        Ok(ApiAnswer {
            url: url.to_string(),
            as_of_block: body["as_of_block"].as_u64(),
            identity_as_of_block: body["identity_as_of_block"].as_u64(),
            score,
            mismatch: (!mismatch.is_empty()).then(|| mismatch.join("; ")),
        })
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

/// A score as JSON, exactly as a JSON reader sees it after a round trip through text (as the API's answer is).
fn normalized(score: &Score) -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&serde_json::to_string(score)?)?)
}

/// The seeds an API score says it used (`params.seeds`).
fn seeds_of(score: &Value) -> Result<Vec<Address>, String> {
    let seeds = score["params"]["seeds"].as_array().ok_or("no params.seeds")?;
    seeds.iter().map(|s| s.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad seed {s}"))).collect()
}

/// The leaves of a JSON document by path (`a.b`, `a[0]`), each as JSON text.
fn flatten(value: &Value) -> BTreeMap<String, String> {
    fn walk(value: &Value, path: String, out: &mut BTreeMap<String, String>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    walk(v, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{path}[{i}]"), out);
                }
            }
            leaf => {
                out.insert(path, leaf.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(value, String::new(), &mut out);
    out
}

/// The paths where two JSON documents differ (empty when they are equal).
fn diff(chain: &Value, api: &Value) -> Vec<String> {
    if chain == api {
        return Vec::new();
    }
    let (c, a) = (flatten(chain), flatten(api));
    let paths: std::collections::BTreeSet<&String> = c.keys().chain(a.keys()).collect();
    let mut out: Vec<String> = paths
        .into_iter()
        .filter(|p| c.get(*p) != a.get(*p))
        .map(|p| {
            format!(
                "{p}: chain {} api {}",
                c.get(p).map_or("(absent)", String::as_str),
                a.get(p).map_or("(absent)", String::as_str)
            )
        })
        .collect();
    if out.is_empty() {
        out.push("the JSON documents differ".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_named_by_path() {
        let chain = serde_json::json!({"score": 90.0, "summary": {"count": 3}, "params": {"seeds": ["0x01"]}});
        let api = serde_json::json!({"score": 91.0, "summary": {"count": 3}, "params": {"seeds": ["0x01", "0x02"]}});
        let d = diff(&chain, &api);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("params.seeds[1]: chain (absent)"));
        assert!(d[1].starts_with("score: chain 90.0 api 91.0"));
        assert!(diff(&chain, &chain).is_empty());
    }

    #[test]
    fn queries_carry_explicit_parameters() {
        let args = ScoreArgs {
            tag1: Some("quality".into()),
            tag2: None,
            clients: Some(vec![Address::repeat_byte(1), Address::repeat_byte(1)]),
            verified_only: true,
            seeds: None,
            prior_mean: None,
            prior_weight: Some(0.0),
            half_life_secs: None,
            now: None,
            alpha: None,
            tolerance: None,
            max_iterations: None,
        };
        let params = args.params(vec![]);
        let q = args.query(Algorithm::Bayesian, &params);
        let get = |k: &str| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("prior_mean"), Some("50"));
        assert_eq!(get("prior_weight"), Some("0"));
        assert_eq!(get("verified_only"), Some("true"));
        assert_eq!(get("clients").unwrap().split(',').count(), 2);
        let q = args.query(Algorithm::Trust, &params);
        assert!(!q.iter().any(|(n, _)| *n == "seeds"), "seeds are left to the API when not given");
        assert_eq!(q.iter().find(|(n, _)| *n == "tolerance").unwrap().1.parse::<f64>().unwrap(), 1e-12);
    }
}
