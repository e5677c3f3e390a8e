//! The statistics' one home. Descriptive: the mean, the sample and
//! population spread, quantiles (type 7) and the aggregates a policy
//! names. Two-sample tests that say whether a change between a baseline's
//! samples and the current run's is more than noise: Welch's t-test, the
//! Mann-Whitney U test and a bootstrap of the difference of means; each
//! gives a two-sided p-value and the estimated change (current minus
//! baseline) with a confidence interval at `1 - alpha`. A new run against
//! the runs before it, at a tolerance's limit: [`runs`]. Pure functions.

use crate::policy::Aggregate;

mod runs;
pub use runs::{prediction_bootstrap, prediction_t, without_outliers, RunTest, OUTLIER_MADS};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// What a test found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    pub p_value: f64,
    /// The estimated change, current minus baseline, in the samples' unit.
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// The arithmetic mean (NaN for no values).
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance (n - 1).
pub fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0)
}

/// Sample standard deviation (n - 1), as harnesses report it.
pub fn sd(x: &[f64]) -> f64 {
    variance(x).sqrt()
}

/// Population standard deviation (n) around `centre`.
pub fn population_sd(centre: f64, x: &[f64]) -> f64 {
    (x.iter().map(|v| (v - centre).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// The `q` quantile (0 to 1) of sorted, non-empty data, interpolating
/// linearly between the closest ranks (the common "type 7" definition).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let rank = q * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// `x` sorted, NaN last.
pub fn sorted(x: &[f64]) -> Vec<f64> {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

fn normal_quantile(p: f64) -> f64 {
    Normal::new(0.0, 1.0)
        .expect("a standard normal")
        .inverse_cdf(p)
}

/// Welch's unequal-variances t-test. Needs at least two samples a side.
pub fn welch_t(base: &[f64], cur: &[f64], alpha: f64) -> Option<TestResult> {
    if base.len() < 2 || cur.len() < 2 {
        return None;
    }
    let (n1, n2) = (base.len() as f64, cur.len() as f64);
    let (v1, v2) = (variance(base) / n1, variance(cur) / n2);
    let estimate = mean(cur) - mean(base);
    let se = (v1 + v2).sqrt();
    if se == 0.0 {
        let p = if estimate == 0.0 { 1.0 } else { 0.0 };
        return Some(TestResult {
            p_value: p,
            estimate,
            ci_low: estimate,
            ci_high: estimate,
        });
    }
    let df = (v1 + v2).powi(2) / (v1 * v1 / (n1 - 1.0) + v2 * v2 / (n2 - 1.0));
    let t_dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let t = estimate / se;
    let p_value = (2.0 * (1.0 - t_dist.cdf(t.abs()))).clamp(0.0, 1.0);
    let q = t_dist.inverse_cdf(1.0 - alpha / 2.0);
    Some(TestResult {
        p_value,
        estimate,
        ci_low: estimate - q * se,
        ci_high: estimate + q * se,
    })
}

/// The Mann-Whitney U test, by the normal approximation with tie and
/// continuity corrections. The change is the Hodges-Lehmann estimate (the
/// median of all current-minus-baseline differences), with Moses' interval.
pub fn mann_whitney(base: &[f64], cur: &[f64], alpha: f64) -> Option<TestResult> {
    if base.is_empty() || cur.is_empty() {
        return None;
    }
    let (n1, n2) = (base.len(), cur.len());
    // Ranks of the pooled samples, ties averaged.
    let mut pooled: Vec<(f64, usize)> = base
        .iter()
        .map(|&v| (v, 0))
        .chain(cur.iter().map(|&v| (v, 1)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pooled.len();
    let mut rank_sum_base = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        for item in &pooled[i..=j] {
            if item.1 == 0 {
                rank_sum_base += rank;
            }
        }
        i = j + 1;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let u = rank_sum_base - a * (a + 1.0) / 2.0;
    let mu = a * b / 2.0;
    let nf = n as f64;
    let sigma = (a * b / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)))).sqrt();
    let p_value = if sigma == 0.0 {
        1.0
    } else {
        let z = ((u - mu).abs() - 0.5).max(0.0) / sigma;
        (2.0 * (1.0 - Normal::new(0.0, 1.0).expect("a standard normal").cdf(z))).clamp(0.0, 1.0)
    };
    let mut diffs: Vec<f64> = cur
        .iter()
        .flat_map(|c| base.iter().map(move |b| c - b))
        .collect();
    diffs.sort_by(f64::total_cmp);
    let m = diffs.len();
    let estimate = if m % 2 == 1 {
        diffs[m / 2]
    } else {
        (diffs[m / 2 - 1] + diffs[m / 2]) / 2.0
    };
    let z = normal_quantile(1.0 - alpha / 2.0);
    let k = (mu - z * (a * b * (nf + 1.0) / 12.0).sqrt())
        .floor()
        .max(0.0) as usize;
    let (ci_low, ci_high) = if k >= 1 && k <= m {
        (diffs[k - 1], diffs[m - k])
    } else {
        (diffs[0], diffs[m - 1])
    };
    Some(TestResult {
        p_value,
        estimate,
        ci_low,
        ci_high,
    })
}

/// Resamples drawn by [`bootstrap`].
pub const BOOTSTRAP_RESAMPLES: usize = 4000;

/// A bootstrap of the difference of means (fixed seed, so a decision can
/// be reproduced): the percentile interval, and a two-sided p-value from
/// resampling both sides around their pooled mean.
pub fn bootstrap(base: &[f64], cur: &[f64], alpha: f64) -> Option<TestResult> {
    if base.len() < 2 || cur.len() < 2 {
        return None;
    }
    let mut rng = Xorshift(0x2545_F491_4F6C_DD1D);
    let mut next = |n: usize| rng.below(n);
    let mut resample_mean = |x: &[f64], shift: f64| -> f64 {
        (0..x.len()).map(|_| x[next(x.len())] + shift).sum::<f64>() / x.len() as f64
    };
    let estimate = mean(cur) - mean(base);
    let mut diffs: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| resample_mean(cur, 0.0) - resample_mean(base, 0.0))
        .collect();
    diffs.sort_by(f64::total_cmp);
    let at = |q: f64| {
        diffs
            [((q * (BOOTSTRAP_RESAMPLES - 1) as f64).round() as usize).min(BOOTSTRAP_RESAMPLES - 1)]
    };
    let (ci_low, ci_high) = (at(alpha / 2.0), at(1.0 - alpha / 2.0));
    // Under the null both sides share one mean: shift each to the pooled mean.
    let pooled =
        (base.iter().sum::<f64>() + cur.iter().sum::<f64>()) / (base.len() + cur.len()) as f64;
    let (sb, sc) = (pooled - mean(base), pooled - mean(cur));
    let extreme = (0..BOOTSTRAP_RESAMPLES)
        .filter(|_| (resample_mean(cur, sc) - resample_mean(base, sb)).abs() >= estimate.abs())
        .count();
    let p_value = ((extreme + 1) as f64 / (BOOTSTRAP_RESAMPLES + 1) as f64).min(1.0);
    Some(TestResult {
        p_value,
        estimate,
        ci_low,
        ci_high,
    })
}

/// A small deterministic generator: the same data, the same verdict.
pub(crate) struct Xorshift(pub(crate) u64);

impl Xorshift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A standard normal (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = |r: &mut Xorshift| ((r.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let (a, b) = (u(self), u(self));
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

/// Summarises `values` (not empty).
pub fn aggregate(values: &[f64], how: Aggregate) -> f64 {
    let sorted = sorted(values);
    match how {
        Aggregate::Mean => mean(values),
        Aggregate::Median => quantile_sorted(&sorted, 0.5),
        Aggregate::Min => sorted[0],
        Aggregate::Max => sorted[sorted.len() - 1],
        Aggregate::Percentile(p) => quantile_sorted(&sorted, f64::from(p) / 100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates() {
        let v = [30.0, 33.0, 32.0];
        assert!((aggregate(&v, Aggregate::Mean) - 31.666666666666668).abs() < 1e-12);
        assert_eq!(aggregate(&v, Aggregate::Median), 32.0);
        assert_eq!(aggregate(&v, Aggregate::Min), 30.0);
        assert_eq!(aggregate(&v, Aggregate::Max), 33.0);
        assert_eq!(
            aggregate(&[1.0, 2.0, 3.0, 4.0, 5.0], Aggregate::Percentile(90)),
            4.6
        );
        assert_eq!(aggregate(&[7.0], Aggregate::Percentile(99)), 7.0);
    }

    /// Welch's worked example 1 (Wikipedia, "Welch's t-test"): t = -2.46,
    /// df = 24.99, p = 0.021.
    #[test]
    fn welch_worked_example() {
        let a = [
            27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7,
            21.4,
        ];
        let b = [
            27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5,
            24.4,
        ];
        let r = welch_t(&a, &b, 0.05).unwrap();
        assert!((r.p_value - 0.021).abs() < 0.001, "{r:?}");
        assert!((r.estimate - (22.98 - 20.82)).abs() < 0.01, "{r:?}");
        assert!(r.ci_low > 0.0 && r.ci_high > r.estimate);
    }

    /// Two groups with no overlap: U = 0; with continuity correction
    /// z = (12.5 - 0.5) / 4.787, p = 0.0122.
    #[test]
    fn mann_whitney_separated_groups() {
        let r = mann_whitney(
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            &[6.0, 7.0, 8.0, 9.0, 10.0],
            0.05,
        )
        .unwrap();
        assert!((r.p_value - 0.0122).abs() < 0.0005, "{r:?}");
        assert_eq!(r.estimate, 5.0);
        let same = mann_whitney(&[3.0; 6], &[3.0; 6], 0.05).unwrap();
        assert_eq!(same.p_value, 1.0);
    }

    #[test]
    fn bootstrap_sees_a_clear_shift_and_not_noise() {
        let base: Vec<f64> = (0..20).map(|i| 100.0 + (i % 5) as f64).collect();
        let shifted: Vec<f64> = base.iter().map(|v| v + 10.0).collect();
        let r = bootstrap(&base, &shifted, 0.01).unwrap();
        assert!(
            r.p_value < 0.001 && (r.estimate - 10.0).abs() < 1e-9,
            "{r:?}"
        );
        assert!(r.ci_low > 8.0 && r.ci_high < 12.0, "{r:?}");
        let r = bootstrap(&base, &base, 0.01).unwrap();
        assert!(r.p_value > 0.5, "{r:?}");
    }
}
