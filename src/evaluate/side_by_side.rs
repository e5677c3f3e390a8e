//! An objective `against: base`: its status is where its paired sequential
//! test ended, and its reason reads "candidate vs `main@abc1234`: +12.3%
//! [9.1%, 15.6%], 14 pairs, stopped early: worse than +3%".

use super::objective::{blank, no_value_reason};
use super::{effect_of, Comparisons};
use crate::decision::{ComparisonOutcome, ObjectiveOutcome, ObjectiveStatus, PluginOutcome};
use crate::plan::PlannedObjective;
use crate::protocol::Metric;

/// `+3%`, `-0.5%`.
fn signed(pct: f64) -> String {
    let digits = if pct.abs() >= 10.0 { 1 } else { 2 };
    let text = format!("{pct:+.digits$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// A p-value as people read it: `0.0002`, `< 0.0001`.
fn p(v: f64) -> String {
    if v < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("{v:.4}")
    }
}

/// "candidate vs `main@abc1234`: +12.3% [9.1%, 15.6%], 14 pairs, stopped early".
fn headline(c: &ComparisonOutcome) -> String {
    format!(
        "candidate vs `{}`: {} [{}, {}], {} pair{}{}",
        c.base,
        signed(c.change_pct),
        signed(c.ci_low_pct),
        signed(c.ci_high_pct),
        c.pairs,
        if c.pairs == 1 { "" } else { "s" },
        if c.stopped_early {
            ", stopped early"
        } else {
            ""
        }
    )
}

pub(super) fn evaluate(
    o: &PlannedObjective,
    metric: Option<&Metric>,
    plugin: Option<&PluginOutcome>,
    comparisons: &Comparisons,
) -> ObjectiveOutcome {
    let mut out = blank(o);
    let Some(metric) = metric else {
        out.reason = no_value_reason(o, plugin);
        return out;
    };
    out.value = Some(metric.value);
    out.unit = metric.unit.clone();
    let Some((c, status)) = comparisons.by_objective.get(&o.spec.id) else {
        out.status = ObjectiveStatus::NoBaseline;
        out.reason = format!(
            "no comparison with the base: {}",
            comparisons
                .problems
                .get(&o.spec.id)
                .or(comparisons.unavailable.as_ref())
                .map_or(
                    "the base was not measured side by side in this run",
                    String::as_str
                )
        );
        out.effect = effect_of(out.status, &o.spec);
        return out;
    };
    let tolerance = signed(c.tolerance_pct);
    let alpha_now = c.alpha_spent;
    let verdict = match status {
        ObjectiveStatus::Fail => format!(
            "worse than {tolerance} (p {} ≤ α spent {})",
            p(c.p_worse),
            p(alpha_now)
        ),
        ObjectiveStatus::Pass if c.p_inside <= alpha_now => {
            format!("inside {tolerance} (p {})", p(c.p_inside))
        }
        ObjectiveStatus::Pass => format!(
            "the estimate is inside {tolerance}, not significantly worse (p {})",
            p(c.p_worse)
        ),
        _ => format!(
            "the estimate is beyond {tolerance}, but not significantly (p {} > α spent {}); raise `compare.pairs.max`, or make the measurement less noisy",
            p(c.p_worse),
            p(alpha_now)
        ),
    };
    out.status = *status;
    out.change_pct = Some(c.change_pct);
    out.improved = (c.change_pct != 0.0).then(|| {
        let higher_is_worse = o.side_by_side.is_some_and(|s| s.higher_is_worse);
        (c.change_pct < 0.0) == higher_is_worse
    });
    out.passes_if = Some(format!(
        "the candidate is not significantly worse than {tolerance} of the base"
    ));
    out.reason = format!("{}: {verdict}", headline(c));
    out.comparison = Some(c.clone());
    out.effect = effect_of(out.status, &o.spec);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_read_naturally() {
        assert_eq!(signed(3.0), "+3%");
        assert_eq!(signed(-0.5), "-0.5%");
        assert_eq!(signed(12.345), "+12.3%");
        assert_eq!(signed(0.0), "+0%");
        assert_eq!(p(0.00001), "< 0.0001");
        assert_eq!(p(0.0123456), "0.0123");
    }
}
