//! The null distribution of near-duplicate similarity, and the p-values a scan derives from it.
//!
//! A calibration is measured by `cargo bench -p prova-attestor --bench near` on a null corpus of real human text
//! that nobody here wrote (Debian's fortune collections, the Jargon File and manual pages; `scripts/bench-near.sh`):
//! every pair of a null record and an unrelated text is an unrelated pair. It holds how many pairs were compared,
//! how many reached each similarity (found exhaustively above [`Calibration::tail_from`] with a low-threshold LSH),
//! and a histogram of the similarity of random unrelated pairs. The shipped one is `calibration.json` beside this
//! file; `prova outputs scan --calibration FILE` takes another.
//!
//! - **Per pair:** `p_pair(s)` is the one-sided 95% upper confidence bound of the share of unrelated pairs with
//!   similarity at least `s` (a Poisson bound on the count seen: `3.0 / pairs` when none was seen).
//! - **Per record:** the chance that a record unrelated to every one of the store's `N` outputs has a match this
//!   strong with any of them, `p_record(s) = 1 - (1 - p_pair(s))^N` (a union over the store).
//! - **For the count:** the chance that `m` or more of the `M` records compared match by chance, with each unrelated
//!   record matching independently with probability `p_record(threshold)`: the Binomial (Poisson) upper tail.
//!
//! These bound the chance of matches *between unrelated texts*. Text that is common to both sides without copying
//! (quotations, licences, boilerplate) is not unrelated, and a paraphrase that keeps the meaning but not the words
//! is not seen at all: see `docs/distillation.md`.

use serde::{Deserialize, Serialize};

use super::near::{Banding, Scheme};

/// The calibration shipped with prova (measured as `BENCHMARKS.md` says).
const SHIPPED: &str = include_str!("calibration.json");

/// The null distribution of one fingerprint scheme.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// Where it was measured (corpus, command, date).
    pub source: String,
    /// The fingerprint scheme.
    pub scheme: Scheme,
    /// Records of the null corpus.
    pub null_records: u64,
    /// Unrelated texts they were compared with.
    pub other_records: u64,
    /// Unrelated pairs compared: `null_records * other_records`.
    pub pairs: f64,
    /// Similarity from which the tail counts are exhaustive (every pair at or above it was examined).
    pub tail_from: f64,
    /// `(s, n)`: n unrelated pairs had a similarity of at least s, for s from `tail_from` to 1 by 0.05.
    pub tail: Vec<(f64, u64)>,
    /// Null records with a match of at least `s` anywhere among the unrelated texts, as `(s, n)`.
    pub records_matching: Vec<(f64, u64)>,
    /// Histogram of the similarity of random unrelated pairs: counts in 20 bins of width 0.05 over [0, 1].
    pub histogram: Vec<u64>,
    /// Random pairs in the histogram.
    pub histogram_pairs: u64,
    /// The banding the tail was found with.
    pub banding: Banding,
}

impl Calibration {
    /// The shipped calibration.
    pub fn shipped() -> Self {
        serde_json::from_str(SHIPPED).expect("calibration.json is a calibration")
    }

    /// Pairs seen at or above `s`; `None` below the exhaustive tail.
    pub fn pairs_at_least(&self, s: f64) -> Option<u64> {
        if s + 1e-9 < self.tail_from {
            return None;
        }
        // The largest tabulated level not above s counts at least as many pairs as s does.
        self.tail.iter().rev().find(|(level, _)| *level <= s + 1e-9).map(|(_, n)| *n)
    }

    /// `p_pair(s)`: the 95% upper bound of the chance that an unrelated pair has similarity at least `s` (1 below
    /// the exhaustive tail, where this calibration says nothing).
    pub fn p_pair(&self, s: f64) -> f64 {
        match self.pairs_at_least(s) {
            Some(n) if self.pairs > 0.0 => (poisson_upper_bound(n, 0.05) / self.pairs).min(1.0),
            _ => 1.0,
        }
    }

    /// `p_record(s)` for a store of `outputs` fingerprinted outputs.
    pub fn p_record(&self, s: f64, outputs: u64) -> f64 {
        let p = self.p_pair(s);
        if p >= 1.0 {
            return 1.0;
        }
        -f64::exp_m1(outputs as f64 * f64::ln_1p(-p))
    }
}

/// The `1 - alpha` one-sided upper confidence bound of a Poisson mean after seeing `k` events.
pub fn poisson_upper_bound(k: u64, alpha: f64) -> f64 {
    // P(X <= k; lambda) decreases in lambda: bisect for the lambda where it equals alpha.
    let (mut lo, mut hi) = (k as f64, k as f64 + 10.0 * (k as f64 + 1.0).sqrt() + 10.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if poisson_cdf(k, mid) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// `P(X <= k)` for X ~ Poisson(lambda).
fn poisson_cdf(k: u64, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    let mut term = (-lambda).exp();
    let mut sum = term;
    for i in 1..=k {
        term *= lambda / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

/// `ln(n!)`.
fn ln_factorial(n: u64) -> f64 {
    if n < 256 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x) - 1.0 / (360.0 * x.powi(3))
}

/// log10 of `P(X >= m)` for X ~ Binomial(`trials`, `p`): the chance of `m` or more chance matches among `trials`
/// records. Computed in logs, since it is often far below the smallest f64.
pub fn log10_count_p_value(m: u64, trials: u64, p: f64) -> f64 {
    if m == 0 || p >= 1.0 {
        return 0.0;
    }
    if m > trials || p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let (n, ln_p, ln_q) = (trials as f64, p.ln(), f64::ln_1p(-p));
    let ln_pmf = |k: u64| {
        ln_factorial(trials) - ln_factorial(k) - ln_factorial(trials - k) + k as f64 * ln_p + (n - k as f64) * ln_q
    };
    // Sum the upper tail from m in logs, until the terms stop counting.
    let first = ln_pmf(m);
    let mut total = 0.0f64;
    let mut k = m;
    loop {
        let term = (ln_pmf(k) - first).exp();
        total += term;
        k += 1;
        if k > trials || (term < 1e-17 * total && k as f64 > n * p) {
            break;
        }
    }
    ((first + total.ln()) / std::f64::consts::LN_10).min(0.0)
}

/// A p-value from its log10, as an f64 (0 when it underflows).
pub fn from_log10(log10: f64) -> f64 {
    10f64.powf(log10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_calibration_reads_and_bounds_the_tail() {
        let calibration = Calibration::shipped();
        assert!(calibration.pairs > 1e8, "{}", calibration.pairs);
        assert_eq!(calibration.scheme, Scheme::default());
        assert!(calibration.p_pair(0.0) >= calibration.p_pair(0.5));
        assert!(calibration.p_pair(0.5) < 1e-6);
        assert_eq!(calibration.p_pair(calibration.tail_from - 0.1), 1.0, "nothing known below the tail");
        assert!(calibration.p_record(0.5, 1_000) <= 1_000.0 * calibration.p_pair(0.5) * 1.0001);
    }

    #[test]
    fn poisson_bounds_and_tails() {
        assert!((poisson_upper_bound(0, 0.05) - 2.9957).abs() < 1e-3, "the rule of three");
        assert!((poisson_upper_bound(10, 0.05) - 17.0).abs() < 0.1);
        // 2 or more of 10 at p = 0.5: 1 - 11/1024.
        let exact = (1.0f64 - 11.0 / 1024.0).log10();
        assert!((log10_count_p_value(2, 10, 0.5) - exact).abs() < 1e-9);
        assert_eq!(log10_count_p_value(0, 10, 0.5), 0.0);
        // 100 matches among a million records where 0.3 are expected: far below any f64.
        let tiny = log10_count_p_value(100, 1_000_000, 3e-7);
        assert!((-212.0..-208.0).contains(&tiny), "{tiny}");
        assert!((ln_factorial(300) - 1414.9058).abs() < 1e-3);
    }
}
