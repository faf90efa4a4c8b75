//! `prova verify reputation`: recomputes an agent's reputation from raw chain logs (the identity registry's
//! `Transfer` logs for owners; the reputation registry's `NewFeedback`, `FeedbackRevoked` and `VerifiedFeedback`
//! logs; block times), with `prova_reputation` and no database. With `--api`, it asks the API for the same
//! agent with the identical explicit parameters, at the block the API has indexed, and compares the whole score
//! JSON: exit 0 if every algorithm agrees, 1 if one differs, 2 if it could not run.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use anyhow::{Context, bail};
use clap::Args;
use prova_reputation::{self, Algorithm, Filter, Params, Score};
use prova_verify::feedback::{ChainFeedback, load_feedback_split};
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
pub(crate) struct ApiAnswer {
    url: String,
    /// The last block of the reputation registry the API had indexed.
    as_of_block: Option<u64>,
    /// The last block of the identity registry the API had indexed (owners).
    identity_as_of_block: Option<u64>,
    /// The API's score.
    pub score: Value,
    /// Why the answer is not about the agent and registries asked for, if it is not.
    pub mismatch: Option<String>,
}

/// One algorithm's result.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The reputation and identity blocks the chain score was computed at.
    pub blocks: (u64, u64),
    /// The score recomputed from chain logs, as JSON.
    pub chain: Value,
    /// The API's answer, if it was asked.
    pub api: Option<ApiAnswer>,
    /// Where the API's score differs from the chain's (`path: chain X api Y`); empty when equal or not asked.
    pub differences: Vec<String>,
    /// Why the score is of no registered agent, if the agent has no `Transfer` by the identity block.
    pub not_registered: Option<String>,
}

/// Recomputes agents' reputation from raw chain logs and compares it with a prova API's answer; shared by
/// `prova verify reputation` and `prova verify api`. Feedback is read from the chain once per pair of blocks (the
/// API's reputation and identity blocks) and reused for every agent and algorithm checked at those blocks.
pub(crate) struct Recompute {
    provider: DynProvider,
    http: reqwest::Client,
    identity: Address,
    reputation: Address,
    from_block: u64,
    /// The feedback read, by (reputation block, identity block).
    pub loaded: BTreeMap<(u64, u64), ChainFeedback>,
    /// Notes on how the scores were computed, each once.
    pub notes: Vec<String>,
}

impl Recompute {
    /// A recomputation of the feedback of `reputation`, whose agents are those of `identity`, from logs at or
    /// after `from_block`.
    pub(crate) fn new(
        provider: DynProvider,
        identity: Address,
        reputation: Address,
        from_block: u64,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        Ok(Self { provider, http, identity, reputation, from_block, loaded: BTreeMap::new(), notes: Vec::new() })
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Recomputes one agent's score under `algorithm` and, with `api`, compares it with the API's answer for the
    /// same explicit parameters, at the blocks the API had indexed (or at `block`).
    pub(crate) async fn check(
        &mut self,
        chain_id: u64,
        agent_id: U256,
        algorithm: Algorithm,
        score_args: &ScoreArgs,
        api: Option<&str>,
        block: Option<u64>,
    ) -> anyhow::Result<Checked> {
        let mut params = score_args.params(score_args.seeds.clone().unwrap_or_default());
        let answer = match api {
            Some(api) => Some(self.ask_api(api, chain_id, agent_id, algorithm, score_args, &params).await?),
            None => None,
        };
        if algorithm == Algorithm::Trust && score_args.seeds.is_none() {
            match answer.as_ref().map(|a| seeds_of(&a.score)) {
                Some(Ok(seeds)) => {
                    self.note(format!(
                        "trust: no --seeds given; using the {} seed(s) the API used: {}",
                        seeds.len(),
                        seeds.iter().map(|s| format!("{s:#x}")).collect::<Vec<_>>().join(",")
                    ));
                    params.seeds = seeds;
                }
                Some(Err(error)) => self.note(format!("trust: the API's answer names no seeds ({error}); using none")),
                None => self.note("trust: no --seeds given, so every trust score is null".into()),
            }
        }
        if let (Some(block), Some(api_block)) = (block, answer.as_ref().and_then(|a| a.as_of_block))
            && block != api_block
        {
            self.note(format!(
                "{algorithm}: --block {block} differs from the block the API had indexed ({api_block}); the scores \
                 may differ for that reason alone"
            ));
        }
        let reputation_block = match (block, answer.as_ref().and_then(|a| a.as_of_block)) {
            (Some(block), _) | (None, Some(block)) => block,
            (None, None) => match self.loaded.keys().next_back() {
                Some(&(block, _)) => block,
                None => alloy::providers::Provider::get_block_number(&self.provider)
                    .await
                    .context("cannot read the head")?,
            },
        };
        let identity_block = match (block, answer.as_ref().and_then(|a| a.identity_as_of_block)) {
            (None, Some(identity_block)) => identity_block,
            _ => reputation_block,
        };
        let blocks = (reputation_block, identity_block);
        if !self.loaded.contains_key(&blocks) {
            let feedback = load_feedback_split(
                &self.provider,
                self.identity,
                self.reputation,
                self.from_block,
                reputation_block,
                identity_block,
            )
            .await?;
            if feedback.unknown_agent_records > 0 {
                self.note(format!(
                    "{} feedback record(s) up to block {reputation_block} rate agents with no Transfer up to block \
                     {identity_block} of the identity registry; they are left out, as the API leaves them out",
                    feedback.unknown_agent_records
                ));
            }
            if identity_block != reputation_block {
                self.note(format!(
                    "the API had indexed the reputation registry to block {reputation_block} and the identity \
                     registry to block {identity_block}; the chain scores use the same blocks"
                ));
            }
            self.loaded.insert(blocks, feedback);
        }
        let feedback = &self.loaded[&blocks];
        let not_registered = (!feedback.owners.contains_key(&agent_id)).then(|| {
            format!(
                "agent {agent_id} is not registered in identity registry {} as of block {identity_block}",
                self.identity
            )
        });
        let score =
            prova_reputation::score_agent(&feedback.feedback, agent_id, &score_args.filter(), algorithm, &params)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let chain = normalized(&score)?;
        let differences = match &answer {
            None => Vec::new(),
            Some(answer) => {
                let mut d = diff(&chain, &answer.score);
                if let Some(why) = &answer.mismatch {
                    d.insert(0, why.clone());
                }
                d
            }
        };
        Ok(Checked { algorithm, blocks, chain, api: answer, differences, not_registered })
    }

    /// Asks the API for the agent's score under `algorithm` with explicit parameters.
    async fn ask_api(
        &self,
        api: &str,
        chain_id: u64,
        agent_id: U256,
        algorithm: Algorithm,
        score_args: &ScoreArgs,
        params: &Params,
    ) -> anyhow::Result<ApiAnswer> {
        let base = format!("{}/v1/agents/{chain_id}/{agent_id}/reputation", api.trim_end_matches('/'));
        let mut query = score_args.query(algorithm, params);
        query.push(("registry", format!("{:#x}", self.identity)));
        query.push(("reputation_registry", format!("{:#x}", self.reputation)));
        let url = reqwest::Url::parse_with_params(&base, &query).with_context(|| format!("invalid API URL {base}"))?;
        let response =
            self.http.get(url.clone()).send().await.with_context(|| format!("cannot reach the API at {api}"))?;
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
            _ => Some(agent_id),
        };
        if id != Some(agent_id) {
            mismatch.push(format!("the API answered for agent {}, not {agent_id}", agent["agent_id"]));
        }
        if let Some(identity) = agent["identity_registry"].as_str()
            && identity.parse::<Address>().ok() != Some(self.identity)
        {
            mismatch.push(format!("the API answered for identity registry {identity}, not {}", self.identity));
        }
        if let Some(reputation) = body["reputation_registry"].as_str()
            && reputation.parse::<Address>().ok() != Some(self.reputation)
        {
            mismatch.push(format!("the API scored reputation registry {reputation}, not {}", self.reputation));
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
}

impl VerifyReputationArgs {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let provider = prova_chain::connect(&self.rpc_url)?;
        let served = prova_chain::chain_id(&provider).await?;
        if served != self.chain_id {
            bail!("wrong chain: the RPC endpoint serves chain {served}, but the agent is on chain {}", self.chain_id);
        }
        let mut recompute =
            Recompute::new(provider, self.identity_registry, self.reputation_registry, self.from_block)?;
        let mut results = Vec::new();
        for &algorithm in &self.algorithm.0 {
            let checked = recompute
                .check(self.chain_id, self.agent_id, algorithm, &self.score, self.api.as_deref(), self.block)
                .await?;
            if let Some(why) = &checked.not_registered {
                bail!("{why}");
            }
            results.push(checked);
        }

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
pub(crate) fn flatten(value: &Value) -> BTreeMap<String, String> {
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
