//! [`bayesian`]: the mean shrunk toward a prior, so few reviews weigh little.

use alloy::primitives::U256;

use crate::prepare::{Prepared, Tally, kept, prepare, records_of};
use crate::types::in_value_range;
use crate::{Algorithm, Feedback, Filter, Params, ReputationError, Score, UsedParams};

/// A mean shrunk toward a prior: `(prior_weight * prior_mean + Σ v) / (prior_weight + n)` over the kept
/// records' normalized values `v = value / 10^decimals` that lie in `[VALUE_MIN, VALUE_MAX]` (the others are
/// counted in `out_of_range`), summed in `(client, feedback_index)` order.
///
/// With no such record (`n = 0`) the score is `None` (insufficient evidence), not the prior: the prior shrinks
/// evidence, it is not evidence.
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

pub(crate) fn bayesian_of(prepared: &Prepared<'_>, agent_id: U256, filter: &Filter, params: &Params) -> Score {
    let (owner, records) = records_of(prepared, agent_id);
    let kept = kept(records, filter);
    let mut tally = Tally::new(records.len(), kept.len());
    let mut sum = 0.0f64;
    for f in kept {
        if tally.add(f) {
            sum += f.normalized();
        }
    }
    let weight = params.prior_weight + tally.count as f64;
    let score = (tally.count > 0).then(|| in_value_range((params.prior_weight * params.prior_mean + sum) / weight));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{OWNER, addr, assert_close, fb};

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

        // No review: insufficient evidence, not the prior.
        let score = bayesian(&one, U256::from(2), &Filter::default(), &params).unwrap();
        assert_eq!((score.score, score.count, score.agent_owner), (None, 0, None));
        assert_eq!(score.status, crate::ScoreStatus::InsufficientEvidence);
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
}
