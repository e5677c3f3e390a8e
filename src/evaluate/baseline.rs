//! Baselines: which earlier runs qualify, and how their values are summarised.

use crate::decision::{ObjectiveStatus, Verdict};
use crate::ids::RunId;
use crate::policy::{Aggregate, BaselineSpec, BranchScope, Include};
use crate::store::RunRecord;
use crate::units::Unit;

/// The runs chosen for a baseline, newest first, with their values in the
/// metric's current unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub runs: Vec<RunId>,
    pub values: Vec<f64>,
    /// The runs' samples pooled (a run without samples gives its value).
    pub samples: Vec<f64>,
    /// The branch the runs were restricted to.
    pub branch: Option<String>,
}

/// Whether a run's outcome for objective `id` lets it into a baseline.
/// A run that did not have the objective is judged by its decision.
fn qualifies(run: &RunRecord, id: &str, include: Include) -> bool {
    let status = run.objective(id).map(|o| o.status);
    match (include, status) {
        (Include::All, _) => true,
        // A run that could not be compared yet is not a regression: without
        // it, no first baseline could ever form.
        (Include::Pass, Some(s)) => {
            matches!(s, ObjectiveStatus::Pass | ObjectiveStatus::NoBaseline)
        }
        (Include::PassOrWarn, Some(s)) => {
            matches!(
                s,
                ObjectiveStatus::Pass | ObjectiveStatus::NoBaseline | ObjectiveStatus::Warn
            )
        }
        (Include::Pass, None) => run.decision == Verdict::Pass,
        (Include::PassOrWarn, None) => run.decision != Verdict::Fail,
    }
}

/// The branch baselines are restricted to under `spec`.
fn scope<'a>(spec: &BaselineSpec, branch: Option<&'a str>) -> Option<&'a str> {
    match spec.branch {
        BranchScope::Same => branch,
        BranchScope::Any => None,
    }
}

/// Whether `run` may contribute to the baseline of objective `objective_id`.
pub fn admits(
    run: &RunRecord,
    objective_id: &str,
    key: &str,
    spec: &BaselineSpec,
    branch: Option<&str>,
) -> bool {
    let branch = scope(spec, branch);
    (branch.is_none() || run.source.branch.as_deref() == branch)
        && run.metric(key).is_some()
        && qualifies(run, objective_id, spec.include)
}

/// Picks up to `spec.last` qualifying runs from `history` (newest first).
pub fn select(
    history: &[RunRecord],
    objective_id: &str,
    key: &str,
    unit: &Unit,
    spec: &BaselineSpec,
    branch: Option<&str>,
    since: Option<&str>,
) -> Selection {
    let mut sel = Selection {
        runs: Vec::new(),
        values: Vec::new(),
        samples: Vec::new(),
        branch: scope(spec, branch).map(str::to_owned),
    };
    for run in history {
        if sel.runs.len() >= spec.last as usize {
            break;
        }
        if !admits(run, objective_id, key, spec, branch) {
            continue;
        }
        // RFC 3339 times in UTC compare as strings.
        if since.is_some_and(|s| run.started_at.as_str() < s) {
            continue;
        }
        let m = run.metric(key).expect("admitted runs have the metric");
        // Values recorded in another unit of the same family still count.
        let recorded = Unit::of_metric(m.unit.as_deref());
        let Some(v) = recorded.convert(m.value, unit) else {
            continue;
        };
        sel.runs.push(run.run_id.clone());
        sel.values.push(v);
        if m.samples.is_empty() {
            sel.samples.push(v);
        } else {
            sel.samples
                .extend(m.samples.iter().filter_map(|s| recorded.convert(*s, unit)));
        }
    }
    sel
}

/// Summarises `values` (not empty).
pub fn aggregate(values: &[f64], how: Aggregate) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match how {
        Aggregate::Mean => values.iter().sum::<f64>() / values.len() as f64,
        Aggregate::Median => percentile(&sorted, 50.0),
        Aggregate::Min => sorted[0],
        Aggregate::Max => sorted[sorted.len() - 1],
        Aggregate::Percentile(p) => percentile(&sorted, f64::from(p)),
    }
}

/// Linear interpolation between closest ranks (the common "type 7" definition).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
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
}
