//! OpenAPI schemas of the values the API writes as strings: hashes and addresses in lowercase hex, the inputs that
//! accept any case, and prova-reputation's `Score`.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// An example 32-byte hash: the base version of the `prova dev` demo.
pub const HASH_EXAMPLE: &str = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9";
/// An example address: the `prova dev` demo publisher.
pub const ADDRESS_EXAMPLE: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
/// Pattern of a hash in a request (either case).
pub const HASH_INPUT_PATTERN: &str = "^0x[0-9a-fA-F]{64}$";
/// Pattern of an address in a request (checksummed or not).
pub const ADDRESS_INPUT_PATTERN: &str = "^0x[0-9a-fA-F]{40}$";

fn hex_schema(pattern: &str, example: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .examples([serde_json::Value::from(example)])
        .description(Some(description))
        .into()
}

/// Schema of a 32-byte hash as answered: `0x` and 64 lowercase hex digits.
#[derive(Debug)]
pub struct Hash;

impl PartialSchema for Hash {
    fn schema() -> RefOr<Schema> {
        hex_schema("^0x[0-9a-f]{64}$", HASH_EXAMPLE, "A 32-byte hash: 0x and 64 lowercase hex digits.")
    }
}

impl ToSchema for Hash {
    fn name() -> Cow<'static, str> {
        "Hash".into()
    }
}

/// Schema of a 20-byte address as answered: `0x` and 40 lowercase hex digits (not checksummed).
#[derive(Debug)]
pub struct Address;

impl PartialSchema for Address {
    fn schema() -> RefOr<Schema> {
        hex_schema("^0x[0-9a-f]{40}$", ADDRESS_EXAMPLE, "An address: 0x and 40 lowercase hex digits.")
    }
}

impl ToSchema for Address {
    fn name() -> Cow<'static, str> {
        "Address".into()
    }
}

/// Schema of a hash inside a document that is also uploaded (manifest, leaf, receipt): any case is accepted,
/// answers are lowercase.
#[derive(Debug)]
pub struct HashInput;

impl PartialSchema for HashInput {
    fn schema() -> RefOr<Schema> {
        hex_schema(
            HASH_INPUT_PATTERN,
            HASH_EXAMPLE,
            "A 32-byte hash: 0x and 64 hex digits (any case accepted; answers are lowercase).",
        )
    }
}

impl ToSchema for HashInput {
    fn name() -> Cow<'static, str> {
        "HashInput".into()
    }
}

/// Schema of an address inside a document that is also uploaded: checksummed or not.
#[derive(Debug)]
pub struct AddressInput;

impl PartialSchema for AddressInput {
    fn schema() -> RefOr<Schema> {
        hex_schema(
            ADDRESS_INPUT_PATTERN,
            ADDRESS_EXAMPLE,
            "An address: 0x and 40 hex digits (checksummed or not; answers are lowercase).",
        )
    }
}

impl ToSchema for AddressInput {
    fn name() -> Cow<'static, str> {
        "AddressInput".into()
    }
}

/// Schema of `prova_reputation::Score`: one agent's score under one algorithm (see `docs/reputation.md`), as it
/// serializes. The `score_schema_matches_a_serialized_score` test keeps the two in step.
#[derive(Debug, ToSchema)]
#[schema(as = Score)]
#[allow(dead_code)] // read only by the schema derive
pub struct ScoreSchema {
    /// The agent id (uint256), as a decimal string.
    #[schema(pattern = "^[0-9]+$", example = "1")]
    agent_id: String,
    /// The agent's owner at scoring time, or null when no record of the agent was scored.
    #[schema(value_type = Option<Address>)]
    agent_owner: Option<String>,
    /// `scored`, or `insufficient_evidence` when `score` is null.
    status: ScoreStatusSchema,
    /// The score, from 0 to 100 (feedback values are read on ERC-8004's 0..100 scale; values outside it are left
    /// out and counted in `out_of_range`); null when the algorithm has no usable evidence.
    #[schema(minimum = 0, maximum = 100, example = 87.5)]
    score: Option<f64>,
    /// Number of records used (`mean`: a client listed twice counts twice).
    count: u64,
    /// Number of distinct reviewers among them.
    distinct_clients: u64,
    /// Records the filter kept whose value lies outside 0..100: left out of the score.
    out_of_range: u64,
    /// The agent's records the filter left out (revoked, other tags, other clients, no receipt under
    /// `verified_only`; under `trust` also the ratings by the agent's owner), each once.
    filtered_out: u64,
    /// Share of the records used that carry a receipt, from 0 to 1; null when `count` is 0.
    #[schema(minimum = 0, maximum = 1)]
    verified_share: Option<f64>,
    /// The exact contract summary (`mean` only; absent otherwise).
    #[schema(required = false)]
    summary: Option<SummarySchema>,
    /// Trust details (`trust` only; absent otherwise).
    #[schema(required = false)]
    trust: Option<TrustDetailSchema>,
    /// Every parameter the score used, with the algorithm's name.
    params: ScoreParamsSchema,
}

/// Whether a score rests on evidence.
#[derive(Debug, ToSchema)]
#[schema(as = ScoreStatus, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ScoreStatusSchema {
    /// `score` is a number from 0 to 100.
    Scored,
    /// `score` is null: no usable evidence is left; the counts say why.
    InsufficientEvidence,
}

/// `getSummary`'s answer, reproduced exactly (`mean` only).
#[derive(Debug, ToSchema)]
#[schema(as = ScoreSummary)]
#[allow(dead_code)]
pub struct SummarySchema {
    /// Number of records averaged (a client listed twice counts twice).
    count: u64,
    /// The average in `summary_decimals` decimals, truncated toward zero, as a decimal string (int128).
    #[schema(pattern = "^-?[0-9]+$", example = "95")]
    summary_value: String,
    /// The most common `valueDecimals` among the records (the smallest on a tie).
    summary_decimals: u8,
}

/// Trust details of a score (`trust` only).
#[derive(Debug, ToSchema)]
#[schema(as = TrustDetail)]
#[allow(dead_code)]
pub struct TrustDetailSchema {
    /// The agent's trusted evidence: the sum, over its distinct reviewers, of each one's vote weight (its trust
    /// divided by the number of agents it rates).
    trust_mass: f64,
    /// The evidence an agent needs for a score (a share of the median agent's `trust_mass`, the same for every
    /// agent of one answer); below it the status is `insufficient_evidence`.
    min_trust_mass: f64,
    /// Records used whose reviewer has trust above 0: the evidence the score rests on.
    trusted_records: u64,
    /// Distinct reviewers among them.
    trusted_clients: u64,
    /// The trust of the agent's owner (its own ratings are never used).
    owner_trust: f64,
    /// Steps the propagation ran.
    iterations: u32,
    /// Whether it stopped because the change fell below the tolerance (not at the cap).
    converged: bool,
}

/// The parameters a score used, after defaults were resolved; each algorithm has its own.
#[derive(Debug, ToSchema)]
#[schema(as = ScoreParams)]
#[allow(dead_code)]
pub struct ScoreParamsSchema {
    /// `mean`, `bayesian`, `decay` or `trust`.
    #[schema(example = "mean")]
    algorithm: AlgorithmSchema,
    /// The filter used: `tag1`, `tag2`, `clients`, `verified_only`.
    #[schema(value_type = Object)]
    filter: serde_json::Value,
    /// `bayesian`: the prior mean.
    #[schema(required = false)]
    prior_mean: Option<f64>,
    /// `bayesian`: the prior weight.
    #[schema(required = false)]
    prior_weight: Option<f64>,
    /// `decay`: the half-life in seconds.
    #[schema(required = false)]
    half_life_secs: Option<u64>,
    /// `decay`: the reference time, unix seconds.
    #[schema(required = false)]
    now: Option<i64>,
    /// `trust`: the seeds, sorted, without duplicates.
    #[schema(required = false, value_type = Option<Vec<Address>>)]
    seeds: Option<Vec<String>>,
    /// `trust`: the restart probability.
    #[schema(required = false)]
    alpha: Option<f64>,
    /// `trust`: the convergence threshold.
    #[schema(required = false)]
    tolerance: Option<f64>,
    /// `trust`: the iteration cap.
    #[schema(required = false)]
    max_iterations: Option<u32>,
}

/// A scoring algorithm's name.
#[derive(Debug, ToSchema)]
#[schema(as = Algorithm, rename_all = "lowercase")]
#[allow(dead_code)]
pub enum AlgorithmSchema {
    /// The contract's `getSummary` average.
    Mean,
    /// The mean shrunk toward a prior.
    Bayesian,
    /// The mean with weights decaying by age.
    Decay,
    /// The mean weighted by each reviewer's trust.
    Trust,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prova_reputation::{Algorithm, Feedback, Filter, Params, score_agents};
    use serde_json::Value;

    /// The properties and required names of a component, resolving nothing.
    fn object(schema: RefOr<Schema>) -> (Vec<String>, Vec<String>) {
        let value = serde_json::to_value(schema).unwrap();
        let properties = value["properties"].as_object().unwrap().keys().cloned().collect();
        let required = value["required"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
        (properties, required)
    }

    #[test]
    fn enums_are_named_as_serialized() {
        let status = serde_json::to_value(ScoreStatusSchema::schema()).unwrap();
        assert_eq!(status["enum"], serde_json::json!(["scored", "insufficient_evidence"]), "{status}");
        for algorithm in Algorithm::ALL {
            let names = serde_json::to_value(AlgorithmSchema::schema()).unwrap();
            assert!(names["enum"].as_array().unwrap().contains(&Value::from(algorithm.as_str())), "{names}");
        }
        let status = serde_json::to_value(prova_reputation::ScoreStatus::InsufficientEvidence).unwrap();
        assert_eq!(status, "insufficient_evidence");
    }

    #[test]
    fn score_schema_matches_a_serialized_score() {
        let owner = alloy::primitives::Address::repeat_byte(1);
        let records: Vec<Feedback> = (0..3u8)
            .map(|i| Feedback {
                agent_id: alloy::primitives::U256::from(7),
                agent_owner: owner,
                owner_at_feedback: owner,
                client: alloy::primitives::Address::repeat_byte(0x10 + i),
                feedback_index: 1,
                value: [90, 80, 1_000][usize::from(i)],
                decimals: 0,
                tag1: String::new(),
                tag2: String::new(),
                revoked: false,
                verified: i == 0,
                timestamp: 1_700_000_000,
            })
            .collect();
        let (properties, required) = object(ScoreSchema::schema());
        let seeds = Params { seeds: vec![alloy::primitives::Address::repeat_byte(0x10)], ..Params::default() };
        for algorithm in Algorithm::ALL {
            let scores = score_agents(&records, &Filter::default(), algorithm, &seeds).unwrap();
            let value = serde_json::to_value(&scores[0]).unwrap();
            let keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            for key in &keys {
                assert!(properties.contains(key), "{algorithm}: {key} is not in the schema");
            }
            for key in &required {
                assert!(keys.contains(key), "{algorithm}: required {key} is not serialized");
            }
            assert!(value["agent_id"].as_str().unwrap().bytes().all(|b| b.is_ascii_digit()), "{value}");
            assert!(["scored", "insufficient_evidence"].contains(&value["status"].as_str().unwrap()));
            assert_eq!(value["out_of_range"], 1, "{algorithm}: {value}");
            let (params, _) = object(ScoreParamsSchema::schema());
            for key in value["params"].as_object().unwrap().keys() {
                assert!(params.contains(key), "{algorithm}: params.{key} is not in the schema");
            }
            if let Some(score) = value["score"].as_f64() {
                assert!((0.0..=100.0).contains(&score), "{algorithm}: {score}");
            }
            for (name, nested) in [("summary", SummarySchema::schema()), ("trust", TrustDetailSchema::schema())] {
                if let Value::Object(fields) = &value[name] {
                    let (known, needed) = object(nested);
                    assert!(fields.keys().all(|k| known.contains(k)), "{algorithm}: {name} {fields:?}");
                    assert!(needed.iter().all(|k| fields.contains_key(k)), "{algorithm}: {name} {fields:?}");
                }
            }
        }
    }
}
