//! The significance test of an objective: the baseline's pooled samples
//! against this run's, with the method, p-value and estimated change.

use crate::decision::TestOutcome;
use crate::policy::{SignificanceTest, TestMethod};
use crate::stats;
use crate::units::format_value;

/// Runs the objective's test on the baseline's pooled samples and this run's.
pub(super) fn run(spec: &SignificanceTest, base: &[f64], cur: &[f64]) -> TestOutcome {
    let mut t = TestOutcome {
        method: spec.method.as_str().to_owned(),
        alpha: spec.alpha,
        n_baseline: base.len(),
        n_current: cur.len(),
        min_samples: spec.min_samples,
        p_value: None,
        significant: None,
        change: None,
        change_low: None,
        change_high: None,
        change_pct: None,
        change_pct_low: None,
        change_pct_high: None,
    };
    let enough = spec.min_samples.max(2) as usize;
    if base.len() < enough || cur.len() < enough {
        return t;
    }
    let result = match spec.method {
        TestMethod::WelchT => stats::welch_t(base, cur, spec.alpha),
        TestMethod::MannWhitney => stats::mann_whitney(base, cur, spec.alpha),
        TestMethod::Bootstrap => stats::bootstrap(base, cur, spec.alpha),
    };
    let Some(r) = result else {
        return t;
    };
    t.p_value = Some(r.p_value);
    t.significant = Some(r.p_value <= spec.alpha);
    t.change = Some(r.estimate);
    t.change_low = Some(r.ci_low);
    t.change_high = Some(r.ci_high);
    let mean = crate::stats::mean(base);
    if mean != 0.0 {
        let pct = |x: f64| x / mean.abs() * 100.0;
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
}
