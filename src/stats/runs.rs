//! A new run judged against the runs before it, at the limit a tolerance
//! sets: is this run's level worse than the limit by more than runs vary
//! from one another? The unit of evidence is the run: the baseline runs'
//! levels give the run-to-run spread, so a run's hundreds of rounds cannot
//! make a drift between runs look significant.
//!
//! Under the null the new run's level is `limit` plus one run's deviation,
//! where `limit = centre_limit + slope × (baseline mean − its true value)`
//! moves with the baseline it is computed from. Two ways to weigh it:
//!
//! - [`prediction_t`]: Student's t prediction, with `k - 1` degrees of
//!   freedom: `(x - limit) / (s × √(1 + slope² / k))`.
//! - [`prediction_bootstrap`]: the same statistic's null distribution
//!   from resampling the baseline runs (a smoothed bootstrap: each drawn
//!   deviation gets Gaussian jitter, shrunk so its variance stays `s²`).
//!
//! Both give a one-sided p-value (the chance, at the limit, of a run this
//! far on the worse side) and the change (this run minus the baseline
//! runs' mean) with the interval a new run's deviation allows.

use super::{mean, quantile_sorted, sd, sorted, TestResult, Xorshift, BOOTSTRAP_RESAMPLES};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// One new run and the baseline runs it is judged against.
#[derive(Debug, Clone, Copy)]
pub struct RunTest<'a> {
    /// One level a baseline run, in the metric's unit.
    pub baseline: &'a [f64],
    /// This run's level.
    pub value: f64,
    /// The criterion's limit on the same scale: the null hypothesis.
    pub limit: f64,
    /// How the limit moves with the baseline (`1.1` for `<= +10%`).
    pub slope: f64,
    /// Whether a higher value is worse (`<=`/`<` criteria).
    pub higher_is_worse: bool,
    pub alpha: f64,
}

impl RunTest<'_> {
    /// The distance beyond the limit, positive on the worse side.
    fn beyond(&self) -> f64 {
        let d = self.value - self.limit;
        if self.higher_is_worse {
            d
        } else {
            -d
        }
    }
}

/// How far from the median, in scaled MADs (σ for normal data), a
/// baseline run's level is taken for an outlier: a run measured cold or on
/// a busy machine, which would otherwise widen the spread every later run
/// is judged by.
pub const OUTLIER_MADS: f64 = 5.0;

/// Splits baseline levels into those kept and those left out as outliers
/// (more than `mads` scaled MADs from the median, [`OUTLIER_MADS`] in qod;
/// a Hampel filter). With fewer than five runs, or levels that do not
/// vary, all are kept; so are they when leaving them out would leave fewer
/// than `keep` (the runs a test needs): a test the history could take
/// should not become one it cannot, and the wider spread is then the
/// honest one.
pub fn without_outliers(levels: &[f64], mads: f64, keep: usize) -> (Vec<f64>, Vec<f64>) {
    if levels.len() < 5 {
        return (levels.to_vec(), Vec::new());
    }
    let median = quantile_sorted(&sorted(levels), 0.5);
    let deviations: Vec<f64> = levels.iter().map(|x| (x - median).abs()).collect();
    let mad = 1.4826 * quantile_sorted(&sorted(&deviations), 0.5);
    if mad == 0.0 || !mad.is_finite() {
        return (levels.to_vec(), Vec::new());
    }
    let (kept, out): (Vec<f64>, Vec<f64>) = levels
        .iter()
        .partition(|x| (*x - median).abs() <= mads * mad);
    if !out.is_empty() && kept.len() < keep {
        return (levels.to_vec(), Vec::new());
    }
    (kept, out)
}

/// Student's t prediction test. Needs two baseline runs.
pub fn prediction_t(t: &RunTest) -> Option<TestResult> {
    let k = t.baseline.len();
    if k < 2 {
        return None;
    }
    let (m, s) = (mean(t.baseline), sd(t.baseline));
    let estimate = t.value - m;
    if s == 0.0 || !s.is_finite() {
        // Runs that never vary (instruction counts): any step is real.
        return Some(TestResult {
            p_value: if t.beyond() > 0.0 { 0.0 } else { 1.0 },
            estimate,
            ci_low: estimate,
            ci_high: estimate,
        });
    }
    let k = k as f64;
    let dist = StudentsT::new(0.0, 1.0, k - 1.0).ok()?;
    let se = s * (1.0 + t.slope * t.slope / k).sqrt();
    let p_value = (1.0 - dist.cdf(t.beyond() / se)).clamp(0.0, 1.0);
    let half = dist.inverse_cdf(1.0 - t.alpha) * s * (1.0 + 1.0 / k).sqrt();
    Some(TestResult {
        p_value,
        estimate,
        ci_low: estimate - half,
        ci_high: estimate + half,
    })
}

/// The smoothed-bootstrap prediction test ([`BOOTSTRAP_RESAMPLES`], fixed seed). Needs three
/// baseline runs.
pub fn prediction_bootstrap(t: &RunTest) -> Option<TestResult> {
    let k = t.baseline.len();
    if k < 3 {
        return None;
    }
    let (m, s) = (mean(t.baseline), sd(t.baseline));
    let estimate = t.value - m;
    if s == 0.0 || !s.is_finite() {
        return prediction_t(t);
    }
    let mut rng = Xorshift(0x2545_F491_4F6C_DD1D);
    // Deviations with the sample variance, and Silverman's bandwidth.
    let scale = (k as f64 / (k as f64 - 1.0)).sqrt();
    let dev: Vec<f64> = t.baseline.iter().map(|b| (b - m) * scale).collect();
    let h = 0.9 * s * (k as f64).powf(-0.2);
    let shrink = 1.0 / (1.0 + h * h / (s * s)).sqrt();
    // The prediction error of `value - mean` and of `value - limit`.
    let mut errors = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut beyond = 0usize;
    let sign = if t.higher_is_worse { 1.0 } else { -1.0 };
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let resampled = (0..k).map(|_| t.baseline[rng.below(k)]).sum::<f64>() / k as f64 - m;
        let deviation = (dev[rng.below(k)] + h * rng.normal()) * shrink;
        errors.push(deviation - resampled);
        if sign * (deviation - t.slope * resampled) >= t.beyond() {
            beyond += 1;
        }
    }
    let errors = sorted(&errors);
    Some(TestResult {
        p_value: ((beyond + 1) as f64 / (BOOTSTRAP_RESAMPLES + 1) as f64).min(1.0),
        estimate,
        ci_low: estimate - quantile_sorted(&errors, 1.0 - t.alpha),
        ci_high: estimate - quantile_sorted(&errors, t.alpha),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(baseline: &[f64], value: f64, tolerance: f64) -> RunTest<'_> {
        let m = mean(baseline);
        RunTest {
            baseline,
            value,
            limit: m * (1.0 + tolerance),
            slope: 1.0 + tolerance,
            higher_is_worse: true,
            alpha: 0.01,
        }
    }

    /// Five runs of 100 ± 2: a run at +20% is far beyond `<= +10%`; one at
    /// +11% is beyond the limit by less than runs vary.
    #[test]
    fn t_weighs_the_distance_beyond_the_limit_by_run_to_run_spread() {
        let base = [98.0, 100.0, 102.0, 99.0, 101.0];
        let far = prediction_t(&at(&base, 120.0, 0.10)).unwrap();
        assert!(far.p_value < 0.01, "{far:?}");
        assert!((far.estimate - 20.0).abs() < 1e-9);
        let near = prediction_t(&at(&base, 111.0, 0.10)).unwrap();
        assert!(near.p_value > 0.25, "{near:?}");
        // At the limit itself, half the runs would be beyond it.
        let edge = prediction_t(&at(&base, 110.0, 0.10)).unwrap();
        assert!((edge.p_value - 0.5).abs() < 1e-9, "{edge:?}");
    }

    /// The p-value of the t prediction by hand: s = 1.5811, se = s ×
    /// √(1 + 1.21/5) = 1.7616, t = (120 - 110) / 1.7616 = 5.677, 4 df:
    /// one-sided p = 0.00238.
    #[test]
    fn t_matches_a_hand_computation() {
        let base = [98.0, 100.0, 102.0, 99.0, 101.0];
        let r = prediction_t(&at(&base, 120.0, 0.10)).unwrap();
        assert!((r.p_value - 0.00238).abs() < 0.0001, "{r:?}");
        // t(0.99, 4) = 3.7469; half-width 3.7469 × 1.5811 × √1.2 = 6.49.
        assert!((r.ci_low - (20.0 - 6.49)).abs() < 0.01, "{r:?}");
    }

    #[test]
    fn a_cold_run_is_left_out_of_the_spread() {
        // pytest-benchmark medians of seven runs, the first one cold.
        let levels = [93.59, 61.16, 59.64, 57.34, 57.67, 57.63, 58.37];
        let (kept, out) = without_outliers(&levels, OUTLIER_MADS, 5);
        assert_eq!(out, [93.59]);
        assert_eq!(kept.len(), 6);
        // Normal noise keeps every run.
        let calm = [98.0, 100.0, 102.0, 99.0, 101.0, 100.5];
        assert!(without_outliers(&calm, OUTLIER_MADS, 5).1.is_empty());
        // Three of seven beyond (a runner that is sometimes slow): left out
        // while the test keeps the five runs it needs, kept when it would
        // not (pytest-benchmark medians, in us).
        let bimodal = [60.1, 59.8, 99.18, 60.4, 109.28, 60.0, 105.7, 59.5];
        assert_eq!(without_outliers(&bimodal, OUTLIER_MADS, 5).1.len(), 3);
        assert!(without_outliers(&bimodal[..7], OUTLIER_MADS, 5)
            .1
            .is_empty());
        // Too few to tell, or no spread: all kept.
        assert!(without_outliers(&[1.0, 1.0, 9.0], OUTLIER_MADS, 1)
            .1
            .is_empty());
        assert!(
            without_outliers(&[5.0, 5.0, 5.0, 5.0, 5.0, 9.0], OUTLIER_MADS, 1)
                .1
                .is_empty()
        );
    }

    #[test]
    fn higher_is_better_looks_below_the_limit() {
        let base = [98.0, 100.0, 102.0, 99.0, 101.0];
        let t = RunTest {
            limit: 90.0,
            slope: 0.9,
            higher_is_worse: false,
            ..at(&base, 70.0, 0.0)
        };
        assert!(prediction_t(&t).unwrap().p_value < 0.001);
        assert!(prediction_bootstrap(&t).unwrap().p_value < 0.01);
        let fine = RunTest { value: 89.0, ..t };
        assert!(prediction_t(&fine).unwrap().p_value > 0.2);
    }

    #[test]
    fn runs_that_never_vary_make_any_step_real() {
        let base = [1000.0; 5];
        assert_eq!(prediction_t(&at(&base, 1101.0, 0.10)).unwrap().p_value, 0.0);
        assert_eq!(prediction_t(&at(&base, 1100.0, 0.10)).unwrap().p_value, 1.0);
    }

    #[test]
    fn the_bootstrap_agrees_with_t_on_normal_runs() {
        let base = [
            98.0, 100.0, 102.0, 99.0, 101.0, 100.5, 99.5, 100.0, 97.5, 102.5,
        ];
        for value in [111.0, 113.0, 120.0] {
            let (t, b) = (
                prediction_t(&at(&base, value, 0.10)).unwrap(),
                prediction_bootstrap(&at(&base, value, 0.10)).unwrap(),
            );
            assert_eq!(t.p_value <= 0.01, b.p_value <= 0.01, "{value}: {t:?} {b:?}");
        }
        assert!(prediction_bootstrap(&at(&base[..2], 120.0, 0.1)).is_none());
    }

    /// Over many exchangeable normal runs exactly at the limit's edge, the
    /// t prediction raises alarms at its `alpha`.
    #[test]
    fn t_holds_its_alpha_at_the_edge() {
        let mut rng = Xorshift(7);
        let (trials, mut alarms) = (20_000, 0);
        for _ in 0..trials {
            let base: Vec<f64> = (0..5).map(|_| 100.0 + 3.0 * rng.normal()).collect();
            // A run whose true level is the limit: 110 plus one run's noise.
            let value = 110.0 + 3.0 * rng.normal();
            let t = RunTest {
                limit: mean(&base) * 1.1,
                ..at(&base, value, 0.1)
            };
            alarms += usize::from(prediction_t(&t).unwrap().p_value <= 0.01);
        }
        let rate = alarms as f64 / trials as f64;
        assert!((0.005..0.015).contains(&rate), "{rate}");
    }
}
