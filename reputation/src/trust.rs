//! [`trust_vector`] and [`trust`]: EigenTrust-style trust propagated from seed addresses over the
//! client -> agent owner graph, and the mean of each reviewer's vote weighted by its trust.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, U256};

use crate::prepare::{Prepared, Tally, kept, prepare, records_of};
use crate::types::in_value_range;
use crate::{
    AddressTrust, Algorithm, Feedback, Filter, Params, ReputationError, Score, TRUST_MIN_EVIDENCE_SHARE, TrustDetail,
    TrustVector, UsedParams, VALUE_MAX, VALUE_MIN,
};

/// EigenTrust-style trust of every address, propagated from `params.seeds` through the client -> owner graph
/// of the kept feedback (all agents; the client list is a set; self-ratings are ignored; values outside
/// `[VALUE_MIN, VALUE_MAX]` are ignored).
///
/// Nodes: every seed, every reviewer of a used record, every agent owner in the input and the owner at feedback
/// of every used record, sorted by address bytes. A client's used records of one agent given under one owner are one
/// vote, their mean value `v̄`: rating an agent again moves the vote, it does not add one. Local trust `c_ij` = Σ over
/// i's votes for agents owned by j at feedback time of `v̄ / 100`, summed by ascending agent id: a rating passes
/// trust only to whoever owned the agent when it was given, never to a later owner. Each row is divided by its sum,
/// and a row summing to 0 passes nothing on. With `p` uniform over the seeds and `t_0 = p`, each step computes
/// `t_{k+1}[j] = (1 - alpha) * (Σ_i c_ij * t_k[i], i ascending) + alpha * p[j]`, stopping when
/// `Σ_j |t_{k+1}[j] - t_k[j]|` (j ascending) is below `tolerance` or after `max_iterations` steps.
pub fn trust_vector(feedback: &[Feedback], filter: &Filter, params: &Params) -> Result<TrustVector, ReputationError> {
    params.validate(Algorithm::Trust)?;
    let prepared = prepare(feedback)?;
    Ok(trust_vector_of(&prepared, filter, params))
}

/// The records [`trust_vector`] and [`trust`] read: kept by the filter, and not self-ratings (by the agent's owner
/// now, or by its owner when the record was given). Values out of range are still among them (counted, not used).
fn trust_records<'a>(records: &[&'a Feedback], owner: Address, filter: &Filter) -> Vec<&'a Feedback> {
    kept(records, filter).into_iter().filter(|f| f.client != owner && f.client != f.owner_at_feedback).collect()
}

/// One reviewer's vote on one agent: the mean of its used records' normalized values, summed in index order.
struct Ballot {
    client: Address,
    mean: f64,
    records: u64,
}

/// The votes of an agent's used records (in range, sorted by client then index): one per client.
fn ballots(used: &[&Feedback]) -> Vec<Ballot> {
    let mut out: Vec<Ballot> = Vec::new();
    let mut sum = 0.0f64;
    for f in used {
        match out.last_mut() {
            Some(last) if last.client == f.client => {
                sum += f.normalized();
                last.records += 1;
                last.mean = sum / last.records as f64;
            }
            _ => {
                sum = f.normalized();
                out.push(Ballot { client: f.client, mean: sum, records: 1 });
            }
        }
    }
    out
}

pub(crate) fn trust_vector_of(prepared: &Prepared<'_>, filter: &Filter, params: &Params) -> TrustVector {
    let seeds: BTreeSet<Address> = params.seeds.iter().copied().collect();
    let mut addresses = seeds.clone();
    // One vote per (agent, client, owner at feedback): the sum and count of its values, by ascending agent id.
    let mut votes: Vec<BTreeMap<(Address, Address), (f64, u64)>> = Vec::new();
    for agent in prepared.agents.values() {
        addresses.insert(agent.owner);
        let mut by_edge: BTreeMap<(Address, Address), (f64, u64)> = BTreeMap::new();
        for f in trust_records(&agent.records, agent.owner, filter).into_iter().filter(|f| f.in_range()) {
            addresses.insert(f.client);
            addresses.insert(f.owner_at_feedback);
            let vote = by_edge.entry((f.client, f.owner_at_feedback)).or_insert((0.0, 0));
            vote.0 += f.normalized();
            vote.1 += 1;
        }
        votes.push(by_edge);
    }
    let nodes: Vec<Address> = addresses.into_iter().collect();
    let index = |a: Address| nodes.binary_search(&a).expect("every address is a node");

    let mut local: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let span = (VALUE_MAX - VALUE_MIN) as f64;
    for by_edge in votes {
        for ((client, owner), (sum, n)) in by_edge {
            // In range, so the share lies in [0, 1]: a vote of 0 passes no trust, 100 passes 1.
            *local.entry((index(client), index(owner))).or_insert(0.0) += (sum / n as f64 - VALUE_MIN as f64) / span;
        }
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

/// Trust-weighted scores of every agent in the input, ascending by agent id, with `t` from [`trust_vector`].
///
/// Each distinct reviewer of the agent casts one vote, the mean of its kept records in range (self-ratings
/// excluded), with weight `w = t[client] / n[client]`, where `n[client]` is the number of agents the client votes on
/// in the input: a reviewer's trust is a budget spread over the agents it rates, so the weights of all votes sum to
/// at most the total trust. The score is `Σ w * v̄ / Σ w` (client order). `trust_mass = Σ w` is the agent's trusted
/// evidence.
///
/// `None` (insufficient evidence) when `trust_mass` is 0 or below `min_trust_mass`: [`TRUST_MIN_EVIDENCE_SHARE`]
/// times the weighted median of every agent's `trust_mass` (sort the agents with evidence by `trust_mass`
/// descending, ties by agent id, and take the first at which the running sum reaches half the total). With no seeds,
/// every score is `None`.
pub fn trust(feedback: &[Feedback], filter: &Filter, params: &Params) -> Result<Vec<Score>, ReputationError> {
    params.validate(Algorithm::Trust)?;
    let prepared = prepare(feedback)?;
    Ok(trust_of(&prepared, filter, params))
}

pub(crate) fn trust_of(prepared: &Prepared<'_>, filter: &Filter, params: &Params) -> Vec<Score> {
    let model = TrustModel::new(prepared, filter, params);
    prepared.agents.keys().map(|&id| trust_score(prepared, &model, id, filter, params)).collect()
}

/// What scoring one agent under [`trust`] needs from the whole input.
pub(crate) struct TrustModel {
    vector: TrustVector,
    /// How many agents each reviewer votes on.
    agents_rated: BTreeMap<Address, u64>,
    min_mass: f64,
}

/// An agent's votes under [`trust`], weighed.
struct Weighed {
    ballots: Vec<(Ballot, f64, f64)>,
    mass: f64,
}

impl TrustModel {
    pub(crate) fn new(prepared: &Prepared<'_>, filter: &Filter, params: &Params) -> Self {
        let vector = trust_vector_of(prepared, filter, params);
        let mut agents_rated: BTreeMap<Address, u64> = BTreeMap::new();
        for agent in prepared.agents.values() {
            for ballot in ballots(&used(&agent.records, agent.owner, filter)) {
                *agents_rated.entry(ballot.client).or_insert(0) += 1;
            }
        }
        let mut model = Self { vector, agents_rated, min_mass: 0.0 };
        let mut masses: Vec<(f64, U256)> = prepared
            .agents
            .iter()
            .map(|(&id, agent)| (model.weigh(&agent.records, agent.owner, filter).mass, id))
            .filter(|&(mass, _)| mass > 0.0)
            .collect();
        masses.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        // Both sums run in the sorted order, so the last running sum is exactly the total.
        let total = masses.iter().fold(0.0f64, |sum, m| sum + m.0);
        let mut running = 0.0f64;
        for (mass, _) in masses {
            running += mass;
            if running >= total / 2.0 {
                model.min_mass = TRUST_MIN_EVIDENCE_SHARE * mass;
                break;
            }
        }
        model
    }

    /// The agent's votes with each reviewer's trust and weight, and their total weight.
    fn weigh(&self, records: &[&Feedback], owner: Address, filter: &Filter) -> Weighed {
        let mut mass = 0.0f64;
        let ballots = ballots(&used(records, owner, filter))
            .into_iter()
            .map(|b| {
                let t = self.vector.get(b.client);
                let w = t / self.agents_rated[&b.client] as f64;
                mass += w;
                (b, t, w)
            })
            .collect();
        Weighed { ballots, mass }
    }
}

/// The agent's records a trust score reads: [`trust_records`] in range.
fn used<'a>(records: &[&'a Feedback], owner: Address, filter: &Filter) -> Vec<&'a Feedback> {
    trust_records(records, owner, filter).into_iter().filter(|f| f.in_range()).collect()
}

/// One agent's trust-weighted score, given the model of the whole input.
pub(crate) fn trust_score(
    prepared: &Prepared<'_>,
    model: &TrustModel,
    agent_id: U256,
    filter: &Filter,
    params: &Params,
) -> Score {
    let (owner, records) = records_of(prepared, agent_id);
    let mut tally = Tally::default();
    let (mut weighted, mut mass) = (0.0f64, 0.0f64);
    let (mut trusted_records, mut trusted_clients) = (0u64, 0u64);
    if let Some(owner) = owner {
        let kept = trust_records(records, owner, filter);
        tally = Tally::new(records.len(), kept.len());
        for f in kept {
            tally.add(f);
        }
        let weighed = model.weigh(records, owner, filter);
        for (ballot, t, w) in &weighed.ballots {
            weighted += w * ballot.mean;
            if *t > 0.0 {
                trusted_records += ballot.records;
                trusted_clients += 1;
            }
        }
        mass = weighed.mass;
    }
    let score = (mass > 0.0 && mass >= model.min_mass).then(|| in_value_range(weighted / mass));
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
        min_trust_mass: model.min_mass,
        trusted_records,
        trusted_clients,
        owner_trust: owner.map_or(0.0, |o| model.vector.get(o)),
        iterations: model.vector.iterations,
        converged: model.vector.converged,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{addr, assert_close, fb};

    /// The 5-node graph of the trust tests: seed S; A, B, C, D own agents 1, 2, 3, 4.
    fn five_nodes() -> (Vec<Feedback>, [Address; 5]) {
        let [s, a, b, c, d] = [addr(1), addr(2), addr(3), addr(4), addr(5)];
        let feedback = vec![
            fb(1, a, s, 1, 100, 0), // S -> A: 1.0
            fb(2, b, s, 1, 50, 0),  // S -> B: 0.5; row S normalized: A 2/3, B 1/3
            fb(3, c, a, 1, 80, 0),  // A -> C: row A = {C: 1}
            fb(3, c, b, 1, 20, 0),  // B -> C: 0.2
            fb(4, d, b, 1, 60, 0),  // B -> D: 0.6; row B normalized: C 0.25, D 0.75
            fb(1, a, c, 1, 0, 0),   // C -> A: 0, no trust; row C sums to 0 and passes nothing on
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
        // Vote weights are trust / agents rated: S (2 agents) 0.1, A (1) 0.10667, B (2) 0.02667, C (1) 0.48.
        // Agent 1 (owner A): S says 100 with weight 0.1, C says 0 with weight 0.48: 10 / 0.58 = 17.24; a review of 0
        // counts in the score though it passes no trust.
        let one = get(1);
        assert_close(one.score.unwrap(), 10.0 / 0.58);
        assert_eq!((one.count, one.trust.unwrap().trusted_records, one.trust.unwrap().trusted_clients), (2, 2, 2));
        let detail = one.trust.unwrap();
        assert_close(detail.trust_mass, 0.58);
        assert_close(detail.owner_trust, 0.8 * 2.0 / 3.0 * 0.2);
        // Evidence: agent 1 0.58, agent 3 0.10667 + 0.02667 = 0.13333, agent 2 0.1, agent 4 0.02667; agent 1 alone
        // holds half of the 0.84 in all, so it is the weighted median and the minimum is 0.58 / 4 = 0.145. After two
        // steps C's trust is still high and the others' evidence is thin next to it: they are insufficient.
        assert_close(detail.min_trust_mass, 0.145);
        for (id, mass) in [(2, 0.1), (3, 0.8 * 2.0 / 3.0 * 0.2 + 0.8 / 3.0 * 0.2 / 2.0), (4, 0.8 / 3.0 * 0.2 / 2.0)] {
            let s = get(id);
            assert_eq!((s.score, s.status), (None, crate::ScoreStatus::InsufficientEvidence), "agent {id}");
            assert_close(s.trust.unwrap().trust_mass, mass);
            assert_eq!(s.trust.unwrap().trusted_clients, if id == 3 { 2 } else { 1 }, "agent {id}");
        }
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
        // Agent 1: (0.2 * 100 + 0.096 * 0) / 0.296 = 67.57.
        // Vote weights: S 0.1, A 0.10667, B 0.02667, C 0.096. Agent 1: (0.1 * 100 + 0.096 * 0) / 0.196 = 51.02.
        // Agent 2: S alone, 50. Agent 3: (0.10667 * 80 + 0.02667 * 20) / 0.13333 = 68.
        let scores = trust(&feedback, &Filter::default(), &params).unwrap();
        assert_close(scores[0].score.unwrap(), 10.0 / 0.196);
        assert_close(scores[1].score.unwrap(), 50.0);
        assert_close(scores[2].score.unwrap(), 68.0);
        // Evidence 0.196, 0.1, 0.13333, 0.02667: 0.196 + 0.13333 passes half of 0.456, so the weighted median is
        // 0.13333 and the minimum 0.03333. Agent 4 (B's vote alone, 0.02667) falls short: insufficient evidence, with
        // the counts that say so.
        let four = &scores[3];
        let detail = four.trust.unwrap();
        assert_eq!((four.score, four.status, four.count), (None, crate::ScoreStatus::InsufficientEvidence, 1));
        assert_eq!((detail.trusted_records, detail.trusted_clients), (1, 1));
        assert_close(detail.trust_mass, 0.16 / 3.0 / 2.0);
        assert_close(detail.min_trust_mass, 0.4 / 3.0 / 4.0);
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
}
