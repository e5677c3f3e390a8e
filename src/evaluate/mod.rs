//! Evaluation: pure and synchronous. Plugin outcomes and history in, one
//! outcome per objective and the combined verdict out. Nothing here does I/O.

pub mod baseline;

use crate::decision::{
    BaselineOutcome, ObjectiveOutcome, ObjectiveStatus, OutcomeEffect, PluginOutcome, PluginStatus,
    TestOutcome, Verdict,
};
use crate::plan::PlannedObjective;
use crate::policy::criterion::{Criterion, Parsed, Reference, Rhs, Side};
use crate::policy::{DecisionSpec, Effect, Mode};
use crate::policy::{SignificanceTest, TestMethod};
use crate::protocol::{Better, Metric};
use crate::stats;
use crate::store::RunRecord;
use crate::units::{format_value, format_with_unit, Unit};

/// The evaluated objectives and what they add up to.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub objectives: Vec<ObjectiveOutcome>,
    pub verdict: Verdict,
    pub score: f64,
    pub summary: String,
}

/// Evaluates every objective against the plugins' metrics and `history`
/// (newest first), then combines them with `strategy`.
pub fn evaluate(
    objectives: &[PlannedObjective],
    strategy: &DecisionSpec,
    plugins: &[PluginOutcome],
    history: &[RunRecord],
    branch: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Evaluation {
    let outcomes: Vec<ObjectiveOutcome> = objectives
        .iter()
        .map(|o| {
            let plugin = plugins.iter().find(|p| p.instance == o.instance);
            let metric =
                plugin.and_then(|p| p.metrics.iter().find(|m| m.name == o.metric.as_str()));
            evaluate_objective(o, metric, plugin, history, branch, now)
        })
        .collect();
    let (verdict, score) = combine(&outcomes, strategy);
    let summary = summarize(&outcomes, plugins, verdict, score, strategy);
    Evaluation {
        objectives: outcomes,
        verdict,
        score,
        summary,
    }
}

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

fn effect_of(status: ObjectiveStatus, o: &PlannedObjective) -> OutcomeEffect {
    let base = match status {
        ObjectiveStatus::Pass => Effect::Pass,
        ObjectiveStatus::Warn => Effect::Warn,
        ObjectiveStatus::Fail => Effect::Fail,
        ObjectiveStatus::NoData => o.spec.on_no_data,
        ObjectiveStatus::NoBaseline => o.spec.on_no_baseline,
        ObjectiveStatus::Inconclusive => o.spec.on_inconclusive,
    };
    match o.spec.mode {
        Mode::Enforce => base.into(),
        Mode::Warn => base.min(Effect::Warn).into(),
        Mode::Shadow => OutcomeEffect::None,
    }
}

fn evaluate_objective(
    o: &PlannedObjective,
    metric: Option<&Metric>,
    plugin: Option<&PluginOutcome>,
    history: &[RunRecord],
    branch: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> ObjectiveOutcome {
    let mut out = ObjectiveOutcome {
        id: o.spec.id.clone(),
        metric: o.spec.metric.clone(),
        status: ObjectiveStatus::NoData,
        effect: OutcomeEffect::None,
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
    };
    let Some(metric) = metric else {
        out.reason = match plugin {
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
            _ => format!(
                "no value: plugin `{}` did not report metric `{}`",
                o.instance, o.metric
            ),
        };
        out.effect = effect_of(out.status, o);
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
            // everything else was checked before running.
            out.status = ObjectiveStatus::Fail;
            out.reason = format!("cannot compare: {e}");
            out.effect = effect_of(out.status, o);
            return out;
        }
    };
    let fmt = |v: f64| format_with_unit(v, &unit_symbol);

    let mut baseline_value = None;
    let mut reference = Reference::default();
    let mut model_problem: Option<String> = None;
    let mut pooled: Vec<f64> = Vec::new();
    if o.is_relative() {
        let since = o
            .baseline
            .window
            .and_then(|w| chrono::Duration::from_std(w.get()).ok())
            .map(|w| crate::time::rfc3339(now - w));
        let sel = baseline::select(
            history,
            &o.spec.id,
            o.key(),
            &unit,
            &o.baseline,
            branch,
            since.as_deref(),
        );
        pooled = sel.samples.clone();
        if sel.values.len() >= o.baseline.min_runs as usize && !sel.values.is_empty() {
            match o.baseline.model {
                None => {
                    baseline_value = Some(baseline::aggregate(&sel.values, o.baseline.aggregate))
                }
                Some(model) => match crate::threshold::limits(
                    model,
                    &sel.values,
                    o.baseline.upper_boundary,
                    o.baseline.lower_boundary,
                ) {
                    Ok(l) => {
                        baseline_value = Some(l.centre);
                        reference.upper = l.upper;
                        reference.lower = l.lower;
                    }
                    Err(e) => model_problem = Some(e.to_string()),
                },
            }
        }
        reference.baseline = baseline_value;
        out.baseline = Some(BaselineOutcome {
            value: baseline_value,
            aggregate: match o.baseline.model {
                Some(m) => m.as_str().to_owned(),
                None => o.baseline.aggregate.name(),
            },
            runs: sel.runs,
            last: o.baseline.last,
            min_runs: o.baseline.min_runs,
            include: o.baseline.include,
            branch: sel.branch,
        });
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
    }
    let baseline_text = |c: &Criterion| -> String {
        match (&out.baseline, baseline_value) {
            (Some(b), Some(v)) if matches!(c.rhs, Rhs::Limit(_)) => {
                let (side, boundary) = match c.rhs {
                    Rhs::Limit(Side::Upper) => ("upper", o.baseline.upper_boundary),
                    _ => ("lower", o.baseline.lower_boundary),
                };
                format!(
                    " ({} {side} limit at {} of last {}, centre {})",
                    b.aggregate,
                    format_value(boundary.unwrap_or(f64::NAN)),
                    b.runs.len(),
                    fmt(v)
                )
            }
            (Some(b), Some(v)) if c.is_relative() => {
                let (factor, offset) = c.baseline_factor_text(&unit_symbol);
                format!(
                    " ({factor}{} of last {} = {}{offset})",
                    b.aggregate,
                    b.runs.len(),
                    fmt(v)
                )
            }
            _ => String::new(),
        }
    };

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
    // A significance test can only excuse relative criteria: a broken
    // absolute limit fails whatever the noise.
    let mut test_note = String::new();
    if let (Some(spec), Some(_)) = (&o.spec.test, baseline_value) {
        let current: Vec<f64> = metric
            .samples
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec![metric.value]);
        let t = significance(spec, &pooled, &current);
        let only_relative_failed = pass_checks
            .iter()
            .filter(|c| c.holds == Some(false))
            .all(|c| c.criterion.is_relative());
        let estimate = |t: &TestOutcome| -> String {
            match (t.change_pct, t.change_pct_low, t.change_pct_high) {
                (Some(c), Some(l), Some(h)) => format!(
                    "change {:+.1}% [{:+.1}%, {:+.1}%] at {}% confidence, ",
                    c,
                    l,
                    h,
                    format_value((1.0 - t.alpha) * 100.0)
                ),
                _ => String::new(),
            }
        };
        let sizes = format!("n = {} vs {}", t.n_current, t.n_baseline);
        if matches!(out.status, ObjectiveStatus::Fail | ObjectiveStatus::Warn)
            && only_relative_failed
        {
            match t.significant {
                None => {
                    out.status = ObjectiveStatus::Inconclusive;
                    test_note = format!(
                        "; inconclusive: the {} test needs {} samples on each side, and there are {} in this run and {} in the baseline",
                        t.method, t.min_samples, t.n_current, t.n_baseline
                    );
                }
                Some(significant) => {
                    let (lead, op) = if significant {
                        ("; significant", "<=")
                    } else {
                        out.status = ObjectiveStatus::Pass;
                        (", but not significant", ">")
                    };
                    test_note = format!(
                        "{lead}: {} p = {} {op} α {} ({}{sizes})",
                        t.method,
                        format_p(t.p_value.unwrap_or(f64::NAN)),
                        format_value(t.alpha),
                        estimate(&t)
                    );
                }
            }
        }
        out.test = Some(t);
    }
    let deciding = pass_checks
        .iter()
        .find(|c| c.holds == Some(false))
        .or_else(|| pass_checks.iter().find(|c| c.target.is_some()));
    out.target = deciding.and_then(|c| c.target);
    out.passes_if = Some(
        pass_checks
            .iter()
            .map(|c| match c.target {
                Some(t) => format!("{} {}", c.criterion.op, fmt(t)),
                None => format!("{} (once there is a baseline)", c.criterion.text),
            })
            .collect::<Vec<_>>()
            .join(" and "),
    );
    let describe = |c: &Check, holds: bool| -> String {
        let op = if holds {
            c.criterion.op
        } else {
            c.criterion.op.negated()
        };
        format!(
            "{} {} {}{}",
            fmt(metric.value),
            op,
            fmt(c.target.unwrap_or(f64::NAN)),
            baseline_text(c.criterion)
        )
    };
    out.reason = match out.status {
        ObjectiveStatus::Pass | ObjectiveStatus::Inconclusive if !test_note.is_empty() => {
            let failed: Vec<String> = pass_checks
                .iter()
                .filter(|c| c.holds == Some(false))
                .map(|c| describe(c, false))
                .collect();
            format!("{}{test_note}", failed.join(", "))
        }
        ObjectiveStatus::Pass => pass_checks
            .iter()
            .map(|c| describe(c, true))
            .collect::<Vec<_>>()
            .join(", "),
        ObjectiveStatus::Fail | ObjectiveStatus::Warn => {
            let failed: Vec<String> = pass_checks
                .iter()
                .filter(|c| c.holds == Some(false))
                .map(|c| describe(c, false))
                .collect();
            let mut r = failed.join(", ");
            if out.status == ObjectiveStatus::Warn {
                let within: Vec<String> = warn_checks.iter().map(|c| describe(c, true)).collect();
                r.push_str(&format!("; within the warn limit: {}", within.join(", ")));
            } else if !warn.is_empty() && warned.is_none() {
                r.push_str("; the warn criteria need a baseline, which there is not yet");
            }
            r.push_str(&test_note);
            r
        }
        ObjectiveStatus::NoBaseline => {
            let b = out
                .baseline
                .as_ref()
                .expect("relative objectives have a baseline section");
            let problem = model_problem
                .as_ref()
                .map(|p| format!("{p} ({} runs)", b.runs.len()));
            format!(
                "no baseline: {}; value {}{}",
                problem.unwrap_or_else(|| format!(
                    "{} earlier qualifying run{}{}, {} needed",
                    b.runs.len(),
                    if b.runs.len() == 1 { "" } else { "s" },
                    b.branch
                        .as_ref()
                        .map(|br| format!(" on branch `{br}`"))
                        .unwrap_or_default(),
                    b.min_runs
                )),
                fmt(metric.value),
                if pass_checks.iter().any(|c| c.holds == Some(true)) {
                    let abs: Vec<String> = pass_checks
                        .iter()
                        .filter(|c| c.holds == Some(true))
                        .map(|c| describe(c, true))
                        .collect();
                    format!(" ({})", abs.join(", "))
                } else {
                    String::new()
                }
            )
        }
        ObjectiveStatus::NoData | ObjectiveStatus::Inconclusive => {
            unreachable!("a value is present; inconclusive comes with a note")
        }
    };
    out.effect = effect_of(out.status, o);
    out
}

/// Runs the objective's test on the baseline's pooled samples and this run's.
fn significance(spec: &SignificanceTest, base: &[f64], cur: &[f64]) -> TestOutcome {
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
    let mean = base.iter().sum::<f64>() / base.len() as f64;
    if mean != 0.0 {
        let pct = |x: f64| x / mean.abs() * 100.0;
        t.change_pct = Some(pct(r.estimate));
        t.change_pct_low = Some(pct(r.ci_low));
        t.change_pct_high = Some(pct(r.ci_high));
    }
    t
}

fn format_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format_value(p)
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Combines objective effects into a verdict and a score.
pub fn combine(outcomes: &[ObjectiveOutcome], strategy: &DecisionSpec) -> (Verdict, f64) {
    let counted: Vec<&ObjectiveOutcome> = outcomes
        .iter()
        .filter(|o| o.effect != OutcomeEffect::None)
        .collect();
    let total: f64 = counted.iter().map(|o| o.weight).sum();
    let earned: f64 = counted
        .iter()
        .map(|o| match o.effect {
            OutcomeEffect::Pass => o.weight,
            OutcomeEffect::Warn => o.weight / 2.0,
            _ => 0.0,
        })
        .sum();
    let score = if total > 0.0 {
        (earned / total * 100.0 * 100.0).round() / 100.0
    } else {
        100.0
    };
    let any = |e: OutcomeEffect| counted.iter().any(|o| o.effect == e);
    let verdict = if counted.is_empty() {
        // Only shadow objectives: nothing was enforced, which is worth a warning.
        Verdict::Warn
    } else {
        match strategy {
            DecisionSpec::All => {
                if any(OutcomeEffect::Fail) {
                    Verdict::Fail
                } else if any(OutcomeEffect::Warn) {
                    Verdict::Warn
                } else {
                    Verdict::Pass
                }
            }
            DecisionSpec::Score { pass, warn } => {
                if counted
                    .iter()
                    .any(|o| o.key && o.effect == OutcomeEffect::Fail)
                {
                    Verdict::Fail
                } else if score >= *pass {
                    Verdict::Pass
                } else if score >= *warn {
                    Verdict::Warn
                } else {
                    Verdict::Fail
                }
            }
        }
    };
    (verdict, score)
}

fn summarize(
    outcomes: &[ObjectiveOutcome],
    plugins: &[PluginOutcome],
    verdict: Verdict,
    score: f64,
    strategy: &DecisionSpec,
) -> String {
    let n = outcomes.len();
    let plural = |k: usize, word: &str| format!("{k} {word}{}", if k == 1 { "" } else { "s" });
    let listed = |effect: OutcomeEffect| -> Vec<String> {
        outcomes
            .iter()
            .filter(|o| o.effect == effect)
            .map(|o| format!("{} {}", o.id, o.reason))
            .collect()
    };
    let fails = listed(OutcomeEffect::Fail);
    let warns = listed(OutcomeEffect::Warn);
    let shadow = outcomes
        .iter()
        .filter(|o| o.effect == OutcomeEffect::None)
        .count();
    let mut s = match verdict {
        _ if shadow == n => format!(
            "no objective is enforced ({} in shadow mode)",
            plural(n, "objective")
        ),
        Verdict::Fail if fails.is_empty() => {
            format!("score {} is below the pass threshold", format_value(score))
        }
        Verdict::Fail => format!(
            "{} of {} failed: {}",
            fails.len(),
            plural(n, "objective"),
            fails.join("; ")
        ),
        Verdict::Warn => format!(
            "{} of {} warned: {}",
            warns.len(),
            plural(n, "objective"),
            warns.join("; ")
        ),
        Verdict::Pass if n == 1 => "the objective passed".to_owned(),
        Verdict::Pass => format!("all {} passed", plural(n - shadow, "objective")),
    };
    if let DecisionSpec::Score { .. } = strategy {
        s = format!("score {}: {s}", format_value(score));
    }
    if verdict == Verdict::Pass && !warns.is_empty() {
        s.push_str(&format!("; {} warned: {}", warns.len(), warns.join("; ")));
    }
    let broken: Vec<String> = plugins
        .iter()
        .filter(|p| p.status != PluginStatus::Ok)
        .map(|p| format!("`{}` {}", p.instance, p.status.as_str()))
        .collect();
    if !broken.is_empty() {
        s.push_str(&format!("; plugin problems: {}", broken.join(", ")));
    }
    s
}
