//! Unit tests that exercise several algorithms together: the receipt filter, the Sybil ring, input-order
//! determinism, the leaderboard order and input and parameter checks.

use alloy::primitives::{Address, U256};

use crate::testutil::{OWNER, addr, assert_close, fb, summary};
use crate::{
    Algorithm, Feedback, Filter, Params, ReputationError, Score, ScoreStatus, UsedParams, bayesian, leaderboard, mean,
    score_agent, score_agents, trust,
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
        status: ScoreStatus::of(score),
        score,
        count: 0,
        distinct_clients: 0,
        out_of_range: 0,
        filtered_out: 0,
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
    assert_eq!(invalid(Params { prior_mean: 100.5, ..Params::default() }, Algorithm::Bayesian), "prior_mean");
    assert_eq!(invalid(Params { half_life_secs: 0, ..Params::default() }, Algorithm::Decay), "half_life_secs");
    assert_eq!(invalid(Params { alpha: 1.5, ..Params::default() }, Algorithm::Trust), "alpha");
    assert_eq!(invalid(Params { tolerance: -1.0, ..Params::default() }, Algorithm::Trust), "tolerance");
    assert_eq!(invalid(Params { max_iterations: 10_001, ..Params::default() }, Algorithm::Trust), "max_iterations");
    // A parameter another algorithm reads is not checked.
    assert!(score_agents(&ok, &filter, Algorithm::Mean, &Params { alpha: 7.0, ..Params::default() }).is_ok());
}

/// Victim agent 1 and the attacker's agent 2, each rated by five honest clients (90 and 40); the honest clients own
/// agents 10.. and the two seeds rate those 80, so under `trust` every honest client is reached.
fn range_world() -> (Vec<Feedback>, Vec<Address>) {
    let seeds = vec![addr(1), addr(2)];
    let (victim_owner, attacker_owner) = (addr(10), addr(11));
    let mut feedback = Vec::new();
    for (k, h) in (20..25).map(addr).enumerate() {
        for &s in &seeds {
            feedback.push(fb(10 + k as u64, h, s, 1, 80, 0));
        }
        feedback.push(fb(1, victim_owner, h, 1, 90, 0));
        feedback.push(fb(2, attacker_owner, h, 1, 40, 0));
    }
    (feedback, seeds)
}

/// Every score of `feedback` under `algorithm`, by agent id.
fn scores_by_agent(feedback: &[Feedback], algorithm: Algorithm, params: &Params) -> Vec<Score> {
    score_agents(feedback, &Filter::default(), algorithm, params).unwrap()
}

fn agent(scores: &[Score], id: u64) -> &Score {
    scores.iter().find(|s| s.agent_id == U256::from(id)).unwrap()
}

#[test]
fn one_reviewer_sending_int128_extremes_moves_no_score_under_mean_bayesian_or_decay() {
    let (honest, seeds) = range_world();
    let params = Params { seeds, ..Params::default() };
    // The attack: one fresh address rates the attacker's agent type(int128).max and the victim type(int128).min,
    // at 0 and at 18 decimals (1.7e38 and 1.7e20 after normalizing: both far above 100).
    let attacker = addr(666);
    let mut attacked = honest.clone();
    attacked.push(fb(2, addr(11), attacker, 1, i128::MAX, 0));
    attacked.push(fb(2, addr(11), attacker, 2, i128::MAX, 18));
    attacked.push(fb(1, addr(10), attacker, 1, i128::MIN, 0));
    attacked.push(fb(1, addr(10), attacker, 2, i128::MIN, 18));
    for algorithm in [Algorithm::Mean, Algorithm::Bayesian, Algorithm::Decay] {
        let before = scores_by_agent(&honest, algorithm, &params);
        let after = scores_by_agent(&attacked, algorithm, &params);
        for id in [1, 2] {
            let (b, a) = (agent(&before, id), agent(&after, id));
            // Bit for bit the score without the attack; the two records are counted, not used.
            assert_eq!(a.score.unwrap().to_bits(), b.score.unwrap().to_bits(), "{algorithm} agent {id}");
            assert_eq!((a.count, a.out_of_range, a.status), (5, 2, ScoreStatus::Scored), "{algorithm} agent {id}");
            assert!((0.0..=100.0).contains(&a.score.unwrap()), "{algorithm} agent {id}");
        }
        let board: Vec<U256> = leaderboard(after).iter().map(|s| s.agent_id).collect();
        let victim = board.iter().position(|&id| id == U256::from(1)).unwrap();
        let target = board.iter().position(|&id| id == U256::from(2)).unwrap();
        assert!(victim < target, "{algorithm}: the victim stays above the attacker's agent");
    }
    // mean's summary still reproduces getSummary over every record, out-of-range ones included (the contract's
    // answer, not a score).
    let target = mean(&attacked, U256::from(2), &Filter::default()).unwrap();
    assert_eq!(target.summary.unwrap().count, 7);
    assert_eq!(target.score, Some(40.0));
}

#[test]
fn a_trusted_reviewer_sending_a_huge_value_moves_no_score_under_trust() {
    let (honest, seeds) = range_world();
    let params = Params { seeds: seeds.clone(), ..Params::default() };
    // The reviewer R is reachable from the seeds: the first seed rated R's agent 30 100.
    let reviewer = addr(30);
    let mut reached = honest.clone();
    reached.push(fb(30, reviewer, seeds[0], 1, 100, 0));
    let mut attacked = reached.clone();
    attacked.push(fb(2, addr(11), reviewer, 1, i128::MAX, 0));
    attacked.push(fb(2, addr(11), reviewer, 2, 10i128.pow(30), 2));
    attacked.push(fb(1, addr(10), reviewer, 1, i128::MIN, 0));
    attacked.push(fb(1, addr(10), reviewer, 2, -1, 0));
    let vector = crate::trust_vector(&attacked, &Filter::default(), &params).unwrap();
    assert!(vector.get(reviewer) > 0.0, "the attack needs a reviewer with trust");

    let before = scores_by_agent(&reached, Algorithm::Trust, &params);
    let after = scores_by_agent(&attacked, Algorithm::Trust, &params);
    for id in [1, 2] {
        let (b, a) = (agent(&before, id), agent(&after, id));
        assert_eq!(a.score.unwrap().to_bits(), b.score.unwrap().to_bits(), "agent {id}");
        assert_eq!(a.trust.unwrap().trust_mass.to_bits(), b.trust.unwrap().trust_mass.to_bits(), "agent {id}");
        assert_eq!((a.count, a.out_of_range), (5, 2), "agent {id}");
    }
    assert_close(agent(&after, 1).score.unwrap(), 90.0);
    assert_close(agent(&after, 2).score.unwrap(), 40.0);
    let board = leaderboard(after);
    let rank = |id: u64| board.iter().position(|s| s.agent_id == U256::from(id)).unwrap();
    assert!(rank(1) < rank(2));
    assert!(board.iter().filter_map(|s| s.score).all(|s| (0.0..=100.0).contains(&s)));
}

#[test]
fn trust_earned_under_one_owner_does_not_pass_to_the_next() {
    // A seed rates agent A (1) while the honest H owns it; A is then transferred to the attacker M. M rates its Sybil
    // Y's agent X (2) 100, and Y rates M's other agent T (3) 100.
    let (seed, h, m, y) = (addr(1), addr(2), addr(3), addr(4));
    let transferred = |owner_at_feedback: Address| {
        vec![
            Feedback { owner_at_feedback, ..fb(1, m, seed, 1, 100, 0) },
            fb(2, y, m, 1, 100, 0),
            fb(3, m, y, 1, 100, 0),
        ]
    };
    let params = Params { seeds: vec![seed], ..Params::default() };

    // The rating was given while H owned A: its trust goes to H and stays there.
    let feedback = transferred(h);
    let vector = crate::trust_vector(&feedback, &Filter::default(), &params).unwrap();
    assert!(vector.get(h) > 0.0);
    assert_eq!((vector.get(m), vector.get(y)), (0.0, 0.0));
    let scores = trust(&feedback, &Filter::default(), &params).unwrap();
    for id in [2, 3] {
        let s = agent(&scores, id);
        assert_eq!((s.score, s.status), (None, ScoreStatus::InsufficientEvidence), "agent {id}");
        let detail = s.trust.unwrap();
        assert_eq!((s.count, detail.trusted_records, detail.trust_mass), (1, 0, 0.0), "agent {id}");
    }
    assert_eq!(agent(&scores, 1).trust.unwrap().owner_trust, 0.0, "M owns A now but earned nothing");
    // A keeps the reviews it received: the agent's reputation stays with the agent.
    assert_eq!(agent(&scores, 1).score, Some(100.0));

    // Keyed by the owner now instead (the rule before), the same ratings would hand the seed's trust to M and
    // through M to its Sybils.
    let bought = transferred(m);
    let vector = crate::trust_vector(&bought, &Filter::default(), &params).unwrap();
    assert!(vector.get(m) > 0.0 && vector.get(y) > 0.0);
    assert!(agent(&trust(&bought, &Filter::default(), &params).unwrap(), 2).score.is_some());

    // A rating the seed gives after the transfer is trust M earned itself.
    let mut later = transferred(h);
    later.push(fb(1, m, seed, 2, 100, 0));
    let vector = crate::trust_vector(&later, &Filter::default(), &params).unwrap();
    assert!(vector.get(m) > 0.0);
}

#[test]
fn a_new_owners_rating_of_its_agent_is_a_self_rating() {
    // C rated agent 1 while O owned it, then bought it: its rating no longer counts for the agent's score (it is
    // the owner's), though the trust it passed to O when given stays with O.
    let (seed, o, c) = (addr(1), addr(2), addr(3));
    let feedback = vec![
        fb(5, c, seed, 1, 100, 0),
        Feedback { owner_at_feedback: o, ..fb(1, c, c, 1, 100, 0) },
        Feedback { owner_at_feedback: o, ..fb(1, c, seed, 1, 50, 0) },
    ];
    let params = Params { seeds: vec![seed], ..Params::default() };
    let scores = trust(&feedback, &Filter::default(), &params).unwrap();
    let one = agent(&scores, 1);
    assert_eq!((one.score, one.count, one.filtered_out), (Some(50.0), 1, 1));
    assert!(crate::trust_vector(&feedback, &Filter::default(), &params).unwrap().get(o) > 0.0);
}

#[test]
fn no_evidence_is_said_explicitly_with_its_counts() {
    let o = addr(OWNER);
    let feedback = vec![fb(1, o, addr(1), 1, 90, 0), fb(1, o, addr(2), 1, 150, 0), fb(2, o, addr(3), 1, 70, 0)];
    let verified = Filter { verified_only: true, ..Filter::default() };
    for algorithm in Algorithm::ALL {
        let params = Params { seeds: vec![addr(9)], ..Params::default() };
        let s = score_agent(&feedback, U256::from(1), &verified, algorithm, &params).unwrap();
        assert_eq!((s.score, s.status, s.count, s.filtered_out), (None, ScoreStatus::InsufficientEvidence, 0, 2));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["status"], "insufficient_evidence", "{algorithm}");
        assert_eq!(json["score"], serde_json::Value::Null, "{algorithm}");
        assert_eq!(json["agent_id"], "1", "{algorithm}");
        // Without the filter: one record used, one out of range; scored except under trust (no seed rated anyone).
        let s = score_agent(&feedback, U256::from(1), &Filter::default(), algorithm, &params).unwrap();
        assert_eq!((s.count, s.out_of_range, s.filtered_out), (1, 1, 0), "{algorithm}");
        let expected =
            if algorithm == Algorithm::Trust { ScoreStatus::InsufficientEvidence } else { ScoreStatus::Scored };
        assert_eq!(s.status, expected, "{algorithm}");
    }
}

#[test]
fn rating_an_agent_again_adds_no_weight_under_trust() {
    let (honest, seeds) = range_world();
    let params = Params { seeds, ..Params::default() };
    // Honest client 20 rates agent 1 (owner 10) ten more times: at 90 as before, then at 100.
    let again = |value: i128| {
        let mut feedback = honest.clone();
        feedback.extend((2..=11).map(|index| fb(1, addr(10), addr(20), index, value, 0)));
        feedback
    };
    let before = scores_by_agent(&honest, Algorithm::Trust, &params);
    let vector = crate::trust_vector(&honest, &Filter::default(), &params).unwrap();
    for value in [90, 100] {
        let feedback = again(value);
        let after = scores_by_agent(&feedback, Algorithm::Trust, &params);
        // The records are one vote: the client's trust, and its weight, do not grow with them. (At 100 the vote's
        // value moves, so the client's trust splits a little differently between the two owners it rates.)
        let moved = crate::trust_vector(&feedback, &Filter::default(), &params).unwrap();
        assert_eq!(moved.get(addr(20)).to_bits(), vector.get(addr(20)).to_bits(), "{value}");
        if value == 90 {
            assert_eq!(moved, vector);
        }
        let (b, a) = (agent(&before, 1), agent(&after, 1));
        assert_eq!(a.trust.unwrap().trust_mass.to_bits(), b.trust.unwrap().trust_mass.to_bits(), "{value}");
        assert_eq!((a.count, a.trust.unwrap().trusted_records, a.trust.unwrap().trusted_clients), (15, 15, 5));
        if value == 90 {
            assert_eq!(a.score.unwrap().to_bits(), b.score.unwrap().to_bits());
        } else {
            // The vote moves to the mean of the client's ratings, (90 + 10 * 100) / 11, with one reviewer's weight.
            assert_close(a.score.unwrap(), (4.0 * 90.0 + 1090.0 / 11.0) / 5.0);
        }
    }
}

/// Ten honest operators own agents 1..=10: two seeds rate each 80, and operator k rates the next three operators'
/// agents. Operator 0 (the bridge) also rates ring agent 101 at 100. Twenty ring owners own agents 101..=120: the first
/// rates every other ring agent 100 (so all of the ring gets trust), the others rate the first `spread` ring agents
/// 100. Returns the feedback, the parameters, the bridge and the ring.
fn bridged_world(spread: u16) -> (Vec<Feedback>, Params, Address, Vec<Address>) {
    let seeds = vec![addr(1), addr(2)];
    let operators: Vec<Address> = (10..20).map(addr).collect();
    let ring: Vec<Address> = (100..120).map(addr).collect();
    let mut feedback = Vec::new();
    for (k, &operator) in operators.iter().enumerate() {
        for &s in &seeds {
            feedback.push(fb(1 + k as u64, operator, s, 1, 80, 0));
        }
        for step in 1..=3 {
            let other = (k + step) % operators.len();
            feedback.push(fb(1 + other as u64, operators[other], operator, 1, 60 + 3 * k as i128, 0));
        }
    }
    feedback.push(fb(101, ring[0], operators[0], 1, 100, 0));
    for (j, &member) in ring.iter().enumerate() {
        let targets: Vec<u16> = if j == 0 { (1..20).collect() } else { (0..spread).collect() };
        for t in targets.into_iter().filter(|&t| usize::from(t) != j) {
            feedback.push(fb(101 + u64::from(t), ring[usize::from(t)], member, 1, 100, 0));
        }
    }
    (feedback, Params { seeds, ..Params::default() }, operators[0], ring)
}

#[test]
fn a_bridged_ring_gets_no_more_scores_than_its_trust_buys() {
    for spread in [1, 2, 4, 8, 20] {
        let (feedback, params, bridge, ring) = bridged_world(spread);
        let vector = crate::trust_vector(&feedback, &Filter::default(), &params).unwrap();
        let scores = scores_by_agent(&feedback, Algorithm::Trust, &params);
        let (t_bridge, t_ring) = (vector.get(bridge), ring.iter().map(|&m| vector.get(m)).sum::<f64>());
        let min = scores[0].trust.unwrap().min_trust_mass;
        // All of the ring's trust came through the one rating, and a reviewer's votes weigh its trust in all: the
        // ring's evidence is at most t_ring + t_bridge, so at most that over the minimum ring agents are scored.
        assert!(t_bridge > 0.0 && t_ring <= (1.0 - params.alpha) / params.alpha * t_bridge, "spread {spread}");
        let ring_evidence: f64 =
            scores.iter().filter(|s| s.agent_id > U256::from(100)).map(|s| s.trust.unwrap().trust_mass).sum();
        assert!(ring_evidence <= t_ring + t_bridge, "spread {spread}");
        let scored = scores.iter().filter(|s| s.agent_id > U256::from(100) && s.score.is_some()).count();
        assert!(scored as f64 <= (t_ring + t_bridge) / min, "spread {spread}: {scored} ring agents scored");
        // Every honest agent keeps its score. Spread over all twenty agents, the ring's evidence lifts none, except
        // perhaps the agent the honest client rated itself.
        assert!(scores.iter().filter(|s| s.agent_id <= U256::from(10)).all(|s| s.score.is_some()), "spread {spread}");
        if spread == 20 {
            let lifted = scores.iter().filter(|s| s.agent_id > U256::from(100) && s.score.is_some());
            assert!(lifted.map(|s| s.agent_id).all(|id| id == U256::from(101)), "spread {spread}");
        }
    }
}
