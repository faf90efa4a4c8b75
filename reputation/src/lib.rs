//! Deterministic reputation scores over raw ERC-8004 feedback: the contract's `getSummary` mean, a
//! Bayesian mean, a time-decayed mean and EigenTrust-style trust propagation, plus a leaderboard.
//!
//! Every function here is pure: no clock, no I/O, no randomness. Inputs are sorted internally by
//! `(agent_id, client, feedback_index)` and every floating-point sum runs in a fixed order using only
//! IEEE-754 basic operations (no `powf`/`exp` from the platform's libm), so the same inputs give
//! bit-identical `f64` outputs on every machine and in every input order. The HTTP API and the CLI share
//! these functions through [`Algorithm`], [`Filter`] and [`Params`]. `docs/reputation.md` describes the
//! algorithms for dApp developers and auditors.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use alloy::primitives::{Address, I256, U256};
use serde::{Deserialize, Serialize};

/// Default prior mean of [`Algorithm::Bayesian`]: the middle of ERC-8004's conventional 0..100 scale.
pub const DEFAULT_PRIOR_MEAN: f64 = 50.0;
/// Default prior weight of [`Algorithm::Bayesian`], in pseudo-reviews.
pub const DEFAULT_PRIOR_WEIGHT: f64 = 10.0;
/// Default half-life of [`Algorithm::Decay`]: 30 days, in seconds.
pub const DEFAULT_HALF_LIFE_SECS: u64 = 30 * 24 * 60 * 60;
/// Default restart probability (teleport to the seeds) of [`Algorithm::Trust`].
pub const DEFAULT_ALPHA: f64 = 0.15;
/// Default convergence threshold of [`Algorithm::Trust`]: stop once the L1 change is below it.
pub const DEFAULT_TOLERANCE: f64 = 1e-12;
/// Default iteration cap of [`Algorithm::Trust`].
pub const DEFAULT_MAX_ITERATIONS: u32 = 100;
/// Largest accepted `max_iterations`, so a request cannot buy unbounded work.
pub const MAX_ITERATIONS_LIMIT: u32 = 10_000;
/// Largest `valueDecimals` ERC-8004 allows.
pub const MAX_DECIMALS: u8 = prova_core::bindings::MAX_VALUE_DECIMALS;

/// `10^k` for `k` in `0..=18`; every entry is exactly representable as an `f64`.
const POW10_F64: [f64; 19] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];

/// What can be wrong with the feedback or the parameters given to a scoring function.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReputationError {
    /// A feedback record has more than 18 decimals, which the contract never accepts.
    #[error("feedback {client}#{feedback_index} for agent {agent_id} has {decimals} decimals; at most 18 are allowed")]
    Decimals {
        /// The rated agent.
        agent_id: U256,
        /// The reviewer.
        client: Address,
        /// The record's index.
        feedback_index: u64,
        /// The offending decimals.
        decimals: u8,
    },
    /// Two feedback records share `(agent_id, client, feedback_index)`.
    #[error("feedback {client}#{feedback_index} for agent {agent_id} appears twice in the input")]
    DuplicateFeedback {
        /// The rated agent.
        agent_id: U256,
        /// The reviewer.
        client: Address,
        /// The repeated index.
        feedback_index: u64,
    },
    /// Records of one agent name different owners; all must carry the owner at scoring time.
    #[error("agent {agent_id} has two owners in the input ({first} and {second}); pass the owner at scoring time")]
    InconsistentOwner {
        /// The agent.
        agent_id: U256,
        /// The owner on its first record (in sorted order).
        first: Address,
        /// A different owner on a later record.
        second: Address,
    },
    /// An algorithm name is not one of `mean`, `bayesian`, `decay`, `trust`.
    #[error("unknown reputation algorithm {0:?}; expected mean, bayesian, decay or trust")]
    UnknownAlgorithm(String),
    /// A parameter is out of its allowed range.
    #[error("invalid reputation parameter {name}: {reason}")]
    InvalidParam {
        /// The parameter's name, as in [`Params`].
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// One raw ERC-8004 feedback record, as `readAllFeedback` and the `NewFeedback` event give it, plus the
/// agent's owner and prova's receipt flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// The rated agent (the identity registry's token id).
    pub agent_id: U256,
    /// The owner of the rated agent at scoring time; [`Algorithm::Trust`] sends the client's trust here.
    pub agent_owner: Address,
    /// The reviewer (`clientAddress`).
    pub client: Address,
    /// The record's index per (agent, client), counting from 1.
    pub feedback_index: u64,
    /// The contract's `int128 value`, serialized as a decimal string (numbers are accepted on input).
    #[serde(with = "i128_string")]
    pub value: i128,
    /// The contract's `valueDecimals`, 0..=18.
    pub decimals: u8,
    /// The first tag.
    pub tag1: String,
    /// The second tag.
    pub tag2: String,
    /// Whether the client revoked the record; revoked records are never scored.
    pub revoked: bool,
    /// Whether the record came with a valid interaction receipt (prova extension).
    pub verified: bool,
    /// Block time of the record, unix seconds.
    pub timestamp: i64,
}

impl Feedback {
    /// The value as a number: `value / 10^decimals`, correctly rounded (decimals must be at most 18).
    pub fn normalized(&self) -> f64 {
        self.value as f64 / POW10_F64[usize::from(self.decimals)]
    }
}

/// Which feedback a score uses. Revoked feedback is never used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Keep only records whose `tag1` equals this; `None` or `""` keeps every tag, as in the contract.
    pub tag1: Option<String>,
    /// Keep only records whose `tag2` equals this; `None` or `""` keeps every tag, as in the contract.
    pub tag2: Option<String>,
    /// Keep only these reviewers; `None` keeps all. [`mean`] walks the list in order and counts a repeated
    /// address again, as `getSummary` does; the other algorithms treat it as a set. `Some(vec![])` keeps
    /// nothing.
    pub clients: Option<Vec<Address>>,
    /// Keep only records with a valid interaction receipt (prova extension; not in the contract).
    pub verified_only: bool,
}

impl Filter {
    /// Whether a record passes the revoked, tag and receipt tests (not the client list).
    fn keeps_record(&self, f: &Feedback) -> bool {
        !f.revoked
            && tag_matches(self.tag1.as_deref(), &f.tag1)
            && tag_matches(self.tag2.as_deref(), &f.tag2)
            && (!self.verified_only || f.verified)
    }
}

fn tag_matches(wanted: Option<&str>, tag: &str) -> bool {
    match wanted {
        None | Some("") => true,
        Some(w) => w == tag,
    }
}

/// A scoring algorithm; the names are those of the API's `?algorithm=` and the CLI's `--algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// The contract's `getSummary` average, in exact integer arithmetic.
    Mean,
    /// The mean shrunk toward a prior, so few reviews weigh little.
    Bayesian,
    /// The mean with exponentially decaying weights by age.
    Decay,
    /// The mean weighted by each reviewer's trust, propagated from seed addresses.
    Trust,
}

impl Algorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Algorithm; 4] = [Self::Mean, Self::Bayesian, Self::Decay, Self::Trust];

    /// The algorithm's name: `mean`, `bayesian`, `decay` or `trust`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Bayesian => "bayesian",
            Self::Decay => "decay",
            Self::Trust => "trust",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = ReputationError;

    /// Parses a name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ReputationError::UnknownAlgorithm(s.to_owned()))
    }
}

/// The tunable parameters of every algorithm; each algorithm reads only its own. Missing fields take the
/// defaults when deserialized, so `?algorithm=bayesian&prior_mean=60` works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// Bayesian: the prior mean, on the normalized value scale. Default 50.
    pub prior_mean: f64,
    /// Bayesian: how many pseudo-reviews the prior counts as; at least 0. Default 10.
    pub prior_weight: f64,
    /// Decay: half-life in seconds; at least 1. Default 30 days.
    pub half_life_secs: u64,
    /// Decay: the time ages are measured from, unix seconds. `None` uses the newest `timestamp` in the input
    /// slice (every record, every agent), never the clock. Pass it explicitly to compare calls.
    pub now: Option<i64>,
    /// Trust: the addresses trust starts from. Empty means every trust score is `None`.
    pub seeds: Vec<Address>,
    /// Trust: the share of trust sent back to the seeds at each step, in `[0, 1]`. Default 0.15.
    pub alpha: f64,
    /// Trust: stop once the L1 change of one step is below this; at least 0. Default 1e-12.
    pub tolerance: f64,
    /// Trust: the most steps to run, at most [`MAX_ITERATIONS_LIMIT`]. Default 100.
    pub max_iterations: u32,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            prior_mean: DEFAULT_PRIOR_MEAN,
            prior_weight: DEFAULT_PRIOR_WEIGHT,
            half_life_secs: DEFAULT_HALF_LIFE_SECS,
            now: None,
            seeds: Vec::new(),
            alpha: DEFAULT_ALPHA,
            tolerance: DEFAULT_TOLERANCE,
            max_iterations: DEFAULT_MAX_ITERATIONS,
        }
    }
}

impl Params {
    /// Checks the parameters `algorithm` reads; the others are ignored.
    pub fn validate(&self, algorithm: Algorithm) -> Result<(), ReputationError> {
        let bad =
            |name: &'static str, reason: &str| Err(ReputationError::InvalidParam { name, reason: reason.to_owned() });
        match algorithm {
            Algorithm::Mean => Ok(()),
            Algorithm::Bayesian => {
                if !self.prior_mean.is_finite() {
                    return bad("prior_mean", "must be a finite number");
                }
                if !self.prior_weight.is_finite() || self.prior_weight < 0.0 {
                    return bad("prior_weight", "must be a finite number of at least 0");
                }
                Ok(())
            }
            Algorithm::Decay => {
                if self.half_life_secs == 0 {
                    return bad("half_life_secs", "must be at least 1");
                }
                Ok(())
            }
            Algorithm::Trust => {
                if !(0.0..=1.0).contains(&self.alpha) {
                    return bad("alpha", "must be between 0 and 1");
                }
                if !self.tolerance.is_finite() || self.tolerance < 0.0 {
                    return bad("tolerance", "must be a finite number of at least 0");
                }
                if self.max_iterations > MAX_ITERATIONS_LIMIT {
                    return bad("max_iterations", "must be at most 10000");
                }
                Ok(())
            }
        }
    }
}

/// The parameters a score was computed with, after defaults were resolved; serialized with an
/// `"algorithm"` field naming the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase")]
pub enum UsedParams {
    /// [`Algorithm::Mean`].
    Mean {
        /// The filter used.
        filter: Filter,
    },
    /// [`Algorithm::Bayesian`].
    Bayesian {
        /// The filter used.
        filter: Filter,
        /// The prior mean.
        prior_mean: f64,
        /// The prior weight.
        prior_weight: f64,
    },
    /// [`Algorithm::Decay`].
    Decay {
        /// The filter used.
        filter: Filter,
        /// The half-life in seconds.
        half_life_secs: u64,
        /// The reference time, resolved when [`Params::now`] was `None`.
        now: i64,
    },
    /// [`Algorithm::Trust`].
    Trust {
        /// The filter used.
        filter: Filter,
        /// The seeds, sorted by address bytes, without duplicates.
        seeds: Vec<Address>,
        /// The restart probability.
        alpha: f64,
        /// The convergence threshold.
        tolerance: f64,
        /// The iteration cap.
        max_iterations: u32,
    },
}

impl UsedParams {
    /// The algorithm these parameters belong to.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Mean { .. } => Algorithm::Mean,
            Self::Bayesian { .. } => Algorithm::Bayesian,
            Self::Decay { .. } => Algorithm::Decay,
            Self::Trust { .. } => Algorithm::Trust,
        }
    }
}

/// `getSummary`'s return value, reproduced exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of records averaged (a client listed twice counts twice).
    pub count: u64,
    /// The average in `summary_decimals` decimals, truncated toward zero; a decimal string in JSON.
    #[serde(with = "i128_string")]
    pub summary_value: i128,
    /// The most common `valueDecimals` among the records (the smallest on a tie).
    pub summary_decimals: u8,
}

/// Trust details of one agent's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrustDetail {
    /// Sum of the reviewers' trust over the records used (a reviewer counts once per record).
    pub trust_mass: f64,
    /// The trust of the agent's owner.
    pub owner_trust: f64,
    /// Steps the propagation ran.
    pub iterations: u32,
    /// Whether it stopped because the L1 change fell below the tolerance (not at the cap).
    pub converged: bool,
}

/// One agent's score under one algorithm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The agent.
    pub agent_id: U256,
    /// The agent's owner as given in the input; `None` when the input has no record of the agent.
    pub agent_owner: Option<Address>,
    /// The score on the normalized value scale; `None` when the algorithm has nothing to go on.
    pub score: Option<f64>,
    /// Number of records used.
    pub count: u64,
    /// Number of distinct reviewers among them.
    pub distinct_clients: u64,
    /// Share of the records used that carry a receipt; `None` when `count` is 0.
    pub verified_share: Option<f64>,
    /// The exact contract summary ([`Algorithm::Mean`] only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Trust details ([`Algorithm::Trust`] only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustDetail>,
    /// Every parameter the score used.
    pub params: UsedParams,
}

impl Score {
    /// The algorithm that produced this score.
    pub fn algorithm(&self) -> Algorithm {
        self.params.algorithm()
    }
}

/// The trust of one address.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AddressTrust {
    /// The address.
    pub address: Address,
    /// Its trust; all trusts sum to at most 1.
    pub trust: f64,
}

/// The result of trust propagation over the whole feedback graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustVector {
    /// Every node, sorted by address bytes.
    pub nodes: Vec<AddressTrust>,
    /// Steps run.
    pub iterations: u32,
    /// Whether the L1 change fell below the tolerance before the cap.
    pub converged: bool,
}

impl TrustVector {
    /// The trust of `address`, 0 when it is not a node.
    pub fn get(&self, address: Address) -> f64 {
        self.nodes.binary_search_by(|n| n.address.cmp(&address)).map_or(0.0, |i| self.nodes[i].trust)
    }
}

/// The input checked and sorted by `(agent_id, client, feedback_index)`, grouped by agent.
struct Prepared<'a> {
    agents: BTreeMap<U256, AgentRecords<'a>>,
    newest_timestamp: Option<i64>,
}

struct AgentRecords<'a> {
    owner: Address,
    /// Sorted by `(client, feedback_index)`.
    records: Vec<&'a Feedback>,
}

fn prepare(feedback: &[Feedback]) -> Result<Prepared<'_>, ReputationError> {
    let mut sorted: Vec<&Feedback> = feedback.iter().collect();
    sorted.sort_by_key(|f| (f.agent_id, f.client, f.feedback_index));
    let mut agents: BTreeMap<U256, AgentRecords<'_>> = BTreeMap::new();
    let mut previous: Option<&Feedback> = None;
    for f in sorted {
        if f.decimals > MAX_DECIMALS {
            return Err(ReputationError::Decimals {
                agent_id: f.agent_id,
                client: f.client,
                feedback_index: f.feedback_index,
                decimals: f.decimals,
            });
        }
        if let Some(p) = previous
            && (p.agent_id, p.client, p.feedback_index) == (f.agent_id, f.client, f.feedback_index)
        {
            return Err(ReputationError::DuplicateFeedback {
                agent_id: f.agent_id,
                client: f.client,
                feedback_index: f.feedback_index,
            });
        }
        previous = Some(f);
        let entry =
            agents.entry(f.agent_id).or_insert_with(|| AgentRecords { owner: f.agent_owner, records: Vec::new() });
        if entry.owner != f.agent_owner {
            return Err(ReputationError::InconsistentOwner {
                agent_id: f.agent_id,
                first: entry.owner,
                second: f.agent_owner,
            });
        }
        entry.records.push(f);
    }
    let newest_timestamp = feedback.iter().map(|f| f.timestamp).max();
    Ok(Prepared { agents, newest_timestamp })
}

/// Running totals for the count, reviewer and receipt fields of a [`Score`].
#[derive(Default)]
struct Tally {
    count: u64,
    verified: u64,
    clients: BTreeSet<Address>,
}

impl Tally {
    fn add(&mut self, f: &Feedback) {
        self.count += 1;
        self.verified += u64::from(f.verified);
        self.clients.insert(f.client);
    }

    fn score(self, agent_id: U256, owner: Option<Address>, score: Option<f64>, params: UsedParams) -> Score {
        Score {
            agent_id,
            agent_owner: owner,
            score,
            count: self.count,
            distinct_clients: self.clients.len() as u64,
            verified_share: (self.count > 0).then(|| self.verified as f64 / self.count as f64),
            summary: None,
            trust: None,
            params,
        }
    }
}

/// Records of one agent that pass the filter, treating the client list as a set, in sorted order.
fn kept<'a>(records: &[&'a Feedback], filter: &Filter) -> Vec<&'a Feedback> {
    let clients: Option<BTreeSet<Address>> = filter.clients.as_ref().map(|c| c.iter().copied().collect());
    records
        .iter()
        .copied()
        .filter(|f| filter.keeps_record(f) && clients.as_ref().is_none_or(|c| c.contains(&f.client)))
        .collect()
}

/// The agent's records in the input, or none.
fn records_of<'p, 'a>(prepared: &'p Prepared<'a>, agent_id: U256) -> (Option<Address>, &'p [&'a Feedback]) {
    prepared.agents.get(&agent_id).map_or((None, &[]), |a| (Some(a.owner), a.records.as_slice()))
}

/// The ERC-8004 `getSummary(agentId, clients, tag1, tag2)` average, reproduced exactly in integers.
///
/// Walks `filter.clients` in order (every client that rated the agent, once each, when `None`), and each
/// client's records by index; skips revoked records, records whose tags differ from a non-empty tag filter,
/// and (prova extension) unverified records when `verified_only`. Each kept value is scaled to 18 decimals
/// in `I256`; the sum is divided by the count (truncating toward zero), then by `10^(18 - mode)` where
/// `mode` is the most common decimals (smallest on a tie), and cast to `int128` keeping the low 128 bits,
/// as Solidity's explicit conversion does. No kept record gives `(0, 0, 0)` and a `None` score.
pub fn mean(feedback: &[Feedback], agent_id: U256, filter: &Filter) -> Result<Score, ReputationError> {
    let prepared = prepare(feedback)?;
    Ok(mean_of(&prepared, agent_id, filter))
}

fn mean_of(prepared: &Prepared<'_>, agent_id: U256, filter: &Filter) -> Score {
    let (owner, records) = records_of(prepared, agent_id);
    let mut by_client: BTreeMap<Address, Vec<&Feedback>> = BTreeMap::new();
    for f in records {
        by_client.entry(f.client).or_default().push(f);
    }
    let clients: Vec<Address> = match &filter.clients {
        Some(list) => list.clone(),
        None => by_client.keys().copied().collect(),
    };
    let mut tally = Tally::default();
    let mut sum = I256::ZERO;
    let mut decimal_counts = [0u64; 19];
    for client in &clients {
        for f in by_client.get(client).map_or(&[][..], Vec::as_slice) {
            if !filter.keeps_record(f) {
                continue;
            }
            // |value| < 2^127 and 10^18 < 2^60, so |scaled| < 2^187 and a sum of up to 2^64 of them stays
            // below 2^251: neither operation can overflow I256.
            let scaled = I256::try_from(f.value)
                .expect("an i128 fits in I256")
                .checked_mul(pow10_i256(MAX_DECIMALS - f.decimals))
                .expect("int128 * 10^18 fits in int256");
            sum = sum.checked_add(scaled).expect("the sum of int128 * 10^18 values fits in int256");
            decimal_counts[usize::from(f.decimals)] += 1;
            tally.add(f);
        }
    }
    let summary = if tally.count == 0 {
        Summary { count: 0, summary_value: 0, summary_decimals: 0 }
    } else {
        let mut mode = 0u8;
        let mut best = 0u64;
        for (d, &n) in decimal_counts.iter().enumerate() {
            if n > best {
                best = n;
                mode = d as u8;
            }
        }
        let avg = sum / I256::try_from(tally.count).expect("a u64 fits in I256");
        let value = avg / pow10_i256(MAX_DECIMALS - mode);
        Summary { count: tally.count, summary_value: low_i128(value), summary_decimals: mode }
    };
    let score =
        (summary.count > 0).then(|| summary.summary_value as f64 / POW10_F64[usize::from(summary.summary_decimals)]);
    let mut out = tally.score(agent_id, owner, score, UsedParams::Mean { filter: filter.clone() });
    out.summary = Some(summary);
    out
}

fn pow10_i256(k: u8) -> I256 {
    I256::exp10(usize::from(k))
}

/// The low 128 bits of a two's-complement `I256`, as Solidity's `int128(int256)` conversion gives.
fn low_i128(x: I256) -> i128 {
    let limbs = x.into_raw().into_limbs();
    ((u128::from(limbs[1]) << 64) | u128::from(limbs[0])) as i128
}

/// A mean shrunk toward a prior: `(prior_weight * prior_mean + Σ v) / (prior_weight + n)` over the kept
/// records' normalized values `v = value / 10^decimals`, summed in `(client, feedback_index)` order.
///
/// With no kept record the score is the prior mean (or `None` when `prior_weight` is also 0).
pub fn bayesian(
    feedback: &[Feedback],
    agent_id: U256,
    filter: &Filter,
    params: &Params,
) -> Result<Score, ReputationError> {
    params.validate(Algorithm::Bayesian)?;
    let prepared = prepare(feedback)?;
    Ok(bayesian_of(&prepared, agent_id, filter, params))
}

fn bayesian_of(prepared: &Prepared<'_>, agent_id: U256, filter: &Filter, params: &Params) -> Score {
    let (owner, records) = records_of(prepared, agent_id);
    let mut tally = Tally::default();
    let mut sum = 0.0f64;
    for f in kept(records, filter) {
        sum += f.normalized();
        tally.add(f);
    }
    let weight = params.prior_weight + tally.count as f64;
    let score = (weight > 0.0).then(|| (params.prior_weight * params.prior_mean + sum) / weight);
    tally.score(
        agent_id,
        owner,
        score,
        UsedParams::Bayesian {
            filter: filter.clone(),
            prior_mean: params.prior_mean,
            prior_weight: params.prior_weight,
        },
    )
}

/// A time-decayed mean: `Σ w v / Σ w` with `w = 0.5^((now - timestamp) / half_life_secs)` (1 for a
/// timestamp after `now`), summed in `(client, feedback_index)` order.
///
/// `None` when no record is kept, or when every weight underflows to 0 (over 1074 half-lives old).
pub fn decay(
    feedback: &[Feedback],
    agent_id: U256,
    filter: &Filter,
    params: &Params,
) -> Result<Score, ReputationError> {
    params.validate(Algorithm::Decay)?;
    let prepared = prepare(feedback)?;
    Ok(decay_of(&prepared, agent_id, filter, params))
}

fn decay_of(prepared: &Prepared<'_>, agent_id: U256, filter: &Filter, params: &Params) -> Score {
    let (owner, records) = records_of(prepared, agent_id);
    let now = params.now.or(prepared.newest_timestamp).unwrap_or(0);
    let half_life = params.half_life_secs as f64;
    let mut tally = Tally::default();
    let (mut weighted, mut weights) = (0.0f64, 0.0f64);
    for f in kept(records, filter) {
        let age = i128::from(now) - i128::from(f.timestamp);
        let w = if age <= 0 { 1.0 } else { half_pow(age as f64 / half_life) };
        weighted += w * f.normalized();
        weights += w;
        tally.add(f);
    }
    let score = (weights > 0.0).then(|| weighted / weights);
    tally.score(
        agent_id,
        owner,
        score,
        UsedParams::Decay { filter: filter.clone(), half_life_secs: params.half_life_secs, now },
    )
}

/// `0.5^x` for `x >= 0`, from IEEE-754 basic operations only, so it is bit-identical on every platform
/// (the platform's `powf` may differ in the last bit between libms).
///
/// Splits `x = n + f` with `n = floor(x)`, evaluates `e^(-f ln 2)` by its Taylor series to the 25th
/// term in Horner form (the remainder is below 1e-30), then multiplies by `2^-n`.
fn half_pow(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let n = x.floor();
    if n >= 1075.0 {
        return 0.0;
    }
    let y = -(x - n) * std::f64::consts::LN_2;
    let mut m = 1.0f64;
    for k in (1..=25u32).rev() {
        m = 1.0 + y * m / f64::from(k);
    }
    let n = n as u64;
    if n <= 1022 {
        m * f64::from_bits((1023 - n) << 52)
    } else {
        m * f64::from_bits(1 << 52) * f64::from_bits((1023 - (n - 1022)) << 52)
    }
}

/// EigenTrust-style trust of every address, propagated from `params.seeds` through the client -> agent
/// owner graph of the kept feedback (all agents; the client list is a set; self-ratings are ignored).
///
/// Nodes: every seed, every kept reviewer and every agent owner in the input, sorted by address bytes.
/// Local trust `c_ij` = Σ over i's kept records on agents owned by j of `clamp(v / 100, 0, 1)`, summed in
/// input order; each row is divided by its sum, and a row summing to 0 passes nothing on. With `p`
/// uniform over the seeds and `t_0 = p`, each step computes
/// `t_{k+1}[j] = (1 - alpha) * (Σ_i c_ij * t_k[i], i ascending) + alpha * p[j]`, stopping when
/// `Σ_j |t_{k+1}[j] - t_k[j]|` (j ascending) is below `tolerance` or after `max_iterations` steps.
pub fn trust_vector(feedback: &[Feedback], filter: &Filter, params: &Params) -> Result<TrustVector, ReputationError> {
    params.validate(Algorithm::Trust)?;
    let prepared = prepare(feedback)?;
    Ok(trust_vector_of(&prepared, filter, params))
}

/// The records [`trust_vector`] and [`trust`] use: kept by the filter, not by the agent's own owner.
fn trust_records<'a>(records: &[&'a Feedback], owner: Address, filter: &Filter) -> Vec<&'a Feedback> {
    kept(records, filter).into_iter().filter(|f| f.client != owner).collect()
}

fn trust_vector_of(prepared: &Prepared<'_>, filter: &Filter, params: &Params) -> TrustVector {
    let seeds: BTreeSet<Address> = params.seeds.iter().copied().collect();
    let mut addresses = seeds.clone();
    let mut used = Vec::new();
    for agent in prepared.agents.values() {
        addresses.insert(agent.owner);
        for f in trust_records(&agent.records, agent.owner, filter) {
            addresses.insert(f.client);
            used.push(f);
        }
    }
    let nodes: Vec<Address> = addresses.into_iter().collect();
    let index = |a: Address| nodes.binary_search(&a).expect("every address is a node");

    let mut local: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for f in used {
        *local.entry((index(f.client), index(f.agent_owner))).or_insert(0.0) +=
            (f.normalized() / 100.0).clamp(0.0, 1.0);
    }
    let mut row_sums = vec![0.0f64; nodes.len()];
    for (&(i, _), &c) in &local {
        row_sums[i] += c;
    }
    let edges: Vec<(usize, usize, f64)> = local
        .iter()
        .filter(|&(&(i, _), &c)| c > 0.0 && row_sums[i] > 0.0)
        .map(|(&(i, j), &c)| (i, j, c / row_sums[i]))
        .collect();

    let mut p = vec![0.0f64; nodes.len()];
    if !seeds.is_empty() {
        let share = 1.0 / seeds.len() as f64;
        for s in &seeds {
            p[index(*s)] = share;
        }
    }
    let mut t = p.clone();
    let (mut iterations, mut converged) = (0u32, false);
    while iterations < params.max_iterations {
        let mut inflow = vec![0.0f64; nodes.len()];
        for &(i, j, c) in &edges {
            inflow[j] += c * t[i];
        }
        let next: Vec<f64> =
            inflow.iter().zip(&p).map(|(&s, &p)| (1.0 - params.alpha) * s + params.alpha * p).collect();
        let change: f64 = next.iter().zip(&t).fold(0.0, |acc, (a, b)| acc + (a - b).abs());
        t = next;
        iterations += 1;
        if change < params.tolerance {
            converged = true;
            break;
        }
    }
    TrustVector {
        nodes: nodes.into_iter().zip(t).map(|(address, trust)| AddressTrust { address, trust }).collect(),
        iterations,
        converged,
    }
}

/// Trust-weighted scores of every agent in the input, ascending by agent id: `Σ t_client * v / Σ t_client`
/// over the agent's kept records (self-ratings by the owner excluded), with `t` from [`trust_vector`].
///
/// `None` when the reviewers' trust sums to 0; with no seeds, every score is `None`.
pub fn trust(feedback: &[Feedback], filter: &Filter, params: &Params) -> Result<Vec<Score>, ReputationError> {
    params.validate(Algorithm::Trust)?;
    let prepared = prepare(feedback)?;
    Ok(trust_of(&prepared, filter, params))
}

fn trust_of(prepared: &Prepared<'_>, filter: &Filter, params: &Params) -> Vec<Score> {
    let vector = trust_vector_of(prepared, filter, params);
    prepared.agents.keys().map(|&id| trust_score(prepared, &vector, id, filter, params)).collect()
}

/// One agent's trust-weighted score, given the trust vector of the whole input.
fn trust_score(
    prepared: &Prepared<'_>,
    vector: &TrustVector,
    agent_id: U256,
    filter: &Filter,
    params: &Params,
) -> Score {
    let (owner, records) = records_of(prepared, agent_id);
    let mut tally = Tally::default();
    let (mut weighted, mut mass) = (0.0f64, 0.0f64);
    if let Some(owner) = owner {
        for f in trust_records(records, owner, filter) {
            let t = vector.get(f.client);
            weighted += t * f.normalized();
            mass += t;
            tally.add(f);
        }
    }
    let score = (mass > 0.0).then(|| weighted / mass);
    let used = UsedParams::Trust {
        filter: filter.clone(),
        seeds: params.seeds.iter().copied().collect::<BTreeSet<_>>().into_iter().collect(),
        alpha: params.alpha,
        tolerance: params.tolerance,
        max_iterations: params.max_iterations,
    };
    let mut out = tally.score(agent_id, owner, score, used);
    out.trust = Some(TrustDetail {
        trust_mass: mass,
        owner_trust: owner.map_or(0.0, |o| vector.get(o)),
        iterations: vector.iterations,
        converged: vector.converged,
    });
    out
}

/// Scores every agent in the input under `algorithm`, ascending by agent id (one call per leaderboard).
pub fn score_agents(
    feedback: &[Feedback],
    filter: &Filter,
    algorithm: Algorithm,
    params: &Params,
) -> Result<Vec<Score>, ReputationError> {
    params.validate(algorithm)?;
    let prepared = prepare(feedback)?;
    let ids: Vec<U256> = prepared.agents.keys().copied().collect();
    Ok(match algorithm {
        Algorithm::Mean => ids.into_iter().map(|id| mean_of(&prepared, id, filter)).collect(),
        Algorithm::Bayesian => ids.into_iter().map(|id| bayesian_of(&prepared, id, filter, params)).collect(),
        Algorithm::Decay => ids.into_iter().map(|id| decay_of(&prepared, id, filter, params)).collect(),
        Algorithm::Trust => trust_of(&prepared, filter, params),
    })
}

/// Scores one agent under `algorithm`; for [`Algorithm::Trust`] the whole input still forms the graph.
pub fn score_agent(
    feedback: &[Feedback],
    agent_id: U256,
    filter: &Filter,
    algorithm: Algorithm,
    params: &Params,
) -> Result<Score, ReputationError> {
    params.validate(algorithm)?;
    let prepared = prepare(feedback)?;
    Ok(match algorithm {
        Algorithm::Mean => mean_of(&prepared, agent_id, filter),
        Algorithm::Bayesian => bayesian_of(&prepared, agent_id, filter, params),
        Algorithm::Decay => decay_of(&prepared, agent_id, filter, params),
        Algorithm::Trust => {
            let vector = trust_vector_of(&prepared, filter, params);
            trust_score(&prepared, &vector, agent_id, filter, params)
        }
    })
}

/// Sorts scores best first: by score descending (`-0.0` counts as `0.0`), `None` last, ties by agent id
/// ascending. The order is total, so the result does not depend on the input order.
pub fn leaderboard(mut scores: Vec<Score>) -> Vec<Score> {
    scores.sort_by(|a, b| {
        let rank = match (a.score, b.score) {
            (Some(x), Some(y)) => (y + 0.0).total_cmp(&(x + 0.0)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        rank.then(a.agent_id.cmp(&b.agent_id))
    });
    scores
}

/// Serializes an `i128` as a decimal string (JSON numbers lose precision above 2^53); accepts a decimal
/// string, or a JSON integer within 64 bits, on input.
mod i128_string {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &i128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i128, D::Error> {
        deserializer.deserialize_any(I128Visitor)
    }

    struct I128Visitor;

    impl Visitor<'_> for I128Visitor {
        type Value = i128;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an int128 as a decimal string or an integer")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
            Ok(i128::from(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
            Ok(i128::from(v))
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<i128, E> {
            Ok(v)
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<i128, E> {
            i128::try_from(v).map_err(|_| E::custom("value does not fit in int128"))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
            v.trim().parse().map_err(|_| E::custom(format!("{v:?} is not an int128")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The address `0x00..00nn`, with `n` in the last two bytes.
    fn addr(n: u16) -> Address {
        let mut bytes = [0u8; 20];
        bytes[18..].copy_from_slice(&n.to_be_bytes());
        Address::from(bytes)
    }

    fn fb(agent: u64, owner: Address, client: Address, index: u64, value: i128, decimals: u8) -> Feedback {
        Feedback {
            agent_id: U256::from(agent),
            agent_owner: owner,
            client,
            feedback_index: index,
            value,
            decimals,
            tag1: String::new(),
            tag2: String::new(),
            revoked: false,
            verified: false,
            timestamp: 0,
        }
    }

    fn summary(score: &Score) -> (u64, i128, u8) {
        let s = score.summary.expect("mean has a summary");
        (s.count, s.summary_value, s.summary_decimals)
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
    }

    const OWNER: u16 = 0xff;

    #[test]
    fn mean_scales_mixed_decimals_and_takes_the_smallest_mode_on_a_tie() {
        let (c1, c2, c3) = (addr(1), addr(2), addr(3));
        let mut feedback = vec![
            fb(1, addr(OWNER), c1, 1, 85, 0),   // 85.00
            fb(1, addr(OWNER), c1, 2, 9050, 2), // 90.50
            fb(1, addr(OWNER), c2, 1, 7725, 2), // 77.25
            fb(1, addr(OWNER), c2, 2, 60, 0),   // 60.00
        ];
        // sum = 312.75e18, count 4, avg = 78.1875e18; decimals 0 and 2 both occur twice -> mode 0;
        // 78.1875e18 / 1e18 = 78 (truncated).
        let score = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (4, 78, 0));
        assert_eq!(score.score, Some(78.0));
        assert_eq!((score.count, score.distinct_clients), (4, 2));

        // A fifth record at 2 decimals (50.00): sum = 362.75e18, avg = 72.55e18, mode 2 -> 7255.
        feedback.push(fb(1, addr(OWNER), c3, 1, 5000, 2));
        let score = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (5, 7255, 2));
        assert_eq!(score.score, Some(72.55));
    }

    #[test]
    fn mean_truncates_negative_averages_toward_zero() {
        let o = addr(OWNER);
        // -0.7, -0.8 (1 decimal) and -2 (0 decimals): sum = -3.5e18, avg = -1166666666666666666 (toward zero;
        // floor would end in ...667); mode 1; avg / 1e17 = -11.67 -> -11 (floor would give -12).
        let feedback = vec![fb(1, o, addr(1), 1, -7, 1), fb(1, o, addr(2), 1, -8, 1), fb(1, o, addr(3), 1, -2, 0)];
        let score = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (3, -11, 1));
        assert_eq!(score.score, Some(-1.1));

        // -1, -1 (0 decimals) and 0.1 (1 decimal): avg = -0.633e18, mode 0 -> 0, not -1.
        let feedback = vec![fb(1, o, addr(1), 1, -1, 0), fb(1, o, addr(2), 1, -1, 0), fb(1, o, addr(3), 1, 1, 1)];
        let score = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (3, 0, 0));
    }

    #[test]
    fn mean_skips_revoked_and_applies_tag_filters() {
        let o = addr(OWNER);
        let tagged = |index, value, tag1: &str, tag2: &str| Feedback {
            tag1: tag1.into(),
            tag2: tag2.into(),
            ..fb(1, o, addr(1), index, value, 0)
        };
        let feedback = vec![
            tagged(1, 90, "quality", "fast"),
            tagged(2, 70, "quality", "slow"),
            tagged(3, 10, "uptime", "fast"),
            Feedback { revoked: true, ..tagged(4, 0, "quality", "fast") },
        ];
        let run = |filter: Filter| summary(&mean(&feedback, U256::from(1), &filter).unwrap());
        // All but the revoked: (90 + 70 + 10) / 3 = 56.67 -> 56.
        assert_eq!(run(Filter::default()), (3, 56, 0));
        // An empty tag is no filter, as in the contract.
        assert_eq!(run(Filter { tag1: Some(String::new()), ..Filter::default() }), (3, 56, 0));
        // tag1 = quality: (90 + 70) / 2 = 80.
        assert_eq!(run(Filter { tag1: Some("quality".into()), ..Filter::default() }), (2, 80, 0));
        // tag1 = quality and tag2 = fast: 90 (the revoked 0 is skipped).
        let both = Filter { tag1: Some("quality".into()), tag2: Some("fast".into()), ..Filter::default() };
        assert_eq!(run(both), (1, 90, 0));
        // No match: (0, 0, 0) and no score.
        let none = mean(&feedback, U256::from(1), &Filter { tag1: Some("x".into()), ..Filter::default() }).unwrap();
        assert_eq!((summary(&none), none.score, none.verified_share), ((0, 0, 0), None, None));
    }

    #[test]
    fn mean_counts_a_repeated_client_again_and_follows_the_list() {
        let o = addr(OWNER);
        let (c1, c2, c3) = (addr(1), addr(2), addr(3));
        let feedback = vec![fb(1, o, c1, 1, 100, 0), fb(1, o, c2, 1, 40, 0), fb(1, o, c3, 1, 10, 0)];
        let run = |clients: Option<Vec<Address>>| {
            summary(&mean(&feedback, U256::from(1), &Filter { clients, ..Filter::default() }).unwrap())
        };
        // [c1, c1, c2]: (100 + 100 + 40) / 3 = 80.
        assert_eq!(run(Some(vec![c1, c1, c2])), (3, 80, 0));
        // [c2, c1]: (40 + 100) / 2 = 70, whatever the order.
        assert_eq!(run(Some(vec![c2, c1])), (2, 70, 0));
        // No list: every client once, (100 + 40 + 10) / 3 = 50.
        assert_eq!(run(None), (3, 50, 0));
        // An empty list keeps nothing; a client that never rated adds nothing.
        assert_eq!(run(Some(vec![])), (0, 0, 0));
        assert_eq!(run(Some(vec![addr(9), c3])), (1, 10, 0));
        let score = mean(&feedback, U256::from(1), &Filter { clients: Some(vec![c1, c1]), ..Filter::default() });
        assert_eq!(score.unwrap().distinct_clients, 1);
    }

    #[test]
    fn mean_uses_256_bit_arithmetic_and_casts_like_solidity() {
        let o = addr(OWNER);
        // i128::MAX * 1e18 does not fit in i128, but the contract's int256 handles it.
        let big = vec![fb(1, o, addr(1), 1, i128::MAX, 0)];
        assert_eq!(summary(&mean(&big, U256::from(1), &Filter::default()).unwrap()), (1, i128::MAX, 0));
        // Two more records at 18 decimals make the mode 18, so the average (i128::MAX * 1e18 / 3 =
        // 56713727820156410577229101238628035242333333333333333333) is not divided down and int128(...)
        // keeps its low 128 bits (computed with Python's integers).
        let mut wrap = big.clone();
        wrap.push(fb(1, o, addr(2), 1, 0, 18));
        wrap.push(fb(1, o, addr(3), 1, 0, 18));
        let score = mean(&wrap, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (3, -113427455640312821154791535810589403819, 18));
    }

    #[test]
    fn verified_only_keeps_receipted_feedback() {
        let o = addr(OWNER);
        let feedback = vec![
            Feedback { verified: true, ..fb(1, o, addr(1), 1, 90, 0) },
            fb(1, o, addr(2), 1, 10, 0),
            Feedback { verified: true, ..fb(1, o, addr(3), 1, 70, 0) },
        ];
        let all = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        assert_eq!((summary(&all), all.verified_share), ((3, 56, 0), Some(2.0 / 3.0)));
        let verified = Filter { verified_only: true, ..Filter::default() };
        let only = mean(&feedback, U256::from(1), &verified).unwrap();
        assert_eq!((summary(&only), only.verified_share), ((2, 80, 0), Some(1.0)));
        let bayes = bayesian(&feedback, U256::from(1), &verified, &Params::default()).unwrap();
        assert_eq!(bayes.count, 2);
    }

    #[test]
    fn bayesian_weighs_few_reviews_little() {
        let o = addr(OWNER);
        let params = Params::default();
        let one = vec![fb(1, o, addr(1), 1, 100, 0)];
        // (10 * 50 + 100) / (10 + 1) = 600 / 11 = 54.5454...
        let score = bayesian(&one, U256::from(1), &Filter::default(), &params).unwrap();
        assert_close(score.score.unwrap(), 54.545_454_545_454_55);

        // 100 reviews of 100.00 at 2 decimals: (500 + 10000) / 110 = 95.4545...
        let hundred: Vec<Feedback> = (1..=100).map(|i| fb(1, o, addr(i), 1, 10000, 2)).collect();
        let score = bayesian(&hundred, U256::from(1), &Filter::default(), &params).unwrap();
        assert_close(score.score.unwrap(), 95.454_545_454_545_45);
        assert_eq!((score.count, score.distinct_clients), (100, 100));

        // No review: the prior itself; with no prior weight either, nothing.
        let score = bayesian(&one, U256::from(2), &Filter::default(), &params).unwrap();
        assert_eq!((score.score, score.count, score.agent_owner), (Some(50.0), 0, None));
        let flat = Params { prior_weight: 0.0, ..Params::default() };
        assert_eq!(bayesian(&one, U256::from(2), &Filter::default(), &flat).unwrap().score, None);
        // Weight 0 is the plain mean.
        assert_eq!(bayesian(&one, U256::from(1), &Filter::default(), &flat).unwrap().score, Some(100.0));
        match bayesian(&one, U256::from(1), &Filter::default(), &params).unwrap().params {
            UsedParams::Bayesian { prior_mean, prior_weight, .. } => {
                assert_eq!((prior_mean, prior_weight), (50.0, 10.0));
            }
            other => panic!("wrong params {other:?}"),
        }
    }

    #[test]
    fn decay_halves_the_weight_of_a_review_one_half_life_old() {
        let o = addr(OWNER);
        let h = DEFAULT_HALF_LIFE_SECS as i64;
        let feedback = vec![
            Feedback { timestamp: 1_000, ..fb(1, o, addr(1), 1, 100, 0) },
            Feedback { timestamp: 1_000 + h, ..fb(1, o, addr(2), 1, 40, 0) },
        ];
        // now = the newer review: weights 0.5 and 1, (0.5 * 100 + 40) / 1.5 = 60 exactly.
        let params = Params { now: Some(1_000 + h), ..Params::default() };
        let score = decay(&feedback, U256::from(1), &Filter::default(), &params).unwrap();
        assert_eq!(score.score, Some(60.0));
        // Without `now`, the newest timestamp in the input is used: the same result, echoed.
        let score = decay(&feedback, U256::from(1), &Filter::default(), &Params::default()).unwrap();
        assert_eq!(score.score, Some(60.0));
        let UsedParams::Decay { now, half_life_secs, .. } = score.params else { panic!("decay params") };
        assert_eq!((now, half_life_secs), (1_000 + h, 2_592_000));
        // Two half-lives later: weights 0.125 and 0.25, (12.5 + 10) / 0.375 = 60 again (ratios only).
        let later = Params { now: Some(1_000 + 3 * h), ..Params::default() };
        assert_eq!(decay(&feedback, U256::from(1), &Filter::default(), &later).unwrap().score, Some(60.0));
        // Both in the future: weight 1 each, the plain mean 70.
        let before = Params { now: Some(0), ..Params::default() };
        assert_eq!(decay(&feedback, U256::from(1), &Filter::default(), &before).unwrap().score, Some(70.0));
        // No feedback: None.
        assert_eq!(decay(&feedback, U256::from(2), &Filter::default(), &params).unwrap().score, None);
    }

    #[test]
    fn half_pow_is_exact_on_integers_and_close_to_powf_elsewhere() {
        assert_eq!(half_pow(0.0), 1.0);
        assert_eq!(half_pow(1.0), 0.5);
        assert_eq!(half_pow(10.0), 1.0 / 1024.0);
        assert_eq!(half_pow(1074.0), f64::from_bits(1));
        assert_eq!(half_pow(1075.0), 0.0);
        for i in 0..2000u32 {
            let x = f64::from(i) * 0.37;
            let (ours, libm) = (half_pow(x), 0.5f64.powf(x));
            assert!((ours - libm).abs() <= libm * 4.0 * f64::EPSILON, "x = {x}: {ours} vs {libm}");
        }
    }

    /// The 5-node graph of the trust tests: seed S; A, B, C, D own agents 1, 2, 3, 4.
    fn five_nodes() -> (Vec<Feedback>, [Address; 5]) {
        let [s, a, b, c, d] = [addr(1), addr(2), addr(3), addr(4), addr(5)];
        let feedback = vec![
            fb(1, a, s, 1, 100, 0), // S -> A: 1.0
            fb(2, b, s, 1, 50, 0),  // S -> B: 0.5; row S normalized: A 2/3, B 1/3
            fb(3, c, a, 1, 80, 0),  // A -> C: row A = {C: 1}
            fb(3, c, b, 1, 20, 0),  // B -> C: 0.2
            fb(4, d, b, 1, 60, 0),  // B -> D: 0.6; row B normalized: C 0.25, D 0.75
            fb(1, a, c, 1, -30, 0), // C -> A: negative, no trust; row C sums to 0 and passes nothing on
        ];
        (feedback, [s, a, b, c, d])
    }

    #[test]
    fn trust_matches_two_hand_computed_steps() {
        let (feedback, [s, a, b, c, d]) = five_nodes();
        let params = Params { seeds: vec![s], alpha: 0.2, max_iterations: 2, ..Params::default() };
        // t0 = p = (S 1).
        // t1 = 0.8 * C^T t0 + 0.2 p: S 0.2, A 0.8 * 2/3 = 0.5333, B 0.8 * 1/3 = 0.2667, C 0, D 0.
        // t2: S 0.2, A 0.8 * (2/3 * 0.2) = 0.10667, B 0.8 * (1/3 * 0.2) = 0.05333,
        //     C 0.8 * (1 * 0.5333 + 0.25 * 0.2667) = 0.48, D 0.8 * (0.75 * 0.2667) = 0.16.
        let vector = trust_vector(&feedback, &Filter::default(), &params).unwrap();
        assert_eq!((vector.iterations, vector.converged), (2, false));
        let expected = [(s, 0.2), (a, 0.8 * 2.0 / 3.0 * 0.2), (b, 0.8 / 3.0 * 0.2), (c, 0.48), (d, 0.16)];
        assert_eq!(vector.nodes.len(), 5);
        for (node, (address, trust)) in vector.nodes.iter().zip(expected) {
            assert_eq!(node.address, address);
            assert_close(node.trust, trust);
        }

        let scores = trust(&feedback, &Filter::default(), &params).unwrap();
        let get = |id: u64| scores.iter().find(|x| x.agent_id == U256::from(id)).unwrap();
        // Agent 1 (owner A): S says 100 with trust 0.2, C says -30 with trust 0.48:
        // (20 - 14.4) / 0.68 = 8.2353; a negative review counts in the score though it passes no trust.
        let one = get(1);
        assert_close(one.score.unwrap(), 5.6 / 0.68);
        let detail = one.trust.unwrap();
        assert_close(detail.trust_mass, 0.68);
        assert_close(detail.owner_trust, 0.8 * 2.0 / 3.0 * 0.2);
        // Agent 2: only S, 50. Agent 3: (0.10667 * 80 + 0.05333 * 20) / 0.16 = 60. Agent 4: only B, 60.
        assert_close(get(2).score.unwrap(), 50.0);
        assert_close(get(3).score.unwrap(), 60.0);
        assert_close(get(4).score.unwrap(), 60.0);
        assert_close(get(4).trust.unwrap().owner_trust, 0.16);
    }

    #[test]
    fn trust_converges_to_the_hand_computed_fixed_point() {
        let (feedback, [s, a, b, c, d]) = five_nodes();
        let params = Params { seeds: vec![s], alpha: 0.2, ..Params::default() };
        // t3 = t4: S 0.2, A 0.10667, B 0.05333, C 0.8 * (0.10667 + 0.25 * 0.05333) = 0.096,
        // D 0.8 * 0.75 * 0.05333 = 0.032; step 4 changes nothing, so it stops there.
        let vector = trust_vector(&feedback, &Filter::default(), &params).unwrap();
        assert_eq!((vector.iterations, vector.converged), (4, true));
        for (address, trust) in [(s, 0.2), (a, 0.32 / 3.0), (b, 0.16 / 3.0), (c, 0.096), (d, 0.032)] {
            assert_close(vector.get(address), trust);
        }
        assert_eq!(vector.get(addr(99)), 0.0);
        // Agent 1: (0.2 * 100 - 0.096 * 30) / 0.296 = 57.84.
        let scores = trust(&feedback, &Filter::default(), &params).unwrap();
        assert_close(scores[0].score.unwrap(), 17.12 / 0.296);
    }

    #[test]
    fn trust_without_seeds_scores_nothing() {
        let (feedback, _) = five_nodes();
        let scores = trust(&feedback, &Filter::default(), &Params::default()).unwrap();
        assert_eq!(scores.len(), 4);
        assert!(scores.iter().all(|s| s.score.is_none() && s.trust.unwrap().trust_mass == 0.0));
        // A seed that never appears still takes its share of p: with two seeds, S starts at 1/2.
        let params = Params { seeds: vec![addr(1), addr(500)], alpha: 1.0, ..Params::default() };
        let vector = trust_vector(&feedback, &Filter::default(), &params).unwrap();
        assert_eq!((vector.get(addr(1)), vector.get(addr(500))), (0.5, 0.5));
    }

    #[test]
    fn a_ring_unreached_by_the_seeds_has_no_influence() {
        let (seed, honest, owner) = (addr(1), addr(2), addr(3));
        let ring: Vec<Address> = (100..103).map(addr).collect();
        // The seed rates the honest client's agent 10; the honest client rates target agent 1 at 40.
        let mut feedback = vec![fb(10, honest, seed, 1, 100, 0), fb(1, owner, honest, 1, 40, 0)];
        let honest_only = feedback.clone();
        // Ring member k owns agent 100 + k, rates the next member's agent 100 and the target 100.
        for (k, &member) in ring.iter().enumerate() {
            let next = (k + 1) % ring.len();
            feedback.push(fb(100 + next as u64, ring[next], member, 1, 100, 0));
            feedback.push(fb(1, owner, member, 1, 100, 0));
        }
        let params = Params { seeds: vec![seed], ..Params::default() };
        let with_ring = trust(&feedback, &Filter::default(), &params).unwrap();
        let without = trust(&honest_only, &Filter::default(), &params).unwrap();
        let target = |scores: &[Score]| scores.iter().find(|s| s.agent_id == U256::from(1)).unwrap().clone();
        assert_eq!(target(&with_ring).score, Some(40.0));
        assert_eq!(target(&with_ring).score.unwrap().to_bits(), target(&without).score.unwrap().to_bits());
        assert_eq!(target(&with_ring).count, 4);
        assert!(with_ring.iter().filter(|s| s.agent_id >= U256::from(100)).all(|s| s.score.is_none()));

        // Once the seed rates a ring member, the ring's ratings count: the property is about reachability.
        feedback.push(fb(100, ring[0], seed, 1, 100, 0));
        let reached = trust(&feedback, &Filter::default(), &params).unwrap();
        assert!(target(&reached).score.unwrap() > 40.0);
    }

    /// Agents A (1) and B (2); 5 honest clients reached from 2 seeds rate A 90 and B 10; a 50-address ring
    /// rates each other's agents and B at 100.
    fn sybil_world() -> (Vec<Feedback>, Vec<Feedback>, Vec<Address>) {
        let seeds = vec![addr(1), addr(2)];
        let (owner_a, owner_b) = (addr(10), addr(11));
        let honest: Vec<Address> = (20..25).map(addr).collect();
        let mut feedback = Vec::new();
        for (k, &h) in honest.iter().enumerate() {
            for &s in &seeds {
                feedback.push(fb(10 + k as u64, h, s, 1, 80, 0));
            }
            feedback.push(fb(1, owner_a, h, 1, 90, 0));
            feedback.push(fb(2, owner_b, h, 1, 10, 0));
        }
        let honest_only = feedback.clone();
        let ring: Vec<Address> = (1000..1050).map(addr).collect();
        for (k, &member) in ring.iter().enumerate() {
            let next = (k + 1) % ring.len();
            feedback.push(fb(1000 + next as u64, ring[next], member, 1, 100, 0));
            feedback.push(fb(2, owner_b, member, 1, 100, 0));
        }
        (feedback, honest_only, seeds)
    }

    #[test]
    fn a_sybil_ring_outranks_honest_reviews_under_mean_but_not_under_trust() {
        let (feedback, honest_only, seeds) = sybil_world();
        let filter = Filter::default();
        let rank = |scores: &[Score], id: u64| scores.iter().position(|s| s.agent_id == U256::from(id)).unwrap();

        // Mean: A = 90; B = (5 * 10 + 50 * 100) / 55 = 91.8 -> 91, so B ranks above A.
        let by_mean = leaderboard(score_agents(&feedback, &filter, Algorithm::Mean, &Params::default()).unwrap());
        let b = &by_mean[rank(&by_mean, 2)];
        assert_eq!(summary(b), (55, 91, 0));
        assert!(rank(&by_mean, 2) < rank(&by_mean, 1));

        // Trust (default alpha): A = 90, B = 10, exactly what the honest clients alone give.
        let params = Params { seeds, ..Params::default() };
        let by_trust = leaderboard(score_agents(&feedback, &filter, Algorithm::Trust, &params).unwrap());
        let (a, b) = (&by_trust[rank(&by_trust, 1)], &by_trust[rank(&by_trust, 2)]);
        assert_close(a.score.unwrap(), 90.0);
        assert_close(b.score.unwrap(), 10.0);
        assert!(rank(&by_trust, 1) < rank(&by_trust, 2));
        let honest = trust(&honest_only, &filter, &params).unwrap();
        let honest_b = honest.iter().find(|s| s.agent_id == U256::from(2)).unwrap();
        assert_eq!(b.score.unwrap().to_bits(), honest_b.score.unwrap().to_bits());
        assert_eq!(b.trust.unwrap().trust_mass.to_bits(), honest_b.trust.unwrap().trust_mass.to_bits());
        assert_eq!((b.count, b.distinct_clients), (55, 55));
        // The ring's own agents get no score and sink to the bottom.
        assert_eq!(by_trust.iter().filter(|s| s.score.is_none()).count(), 50);
        assert!(by_trust[by_trust.len() - 50..].iter().all(|s| s.agent_id >= U256::from(1000)));
    }

    #[test]
    fn every_algorithm_is_bit_identical_whatever_the_input_order() {
        let (mut feedback, _, seeds) = sybil_world();
        for (i, f) in feedback.iter_mut().enumerate() {
            f.timestamp = 1_700_000_000 + (i as i64 * 7919) % 5_000_000;
            f.decimals = (i % 3) as u8;
            f.value *= 10i128.pow(u32::from(f.decimals));
            f.verified = i % 2 == 0;
        }
        let mut shuffled = feedback.clone();
        shuffled.reverse();
        shuffled.rotate_left(37);
        let params = Params { seeds, ..Params::default() };
        for algorithm in Algorithm::ALL {
            let run = |input: &[Feedback]| {
                let scores = leaderboard(score_agents(input, &Filter::default(), algorithm, &params).unwrap());
                serde_json::to_string(&scores).unwrap()
            };
            assert_eq!(run(&feedback), run(&shuffled), "{algorithm}");
            assert_eq!(run(&feedback), run(&feedback), "{algorithm}");
        }
        // Per-agent calls agree with the batch.
        let batch = score_agents(&feedback, &Filter::default(), Algorithm::Decay, &params).unwrap();
        let single = score_agent(&shuffled, U256::from(2), &Filter::default(), Algorithm::Decay, &params).unwrap();
        assert_eq!(batch.iter().find(|s| s.agent_id == U256::from(2)).unwrap(), &single);
        let single = score_agent(&shuffled, U256::from(2), &Filter::default(), Algorithm::Trust, &params).unwrap();
        let batch = trust(&feedback, &Filter::default(), &params).unwrap();
        assert_eq!(batch.iter().find(|s| s.agent_id == U256::from(2)).unwrap(), &single);
    }

    #[test]
    fn leaderboard_puts_none_last_and_breaks_ties_by_agent_id() {
        let score = |id: u64, score: Option<f64>| Score {
            agent_id: U256::from(id),
            agent_owner: None,
            score,
            count: 0,
            distinct_clients: 0,
            verified_share: None,
            summary: None,
            trust: None,
            params: UsedParams::Mean { filter: Filter::default() },
        };
        let input = vec![
            score(5, None),
            score(4, Some(10.0)),
            score(3, Some(-0.0)),
            score(2, Some(90.0)),
            score(1, None),
            score(7, Some(0.0)),
            score(6, Some(90.0)),
        ];
        let ids: Vec<u64> = leaderboard(input).iter().map(|s| s.agent_id.to::<u64>()).collect();
        assert_eq!(ids, [2, 6, 4, 3, 7, 1, 5]);
    }

    #[test]
    fn algorithm_names_round_trip() {
        for algorithm in Algorithm::ALL {
            assert_eq!(algorithm.to_string().parse::<Algorithm>().unwrap(), algorithm);
            assert_eq!(serde_json::to_string(&algorithm).unwrap(), format!("\"{algorithm}\""));
        }
        assert_eq!("Trust".parse::<Algorithm>().unwrap(), Algorithm::Trust);
        assert_eq!("median".parse::<Algorithm>().unwrap_err(), ReputationError::UnknownAlgorithm("median".into()));
    }

    #[test]
    fn bad_input_and_parameters_are_rejected() {
        let o = addr(OWNER);
        let id = U256::from(1);
        let filter = Filter::default();
        let err = mean(&[fb(1, o, addr(1), 1, 5, 19)], id, &filter).unwrap_err();
        assert!(matches!(err, ReputationError::Decimals { decimals: 19, .. }));
        let twice = [fb(1, o, addr(1), 1, 5, 0), fb(1, o, addr(1), 1, 6, 0)];
        assert!(matches!(mean(&twice, id, &filter).unwrap_err(), ReputationError::DuplicateFeedback { .. }));
        let owners = [fb(1, o, addr(1), 1, 5, 0), fb(1, addr(2), addr(1), 2, 6, 0)];
        assert!(matches!(mean(&owners, id, &filter).unwrap_err(), ReputationError::InconsistentOwner { .. }));

        let ok = [fb(1, o, addr(1), 1, 5, 0)];
        let invalid =
            |params: Params, algorithm: Algorithm| match score_agents(&ok, &filter, algorithm, &params).unwrap_err() {
                ReputationError::InvalidParam { name, .. } => name,
                other => panic!("unexpected {other:?}"),
            };
        assert_eq!(invalid(Params { prior_weight: -1.0, ..Params::default() }, Algorithm::Bayesian), "prior_weight");
        assert_eq!(invalid(Params { prior_mean: f64::NAN, ..Params::default() }, Algorithm::Bayesian), "prior_mean");
        assert_eq!(invalid(Params { half_life_secs: 0, ..Params::default() }, Algorithm::Decay), "half_life_secs");
        assert_eq!(invalid(Params { alpha: 1.5, ..Params::default() }, Algorithm::Trust), "alpha");
        assert_eq!(invalid(Params { tolerance: -1.0, ..Params::default() }, Algorithm::Trust), "tolerance");
        assert_eq!(invalid(Params { max_iterations: 10_001, ..Params::default() }, Algorithm::Trust), "max_iterations");
        // A parameter another algorithm reads is not checked.
        assert!(score_agents(&ok, &filter, Algorithm::Mean, &Params { alpha: 7.0, ..Params::default() }).is_ok());
    }

    #[test]
    fn json_shapes_are_stable() {
        let o = addr(OWNER);
        let feedback = vec![fb(1, o, addr(1), 1, 9050, 2)];
        let score = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        let json = serde_json::to_value(&score).unwrap();
        assert_eq!(json["params"]["algorithm"], "mean");
        assert_eq!(json["summary"]["summary_value"], "9050");
        assert_eq!(json["score"], 90.5);
        assert!(json.get("trust").is_none());
        assert_eq!(serde_json::from_value::<Score>(json).unwrap(), score);

        // Missing fields take the defaults, as an API query would.
        let params: Params = serde_json::from_str(r#"{"prior_mean": 60}"#).unwrap();
        assert_eq!(params, Params { prior_mean: 60.0, ..Params::default() });
        let filter: Filter = serde_json::from_str(r#"{"tag1": "quality"}"#).unwrap();
        assert_eq!(filter, Filter { tag1: Some("quality".into()), ..Filter::default() });

        // Feedback values are decimal strings out and strings or integers in.
        let text = serde_json::to_string(&feedback[0]).unwrap();
        assert!(text.contains(r#""value":"9050""#), "{text}");
        assert_eq!(serde_json::from_str::<Feedback>(&text).unwrap(), feedback[0]);
        let number = text.replace(r#""value":"9050""#, r#""value":-12"#);
        assert_eq!(serde_json::from_str::<Feedback>(&number).unwrap().value, -12);
    }
}
