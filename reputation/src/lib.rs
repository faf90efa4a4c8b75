//! Deterministic reputation scores over raw ERC-8004 feedback: the contract's `getSummary` mean, a
//! Bayesian mean, a time-decayed mean and EigenTrust-style trust propagation, plus a leaderboard.
//!
//! Every function here is pure: no clock, no I/O, no randomness. Inputs are sorted internally by
//! `(agent_id, client, feedback_index)` and every floating-point sum runs in a fixed order using only
//! IEEE-754 basic operations (no `powf`/`exp` from the platform's libm), so the same inputs give
//! bit-identical `f64` outputs on every machine and in every input order. The HTTP API and the CLI share
//! these functions through [`Algorithm`], [`Filter`] and [`Params`]. `docs/reputation.md` describes the
//! algorithms for dApp developers and auditors.
//!
//! Every score lies in `[VALUE_MIN, VALUE_MAX]` (ERC-8004's conventional 0..100): records whose normalized value
//! lies outside it are left out and counted ([`Score::out_of_range`]), so no single value can move a score past
//! the range. Trust passes only to the owner an agent had when a rating was given
//! ([`Feedback::owner_at_feedback`]), so an ERC-721 transfer does not carry earned trust to the new owner.
//!
//! The crate may depend on prova-core, alloy's primitives and serde only (and thiserror, which derives
//! [`ReputationError`]), and stays pure: no clock, no I/O, no randomness.

mod bayesian;
mod decay;
mod incremental;
mod mean;
mod owners;
mod prepare;
mod trust;
mod types;

#[cfg(test)]
mod sybil;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

// The Sybil benchmark's code names this crate as its users do, so `benches/sybil.rs` can include it unchanged.
#[cfg(test)]
extern crate self as prova_reputation;

use alloy::primitives::U256;

pub use crate::bayesian::bayesian;
pub use crate::decay::decay;
pub use crate::incremental::Scoreboard;
pub use crate::mean::mean;
pub use crate::owners::{LogPosition, OwnerChange, owner_at};
pub use crate::trust::{trust, trust_vector};
pub use crate::types::{
    AddressTrust, Algorithm, DEFAULT_ALPHA, DEFAULT_HALF_LIFE_SECS, DEFAULT_MAX_ITERATIONS, DEFAULT_PRIOR_MEAN,
    DEFAULT_PRIOR_WEIGHT, DEFAULT_TOLERANCE, Feedback, Filter, MAX_DECIMALS, MAX_ITERATIONS_LIMIT, Params,
    ReputationError, Score, ScoreStatus, Summary, TRUST_MIN_EVIDENCE_SHARE, TrustDetail, TrustVector, UsedParams,
    VALUE_MAX, VALUE_MIN,
};

use crate::bayesian::bayesian_of;
use crate::decay::decay_of;
use crate::mean::mean_of;
use crate::prepare::prepare;
use crate::trust::{TrustModel, trust_of, trust_score};

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
            trust_score(&prepared, &TrustModel::new(&prepared, filter, params), agent_id, filter, params)
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
