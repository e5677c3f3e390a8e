//! The rows of a side-by-side comparison: one per objective naming a
//! metric, one per metric a pattern objective matches; what makes a row's
//! pairs copies rather than measurements; and Holm's step-down within a
//! pattern's family.

use super::sequential::{Design, Ending, Sequence, State};
use crate::plan::Plan;
use crate::policy::CompareSpec;
use crate::protocol::Metric;

/// One metric's comparison in progress.
pub(super) struct Open {
    /// The row's objective id (`<objective>[<metric>]` in a family).
    pub(super) id: String,
    /// The plan objective's id, for a family's Holm step-down.
    pub(super) family: Option<String>,
    pub(super) metric: String,
    pub(super) seq: Sequence,
    pub(super) tolerance_pct: f64,
    pub(super) w: Vec<f64>,
    pub(super) base: Vec<f64>,
    pub(super) candidate: Vec<f64>,
    pub(super) state: Option<State>,
    /// Why a pair gave no ratio, the first time it happened.
    pub(super) problem: Option<String>,
    /// Why the pairs cannot be trusted (replicated values).
    pub(super) replicated: Option<String>,
}

impl Open {
    pub(super) fn done(&self) -> bool {
        self.problem.is_some()
            || self.replicated.is_some()
            || self.state.as_ref().is_some_and(|s| s.ending.is_some())
    }
}

/// Pairs that are not pairs: a side whose value never varies over 3 or
/// more invocations while the other side's does, or both sides constant,
/// comes from a plugin that does not measure on each invocation (it reads
/// a file written once); its ratios would be replicated, and any test on
/// them falsely significant.
pub fn replicated(base: &[f64], candidate: &[f64]) -> Option<String> {
    let n = base.len();
    if n < 3 {
        return None;
    }
    let constant = |v: &[f64]| v.iter().all(|x| *x == v[0]);
    match (constant(base), constant(candidate)) {
        (true, true) => Some(format!(
            "the plugin returned the same value on all {n} invocations of each side ({} and {}): it does not measure on each invocation, so the pairs are copies of one measurement (a `bench-import` needs `with.run`); a count that never varies is judged against history instead",
            base[0], candidate[0]
        )),
        (true, false) | (false, true) => {
            let (side, v) = if constant(base) {
                ("base", base[0])
            } else {
                ("candidate", candidate[0])
            };
            Some(format!(
                "the plugin returned the same value ({v}) on all {n} invocations of the {side} while the other side varied: it does not measure on each invocation of the {side}"
            ))
        }
        _ => None,
    }
}

/// The design of an objective's comparisons at significance `alpha`.
pub(super) fn design(
    spec: &CompareSpec,
    side: crate::plan::CompareTolerance,
    alpha: f64,
    seed: u64,
) -> Design {
    Design {
        method: spec.test,
        alpha,
        min: spec.pairs.min as usize,
        max: spec.pairs.max as usize,
        batch: spec.pairs.batch as usize,
        floor: side.ratio.ln(),
        higher_is_worse: side.higher_is_worse,
        seed,
    }
}

/// The rows of `plan`'s objectives on instance `inst` once the first pair
/// is in: one per objective naming a metric; one per metric a pattern
/// objective matches (among those both sides reported or the candidate
/// did), unless an objective names it exactly.
pub(super) fn open_rows(
    plan: &Plan,
    spec: &CompareSpec,
    inst: &crate::ids::InstanceId,
    reported: &[&Metric],
    seed: u64,
) -> Vec<Open> {
    let on: Vec<&crate::plan::PlannedObjective> = plan
        .objectives
        .iter()
        .filter(|o| o.instance == *inst && o.compared.is_some())
        .collect();
    let named: Vec<&str> = on
        .iter()
        .filter(|o| !o.is_pattern())
        .map(|o| o.metric.as_str())
        .collect();
    let mut rows = Vec::new();
    for o in on {
        let side = o.compared.expect("filtered");
        let members: Vec<(
            String,
            String,
            Option<String>,
            crate::plan::CompareTolerance,
        )> = if o.is_pattern() {
            let mut found: Vec<&Metric> = reported
                .iter()
                .copied()
                .filter(|m| o.matches(&m.name) && !named.contains(&m.name.as_str()))
                .collect();
            found.sort_by(|a, b| a.name.cmp(&b.name));
            found.dedup_by(|a, b| a.name == b.name);
            found
                .into_iter()
                .map(|m| {
                    let row = o.row(&m.name);
                    (
                        row.spec.id.clone(),
                        m.name.clone(),
                        Some(o.spec.id.clone()),
                        accepted(&row).unwrap_or(side).toward(m.better),
                    )
                })
                .collect()
        } else {
            let side = accepted(o).unwrap_or(side);
            vec![(o.spec.id.clone(), o.metric.as_str().to_owned(), None, side)]
        };
        // Holm: the family's looks are those of its strictest level.
        let m = members.len().max(1) as f64;
        let looks = design(spec, side, spec.alpha / m, seed).looks();
        for (id, metric, family, side) in members {
            // `1.1 - 1` is 0.10000000000000009: rounded to what was written.
            let tolerance_pct = ((side.ratio - 1.0) * 1e8).round() / 1e6;
            rows.push(Open {
                id,
                family,
                metric,
                seq: design(spec, side, spec.alpha / m, seed).sequence_at(looks.clone()),
                tolerance_pct,
                w: Vec::new(),
                base: Vec::new(),
                candidate: Vec::new(),
                state: None,
                problem: None,
                replicated: None,
            });
        }
    }
    rows
}

/// The tolerance an acknowledgement accepts for `row`, which the paired
/// test then holds it to (its own tolerance is judged from the interval).
fn accepted(row: &crate::plan::PlannedObjective) -> Option<crate::plan::CompareTolerance> {
    row.acknowledgement()
        .and_then(|a| crate::plan::tolerance_of(&a.accept).ok())
}

/// Holm's step-down within each family: once a member has failed, the
/// members still open are tested at `alpha / (members not failed)`, on the
/// same looks.
pub(super) fn step_down(open: &mut [Open], alpha: f64) {
    let families: std::collections::BTreeSet<String> =
        open.iter().filter_map(|o| o.family.clone()).collect();
    for f in families {
        let size = open
            .iter()
            .filter(|o| o.family.as_ref() == Some(&f))
            .count();
        let failed = open
            .iter()
            .filter(|o| o.family.as_ref() == Some(&f))
            .filter(|o| o.state.as_ref().and_then(|s| s.ending) == Some(Ending::Fail))
            .count();
        let level = alpha / (size - failed).max(1) as f64;
        for o in open
            .iter_mut()
            .filter(|o| o.family.as_ref() == Some(&f) && !o.done())
        {
            if o.seq.design.alpha < level {
                let design = Design {
                    alpha: level,
                    ..o.seq.design
                };
                o.seq = design.sequence_at(o.seq.looks.clone());
            }
        }
    }
}
