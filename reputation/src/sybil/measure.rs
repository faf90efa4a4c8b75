//! The measures: every algorithm and the two peers scored over a [`World`], and how well each ranks it.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::U256;
use prova_reputation::{Algorithm, Filter, Params, Score, ScoreStatus, leaderboard, score_agents, trust_vector};

use super::world::World;

/// Something that scores every agent of a world: one of the crate's algorithms, or a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scorer {
    /// A crate algorithm with default parameters (the world's seeds for `trust`), all records or receipts only.
    Algorithm(Algorithm, bool),
    /// ERC-8004's `getSummary` over every client, as agent0-sdk's RPC path reads it: the plain mean of every
    /// non-revoked value, saturating (`summary_value / 10^summary_decimals` of `mean`'s exact summary).
    GetSummary,
    /// The mean of every logged value, revoked or not: what a reader of `NewFeedback` logs alone computes.
    Unfiltered,
}

/// Every scorer, in table order.
pub(crate) const SCORERS: [Scorer; 10] = [
    Scorer::Algorithm(Algorithm::Trust, false),
    Scorer::Algorithm(Algorithm::Trust, true),
    Scorer::Algorithm(Algorithm::Mean, false),
    Scorer::Algorithm(Algorithm::Mean, true),
    Scorer::Algorithm(Algorithm::Bayesian, false),
    Scorer::Algorithm(Algorithm::Bayesian, true),
    Scorer::Algorithm(Algorithm::Decay, false),
    Scorer::Algorithm(Algorithm::Decay, true),
    Scorer::GetSummary,
    Scorer::Unfiltered,
];

impl Scorer {
    /// The scorer's name in the table.
    pub(crate) fn name(self) -> String {
        match self {
            Self::Algorithm(algorithm, false) => algorithm.to_string(),
            Self::Algorithm(algorithm, true) => format!("{algorithm}, verified_only"),
            Self::GetSummary => "peer: getSummary".to_owned(),
            Self::Unfiltered => "peer: unfiltered mean".to_owned(),
        }
    }
}

/// The parameters every algorithm is run with: the defaults, the world's seeds and its `alpha`.
pub(crate) fn params(world: &World) -> Params {
    Params { seeds: world.seeds.clone(), alpha: world.alpha, ..Params::default() }
}

/// The crate's scores of every agent of `world` under `algorithm`.
pub(crate) fn crate_scores(world: &World, algorithm: Algorithm, verified_only: bool) -> Vec<Score> {
    let filter = Filter { verified_only, ..Filter::default() };
    score_agents(&world.feedback, &filter, algorithm, &params(world)).expect("generated feedback is valid")
}

/// Every agent's score under `scorer`; `None` where it has none.
pub(crate) fn scores(world: &World, scorer: Scorer) -> BTreeMap<U256, Option<f64>> {
    match scorer {
        Scorer::Algorithm(algorithm, verified_only) => {
            crate_scores(world, algorithm, verified_only).into_iter().map(|s| (s.agent_id, s.score)).collect()
        }
        Scorer::GetSummary => crate_scores(world, Algorithm::Mean, false)
            .into_iter()
            .map(|s| {
                let summary = s.summary.expect("mean has a summary");
                // 10^d by repeated exact multiplication (d <= 18, every power exact in an f64).
                let scale = (0..summary.summary_decimals).fold(1.0f64, |x, _| x * 10.0);
                let value = (summary.count > 0).then(|| summary.summary_value as f64 / scale);
                (s.agent_id, value)
            })
            .collect(),
        Scorer::Unfiltered => {
            let mut sums: BTreeMap<U256, (f64, u64)> = BTreeMap::new();
            for f in &world.feedback {
                let entry = sums.entry(f.agent_id).or_default();
                entry.0 += f.normalized();
                entry.1 += 1;
            }
            sums.into_iter().map(|(id, (sum, n))| (id, Some(sum / n as f64))).collect()
        }
    }
}

/// How well one scorer ranks one world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outcome {
    /// Pairwise ranking accuracy over the honest agents that have a score (see [`pairwise_accuracy`]); `None` with
    /// fewer than two.
    pub(crate) accuracy: Option<f64>,
    /// Honest agents with a score.
    pub(crate) scored: usize,
    /// Honest agents.
    pub(crate) honest: usize,
    /// Top-10 slots held by Sybil-backed agents (see [`sybil_top10`]).
    pub(crate) sybil_top10: usize,
}

/// Scores `world` under `scorer` and measures the ranking.
pub(crate) fn outcome(world: &World, scorer: Scorer) -> Outcome {
    let scores = scores(world, scorer);
    let honest: BTreeMap<U256, f64> =
        world.quality.keys().filter_map(|id| scores.get(id).copied().flatten().map(|s| (*id, s))).collect();
    Outcome {
        accuracy: pairwise_accuracy(&world.quality, &honest),
        scored: honest.len(),
        honest: world.quality.len(),
        sybil_top10: sybil_top10(&scores, &world.sybil_backed),
    }
}

/// Pairwise ranking accuracy: over every unordered pair of agents that both have a true quality and a score, and
/// whose qualities differ, the share the scores order like the qualities; a tie in score counts one half. 1 is a
/// perfect ranking, 0.5 a coin toss. `None` when there is no such pair.
pub(crate) fn pairwise_accuracy(quality: &BTreeMap<U256, i32>, scores: &BTreeMap<U256, f64>) -> Option<f64> {
    let ranked: Vec<(i32, f64)> = scores.iter().filter_map(|(id, &s)| quality.get(id).map(|&q| (q, s))).collect();
    let (mut agree, mut pairs) = (0.0f64, 0u64);
    for (i, &(qi, si)) in ranked.iter().enumerate() {
        for &(qj, sj) in &ranked[i + 1..] {
            if qi == qj {
                continue;
            }
            pairs += 1;
            if si == sj {
                agree += 0.5;
            } else if (qi < qj) == (si < sj) {
                agree += 1.0;
            }
        }
    }
    (pairs > 0).then(|| agree / pairs as f64)
}

/// How many of the ten best-scored agents (score descending, ties by agent id, agents without a score left out, as
/// `leaderboard` orders them) are in `sybil_backed`.
pub(crate) fn sybil_top10(scores: &BTreeMap<U256, Option<f64>>, sybil_backed: &BTreeSet<U256>) -> usize {
    let mut ranked: Vec<(U256, f64)> = scores.iter().filter_map(|(&id, s)| s.map(|s| (id, s))).collect();
    ranked.sort_by(|a, b| (b.1 + 0.0).total_cmp(&(a.1 + 0.0)).then(a.0.cmp(&b.0)));
    ranked.iter().take(10).filter(|(id, _)| sybil_backed.contains(id)).count()
}

/// What a world looks like, next to what the field study measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Census {
    /// Distinct reviewers.
    pub(crate) reviewers: usize,
    /// Of which Sybils.
    pub(crate) sybil_reviewers: usize,
    /// Agents with at least one non-revoked record.
    pub(crate) rated_agents: usize,
    /// Of which none has a non-revoked record from an honest reviewer: "no valid feedback left" once Sybils are
    /// filtered out.
    pub(crate) orphaned_agents: usize,
    /// Feedback records.
    pub(crate) records: usize,
}

/// Counts `world`'s reviewers and agents.
pub(crate) fn census(world: &World) -> Census {
    let reviewers: BTreeSet<_> = world.feedback.iter().map(|f| f.client).collect();
    let mut honest_rated: BTreeMap<U256, bool> = BTreeMap::new();
    for f in world.feedback.iter().filter(|f| !f.revoked) {
        *honest_rated.entry(f.agent_id).or_default() |= world.honest.contains(&f.client);
    }
    Census {
        reviewers: reviewers.len(),
        sybil_reviewers: reviewers.iter().filter(|r| world.sybils.contains(*r)).count(),
        rated_agents: honest_rated.len(),
        orphaned_agents: honest_rated.values().filter(|&&h| !h).count(),
        records: world.feedback.len(),
    }
}

/// Whether every agent left with no honest feedback gets an explicit "insufficient evidence" answer under `trust`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EvidenceCheck {
    /// Agents rated, none of them by an honest reviewer.
    pub(crate) orphaned: usize,
    /// Of which `trust` answers `insufficient_evidence` with no score, the records it read counted (`count` and
    /// `distinct_clients` above 0) and its trusted evidence below the minimum (`trust_mass < min_trust_mass`, or 0).
    pub(crate) explicit: usize,
    /// Agents (any) whose answer breaks the status rule: a score with status `insufficient_evidence`, or no score
    /// with status `scored`, or no trust details.
    pub(crate) inconsistent: usize,
}

/// Checks `trust`'s answers for the agents of `world` that no honest reviewer rated.
pub(crate) fn evidence_check(world: &World) -> EvidenceCheck {
    let mut honest_rated: BTreeMap<U256, bool> = BTreeMap::new();
    for f in world.feedback.iter().filter(|f| !f.revoked) {
        *honest_rated.entry(f.agent_id).or_default() |= world.honest.contains(&f.client);
    }
    let scores = crate_scores(world, Algorithm::Trust, false);
    let inconsistent =
        scores.iter().filter(|s| s.trust.is_none() || (s.score.is_some() != (s.status == ScoreStatus::Scored))).count();
    let orphaned: Vec<&Score> = scores.iter().filter(|s| honest_rated.get(&s.agent_id) == Some(&false)).collect();
    let explicit = orphaned
        .iter()
        .filter(|s| {
            let detail = s.trust.expect("trust details");
            s.score.is_none()
                && s.status == ScoreStatus::InsufficientEvidence
                && s.count > 0
                && s.distinct_clients > 0
                && (detail.trust_mass == 0.0 || detail.trust_mass < detail.min_trust_mass)
        })
        .count();
    EvidenceCheck { orphaned: orphaned.len(), explicit, inconsistent }
}

/// What one bridged honest client bought the ring under `trust`, and the bound the design puts on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BridgeReport {
    /// Rank of the bridged ring agent on `trust`'s leaderboard (1 is first); `None` when it has no score.
    pub(crate) bridged_rank: Option<usize>,
    /// Ring agents with a `trust` score.
    pub(crate) ring_scored: usize,
    /// The bridged client's trust `t_H`.
    pub(crate) client_trust: f64,
    /// The trust all Sybil addresses hold together.
    pub(crate) ring_trust: f64,
    /// The evidence an agent needs for a score.
    pub(crate) min_trust_mass: f64,
    /// Distinct agents the bridged client rates, `n_H`.
    pub(crate) client_votes: usize,
    /// At most this many ring agents can be scored: the ring's evidence (its own trust plus the client's vote,
    /// `t_H / n_H`) divided by the minimum.
    pub(crate) bound: usize,
}

/// The bridge's effect on `world` under `trust`; `None` when the world has no bridge.
pub(crate) fn bridge_report(world: &World) -> Option<BridgeReport> {
    let (client, agent) = world.bridge?;
    let scores = crate_scores(world, Algorithm::Trust, false);
    let vector = trust_vector(&world.feedback, &Filter::default(), &params(world)).expect("valid input");
    let ring_trust: f64 = vector.nodes.iter().filter(|n| world.sybils.contains(&n.address)).map(|n| n.trust).sum();
    let min_trust_mass = scores[0].trust.expect("trust details").min_trust_mass;
    let ring_scored = scores.iter().filter(|s| world.ring.contains(&s.agent_id) && s.score.is_some()).count();
    let board = leaderboard(scores);
    let bridged_rank = board.iter().position(|s| s.agent_id == agent && s.score.is_some()).map(|r| r + 1);
    let client_trust = vector.get(client);
    let rated: BTreeSet<U256> =
        world.feedback.iter().filter(|f| f.client == client && !f.revoked).map(|f| f.agent_id).collect();
    let client_votes = rated.len();
    let bound = ((ring_trust + client_trust / client_votes as f64) / min_trust_mass).floor() as usize;
    Some(BridgeReport { bridged_rank, ring_scored, client_trust, ring_trust, min_trust_mass, client_votes, bound })
}
