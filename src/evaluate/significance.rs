//! The significance test of an objective: is this run worse than the
//! tolerance's limit by more than runs vary from one another? The unit of
//! evidence is the run (see [`crate::stats::RunTest`]): each baseline run
//! gives one level, this run another, and the limit is the failed
//! criterion's, on the levels' scale.

use crate::decision::TestOutcome;
use crate::policy::criterion::{Criterion, Op, Rhs};
use crate::policy::{SignificanceTest, TestMethod};
use crate::stats;
use crate::units::format_value;

/// A run's level: its value, or the median of its samples (`mann-whitney`,
/// robust to outlier rounds).
fn level(spec: &SignificanceTest, value: f64, samples: &[f64]) -> f64 {
    match spec.method {
        TestMethod::MannWhitney if !samples.is_empty() => {
            stats::quantile_sorted(&stats::sorted(samples), 0.5)
        }
        _ => value,
    }
}

/// The levels' name in the decision.
fn level_name(spec: &SignificanceTest) -> &'static str {
    match spec.method {
        TestMethod::MannWhitney => "median of samples",
        _ => "value",
    }
}

/// One side of the test: a run's value and its samples.
pub(super) struct Run<'a> {
    pub value: f64,
    pub samples: &'a [f64],
}

/// Whether `criterion` can be weighed by a test: a tolerance on the
/// baseline (`<= +10%`, `< baseline + 2ms`), not a fixed limit, not a
/// threshold model's limit (which already weighs the spread), and not
/// `==`/`!=`.
pub(super) fn testable(criterion: &Criterion) -> bool {
    matches!(criterion.rhs, Rhs::Baseline { .. })
        && matches!(criterion.op, Op::Lt | Op::Le | Op::Gt | Op::Ge)
}

/// Runs the objective's test of `current` against the baseline `runs` at
/// `criterion`'s limit (a [`testable`] one).
pub(super) fn run(
    spec: &SignificanceTest,
    criterion: &Criterion,
    runs: &[Run],
    current: &Run,
) -> TestOutcome {
    let mut t = TestOutcome {
        method: spec.method.as_str().to_owned(),
        alpha: spec.alpha,
        n_baseline: runs.len(),
        n_current: current.samples.len(),
        min_runs: spec.min_runs(),
        level: level_name(spec).to_owned(),
        limit: None,
        outliers: Vec::new(),
        p_value: None,
        significant: None,
        change: None,
        change_low: None,
        change_high: None,
        change_pct: None,
        change_pct_low: None,
        change_pct_high: None,
    };
    let Rhs::Baseline { mul, add } = criterion.rhs else {
        return t;
    };
    let all: Vec<f64> = runs
        .iter()
        .map(|r| level(spec, r.value, r.samples))
        .collect();
    // A cold or disturbed baseline run would widen the spread every run
    // is judged by: left out, and said (unless the test would then have
    // too few runs to be taken).
    let need = spec.min_runs().max(3) as usize;
    let (levels, outliers) = stats::without_outliers(&all, stats::OUTLIER_MADS, need);
    t.n_baseline = levels.len();
    t.outliers = outliers;
    let value = level(spec, current.value, current.samples);
    let centre = stats::mean(&levels);
    if !levels.is_empty() {
        t.limit = Some(centre * mul + add);
    }
    if levels.len() < need {
        return t;
    }
    let test = stats::RunTest {
        baseline: &levels,
        value,
        limit: centre * mul + add,
        slope: mul,
        higher_is_worse: matches!(criterion.op, Op::Lt | Op::Le),
        alpha: spec.alpha,
    };
    let result = match spec.method {
        TestMethod::Bootstrap => stats::prediction_bootstrap(&test),
        TestMethod::WelchT | TestMethod::MannWhitney => stats::prediction_t(&test),
    };
    let Some(r) = result else {
        return t;
    };
    t.p_value = Some(r.p_value);
    t.significant = Some(r.p_value <= spec.alpha);
    t.change = Some(r.estimate);
    t.change_low = Some(r.ci_low);
    t.change_high = Some(r.ci_high);
    if centre != 0.0 {
        let pct = |x: f64| x / centre.abs() * 100.0;
        t.change_pct = Some(pct(r.estimate));
        t.change_pct_low = Some(pct(r.ci_low));
        t.change_pct_high = Some(pct(r.ci_high));
    }
    t
}

/// `p = 0.003`, `p = 2.1e-7`; below what a double resolves near 1 (a
/// p-value computed as `1 - cdf` is 0 there), `p < 1e-16`.
pub(super) fn format_p(p: f64) -> String {
    if p < 1e-16 {
        "p < 1e-16".to_owned()
    } else if p < 1e-4 {
        format!("p = {p:.1e}")
    } else {
        format!("p = {}", format_value(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_read_as_numbers_or_a_bound() {
        assert_eq!(format_p(0.0), "p < 1e-16");
        assert_eq!(format_p(3e-20), "p < 1e-16");
        assert_eq!(format_p(2.1e-7), "p = 2.1e-7");
        assert_eq!(format_p(0.0123), "p = 0.0123");
    }

    fn spec(method: TestMethod) -> SignificanceTest {
        SignificanceTest {
            method,
            alpha: 0.01,
            min_runs: None,
            min_samples: None,
        }
    }

    fn within_10pct() -> Criterion {
        Criterion {
            text: "<= +10%".into(),
            op: Op::Le,
            rhs: Rhs::Baseline { mul: 1.1, add: 0.0 },
        }
    }

    /// Hundreds of rounds a run cannot make a drift between runs
    /// significant: five runs whose rounds sit at 100 ± 1 but whose levels
    /// wander by ±5, and a run 12% up with 500 tight rounds.
    #[test]
    fn rounds_are_not_runs() {
        let rounds =
            |level: f64| -> Vec<f64> { (0..500).map(|i| level + (i % 3) as f64 - 1.0).collect() };
        let levels = [95.0, 105.0, 100.0, 96.0, 104.0];
        let samples: Vec<Vec<f64>> = levels.iter().map(|&l| rounds(l)).collect();
        let runs: Vec<Run> = levels
            .iter()
            .zip(&samples)
            .map(|(&value, s)| Run { value, samples: s })
            .collect();
        let now = rounds(112.0);
        let current = Run {
            value: 112.0,
            samples: &now,
        };
        for method in [
            TestMethod::MannWhitney,
            TestMethod::WelchT,
            TestMethod::Bootstrap,
        ] {
            let t = run(&spec(method), &within_10pct(), &runs, &current);
            assert_eq!(t.significant, Some(false), "{method:?}: {t:?}");
            assert_eq!((t.n_baseline, t.n_current), (5, 500));
            assert!((t.limit.unwrap() - 110.0).abs() < 1e-9);
        }
        // Twice as slow is beyond any drift.
        let slow = rounds(200.0);
        let t = run(
            &spec(TestMethod::MannWhitney),
            &within_10pct(),
            &runs,
            &Run {
                value: 200.0,
                samples: &slow,
            },
        );
        assert_eq!(t.significant, Some(true), "{t:?}");
        assert!((t.change_pct.unwrap() - 100.0).abs() < 1e-9);
    }

    /// Outlier rounds inflate a run's mean, not its median: `mann-whitney`
    /// reads levels as medians.
    #[test]
    fn a_busy_neighbour_moves_the_mean_not_the_median() {
        let quiet: Vec<f64> = (0..200).map(|i| 100.0 + (i % 5) as f64 * 0.2).collect();
        let levels = [100.4, 100.1, 100.6, 100.3, 100.5];
        let runs: Vec<Run> = levels
            .iter()
            .map(|&value| Run {
                value,
                samples: &quiet,
            })
            .collect();
        let mut busy = quiet.clone();
        for s in busy.iter_mut().step_by(5) {
            *s *= 2.0;
        }
        let mean = stats::mean(&busy);
        let current = Run {
            value: mean,
            samples: &busy,
        };
        let by_median = run(
            &spec(TestMethod::MannWhitney),
            &within_10pct(),
            &runs,
            &current,
        );
        assert_eq!(by_median.significant, Some(false), "{by_median:?}");
        assert_eq!(by_median.level, "median of samples");
        let by_value = run(&spec(TestMethod::WelchT), &within_10pct(), &runs, &current);
        assert_eq!(by_value.significant, Some(true), "{by_value:?}");
    }

    /// A cold first run among the baseline runs would hide a 2× regression
    /// behind its spread: it is left out, and named.
    #[test]
    fn a_cold_baseline_run_is_left_out_and_named() {
        let levels = [93.59, 61.16, 59.64, 57.34, 57.67, 57.63, 58.37];
        let runs: Vec<Run> = levels
            .iter()
            .map(|&value| Run {
                value,
                samples: &[],
            })
            .collect();
        let slow = Run {
            value: 114.4,
            samples: &[],
        };
        let t = run(&spec(TestMethod::WelchT), &within_10pct(), &runs, &slow);
        assert_eq!(t.outliers, [93.59]);
        assert_eq!(t.n_baseline, 6);
        assert_eq!(t.significant, Some(true), "{t:?}");
        assert!((t.limit.unwrap() - 1.1 * 58.635).abs() < 0.01, "{t:?}");
    }

    #[test]
    fn too_few_runs_decide_nothing() {
        let runs = [
            Run {
                value: 1.0,
                samples: &[],
            },
            Run {
                value: 1.1,
                samples: &[],
            },
        ];
        let t = run(
            &spec(TestMethod::WelchT),
            &within_10pct(),
            &runs,
            &Run {
                value: 9.0,
                samples: &[],
            },
        );
        assert_eq!(t.significant, None);
        assert_eq!(t.p_value, None);
    }
}
