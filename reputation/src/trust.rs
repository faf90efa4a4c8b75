//! [`trust_vector`] and [`trust`]: EigenTrust-style trust propagated from seed addresses over the
//! client -> agent owner graph, and the mean weighted by each reviewer's trust.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, U256};

use crate::prepare::{Prepared, Tally, kept, prepare, records_of};
use crate::types::in_value_range;
use crate::{
    AddressTrust, Algorithm, Feedback, Filter, Params, ReputationError, Score, TrustDetail, TrustVector, UsedParams,
    VALUE_MAX, VALUE_MIN,
};

/// EigenTrust-style trust of every address, propagated from `params.seeds` through the client -> owner graph
/// of the kept feedback (all agents; the client list is a set; self-ratings are ignored; values outside
/// `[VALUE_MIN, VALUE_MAX]` are ignored).
///
/// Nodes: every seed, every reviewer of a used record, every agent owner in the input and the owner at feedback
/// of every used record, sorted by address bytes. Local trust `c_ij` = Σ over i's used records whose
/// `owner_at_feedback` is j of `v / 100`, summed in input order: a rating passes trust only to whoever owned the
/// agent when it was given, never to a later owner. Each row is divided by its sum, and a row summing to 0
/// passes nothing on. With `p` uniform over the seeds and `t_0 = p`, each step computes
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

pub(crate) fn trust_vector_of(prepared: &Prepared<'_>, filter: &Filter, params: &Params) -> TrustVector {
    let seeds: BTreeSet<Address> = params.seeds.iter().copied().collect();
    let mut addresses = seeds.clone();
    let mut used = Vec::new();
    for agent in prepared.agents.values() {
        addresses.insert(agent.owner);
        for f in trust_records(&agent.records, agent.owner, filter).into_iter().filter(|f| f.in_range()) {
            addresses.insert(f.client);
            addresses.insert(f.owner_at_feedback);
            used.push(f);
        }
    }
    let nodes: Vec<Address> = addresses.into_iter().collect();
    let index = |a: Address| nodes.binary_search(&a).expect("every address is a node");

    let mut local: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let span = (VALUE_MAX - VALUE_MIN) as f64;
    for f in used {
        // In range, so the share lies in [0, 1]: a rating of 0 passes no trust, 100 passes 1.
        *local.entry((index(f.client), index(f.owner_at_feedback))).or_insert(0.0) +=
            (f.normalized() - VALUE_MIN as f64) / span;
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
/// over the agent's kept records in range (self-ratings excluded), with `t` from [`trust_vector`].
///
/// `None` (insufficient evidence) when the reviewers' trust sums to 0; with no seeds, every score is `None`.
pub fn trust(feedback: &[Feedback], filter: &Filter, params: &Params) -> Result<Vec<Score>, ReputationError> {
    params.validate(Algorithm::Trust)?;
    let prepared = prepare(feedback)?;
    Ok(trust_of(&prepared, filter, params))
}

pub(crate) fn trust_of(prepared: &Prepared<'_>, filter: &Filter, params: &Params) -> Vec<Score> {
    let vector = trust_vector_of(prepared, filter, params);
    prepared.agents.keys().map(|&id| trust_score(prepared, &vector, id, filter, params)).collect()
}

/// One agent's trust-weighted score, given the trust vector of the whole input.
pub(crate) fn trust_score(
    prepared: &Prepared<'_>,
    vector: &TrustVector,
    agent_id: U256,
    filter: &Filter,
    params: &Params,
) -> Score {
    let (owner, records) = records_of(prepared, agent_id);
    let mut tally = Tally::default();
    let (mut weighted, mut mass) = (0.0f64, 0.0f64);
    let (mut trusted_records, mut trusted_clients) = (0u64, BTreeSet::new());
    if let Some(owner) = owner {
        let used = trust_records(records, owner, filter);
        tally = Tally::new(records.len(), used.len());
        for f in used {
            if !tally.add(f) {
                continue;
            }
            let t = vector.get(f.client);
            weighted += t * f.normalized();
            mass += t;
            if t > 0.0 {
                trusted_records += 1;
                trusted_clients.insert(f.client);
            }
        }
    }
    let score = (mass > 0.0).then(|| in_value_range(weighted / mass));
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
        trusted_records,
        trusted_clients: trusted_clients.len() as u64,
        owner_trust: owner.map_or(0.0, |o| vector.get(o)),
        iterations: vector.iterations,
        converged: vector.converged,
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
        // Agent 1 (owner A): S says 100 with trust 0.2, C says 0 with trust 0.48:
        // 20 / 0.68 = 29.41; a review of 0 counts in the score though it passes no trust.
        let one = get(1);
        assert_close(one.score.unwrap(), 20.0 / 0.68);
        assert_eq!((one.count, one.trust.unwrap().trusted_records, one.trust.unwrap().trusted_clients), (2, 2, 2));
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
        // Agent 1: (0.2 * 100 + 0.096 * 0) / 0.296 = 67.57.
        let scores = trust(&feedback, &Filter::default(), &params).unwrap();
        assert_close(scores[0].score.unwrap(), 20.0 / 0.296);
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
