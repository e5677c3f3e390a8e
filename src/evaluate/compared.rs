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

/// The rows of a pattern objective: one per metric it matched, failures
/// first, then by metric; a row with no data when it matched none.
pub(super) fn family(
    o: &PlannedObjective,
    objectives: &[PlannedObjective],
    plugin: Option<&PluginOutcome>,
    comparisons: &Comparisons,
) -> Vec<ObjectiveOutcome> {
    let mut rows: Vec<ObjectiveOutcome> = match comparisons.families.get(&o.spec.id) {
        Some(ids) => ids
            .iter()
            .map(|id| {
                let name = &id[o.spec.id.len() + 1..id.len() - 1];
                let row = o.row(name);
                let metric = plugin.and_then(|p| p.metrics.iter().find(|m| m.name == name));
                super::acknowledged::side_by_side(&row, metric, plugin, comparisons)
            })
            .collect(),
        None => Vec::new(),
    };
    if rows.is_empty() {
        let mut out = blank(o);
        out.reason = match plugin {
            Some(p) if p.status == crate::decision::PluginStatus::Ok => {
                let named = |m: &str| {
                    objectives.iter().any(|x| {
                        x.instance == o.instance && !x.is_pattern() && x.metric.as_str() == m
                    })
                };
                let matched = p
                    .metrics
                    .iter()
                    .filter(|m| o.matches(&m.name) && !named(&m.name))
                    .count();
                if matched == 0 {
                    format!(
                        "no metric of `{}` matches `{}` (it reported {})",
                        o.instance,
                        o.metric.as_str(),
                        p.metrics.len()
                    )
                } else {
                    no_comparison(o, comparisons)
                }
            }
            _ => no_value_reason(o, plugin),
        };
        if (comparisons.unavailable.is_some() || comparisons.problems.contains_key(&o.spec.id))
            && plugin.is_some_and(|p| !p.metrics.is_empty())
        {
            out.status = ObjectiveStatus::NoBaseline;
        }
        out.effect = effect_of(out.status, &o.spec);
        if comparisons.not_a_change() {
            out.status = ObjectiveStatus::NoBaseline;
            out.reason = format!("not judged: {}", super::NOT_A_CHANGE);
            out.effect = crate::decision::OutcomeEffect::None;
        }
        return vec![out];
    }
    rows.sort_by_key(|r| (severity(r.status), r.metric.clone()));
    rows
}

/// Why `o` has no comparison: its own problem, or the run's.
fn no_comparison(o: &PlannedObjective, comparisons: &Comparisons) -> String {
    format!(
        "no comparison with the base: {}",
        comparisons
            .problems
            .get(&o.spec.id)
            .or(comparisons.unavailable.as_ref())
            .map_or(
                "the base was not measured side by side in this run",
                String::as_str
            )
    )
}

/// Failures first.
fn severity(s: ObjectiveStatus) -> u8 {
    match s {
        ObjectiveStatus::Fail => 0,
        ObjectiveStatus::NoData => 1,
        ObjectiveStatus::Inconclusive => 2,
        ObjectiveStatus::Warn => 3,
        ObjectiveStatus::NoBaseline => 4,
        ObjectiveStatus::Acknowledged => 5,
        ObjectiveStatus::Pass => 6,
    }
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
        if comparisons.not_a_change() {
            out.reason = format!("not judged: {}", super::NOT_A_CHANGE);
            out.effect = crate::decision::OutcomeEffect::None;
            return out;
        }
        out.reason = no_comparison(o, comparisons);
        out.effect = effect_of(out.status, &o.spec);
        return out;
    };
    let tolerance = signed(c.tolerance_pct);
    let boundary = c.boundary_p;
    // What the run could have seen.
    let detectable = match c.mde_pct {
        Some(m) => format!(
            "changes under {} are not detectable with {} pairs on this runner",
            signed(m),
            c.pairs
        ),
        None => format!(
            "{} pair{} cannot tell",
            c.pairs,
            if c.pairs == 1 { "" } else { "s" }
        ),
    };
    let verdict = match status {
        ObjectiveStatus::Fail => format!(
            "worse than {tolerance} (p {} ≤ {}, the boundary of this look)",
            p(c.p_worse),
            p(boundary)
        ),
        ObjectiveStatus::Pass if c.p_inside <= boundary => {
            format!("inside {tolerance} (p {})", p(c.p_inside))
        }
        ObjectiveStatus::Pass => format!(
            "inside {tolerance} with its whole 95% interval, at the last look (p {} of worse)",
            p(c.p_worse)
        ),
        _ if comparisons.replicated.contains_key(&o.spec.id) => format!(
            "inconclusive: {}",
            comparisons.replicated[&o.spec.id]
        ),
        _ if c.budget_exhausted => format!(
            "inconclusive: `compare.budget` ran out; {detectable}: raise the budget or `compare.pairs.max`, or quiet the measurement"
        ),
        _ if c.pairs < c.max_pairs => format!(
            "inconclusive: the comparison was cut short; {detectable}"
        ),
        _ => format!(
            "inconclusive: the interval reaches beyond {tolerance} and the change is not significantly worse (p {} > {}); {detectable}: raise `compare.pairs.max`, or quiet the measurement",
            p(c.p_worse),
            p(boundary)
        ),
    };
    out.status = *status;
    out.change_pct = Some(c.change_pct);
    out.improved = (c.change_pct != 0.0).then(|| {
        let higher_is_worse = o.compared.is_some_and(|s| s.higher_is_worse);
        (c.change_pct < 0.0) == higher_is_worse
    });
    out.passes_if = Some(format!(
        "the change from the base is inside {tolerance}: significantly, or with its whole 95% interval at the last look"
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
