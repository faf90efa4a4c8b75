//! Unit tests that exercise several algorithms together: the receipt filter, the Sybil ring, input-order
//! determinism, the leaderboard order and input and parameter checks.

use alloy::primitives::{Address, U256};

use crate::testutil::{OWNER, addr, assert_close, fb, summary};
use crate::{
    Algorithm, Feedback, Filter, Params, ReputationError, Score, UsedParams, bayesian, leaderboard, mean, score_agent,
    score_agents, trust,
};

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
