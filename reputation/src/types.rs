//! The shared public types, constants and errors: the feedback record, the filter, the algorithm names,
//! their parameters, and the score every algorithm returns.

use std::fmt;
use std::str::FromStr;

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

/// Default prior mean of [`Algorithm::Bayesian`]: the middle of ERC-8004's conventional 0..100 scale.
pub const DEFAULT_PRIOR_MEAN: f64 = 50.0;
/// Default prior weight of [`Algorithm::Bayesian`], in pseudo-reviews.
pub const DEFAULT_PRIOR_WEIGHT: f64 = 10.0;
/// Default half-life of [`Algorithm::Decay`]: 30 days, in seconds.
pub const DEFAULT_HALF_LIFE_SECS: u64 = 30 * 24 * 60 * 60;
/// Default restart probability (teleport to the seeds) of [`Algorithm::Trust`]. It also bounds how far trust that
/// enters a ring is amplified by circulating in it, `(1 - alpha) / alpha` times (2.33 at 0.3; 5.67 at 0.15, the default
/// before 2026-12): see `docs/reputation.md`, "Bounds under attack".
pub const DEFAULT_ALPHA: f64 = 0.3;
/// Default convergence threshold of [`Algorithm::Trust`]: stop once the L1 change is below it.
pub const DEFAULT_TOLERANCE: f64 = 1e-12;
/// Default iteration cap of [`Algorithm::Trust`].
pub const DEFAULT_MAX_ITERATIONS: u32 = 100;
/// [`Algorithm::Trust`] scores an agent only when its trusted evidence ([`TrustDetail::trust_mass`]) is at least
/// this share of the median agent's (weighted by evidence; see [`TrustDetail::min_trust_mass`]); below it the answer
/// is [`ScoreStatus::InsufficientEvidence`]. A fixed part of the algorithm, not a parameter: it bounds how many agents
/// one bridged honest reviewer can lift (`docs/reputation.md`, "Bounds").
pub const TRUST_MIN_EVIDENCE_SHARE: f64 = 0.25;
/// Largest accepted `max_iterations`, so a request cannot buy unbounded work.
pub const MAX_ITERATIONS_LIMIT: u32 = 10_000;
/// Largest `valueDecimals` ERC-8004 allows.
pub const MAX_DECIMALS: u8 = prova_core::bindings::MAX_VALUE_DECIMALS;
/// The lowest normalized value (`value / 10^decimals`) a score reads: ERC-8004's conventional 0..100 scale.
pub const VALUE_MIN: i128 = 0;
/// The highest normalized value a score reads. Records outside `[VALUE_MIN, VALUE_MAX]` are left out of every
/// score and counted in [`Score::out_of_range`], so every score lies in this range too.
pub const VALUE_MAX: i128 = 100;
/// `10^k` for `k` in `0..=18`; every entry is exactly representable as an `f64`.
pub(crate) const POW10_F64: [f64; 19] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];
/// `x` clamped to `[VALUE_MIN, VALUE_MAX]`. A weighted mean of values in the range lies in it, but its rounded
/// `f64` can miss by an ulp; this keeps every score inside the declared range.
pub(crate) fn in_value_range(x: f64) -> f64 {
    x.clamp(VALUE_MIN as f64, VALUE_MAX as f64)
}
/// `10^k` for `k` in `0..=18`, exactly.
const POW10_I128: [i128; 19] = {
    let mut table = [1i128; 19];
    let mut k = 1;
    while k < 19 {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

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
    /// Records of one agent name different current owners; all must carry the owner at scoring time in
    /// `agent_owner` (the owner when each was given goes in `owner_at_feedback`).
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
    /// A record given to [`crate::Scoreboard::set_agent`] rates another agent than the one being set.
    #[error("a record of agent {agent_id} was given as one of agent {expected}")]
    ForeignRecord {
        /// The agent being set.
        expected: U256,
        /// The agent the record rates.
        agent_id: U256,
    },
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
/// agent's owners (now, and when the record was given) and prova's receipt flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// The rated agent (the identity registry's token id); a decimal string in JSON (`0x` hex is accepted on
    /// input).
    #[serde(with = "u256_decimal")]
    pub agent_id: U256,
    /// The owner of the rated agent at scoring time (the same on every record of the agent).
    pub agent_owner: Address,
    /// The owner of the rated agent when the record was given: the recipient of the agent's last ERC-721
    /// `Transfer` logged before the `NewFeedback` log. [`Algorithm::Trust`] sends the client's trust here and
    /// nowhere else, so trust earned under one owner never passes to a later one.
    pub owner_at_feedback: Address,
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

    /// Whether the normalized value lies in `[VALUE_MIN, VALUE_MAX]`, decided exactly in integers
    /// (decimals must be at most 18): only such records are scored.
    pub fn in_range(&self) -> bool {
        let scale = POW10_I128[usize::from(self.decimals)];
        // 100 * 10^18 < 2^127, so neither bound overflows.
        (VALUE_MIN * scale..=VALUE_MAX * scale).contains(&self.value)
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
    /// Keep only these reviewers; `None` keeps all. `mean` walks the list in order and counts a repeated
    /// address again, as `getSummary` does; the other algorithms treat it as a set. `Some(vec![])` keeps
    /// nothing.
    pub clients: Option<Vec<Address>>,
    /// Keep only records with a valid interaction receipt (prova extension; not in the contract).
    pub verified_only: bool,
}

impl Filter {
    /// Whether a record passes the revoked, tag and receipt tests (not the client list).
    pub(crate) fn keeps_record(&self, f: &Feedback) -> bool {
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
    /// Bayesian: the prior mean, in `[VALUE_MIN, VALUE_MAX]`. Default 50.
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
    /// Trust: the share of trust sent back to the seeds at each step, in `[0, 1]`. Default 0.3 ([`DEFAULT_ALPHA`]).
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
                if !(VALUE_MIN as f64..=VALUE_MAX as f64).contains(&self.prior_mean) {
                    return bad("prior_mean", "must be a number from 0 to 100, the range scores are on");
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
    /// The agent's trusted evidence: the sum, over its distinct reviewers, of each one's vote weight (its trust divided
    /// by the number of agents it rates), whatever the number of records it gave.
    pub trust_mass: f64,
    /// The evidence an agent needs for a score: [`TRUST_MIN_EVIDENCE_SHARE`] times the median agent's
    /// `trust_mass`, weighted by `trust_mass` (the same for every agent of one input). Agents below it, or with
    /// `trust_mass` 0, are [`ScoreStatus::InsufficientEvidence`].
    #[serde(default)]
    pub min_trust_mass: f64,
    /// Records used whose reviewer has trust above 0: the evidence the score rests on.
    pub trusted_records: u64,
    /// Distinct reviewers among them.
    pub trusted_clients: u64,
    /// The trust of the agent's owner.
    pub owner_trust: f64,
    /// Steps the propagation ran.
    pub iterations: u32,
    /// Whether it stopped because the L1 change fell below the tolerance (not at the cap).
    pub converged: bool,
}

/// Whether a [`Score`] rests on evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreStatus {
    /// `score` is a number in `[VALUE_MIN, VALUE_MAX]`.
    Scored,
    /// `score` is `null`: no usable evidence is left (no record kept and in range, no record from a reviewer with
    /// trust or less trusted evidence than [`TrustDetail::min_trust_mass`] under [`Algorithm::Trust`], or every decay
    /// weight is 0). The counts of the [`Score`] say why.
    InsufficientEvidence,
}

impl ScoreStatus {
    /// The status of a score that is `score`.
    pub fn of(score: Option<f64>) -> Self {
        if score.is_some() { Self::Scored } else { Self::InsufficientEvidence }
    }
}

/// One agent's score under one algorithm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The agent; a decimal string in JSON (`0x` hex is accepted on input).
    #[serde(with = "u256_decimal")]
    pub agent_id: U256,
    /// The agent's owner as given in the input; `None` when the input has no record of the agent.
    pub agent_owner: Option<Address>,
    /// `scored`, or `insufficient_evidence` when `score` is `None`.
    pub status: ScoreStatus,
    /// The score, in `[VALUE_MIN, VALUE_MAX]`; `None` when the algorithm has no usable evidence.
    pub score: Option<f64>,
    /// Number of records used ([`Algorithm::Mean`]: a client listed twice counts twice).
    pub count: u64,
    /// Number of distinct reviewers among them.
    pub distinct_clients: u64,
    /// Records the filter kept but whose value lies outside `[VALUE_MIN, VALUE_MAX]`: left out of the score
    /// (counted like `count`).
    pub out_of_range: u64,
    /// The agent's records in the input that the filter left out (revoked, other tags, other clients, no receipt
    /// under `verified_only`; under [`Algorithm::Trust`] also the ratings by the agent's owner), each once.
    pub filtered_out: u64,
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

/// Serializes a `U256` as a decimal string; accepts a decimal or `0x` hex string, or a JSON integer, on input.
mod u256_decimal {
    use std::fmt;

    use alloy::primitives::U256;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
        deserializer.deserialize_any(U256Visitor)
    }

    struct U256Visitor;

    impl Visitor<'_> for U256Visitor {
        type Value = U256;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a uint256 as a decimal or 0x hex string, or an integer")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<U256, E> {
            Ok(U256::from(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<U256, E> {
            let (digits, radix) = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
                Some(hex) => (hex, 16u32),
                None => (v, 10u32),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return Err(E::custom(format!("{v:?} is not a uint256")));
            }
            U256::from_str_radix(digits, u64::from(radix)).map_err(|_| E::custom(format!("{v:?} is not a uint256")))
        }
    }
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
    use crate::mean;
    use crate::testutil::{OWNER, addr, fb};

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

        // Agent ids are decimal strings out, like every other id of the API; hex and integers are read too.
        let big = Score { agent_id: U256::from(23), ..score };
        let json = serde_json::to_value(&big).unwrap();
        assert_eq!(
            (&json["agent_id"], &json["status"], &json["out_of_range"]),
            (&"23".into(), &"scored".into(), &0.into())
        );
        assert!(text.contains(r#""agent_id":"1""#), "{text}");
        for input in [r#""0x17""#, "23", r#""23""#] {
            let mut json = json.clone();
            json["agent_id"] = serde_json::from_str(input).unwrap();
            assert_eq!(serde_json::from_value::<Score>(json).unwrap().agent_id, U256::from(23), "{input}");
        }
        for bad in [r#""""#, r#""0x""#, r#""-1""#, r#""1e3""#, r#""0x1g""#] {
            let mut json = json.clone();
            json["agent_id"] = serde_json::from_str(bad).unwrap();
            assert!(serde_json::from_value::<Score>(json).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_value_range_is_decided_exactly() {
        let o = addr(OWNER);
        let at = |value: i128, decimals: u8| fb(1, o, addr(1), 1, value, decimals).in_range();
        assert!(at(0, 0) && at(100, 0) && at(100 * 10i128.pow(18), 18) && at(1, 18));
        assert!(!at(-1, 0) && !at(101, 0) && !at(100 * 10i128.pow(18) + 1, 18) && !at(-1, 18));
        assert!(!at(i128::MAX, 0) && !at(i128::MIN, 18) && !at(i128::MAX, 18));
        assert_eq!(in_value_range(100.000_000_000_000_01), 100.0);
    }
}
