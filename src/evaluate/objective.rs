//! One objective evaluated, in steps: the value (or why there is none),
//! the criteria resolved in the metric's unit, the baseline and its limits,
//! the checks, the significance test, and the reason in words.
//!
//! Size: the steps share one objective's state and are read top to bottom;
//! split across files they would pass that state back and forth.

use super::baseline::BaselineRuns;
use super::{effect_of, significance};
use crate::decision::{
    BaselineOutcome, BaselineSource, ObjectiveOutcome, ObjectiveStatus, PluginOutcome,
    PluginStatus, TestOutcome,
};
use crate::plan::PlannedObjective;
use crate::policy::criterion::{Criterion, Parsed, Reference, Rhs, Side};
use crate::protocol::{Better, Metric};
use crate::units::{format_value, format_with_unit, Unit};

/// One criterion checked: its target, and whether it holds (`None` when it
/// needs a baseline there is not).
struct Check<'a> {
    criterion: &'a Criterion,
    target: Option<f64>,
    holds: Option<bool>,
}

fn check_all<'a>(criteria: &'a [Criterion], value: f64, reference: &Reference) -> Vec<Check<'a>> {
    criteria
        .iter()
        .map(|c| {
            let target = c.target(reference);
            Check {
                criterion: c,
                target,
                holds: target.map(|t| c.op.holds(value, t)),
            }
        })
        .collect()
}

/// `Some(true)` all hold, `Some(false)` one fails, `None` undecided.
fn all_hold(checks: &[Check]) -> Option<bool> {
    if checks.iter().any(|c| c.holds == Some(false)) {
        Some(false)
    } else if checks.iter().all(|c| c.holds == Some(true)) {
        Some(true)
    } else {
        None
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The outcome before anything is known: no data.
pub(super) fn blank(o: &PlannedObjective) -> ObjectiveOutcome {
    ObjectiveOutcome {
        id: o.spec.id.clone(),
        metric: o.spec.metric.clone(),
        family: o.family.clone(),
        status: ObjectiveStatus::NoData,
        policy_error: None,
        effect: effect_of(ObjectiveStatus::NoData, &o.spec),
        mode: o.spec.mode,
        key: o.spec.key,
        weight: o.spec.weight,
        value: None,
        unit: None,
        criteria: o.pass.iter().map(|p| p.text.clone()).collect(),
        warn_criteria: o.warn.iter().map(|p| p.text.clone()).collect(),
        target: None,
        baseline: None,
        attempts: Vec::new(),
        test: None,
        change_pct: None,
        improved: None,
        reason: String::new(),
        passes_if: None,
        comparison: None,
        acknowledgement: None,
    }
}

/// Why there is no value.
pub(super) fn no_value_reason(o: &PlannedObjective, plugin: Option<&PluginOutcome>) -> String {
    match plugin {
        Some(p) if p.status != PluginStatus::Ok => format!(
            "no value: plugin `{}` ({}) ended `{}`{}",
            p.instance,
            p.name,
            p.status.as_str(),
            p.error
                .as_ref()
                .map(|e| format!(": {}", first_line(&e.message)))
                .unwrap_or_default()
        ),
        Some(p) if !p.metrics.is_empty() => {
            // The names it did report, closest first: importers' names are
            // easy to guess wrong (`test_slugify` for
            // `tests/test_bench.py::test_slugify`).
            let wanted = o.metric.as_str();
            let mut names: Vec<&str> = p.metrics.iter().map(|m| m.name.as_str()).collect();
            names.sort_by_key(|n| {
                (
                    !n.contains(wanted) && !wanted.contains(n),
                    strsim::damerau_levenshtein(wanted, n),
                )
            });
            names.dedup();
            const SHOWN: usize = 5;
            let more = names.len().saturating_sub(SHOWN);
            let list: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
            format!(
                "no value: plugin `{}` did not report metric `{}`; it reported {}{}",
                o.instance,
                o.metric,
                list.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        }
        _ => format!(
            "no value: plugin `{}` did not report metric `{}`",
            o.instance, o.metric
        ),
    }
}

/// The baseline of a relative objective: its value and limits, what the
/// decision says of it, and its runs' values and samples for a test.
struct Based {
    reference: Reference,
    outcome: BaselineOutcome,
    /// Why a threshold model gave no limits.
    model_problem: Option<String>,
    values: Vec<f64>,
    samples: Vec<Vec<f64>>,
    /// Runs left out as measured with another instrument, and this run's.
    other_instruments: std::collections::BTreeMap<Option<String>, usize>,
    instrument: Option<String>,
}

fn baseline_of(
    o: &PlannedObjective,
    runs: &BaselineRuns,
    unit: &Unit,
    instrument: Option<&str>,
) -> Based {
    let sel = runs.values(o.key(), unit, instrument);
    let mut reference = Reference::default();
    let mut model_problem = None;
    if sel.values.len() >= o.baseline.min_runs as usize && !sel.values.is_empty() {
        match o.baseline.model {
            None => {
                reference.baseline =
                    Some(crate::stats::aggregate(&sel.values, o.baseline.aggregate))
            }
            Some(model) => match crate::threshold::limits(
                model,
                &sel.values,
                o.baseline.upper_boundary,
                o.baseline.lower_boundary,
            ) {
                Ok(l) => {
                    reference.baseline = Some(l.centre);
                    reference.upper = l.upper;
                    reference.lower = l.lower;
                }
                Err(e) => model_problem = Some(e.to_string()),
            },
        }
    }
    let outcome = BaselineOutcome {
        value: reference.baseline,
        aggregate: match o.baseline.model {
            Some(m) => m.as_str().to_owned(),
            None => o.baseline.aggregate.name(),
        },
        runs: sel.runs,
        last: o.baseline.last,
        min_runs: o.baseline.min_runs,
        include: o.baseline.include,
        branch: sel.branch,
        source: Some(sel.source),
        revision: sel.revision,
        other_runners: sel.other_runners as u64,
    };
    Based {
        reference,
        outcome,
        model_problem,
        values: sel.values,
        samples: sel.samples,
        other_instruments: sel.other_instruments,
        instrument: instrument.map(str::to_owned),
    }
}

/// Evaluates objective `o` on this run's `metric` (from `plugin`) and the
/// runs chosen for its baseline.
pub(super) fn evaluate(
    o: &PlannedObjective,
    metric: Option<&Metric>,
    plugin: Option<&PluginOutcome>,
    baseline_runs: Option<&BaselineRuns>,
) -> ObjectiveOutcome {
    let mut out = blank(o);
    let Some(metric) = metric else {
        out.reason = no_value_reason(o, plugin);
        return out;
    };
    let unit_symbol = metric.unit.clone().unwrap_or_default();
    let unit = Unit::of_metric(Some(&unit_symbol));
    out.value = Some(metric.value);
    out.unit = (!unit_symbol.is_empty()).then(|| unit_symbol.clone());
    let resolve = |list: &[Parsed]| {
        list.iter()
            .map(|p| p.resolve(&unit))
            .collect::<Result<Vec<_>, _>>()
    };
    let (pass, warn) = match (resolve(&o.pass), resolve(&o.warn)) {
        (Ok(p), Ok(w)) => (p, w),
        (Err(e), _) | (_, Err(e)) => {
            // Only possible for metrics matched by a pattern without a unit:
            // everything else was checked before running. A broken policy,
            // not a regression: the run exits 2.
            out.status = ObjectiveStatus::Inconclusive;
            out.reason = format!("cannot compare: {e}");
            out.policy_error = Some(e.to_string());
            out.effect = effect_of(out.status, &o.spec);
            return out;
        }
    };

    let instrument = metric.instrument.as_deref();
    let based = match (o.is_relative(), baseline_runs) {
        (true, Some(runs)) => Some(baseline_of(o, runs, &unit, instrument)),
        (true, None) => Some(baseline_of(o, &BaselineRuns::default(), &unit, instrument)),
        (false, _) => None,
    };
    let reference = based.as_ref().map(|b| b.reference).unwrap_or_default();
    let baseline_value = reference.baseline;
    if let Some(b) = &based {
        out.baseline = Some(b.outcome.clone());
    }
    if let Some(b) = baseline_value {
        if b != 0.0 {
            out.change_pct = Some((metric.value - b) / b.abs() * 100.0);
        }
        if metric.value != b {
            let better = metric.better.unwrap_or(o.better);
            out.improved = Some(match better {
                Better::Lower => metric.value < b,
                _ => metric.value > b,
            });
        }
    }

    let pass_checks = check_all(&pass, metric.value, &reference);
    let warn_checks = check_all(&warn, metric.value, &reference);
    let passed = all_hold(&pass_checks);
    let warned = if warn.is_empty() {
        Some(false)
    } else {
        all_hold(&warn_checks)
    };
    out.status = match passed {
        Some(true) => ObjectiveStatus::Pass,
        None => ObjectiveStatus::NoBaseline,
        Some(false) if warned == Some(true) => ObjectiveStatus::Warn,
        Some(false) => ObjectiveStatus::Fail,
    };
    let test_note = match (&o.spec.test, &based, baseline_value) {
        (Some(spec), Some(b), Some(_)) => {
            // The failed tolerance, or the first one: what the test weighs.
            let weighed = pass_checks
                .iter()
                .filter(|c| significance::testable(c.criterion))
                .min_by_key(|c| c.holds != Some(false));
            match weighed {
                Some(check) => {
                    let runs: Vec<significance::Run> = b
                        .values
                        .iter()
                        .zip(&b.samples)
                        .map(|(&value, s)| significance::Run { value, samples: s })
                        .collect();
                    let current = significance::Run {
                        value: metric.value,
                        samples: metric.samples.as_deref().unwrap_or_default(),
                    };
                    let t = significance::run(spec, check.criterion, &runs, &current);
                    let note = test_verdict(&mut out.status, &pass_checks, &t, o, &unit_symbol);
                    out.test = Some(t);
                    note
                }
                None => String::new(),
            }
        }
        _ => String::new(),
    };
    let deciding = pass_checks
        .iter()
        .find(|c| c.holds == Some(false))
        .or_else(|| pass_checks.iter().find(|c| c.target.is_some()));
    out.target = deciding.and_then(|c| c.target);
    let words = Words {
        o,
        value: metric.value,
        unit: &unit_symbol,
        baseline: out.baseline.as_ref().zip(baseline_value),
    };
    out.passes_if = Some(
        pass_checks
            .iter()
            .map(|c| match c.target {
                Some(t) => format!("{} {}", c.criterion.op, words.fmt(t)),
                None => format!("{} (once there is a baseline)", c.criterion.text),
            })
            .collect::<Vec<_>>()
            .join(" and "),
    );
    out.reason = words.reason(
        out.status,
        &pass_checks,
        &warn_checks,
        warned,
        &test_note,
        based.as_ref(),
    );
    // A change says what it was compared with, and on what machines.
    if out.status != ObjectiveStatus::NoBaseline {
        if let Some(c) = based.as_ref().and_then(|b| compared_with(&b.outcome)) {
            out.reason.push_str("; ");
            out.reason.push_str(&c);
        }
        if let Some(b) = based.as_ref().filter(|b| b.outcome.other_runners > 0) {
            let n = b.outcome.runs.len();
            out.reason.push_str(&format!(
                "; {} of {n} baseline run{} measured on another runner than this one, so a difference may be the machine's",
                b.outcome.other_runners,
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    out.effect = effect_of(out.status, &o.spec);
    out
}

/// " (3 runs measured with `valgrind` left out: this run was measured with
/// `perf`, …)", when runs of another instrument were left out of the baseline.
fn instrument_note(b: &Based) -> String {
    if b.other_instruments.is_empty() {
        return String::new();
    }
    let name = |i: &Option<String>| match i {
        Some(i) => format!("with `{i}`"),
        None => "without a named instrument".to_owned(),
    };
    let left: Vec<String> = b
        .other_instruments
        .iter()
        .map(|(i, n)| {
            format!(
                "{n} run{} measured {}",
                if *n == 1 { "" } else { "s" },
                name(i)
            )
        })
        .collect();
    format!(
        " ({} left out: this run was measured {}, and counts of different instruments do not compare)",
        left.join(", "),
        name(&b.instrument)
    )
}

/// "compared with `main` at `abc1234` (merge-base), 5 runs", for a
/// baseline taken from a change's base.
fn compared_with(b: &BaselineOutcome) -> Option<String> {
    let how = match b.source? {
        BaselineSource::MergeBase => "merge-base",
        BaselineSource::BaseBranch => "runs before the merge-base",
        _ => return None,
    };
    let branch = b.branch.as_deref()?;
    let at = b
        .revision
        .as_deref()
        .map(|r| format!(" at `{}`", &r[..r.len().min(7)]))
        .unwrap_or_default();
    let n = b.runs.len();
    Some(format!(
        "compared with `{branch}`{at} ({how}), {n} run{}",
        if n == 1 { "" } else { "s" }
    ))
}

/// Applies a significance test to `status`: a tolerance broken by more
/// than runs vary fails; one broken by less passes. Returns the note for
/// the reason.
fn test_verdict(
    status: &mut ObjectiveStatus,
    pass_checks: &[Check],
    t: &TestOutcome,
    o: &PlannedObjective,
    unit: &str,
) -> String {
    // A test can only excuse tolerances: a broken fixed limit (or a
    // threshold model's, which already weighs the spread) fails whatever
    // the noise.
    let only_tolerances_failed = pass_checks
        .iter()
        .filter(|c| c.holds == Some(false))
        .all(|c| significance::testable(c.criterion));
    if !(matches!(status, ObjectiveStatus::Fail | ObjectiveStatus::Warn) && only_tolerances_failed)
    {
        return String::new();
    }
    let estimate = match (t.change_pct, t.change_pct_low, t.change_pct_high) {
        (Some(c), Some(l), Some(h)) => format!(
            "change {:+.1}% [{:+.1}%, {:+.1}%] at {}% confidence, ",
            c,
            l,
            h,
            format_value((1.0 - 2.0 * t.alpha) * 100.0)
        ),
        _ => String::new(),
    };
    let level = match t.level.as_str() {
        "value" => String::new(),
        l => format!(", each run's level the {l}"),
    };
    let limit = t
        .limit
        .map(|l| format!(" at the limit {}", format_with_unit(l, unit)))
        .unwrap_or_default();
    let runs = |n: usize| {
        let out = match t.outliers.len() {
            0 => String::new(),
            k => format!(
                " ({k} more left out as outlier{}: {})",
                if k == 1 { "" } else { "s" },
                t.outliers
                    .iter()
                    .map(|v| format_with_unit(*v, unit))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!("{n} baseline run{}{out}", if n == 1 { "" } else { "s" })
    };
    match t.significant {
        None => {
            *status = ObjectiveStatus::Inconclusive;
            let fix = if o.baseline.last < t.min_runs {
                format!(
                    "raise `baseline.last` to at least {} or lower `test.min_runs`",
                    t.min_runs
                )
            } else {
                "it will decide once the history holds them".to_owned()
            };
            format!(
                "; inconclusive: the {} test reads how runs vary from {} and there {} {} ({fix})",
                t.method,
                runs(t.min_runs as usize),
                if t.n_baseline == 1 { "is" } else { "are" },
                t.n_baseline
            )
        }
        Some(significant) => {
            let (lead, op) = if significant {
                ("; beyond the tolerance by more than runs vary", "<=")
            } else {
                *status = ObjectiveStatus::Pass;
                (", but by less than runs vary", ">")
            };
            format!(
                "{lead}: {} {} {op} α {}{limit} ({estimate}{}{level})",
                t.method,
                significance::format_p(t.p_value.unwrap_or(f64::NAN)),
                format_value(t.alpha),
                runs(t.n_baseline),
            )
        }
    }
}

/// How an objective's checks are put in words.
struct Words<'a> {
    o: &'a PlannedObjective,
    value: f64,
    unit: &'a str,
    /// The baseline and its value, when there is one.
    baseline: Option<(&'a BaselineOutcome, f64)>,
}

impl Words<'_> {
    fn fmt(&self, v: f64) -> String {
        format_with_unit(v, self.unit)
    }

    /// How the target of a relative criterion came about.
    fn baseline_text(&self, c: &Criterion) -> String {
        match self.baseline {
            Some((b, v)) if matches!(c.rhs, Rhs::Limit(_)) => {
                let (side, boundary) = match c.rhs {
                    Rhs::Limit(Side::Upper) => ("upper", self.o.baseline.upper_boundary),
                    _ => ("lower", self.o.baseline.lower_boundary),
                };
                format!(
                    " ({} {side} limit at {} of last {}, centre {})",
                    b.aggregate,
                    format_value(boundary.unwrap_or(f64::NAN)),
                    b.runs.len(),
                    self.fmt(v)
                )
            }
            Some((b, v)) if c.is_relative() => {
                let (factor, offset) = c.baseline_factor_text(self.unit);
                format!(
                    " ({factor}{} of last {} = {}{offset})",
                    b.aggregate,
                    b.runs.len(),
                    self.fmt(v)
                )
            }
            _ => String::new(),
        }
    }

    /// `61.0 s > 52.5 s (…)`: the value, the operator that holds, the target.
    fn describe(&self, c: &Check, holds: bool) -> String {
        let op = if holds {
            c.criterion.op
        } else {
            c.criterion.op.negated()
        };
        format!(
            "{} {} {}{}",
            self.fmt(self.value),
            op,
            self.fmt(c.target.unwrap_or(f64::NAN)),
            self.baseline_text(c.criterion)
        )
    }

    fn describe_all(&self, checks: &[Check], holds: Option<bool>) -> Vec<String> {
        checks
            .iter()
            .filter(|c| holds.is_none() || c.holds == holds)
            .map(|c| self.describe(c, holds != Some(false)))
            .collect()
    }

    fn reason(
        &self,
        status: ObjectiveStatus,
        pass_checks: &[Check],
        warn_checks: &[Check],
        warned: Option<bool>,
        test_note: &str,
        based: Option<&Based>,
    ) -> String {
        match status {
            ObjectiveStatus::Pass | ObjectiveStatus::Inconclusive if !test_note.is_empty() => {
                let failed = self.describe_all(pass_checks, Some(false));
                format!("{}{test_note}", failed.join(", "))
            }
            ObjectiveStatus::Pass | ObjectiveStatus::Acknowledged => {
                self.describe_all(pass_checks, None).join(", ")
            }
            ObjectiveStatus::Fail | ObjectiveStatus::Warn => {
                let mut r = self.describe_all(pass_checks, Some(false)).join(", ");
                if status == ObjectiveStatus::Warn {
                    let within = self.describe_all(warn_checks, None);
                    r.push_str(&format!("; within the warn limit: {}", within.join(", ")));
                } else if !warn_checks.is_empty() && warned.is_none() {
                    r.push_str("; the warn criteria need a baseline, which there is not yet");
                }
                r.push_str(test_note);
                r
            }
            ObjectiveStatus::NoBaseline => {
                let b = based.expect("relative objectives have a baseline section");
                let runs = b.outcome.runs.len();
                let problem = b
                    .model_problem
                    .as_ref()
                    .map(|p| format!("{p} ({runs} run{})", if runs == 1 { "" } else { "s" }));
                let held = self.describe_all(pass_checks, Some(true));
                let from_base = matches!(
                    b.outcome.source,
                    Some(BaselineSource::MergeBase | BaselineSource::BaseBranch)
                );
                let fix = match (&b.outcome.branch, from_base) {
                    (Some(br), true) => format!(
                        "; record runs on `{br}` (a build of `{br}` that runs the gate) to compare changes with it"
                    ),
                    _ => String::new(),
                };
                let instruments = instrument_note(b);
                format!(
                    "no baseline: {}{instruments}{fix}; value {}{}",
                    problem.unwrap_or_else(|| format!(
                        "{runs} earlier qualifying run{}{}, {} needed",
                        if runs == 1 { "" } else { "s" },
                        b.outcome
                            .branch
                            .as_ref()
                            .map(|br| if from_base {
                                format!(" on the base branch `{br}`")
                            } else {
                                format!(" on branch `{br}`")
                            })
                            .unwrap_or_default(),
                        b.outcome.min_runs
                    )),
                    self.fmt(self.value),
                    if held.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", held.join(", "))
                    }
                )
            }
            ObjectiveStatus::NoData | ObjectiveStatus::Inconclusive => {
                unreachable!("a value is present; inconclusive comes with a note")
            }
        }
    }
}
