//! [`decay`]: the mean with exponentially decaying weights by age, and the platform-independent `0.5^x`
//! it uses.

use alloy::primitives::U256;

use crate::prepare::{Prepared, Tally, kept, prepare, records_of};
use crate::types::in_value_range;
use crate::{Algorithm, Feedback, Filter, Params, ReputationError, Score, UsedParams};

/// A time-decayed mean: `Σ w v / Σ w` with `w = 0.5^((now - timestamp) / half_life_secs)` (1 for a
/// timestamp after `now`), summed in `(client, feedback_index)` order over the kept records whose value lies in
/// `[VALUE_MIN, VALUE_MAX]` (the others are counted in `out_of_range`).
///
/// `None` when no such record is kept, or when every weight underflows to 0 (over 1074 half-lives old).
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

pub(crate) fn decay_of(prepared: &Prepared<'_>, agent_id: U256, filter: &Filter, params: &Params) -> Score {
    let (owner, records) = records_of(prepared, agent_id);
    let now = params.now.or(prepared.newest_timestamp).unwrap_or(0);
    let half_life = params.half_life_secs as f64;
    let kept = kept(records, filter);
    let mut tally = Tally::new(records.len(), kept.len());
    let (mut weighted, mut weights) = (0.0f64, 0.0f64);
    for f in kept {
        if !tally.add(f) {
            continue;
        }
        let age = i128::from(now) - i128::from(f.timestamp);
        let w = if age <= 0 { 1.0 } else { half_pow(age as f64 / half_life) };
        weighted += w * f.normalized();
        weights += w;
    }
    let score = (weights > 0.0).then(|| in_value_range(weighted / weights));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_HALF_LIFE_SECS;
    use crate::testutil::{OWNER, addr, fb};

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
}
