//! Baselines: which earlier runs qualify for each relative objective,
//! chosen once per evaluation by a [`Chooser`] fed the history newest
//! first, and the values and samples they give in the metric's unit.
//!
//! Size: the chooser, its scopes (a branch, any, a base with its merge-base
//! fallback) and the selection of values are one concept; split, each
//! half would need the other's private types.

use crate::ci::ChangeBase;
use crate::decision::{BaselineSource, ObjectiveStatus, Verdict};
use crate::ids::RunId;
use crate::plan::PlannedObjective;
use crate::policy::{BaselineSpec, BranchScope, Include};
use crate::protocol::Source;
use crate::record::RunRecord;
use crate::units::Unit;
use std::collections::BTreeMap;

/// At most this many records are read to choose baselines, however sparse
/// the matching runs are, so one evaluation's cost has a ceiling.
pub const MAX_SCAN: usize = 10_000;

/// The runs chosen for one objective's baseline, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRuns {
    pub runs: Vec<RunRecord>,
    /// The branch the runs were restricted to.
    pub branch: Option<String>,
    pub source: BaselineSource,
    /// The merge-base the runs were chosen by.
    pub revision: Option<String>,
    /// The fingerprint of this run's machine, when known.
    pub runner: Option<String>,
}

impl Default for BaselineRuns {
    fn default() -> Self {
        BaselineRuns {
            runs: Vec::new(),
            branch: None,
            source: BaselineSource::Branch,
            revision: None,
            runner: None,
        }
    }
}

/// The run baselines are chosen for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    pub branch: Option<String>,
    /// Its pull (merge) request, if it is one.
    pub pull_request: Option<u64>,
    /// Set when it is a change to compare with its base.
    pub base: Option<ChangeBase>,
    /// The fingerprint of the machine it measures on: baselines prefer
    /// runs of the same.
    pub runner: Option<String>,
}

impl Target {
    /// The target for a run of `source`, compared with `base` when it is a change.
    pub fn new(source: &Source, base: Option<ChangeBase>) -> Target {
        Target {
            branch: source.branch.clone(),
            pull_request: source.pull_request,
            base,
            runner: None,
        }
    }

    /// The target measured on `runner`.
    pub fn on(mut self, runner: &crate::machine::Runner) -> Target {
        self.runner = Some(runner.fingerprint.clone());
        self
    }

    /// Whether this run is a change (a request, or a run given a base).
    fn is_change(&self) -> bool {
        self.pull_request.is_some() || self.base.is_some()
    }
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
pub struct BaselineValues {
    pub runs: Vec<RunId>,
    pub values: Vec<f64>,
    /// Each run's samples, as `values` (empty for a run without).
    pub samples: Vec<Vec<f64>>,
    /// The branch the runs were restricted to.
    pub branch: Option<String>,
    pub source: BaselineSource,
    /// The merge-base the runs were chosen by.
    pub revision: Option<String>,
    /// Runs left out as measured by another instrument (`None`: unnamed).
    pub other_instruments: BTreeMap<Option<String>, usize>,
    /// Runs measured on another machine than this run (or on one not
    /// recorded), kept because there were too few of its own.
    pub other_runners: usize,
}

impl BaselineRuns {
    /// The values of metric `key` in `unit`, of runs measured with
    /// `instrument`; a run recorded in a unit that does not convert, or
    /// measured with another instrument, is left out.
    pub fn values(&self, key: &str, unit: &Unit, instrument: Option<&str>) -> BaselineValues {
        let mut sel = BaselineValues {
            runs: Vec::new(),
            values: Vec::new(),
            samples: Vec::new(),
            branch: self.branch.clone(),
            source: self.source,
            revision: self.revision.clone(),
            other_instruments: BTreeMap::new(),
            other_runners: 0,
        };
        for run in &self.runs {
            let Some(m) = run.metric(key) else { continue };
            // Counts of Valgrind and of a hardware counter differ by more
            // than any regression worth catching.
            if m.instrument.as_deref() != instrument {
                *sel.other_instruments
                    .entry(m.instrument.clone())
                    .or_default() += 1;
                continue;
            }
            // Values recorded in another unit of the same family still count.
            let recorded = Unit::of_metric(m.unit.as_deref());
            let Some(v) = recorded.convert(m.value, unit) else {
                continue;
            };
            sel.runs.push(run.run_id.clone());
            sel.values.push(v);
            if self.runner.is_some() && !same_runner(run, self.runner.as_deref()) {
                sel.other_runners += 1;
            }
            sel.samples.push(
                m.samples
                    .iter()
                    .filter_map(|s| recorded.convert(*s, unit))
                    .collect(),
            );
        }
        sel
    }
}

/// Whether a run's outcome for objective `id` lets it into a baseline.
/// A run that did not have the objective is judged by its decision.
fn qualifies(run: &RunRecord, id: &str, include: Include) -> bool {
    // A cancelled run measured only part of what it should have.
    if run.cancelled {
        return false;
    }
    let objective = run.objective(id);
    // A run whose test could not be taken for too few baseline runs was
    // not judged either: left out, the runs that strayed before the test
    // could weigh them would be missing from every later baseline.
    if objective.is_some_and(|o| o.awaiting_history) {
        return true;
    }
    let status = objective.map(|o| o.status);
    match (include, status) {
        (Include::All, _) => true,
        // A run that could not be compared yet is not a regression: without
        // it, no first baseline could ever form. An acknowledged change is
        // the accepted new level.
        (Include::Pass, Some(s)) => {
            matches!(
                s,
                ObjectiveStatus::Pass | ObjectiveStatus::NoBaseline | ObjectiveStatus::Acknowledged
            )
        }
        (Include::PassOrWarn, Some(s)) => {
            matches!(
                s,
                ObjectiveStatus::Pass
                    | ObjectiveStatus::NoBaseline
                    | ObjectiveStatus::Warn
                    | ObjectiveStatus::Acknowledged
            )
        }
        (Include::Pass, None) => run.decision == Verdict::Pass,
        (Include::PassOrWarn, None) => run.decision != Verdict::Fail,
    }
}

/// Which runs an objective's baseline is chosen from.
#[derive(Debug, Clone)]
enum Scope {
    /// Runs of this branch (of every branch when it is unknown).
    Branch(Option<String>),
    /// Runs of every branch, but no other request's.
    Any,
    /// Runs of the base branch, preferring the merge-base and before.
    Base(ChangeBase),
}

/// The scope of `spec` for a run of `target`.
fn scope(spec: &BaselineSpec, target: &Target) -> Scope {
    match (spec.branch, &target.base) {
        (BranchScope::Same, _) => Scope::Branch(target.branch.clone()),
        (BranchScope::Any, _) => Scope::Any,
        (BranchScope::Auto | BranchScope::Base, Some(base)) => Scope::Base(base.clone()),
        // A build that is no change is its own base.
        (BranchScope::Auto | BranchScope::Base, None) => Scope::Branch(target.branch.clone()),
    }
}

/// Whether two revisions name the same commit (one may be abbreviated).
fn same_commit(a: &str, b: &str) -> bool {
    let n = a.len().min(b.len());
    n >= 7 && a[..n].eq_ignore_ascii_case(&b[..n])
}

/// One relative objective's choice in progress.
#[derive(Debug)]
struct Choice {
    scope: Scope,
    /// Runs that started before this (RFC 3339, UTC) are outside the window.
    since: Option<String>,
    /// The unit values must convert to, when the manifest declares one.
    unit: Option<Unit>,
    /// The runs chosen: of the scope, or for a base, at the merge-base or
    /// before it.
    runs: Vec<RunRecord>,
    /// For a base: its branch's runs recorded before the merge-base was
    /// committed, used when too few runs are at the merge-base or before.
    fallback: Vec<RunRecord>,
    /// A run older than the window was offered: the history is newest
    /// first, so reading further is not worth it.
    closed: bool,
    /// A run of an acknowledged `from:` revision's line was chosen: older
    /// runs are no longer offered.
    rebased: bool,
    /// This run's machine: runs of the same are preferred, so up to
    /// [`LOOK_BACK`] × `last` runs are kept to find `last` of them.
    prefer: Option<String>,
}

/// How much further back than `last` runs a baseline looks for runs of
/// this run's machine.
const LOOK_BACK: usize = 3;

/// Whether `run` measured on the machine `fingerprint` names.
fn same_runner(run: &RunRecord, fingerprint: Option<&str>) -> bool {
    run.runner.as_ref().map(|r| r.fingerprint.as_str()) == fingerprint
}

impl Choice {
    /// Whether `run` may enter this baseline at all: requests' runs enter
    /// only their own request's baseline (or, with `same`, their branch's).
    fn admits_source(&self, run: &Source, target: &Target) -> bool {
        let run_is_change = crate::ci::is_change(run);
        match &self.scope {
            Scope::Branch(b) => {
                (b.is_none() || run.branch == *b) && (!run_is_change || target.is_change())
            }
            Scope::Any => !run_is_change || run.pull_request == target.pull_request,
            Scope::Base(base) => {
                run.branch.as_deref() == Some(base.branch.as_str()) && !run_is_change
            }
        }
    }

    /// Whether the list being filled has all it can use: `last` runs, or
    /// when a machine is preferred, `last` of its runs or the look-back.
    fn full(&self, last: usize) -> bool {
        let list = match &self.scope {
            Scope::Base(base) if base.ancestors.is_empty() => &self.fallback,
            _ => &self.runs,
        };
        self.room(list, last) == 0
            || list
                .iter()
                .filter(|r| same_runner(r, self.prefer.as_deref()))
                .count()
                >= last
    }

    /// How many more runs `list` keeps.
    fn room(&self, list: &[RunRecord], last: usize) -> usize {
        let cap = if self.prefer.is_some() {
            last * LOOK_BACK
        } else {
            last
        };
        cap.saturating_sub(list.len())
    }

    /// `list` cut to `last` runs: those of the preferred machine, then the
    /// newest others to make up the number; newest first.
    fn preferred(&self, list: Vec<RunRecord>, last: usize) -> Vec<RunRecord> {
        let fp = self.prefer.as_deref();
        let same = list.iter().filter(|r| same_runner(r, fp)).count().min(last);
        let mut others = last - same;
        let mut kept_same = 0;
        list.into_iter()
            .filter(|r| {
                if same_runner(r, fp) {
                    kept_same += 1;
                    kept_same <= last
                } else if others > 0 {
                    others -= 1;
                    true
                } else {
                    false
                }
            })
            .collect()
    }
}

/// Chooses each relative objective's baseline runs from a history offered
/// newest first: up to `baseline.last` runs of the right branch, inside the
/// window, that measured the metric and qualify under `include`.
#[derive(Debug)]
pub struct Chooser<'p> {
    objectives: &'p [PlannedObjective],
    choices: Vec<Option<Choice>>,
    target: Target,
}

impl<'p> Chooser<'p> {
    /// A chooser for a run on `branch` evaluated at `now` (windows count back from it).
    pub fn new(
        objectives: &'p [PlannedObjective],
        target: &Target,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let choices = objectives
            .iter()
            .map(|o| {
                o.is_relative().then(|| Choice {
                    scope: scope(&o.baseline, target),
                    since: o
                        .baseline
                        .window
                        .and_then(|w| chrono::Duration::from_std(w.get()).ok())
                        .map(|w| crate::time::rfc3339(now - w)),
                    unit: o.declared_unit.clone(),
                    runs: Vec::new(),
                    fallback: Vec::new(),
                    closed: false,
                    rebased: false,
                    prefer: target.runner.clone(),
                })
            })
            .collect();
        Chooser {
            objectives,
            choices,
            target: target.clone(),
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
            let last = o.baseline.last as usize;
            if outside
                || c.full(last)
                || !c.admits_source(&run.source, &self.target)
                || !admits(c, o, run)
            {
                continue;
            }
            // `from: REV` acknowledged: once runs of REV's line exist, the
            // runs before it are no baselines.
            if let Some(ack) = o.acknowledgement().filter(|a| a.since.is_some()) {
                let on_line = run
                    .source
                    .revision
                    .as_deref()
                    .is_some_and(|r| ack.on_line(r));
                if on_line && !c.rebased {
                    c.rebased = true;
                    c.runs.clear();
                    c.fallback.clear();
                }
                if !on_line && c.rebased {
                    continue;
                }
            }
            match &c.scope {
                Scope::Base(base) => {
                    let at_or_before = run
                        .source
                        .revision
                        .as_deref()
                        .is_some_and(|r| base.ancestors.iter().any(|a| same_commit(a, r)));
                    let before_time = base
                        .merge_base_time
                        .as_deref()
                        .is_none_or(|t| run.started_at.as_str() <= t);
                    if at_or_before && c.room(&c.runs, last) > 0 {
                        c.runs.push(run.clone());
                    } else if !at_or_before && before_time && c.room(&c.fallback, last) > 0 {
                        c.fallback.push(run.clone());
                    }
                }
                _ => c.runs.push(run.clone()),
            }
        }
    }

    /// Whether every relative objective has all the runs it asks for.
    pub fn complete(&self) -> bool {
        self.objectives.iter().zip(&self.choices).all(|(o, c)| {
            c.as_ref()
                .is_none_or(|c| c.closed || c.full(o.baseline.last as usize))
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
                .zip(self.objectives)
                .map(|(c, o)| {
                    c.map(|c| c.finish(o.baseline.last as usize, o.baseline.min_runs as usize))
                })
                .collect(),
        )
    }
}

impl Choice {
    /// The chosen runs: for a base, those at the merge-base or before it
    /// when there are enough, else the base branch's earlier runs.
    fn finish(mut self, last: usize, min_runs: usize) -> BaselineRuns {
        let (runs, fallback) = (
            std::mem::take(&mut self.runs),
            std::mem::take(&mut self.fallback),
        );
        let (runs, fallback) = (self.preferred(runs, last), self.preferred(fallback, last));
        let runner = self.prefer;
        match self.scope {
            Scope::Branch(branch) => BaselineRuns {
                runs,
                branch,
                source: BaselineSource::Branch,
                revision: None,
                runner,
            },
            Scope::Any => BaselineRuns {
                runs,
                branch: None,
                source: BaselineSource::Any,
                revision: None,
                runner,
            },
            Scope::Base(base) => {
                let at_merge_base = !runs.is_empty() && runs.len() >= min_runs.max(1);
                let (runs, source) = if at_merge_base || fallback.is_empty() {
                    (runs, BaselineSource::MergeBase)
                } else {
                    (fallback, BaselineSource::BaseBranch)
                };
                BaselineRuns {
                    runs,
                    branch: Some(base.branch),
                    source,
                    revision: base.merge_base,
                    runner,
                }
            }
        }
    }
}

fn admits(c: &Choice, o: &PlannedObjective, run: &RunRecord) -> bool {
    // A pattern objective only keeps the history read long enough for the
    // metrics it will match: a run measuring any of them counts.
    if o.is_pattern() {
        return !run.cancelled
            && run
                .metrics
                .iter()
                .any(|m| m.instance == o.instance && o.matches(&m.name));
    }
    let Some(m) = run.metric(o.key()) else {
        return false;
    };
    c.unit.as_ref().is_none_or(|u| {
        Unit::of_metric(m.unit.as_deref())
            .convert(m.value, u)
            .is_some()
    }) && qualifies(run, &o.spec.id, o.baseline.include)
}
