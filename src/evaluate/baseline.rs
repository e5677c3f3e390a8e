//! Baselines: which earlier runs qualify for each relative objective,
//! chosen once per evaluation by a [`Chooser`] fed the history newest
//! first, and the values and samples they give in the metric's unit.

use crate::decision::{ObjectiveStatus, Verdict};
use crate::ids::RunId;
use crate::plan::PlannedObjective;
use crate::policy::{BaselineSpec, BranchScope, Include};
use crate::record::RunRecord;
use crate::units::Unit;

/// At most this many records are read to choose baselines, however sparse
/// the matching runs are, so one evaluation's cost has a ceiling.
pub const MAX_SCAN: usize = 10_000;

/// The runs chosen for one objective's baseline, newest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BaselineRuns {
    pub runs: Vec<RunRecord>,
    /// The branch the runs were restricted to.
    pub branch: Option<String>,
}

/// The chosen runs of every objective, in the plan's order; `None` for an
/// objective with no relative criterion.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Baselines(pub Vec<Option<BaselineRuns>>);

impl Baselines {
    /// The chosen runs of the objective at `index` in the plan.
    pub fn of(&self, index: usize) -> Option<&BaselineRuns> {
        self.0.get(index).and_then(Option::as_ref)
    }

    /// Every chosen run of the objectives `wanted` accepts, for replacing
    /// index summaries with full records.
    pub fn runs_mut<'a>(
        &'a mut self,
        objectives: &'a [PlannedObjective],
        wanted: impl Fn(&PlannedObjective) -> bool + 'a,
    ) -> impl Iterator<Item = &'a mut RunRecord> + 'a {
        self.0
            .iter_mut()
            .zip(objectives)
            .filter(move |(_, o)| wanted(o))
            .filter_map(|(b, _)| b.as_mut())
            .flat_map(|b| b.runs.iter_mut())
    }
}

/// The values of a baseline's runs in the metric's current unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub runs: Vec<RunId>,
    pub values: Vec<f64>,
    /// The runs' samples pooled (a run without samples gives its value).
    pub samples: Vec<f64>,
    /// The branch the runs were restricted to.
    pub branch: Option<String>,
}

impl BaselineRuns {
    /// The values of metric `key` in `unit`; a run recorded in a unit that
    /// does not convert is left out.
    pub fn values(&self, key: &str, unit: &Unit) -> Selection {
        let mut sel = Selection {
            runs: Vec::new(),
            values: Vec::new(),
            samples: Vec::new(),
            branch: self.branch.clone(),
        };
        for run in &self.runs {
            let Some(m) = run.metric(key) else { continue };
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

/// One relative objective's choice in progress.
#[derive(Debug)]
struct Choice {
    branch: Option<String>,
    /// Runs that started before this (RFC 3339, UTC) are outside the window.
    since: Option<String>,
    /// The unit values must convert to, when the manifest declares one.
    unit: Option<Unit>,
    runs: Vec<RunRecord>,
    /// A run older than the window was offered: the history is newest
    /// first, so reading further is not worth it.
    closed: bool,
}

/// Chooses each relative objective's baseline runs from a history offered
/// newest first: up to `baseline.last` runs of the right branch, inside the
/// window, that measured the metric and qualify under `include`.
#[derive(Debug)]
pub struct Chooser<'p> {
    objectives: &'p [PlannedObjective],
    choices: Vec<Option<Choice>>,
}

impl<'p> Chooser<'p> {
    /// A chooser for a run on `branch` evaluated at `now` (windows count back from it).
    pub fn new(
        objectives: &'p [PlannedObjective],
        branch: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let choices = objectives
            .iter()
            .map(|o| {
                o.is_relative().then(|| Choice {
                    branch: scope(&o.baseline, branch).map(str::to_owned),
                    since: o
                        .baseline
                        .window
                        .and_then(|w| chrono::Duration::from_std(w.get()).ok())
                        .map(|w| crate::time::rfc3339(now - w)),
                    unit: o.declared_unit.clone(),
                    runs: Vec::new(),
                    closed: false,
                })
            })
            .collect();
        Chooser {
            objectives,
            choices,
        }
    }

    /// Offers the next older run.
    pub fn offer(&mut self, run: &RunRecord) {
        for (o, c) in self.objectives.iter().zip(&mut self.choices) {
            let Some(c) = c else { continue };
            // RFC 3339 times in UTC compare as strings.
            let outside = c
                .since
                .as_deref()
                .is_some_and(|s| run.started_at.as_str() < s);
            c.closed |= outside;
            if !outside && c.runs.len() < o.baseline.last as usize && admits(c, o, run) {
                c.runs.push(run.clone());
            }
        }
    }

    /// Whether every relative objective has all the runs it asks for.
    pub fn complete(&self) -> bool {
        self.objectives.iter().zip(&self.choices).all(|(o, c)| {
            c.as_ref()
                .is_none_or(|c| c.closed || c.runs.len() >= o.baseline.last as usize)
        })
    }

    /// Offers `history` (newest first) until the choice is complete.
    pub fn offer_all<'r>(mut self, history: impl IntoIterator<Item = &'r RunRecord>) -> Self {
        for run in history {
            if self.complete() {
                break;
            }
            self.offer(run);
        }
        self
    }

    pub fn finish(self) -> Baselines {
        Baselines(
            self.choices
                .into_iter()
                .map(|c| {
                    c.map(|c| BaselineRuns {
                        runs: c.runs,
                        branch: c.branch,
                    })
                })
                .collect(),
        )
    }
}

fn admits(c: &Choice, o: &PlannedObjective, run: &RunRecord) -> bool {
    let Some(m) = run.metric(o.key()) else {
        return false;
    };
    (c.branch.is_none() || run.source.branch == c.branch)
        && c.unit.as_ref().is_none_or(|u| {
            Unit::of_metric(m.unit.as_deref())
                .convert(m.value, u)
                .is_some()
        })
        && qualifies(run, &o.spec.id, o.baseline.include)
}
