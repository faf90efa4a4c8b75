//! [`mean`]: the contract's `getSummary` average, reproduced exactly in 256-bit integers.

use std::collections::BTreeMap;

use alloy::primitives::{Address, I256, U256};

use crate::prepare::{Prepared, Tally, kept, prepare, records_of};
use crate::types::POW10_F64;
use crate::{Feedback, Filter, MAX_DECIMALS, ReputationError, Score, Summary, UsedParams};

/// The ERC-8004 `getSummary(agentId, clients, tag1, tag2)` average, reproduced exactly in integers, and the same
/// average over the records whose value is in range as the score.
///
/// Walks `filter.clients` in order (every client that rated the agent, once each, when `None`), and each
/// client's records by index; skips revoked records, records whose tags differ from a non-empty tag filter,
/// and (prova extension) unverified records when `verified_only`. Each kept value is scaled to 18 decimals
/// in `I256`; the sum is divided by the count (truncating toward zero), then by `10^(18 - mode)` where
/// `mode` is the most common decimals (smallest on a tie), and clamped to the `int128` range, as prova's
/// `ReputationRegistry` does (the ERC-8004 reference keeps the low 128 bits instead). `summary` is that average over every kept record, exactly what the
/// contract answers; `score` is the same computation over the kept records whose value lies in
/// `[VALUE_MIN, VALUE_MAX]` (the others are counted in `out_of_range`), written as a number. No kept record
/// gives the summary `(0, 0, 0)`; no kept record in range gives a `None` score.
pub fn mean(feedback: &[Feedback], agent_id: U256, filter: &Filter) -> Result<Score, ReputationError> {
    let prepared = prepare(feedback)?;
    Ok(mean_of(&prepared, agent_id, filter))
}

pub(crate) fn mean_of(prepared: &Prepared<'_>, agent_id: U256, filter: &Filter) -> Score {
    let (owner, records) = records_of(prepared, agent_id);
    let mut by_client: BTreeMap<Address, Vec<&Feedback>> = BTreeMap::new();
    for f in records {
        by_client.entry(f.client).or_default().push(f);
    }
    let clients: Vec<Address> = match &filter.clients {
        Some(list) => list.clone(),
        None => by_client.keys().copied().collect(),
    };
    let mut tally = Tally::new(records.len(), kept(records, filter).len());
    let (mut every, mut in_range) = (Average::default(), Average::default());
    for client in &clients {
        for f in by_client.get(client).map_or(&[][..], Vec::as_slice) {
            if !filter.keeps_record(f) {
                continue;
            }
            every.add(f);
            if tally.add(f) {
                in_range.add(f);
            }
        }
    }
    let summary = every.summary();
    let scored = in_range.summary();
    let score =
        (scored.count > 0).then(|| scored.summary_value as f64 / POW10_F64[usize::from(scored.summary_decimals)]);
    let mut out = tally.score(agent_id, owner, score, UsedParams::Mean { filter: filter.clone() });
    out.summary = Some(summary);
    out
}

/// `getSummary`'s running sum, count and tally of decimals.
#[derive(Default)]
struct Average {
    sum: I256,
    count: u64,
    decimal_counts: [u64; 19],
}

impl Average {
    fn add(&mut self, f: &Feedback) {
        // |value| < 2^127 and 10^18 < 2^60, so |scaled| < 2^187 and a sum of up to 2^64 of them stays
        // below 2^251: neither operation can overflow I256.
        let scaled = I256::try_from(f.value)
            .expect("an i128 fits in I256")
            .checked_mul(pow10_i256(MAX_DECIMALS - f.decimals))
            .expect("int128 * 10^18 fits in int256");
        self.sum = self.sum.checked_add(scaled).expect("the sum of int128 * 10^18 values fits in int256");
        self.decimal_counts[usize::from(f.decimals)] += 1;
        self.count += 1;
    }

    fn summary(&self) -> Summary {
        if self.count == 0 {
            return Summary { count: 0, summary_value: 0, summary_decimals: 0 };
        }
        let mut mode = 0u8;
        let mut best = 0u64;
        for (d, &n) in self.decimal_counts.iter().enumerate() {
            if n > best {
                best = n;
                mode = d as u8;
            }
        }
        let avg = self.sum / I256::try_from(self.count).expect("a u64 fits in I256");
        let value = avg / pow10_i256(MAX_DECIMALS - mode);
        Summary { count: self.count, summary_value: saturating_i128(value), summary_decimals: mode }
    }
}

fn pow10_i256(k: u8) -> I256 {
    I256::exp10(usize::from(k))
}

/// `x` clamped to the `int128` range, as the registry's `_saturatingInt128` does.
fn saturating_i128(x: I256) -> i128 {
    i128::try_from(x).unwrap_or(if x.is_negative() { i128::MIN } else { i128::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScoreStatus;
    use crate::testutil::{OWNER, addr, fb, summary};

    #[test]
    fn mean_scales_mixed_decimals_and_takes_the_smallest_mode_on_a_tie() {
        let (c1, c2, c3) = (addr(1), addr(2), addr(3));
        let mut feedback = vec![
            fb(1, addr(OWNER), c1, 1, 85, 0),   // 85.00
            fb(1, addr(OWNER), c1, 2, 9050, 2), // 90.50
            fb(1, addr(OWNER), c2, 1, 7725, 2), // 77.25
            fb(1, addr(OWNER), c2, 2, 60, 0),   // 60.00
        ];
        // sum = 312.75e18, count 4, avg = 78.1875e18; decimals 0 and 2 both occur twice -> mode 0;
        // 78.1875e18 / 1e18 = 78 (truncated).
        let score = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (4, 78, 0));
        assert_eq!(score.score, Some(78.0));
        assert_eq!((score.count, score.distinct_clients), (4, 2));

        // A fifth record at 2 decimals (50.00): sum = 362.75e18, avg = 72.55e18, mode 2 -> 7255.
        feedback.push(fb(1, addr(OWNER), c3, 1, 5000, 2));
        let score = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (5, 7255, 2));
        assert_eq!(score.score, Some(72.55));
    }

    #[test]
    fn mean_truncates_negative_averages_toward_zero() {
        let o = addr(OWNER);
        // -0.7, -0.8 (1 decimal) and -2 (0 decimals): sum = -3.5e18, avg = -1166666666666666666 (toward zero;
        // floor would end in ...667); mode 1; avg / 1e17 = -11.67 -> -11 (floor would give -12).
        let feedback = vec![fb(1, o, addr(1), 1, -7, 1), fb(1, o, addr(2), 1, -8, 1), fb(1, o, addr(3), 1, -2, 0)];
        let score = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (3, -11, 1));
        // The summary is the contract's; the score reads only values in [0, 100], and none is.
        assert_eq!(
            (score.score, score.status, score.count, score.out_of_range),
            (None, ScoreStatus::InsufficientEvidence, 0, 3)
        );

        // -1, -1 (0 decimals) and 0.1 (1 decimal): avg = -0.633e18, mode 0 -> 0, not -1.
        let feedback = vec![fb(1, o, addr(1), 1, -1, 0), fb(1, o, addr(2), 1, -1, 0), fb(1, o, addr(3), 1, 1, 1)];
        let score = mean(&feedback, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (3, 0, 0));
        // The score: 0.1 alone.
        assert_eq!((score.score, score.count, score.out_of_range), (Some(0.1), 1, 2));
    }

    #[test]
    fn mean_skips_revoked_and_applies_tag_filters() {
        let o = addr(OWNER);
        let tagged = |index, value, tag1: &str, tag2: &str| Feedback {
            tag1: tag1.into(),
            tag2: tag2.into(),
            ..fb(1, o, addr(1), index, value, 0)
        };
        let feedback = vec![
            tagged(1, 90, "quality", "fast"),
            tagged(2, 70, "quality", "slow"),
            tagged(3, 10, "uptime", "fast"),
            Feedback { revoked: true, ..tagged(4, 0, "quality", "fast") },
        ];
        let run = |filter: Filter| summary(&mean(&feedback, U256::from(1), &filter).unwrap());
        // All but the revoked: (90 + 70 + 10) / 3 = 56.67 -> 56.
        assert_eq!(run(Filter::default()), (3, 56, 0));
        // An empty tag is no filter, as in the contract.
        assert_eq!(run(Filter { tag1: Some(String::new()), ..Filter::default() }), (3, 56, 0));
        // tag1 = quality: (90 + 70) / 2 = 80.
        assert_eq!(run(Filter { tag1: Some("quality".into()), ..Filter::default() }), (2, 80, 0));
        // tag1 = quality and tag2 = fast: 90 (the revoked 0 is skipped).
        let both = Filter { tag1: Some("quality".into()), tag2: Some("fast".into()), ..Filter::default() };
        assert_eq!(run(both), (1, 90, 0));
        // No match: (0, 0, 0) and no score.
        let none = mean(&feedback, U256::from(1), &Filter { tag1: Some("x".into()), ..Filter::default() }).unwrap();
        assert_eq!((summary(&none), none.score, none.verified_share), ((0, 0, 0), None, None));
    }

    #[test]
    fn mean_counts_a_repeated_client_again_and_follows_the_list() {
        let o = addr(OWNER);
        let (c1, c2, c3) = (addr(1), addr(2), addr(3));
        let feedback = vec![fb(1, o, c1, 1, 100, 0), fb(1, o, c2, 1, 40, 0), fb(1, o, c3, 1, 10, 0)];
        let run = |clients: Option<Vec<Address>>| {
            summary(&mean(&feedback, U256::from(1), &Filter { clients, ..Filter::default() }).unwrap())
        };
        // [c1, c1, c2]: (100 + 100 + 40) / 3 = 80.
        assert_eq!(run(Some(vec![c1, c1, c2])), (3, 80, 0));
        // [c2, c1]: (40 + 100) / 2 = 70, whatever the order.
        assert_eq!(run(Some(vec![c2, c1])), (2, 70, 0));
        // No list: every client once, (100 + 40 + 10) / 3 = 50.
        assert_eq!(run(None), (3, 50, 0));
        // An empty list keeps nothing; a client that never rated adds nothing.
        assert_eq!(run(Some(vec![])), (0, 0, 0));
        assert_eq!(run(Some(vec![addr(9), c3])), (1, 10, 0));
        let score = mean(&feedback, U256::from(1), &Filter { clients: Some(vec![c1, c1]), ..Filter::default() });
        assert_eq!(score.unwrap().distinct_clients, 1);
    }

    #[test]
    fn mean_uses_256_bit_arithmetic_and_saturates_like_the_registry() {
        let o = addr(OWNER);
        // i128::MAX * 1e18 does not fit in i128, but the contract's int256 handles it.
        let big = vec![fb(1, o, addr(1), 1, i128::MAX, 0)];
        assert_eq!(summary(&mean(&big, U256::from(1), &Filter::default()).unwrap()), (1, i128::MAX, 0));
        // Two more records at 18 decimals make the mode 18, so the average (i128::MAX * 1e18 / 3 =
        // 56713727820156410577229101238628035242333333333333333333) is not divided down: it saturates to
        // i128::MAX (the reference's int128(...) would keep its low 128 bits, -113427455640312821154791535810589403819,
        // a value of the attacker's choosing).
        let mut wrap = big.clone();
        wrap.push(fb(1, o, addr(2), 1, 0, 18));
        wrap.push(fb(1, o, addr(3), 1, 0, 18));
        let score = mean(&wrap, U256::from(1), &Filter::default()).unwrap();
        assert_eq!(summary(&score), (3, i128::MAX, 18));
        let mut low = wrap.clone();
        low[0].value = i128::MIN;
        assert_eq!(summary(&mean(&low, U256::from(1), &Filter::default()).unwrap()), (3, i128::MIN, 18));
        // The score leaves i128::MAX out: the two zeros remain.
        assert_eq!((score.score, score.count, score.out_of_range), (Some(0.0), 2, 1));
        let alone = mean(&big, U256::from(1), &Filter::default()).unwrap();
        assert_eq!((alone.score, alone.status, alone.out_of_range), (None, ScoreStatus::InsufficientEvidence, 1));
    }
}
