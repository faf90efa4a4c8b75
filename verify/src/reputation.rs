//! Agents' reputation recomputed from raw chain logs ([`crate::feedback`]) with `prova_reputation`, and compared
//! with a prova API's answer for the same agent, the same explicit parameters and the same blocks: the engine of
//! `prova verify reputation` and of the reputation checks of `prova verify api`.
//!
//! The API's answer is read as `prova_views::Reputation`; both scores are then compared as the JSON a reader sees
//! after a round trip through text (each score serialized, parsed back as a `Score`, and serialized again), leaf by
//! leaf, so that a difference names its path (`score`, `summary.count`, `params.seeds[1]`).

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use prova_reputation::{self, Algorithm, Filter, Params, Score, UsedParams};
use prova_views::Reputation;
use serde_json::Value;

use crate::api::client::ApiClient;
use crate::error::{Error, Result};
use crate::feedback::{ChainFeedback, load_feedback_split};

/// The filter and parameters of a score, named as the API's reputation query names them. Unset parameters take
/// `prova_reputation`'s defaults, which are sent to the API explicitly (except `now` and `seeds`, whose defaults
/// depend on the feedback and on the API's configuration).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreOptions {
    /// Keep only feedback whose tag1 equals this.
    pub tag1: Option<String>,
    /// Keep only feedback whose tag2 equals this.
    pub tag2: Option<String>,
    /// Keep only these reviewers. mean walks them in order and counts a repeated one again.
    pub clients: Option<Vec<Address>>,
    /// Keep only feedback given with an interaction receipt.
    pub verified_only: bool,
    /// trust: the seed addresses. Without them, the seeds the API used are taken from its answer.
    pub seeds: Option<Vec<Address>>,
    /// bayesian: the prior mean (default 50).
    pub prior_mean: Option<f64>,
    /// bayesian: the prior weight in pseudo-reviews (default 10).
    pub prior_weight: Option<f64>,
    /// decay: the half-life in seconds (default 30 days).
    pub half_life_secs: Option<u64>,
    /// decay: the reference time, unix seconds (default: the newest feedback's block time).
    pub now: Option<i64>,
    /// trust: the restart probability (default 0.3).
    pub alpha: Option<f64>,
    /// trust: the convergence threshold (default 1e-12).
    pub tolerance: Option<f64>,
    /// trust: the iteration cap (default 100).
    pub max_iterations: Option<u32>,
}

impl ScoreOptions {
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
#[derive(Debug, Clone)]
pub struct ApiAnswer {
    /// The URL asked.
    pub url: String,
    /// The last block of the reputation registry the API had indexed.
    pub as_of_block: Option<u64>,
    /// The last block of the identity registry the API had indexed (owners).
    pub identity_as_of_block: Option<u64>,
    /// The API's score, as JSON after a round trip through [`Score`].
    pub score: Value,
    /// Why the answer is not about the agent and registries asked for, if it is not.
    pub mismatch: Option<String>,
}

/// One algorithm's result.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The reputation and identity blocks the chain score was computed at.
    pub blocks: (u64, u64),
    /// The score recomputed from chain logs, as JSON after a round trip through text.
    pub chain: Value,
    /// The API's answer, if it was asked.
    pub api: Option<ApiAnswer>,
    /// Where the API's score differs from the chain's (`path: chain X api Y`); empty when equal or not asked.
    pub differences: Vec<String>,
    /// Why the score is of no registered agent, if the agent has no `Transfer` by the identity block.
    pub not_registered: Option<String>,
    /// The parameters the chain score was computed with (the seeds resolved), to compute it again elsewhere
    /// ([`Recompute::score_at`]).
    pub params: Params,
}

/// Recomputes agents' reputation from raw chain logs and compares it with a prova API's answer. Feedback is read
/// from the chain once per pair of blocks (the API's reputation and identity blocks) and reused for every agent and
/// algorithm checked at those blocks.
#[derive(Debug)]
pub struct Recompute {
    provider: DynProvider,
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
    pub fn new(provider: DynProvider, identity: Address, reputation: Address, from_block: u64) -> Self {
        Self { provider, identity, reputation, from_block, loaded: BTreeMap::new(), notes: Vec::new() }
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Recomputes one agent's score under `algorithm` and, with `api`, compares it with the API's answer for the
    /// same explicit parameters, at the blocks the API had indexed (or at `block`). An answer of the API that is
    /// not a `prova_views::Reputation` is [`Error::Unreadable`].
    pub async fn check(
        &mut self,
        chain_id: u64,
        agent_id: U256,
        algorithm: Algorithm,
        options: &ScoreOptions,
        api: Option<&ApiClient>,
        block: Option<u64>,
    ) -> Result<Checked> {
        let mut params = options.params(options.seeds.clone().unwrap_or_default());
        let answer = match api {
            Some(api) => Some(self.ask_api(api, chain_id, agent_id, algorithm, options, &params).await?),
            None => None,
        };
        let (answer, api_score) = answer.map_or((None, None), |(answer, score)| (Some(answer), Some(score)));
        if algorithm == Algorithm::Trust && options.seeds.is_none() {
            match api_score.as_ref().map(seeds_of) {
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
        let api_block = answer.as_ref().and_then(|a| a.as_of_block);
        if let (Some(block), Some(api_block)) = (block, api_block)
            && block != api_block
        {
            self.note(format!(
                "{algorithm}: --block {block} differs from the block the API had indexed ({api_block}); the scores \
                 may differ for that reason alone"
            ));
        }
        let reputation_block = match (block, api_block) {
            (Some(block), _) | (None, Some(block)) => block,
            (None, None) => match self.loaded.keys().next_back() {
                Some(&(block, _)) => block,
                None => self
                    .provider
                    .get_block_number()
                    .await
                    .map_err(|source| prova_chain::Error::Rpc { what: "reading the head".into(), source })?,
            },
        };
        let identity_block = match (block, answer.as_ref().and_then(|a| a.identity_as_of_block)) {
            (None, Some(identity_block)) => identity_block,
            _ => reputation_block,
        };
        let blocks = (reputation_block, identity_block);
        let (chain, not_registered) = self.score_at(agent_id, algorithm, options, &params, blocks).await?;
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
        Ok(Checked { algorithm, blocks, chain, api: answer, differences, not_registered, params })
    }

    /// One agent's score under `algorithm` recomputed from the chain logs up to `blocks` (reputation block,
    /// identity block) with `params`, as JSON after a round trip through text, and why it is of no registered agent
    /// if it is not. [`Recompute::check`] scores with it; another endpoint's [`Recompute`] can score the same
    /// agent at the same blocks with the same parameters to compare the endpoints.
    pub async fn score_at(
        &mut self,
        agent_id: U256,
        algorithm: Algorithm,
        options: &ScoreOptions,
        params: &Params,
        blocks: (u64, u64),
    ) -> Result<(Value, Option<String>)> {
        let (reputation_block, identity_block) = blocks;
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
        let score = prova_reputation::score_agent(&feedback.feedback, agent_id, &options.filter(), algorithm, params)?;
        Ok((normalized(&score)?, not_registered))
    }

    /// Asks the API for the agent's score under `algorithm` with explicit parameters: the answer, and its score.
    async fn ask_api(
        &self,
        api: &ApiClient,
        chain_id: u64,
        agent_id: U256,
        algorithm: Algorithm,
        options: &ScoreOptions,
        params: &Params,
    ) -> Result<(ApiAnswer, Score)> {
        let path = format!("/v1/agents/{chain_id}/{agent_id}/reputation");
        let mut query = options.query(algorithm, params);
        query.push(("registry", format!("{:#x}", self.identity)));
        query.push(("reputation_registry", format!("{:#x}", self.reputation)));
        let answer = api.get_found(&path, &query).await?;
        let body: Reputation = answer.parse()?;
        let mut mismatch = Vec::new();
        if body.agent.agent_id != agent_id {
            mismatch.push(format!("the API answered for agent \"{}\", not {agent_id}", body.agent.agent_id));
        }
        if body.agent.identity_registry != self.identity {
            mismatch.push(format!(
                "the API answered for identity registry {:#x}, not {}",
                body.agent.identity_registry, self.identity
            ));
        }
        if body.reputation_registry != self.reputation {
            mismatch.push(format!(
                "the API scored reputation registry {:#x}, not {}",
                body.reputation_registry, self.reputation
            ));
        }
        // Parsed from the API's text once, as the chain's score is in `normalized`.
        let score = serde_json::to_value(&body.score).map_err(|e| Error::Unreadable {
            url: answer.url.clone(),
            expected: "a reputation answer",
            reason: format!("its score does not serialize back to JSON: {e}"),
        })?;
        let answer = ApiAnswer {
            url: answer.url,
            as_of_block: body.as_of_block,
            identity_as_of_block: body.identity_as_of_block,
            score,
            mismatch: (!mismatch.is_empty()).then(|| mismatch.join("; ")),
        };
        Ok((answer, body.score))
    }
}

/// A score as JSON, exactly as a JSON reader sees it after a round trip through text (as the API's answer is).
fn normalized(score: &Score) -> Result<Value> {
    let unprintable = |e: serde_json::Error| Error::Logs(format!("a score does not round-trip through JSON: {e}"));
    let text = serde_json::to_string(score).map_err(unprintable)?;
    let read: Score = serde_json::from_str(&text).map_err(unprintable)?;
    serde_json::to_value(&read).map_err(unprintable)
}

/// The seeds an API score says it used (its trust parameters).
fn seeds_of(score: &Score) -> std::result::Result<Vec<Address>, String> {
    match &score.params {
        UsedParams::Trust { seeds, .. } => Ok(seeds.clone()),
        other => Err(format!("params of {}, not of trust", other.algorithm())),
    }
}

/// The leaves of a JSON document by path (`a.b`, `a[0]`), each as JSON text.
pub fn flatten(value: &Value) -> BTreeMap<String, String> {
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

/// The paths where two JSON documents differ (empty when they are equal), as `path: chain X api Y`.
pub fn diff(chain: &Value, api: &Value) -> Vec<String> {
    if chain == api {
        return Vec::new();
    }
    let (c, a) = (flatten(chain), flatten(api));
    let paths: BTreeSet<&String> = c.keys().chain(a.keys()).collect();
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
        let options = ScoreOptions {
            tag1: Some("quality".into()),
            clients: Some(vec![Address::repeat_byte(1), Address::repeat_byte(1)]),
            verified_only: true,
            prior_weight: Some(0.0),
            ..ScoreOptions::default()
        };
        let params = options.params(vec![]);
        let q = options.query(Algorithm::Bayesian, &params);
        let get = |k: &str| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("prior_mean"), Some("50"));
        assert_eq!(get("prior_weight"), Some("0"));
        assert_eq!(get("verified_only"), Some("true"));
        assert_eq!(get("clients").unwrap().split(',').count(), 2);
        let q = options.query(Algorithm::Trust, &params);
        assert!(!q.iter().any(|(n, _)| *n == "seeds"), "seeds are left to the API when not given");
        assert_eq!(q.iter().find(|(n, _)| *n == "tolerance").unwrap().1.parse::<f64>().unwrap(), 1e-12);
    }

    #[test]
    fn scores_round_trip_and_name_their_seeds() {
        let seeds = vec![Address::repeat_byte(1), Address::repeat_byte(2)];
        let score = Score {
            agent_id: U256::from(7),
            agent_owner: Some(Address::repeat_byte(9)),
            status: prova_reputation::ScoreStatus::Scored,
            score: Some(0.1 + 0.2),
            count: 3,
            distinct_clients: 2,
            out_of_range: 1,
            filtered_out: 0,
            verified_share: None,
            summary: None,
            trust: None,
            params: UsedParams::Trust {
                filter: Filter::default(),
                seeds: seeds.clone(),
                alpha: 0.15,
                tolerance: 1e-12,
                max_iterations: 100,
            },
        };
        let json = normalized(&score).unwrap();
        assert_eq!(json, normalized(&serde_json::from_value(json.clone()).unwrap()).unwrap());
        assert!(flatten(&json).contains_key("params.seeds[1]"));
        assert_eq!(seeds_of(&score), Ok(seeds));
        let mean = Score { params: UsedParams::Mean { filter: Filter::default() }, ..score };
        assert_eq!(seeds_of(&mean), Err("params of mean, not of trust".into()));
    }
}
