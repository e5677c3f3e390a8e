//! Evaluation: pure and synchronous. Plugin outcomes and the chosen
//! baselines in, one outcome per objective and the combined verdict out.
//! Nothing here does I/O.
//!
//! - [`baseline`]: which earlier runs each relative objective compares with;
//! - [`objective`]: one objective's status, target and reason;
//! - [`significance`]: the optional test that excuses noise;
//! - here: the effect of a status under `mode` and `on_*`, and [`combine`],
//!   which adds the effects up to a verdict and a score.

mod acknowledged;
pub mod baseline;
mod compared;
mod objective;
mod significance;
mod summary;

pub use baseline::{Baselines, Chooser, Target};

use crate::decision::{
    ComparisonOutcome, ObjectiveOutcome, ObjectiveStatus, OutcomeEffect, PluginOutcome, Verdict,
};
use crate::plan::PlannedObjective;
use crate::policy::{DecisionSpec, Effect, Mode, Objective};

/// The evaluated objectives and what they add up to.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub objectives: Vec<ObjectiveOutcome>,
    pub verdict: Verdict,
    pub score: f64,
    pub summary: String,
}

/// Why a build has no base to compare with when it is not a change: the
/// objectives `against: base` do not apply to it.
pub const NOT_A_CHANGE: &str = "this build is not a pull or merge request, so it has no merge-base to compare with: side-by-side objectives judge changes, and a push records its values as history";

/// The side-by-side comparisons of a run, by objective id, each with the
/// status its paired test ended in; or why none could run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparisons {
    pub by_objective: std::collections::BTreeMap<String, (ComparisonOutcome, ObjectiveStatus)>,
    /// Why the base could not be measured (no merge-base, an unknown revision).
    pub unavailable: Option<String>,
    /// Why an objective's pairs gave no ratio (a side without the metric).
    pub problems: std::collections::BTreeMap<String, String>,
    /// Why an objective's pairs were copies of one measurement (the plugin
    /// returned the same value on every invocation): it is inconclusive.
    pub replicated: std::collections::BTreeMap<String, String>,
    /// For each pattern objective, the row ids of the metrics it matched.
    pub families: std::collections::BTreeMap<String, Vec<String>>,
}

impl Comparisons {
    /// Whether the build is not a change, so side by side does not apply.
    pub fn not_a_change(&self) -> bool {
        self.unavailable.as_deref() == Some(NOT_A_CHANGE)
    }
}

/// Evaluates every objective against the plugins' metrics and its chosen
/// baseline (or, `against: base`, its comparison), then combines them with
/// `strategy`.
pub fn evaluate(
    objectives: &[PlannedObjective],
    strategy: &DecisionSpec,
    plugins: &[PluginOutcome],
    baselines: &Baselines,
    comparisons: &Comparisons,
) -> Evaluation {
    let mut per: Vec<Vec<ObjectiveOutcome>> = objectives
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let plugin = plugins.iter().find(|p| p.instance == o.instance);
            if o.is_pattern() {
                return compared::family(o, objectives, plugin, comparisons);
            }
            let metric =
                plugin.and_then(|p| p.metrics.iter().find(|m| m.name == o.metric.as_str()));
            if o.compared.is_some() {
                return vec![acknowledged::side_by_side(o, metric, plugin, comparisons)];
            }
            vec![acknowledged::history(o, metric, plugin, baselines.of(i))]
        })
        .collect();
    holm(objectives, &mut per, plugins, baselines);
    let outcomes: Vec<ObjectiveOutcome> = per.into_iter().flatten().collect();
    let (verdict, score) = combine(&outcomes, strategy);
    let summary = summary::summarize(&outcomes, plugins, verdict, score, strategy);
    Evaluation {
        objectives: outcomes,
        verdict,
        score,
        summary,
    }
}

/// Holm's step-down over each pattern family's significance tests (history
/// objectives with `test:`): the family's m metrics sorted by p-value, the
/// k-th (from 0) is tested at `alpha / (m - k)` until one is not
/// significant, and every later one at that one's level; the rows whose
/// level changed are evaluated again at it, their reason saying so.
fn holm(
    objectives: &[PlannedObjective],
    per: &mut [Vec<ObjectiveOutcome>],
    plugins: &[PluginOutcome],
    baselines: &Baselines,
) {
    let mut families: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, o) in objectives.iter().enumerate() {
        if let (Some(f), None, Some(_)) = (&o.family, o.compared, &o.spec.test) {
            families.entry(f.objective.as_str()).or_default().push(i);
        }
    }
    for (family, members) in families {
        let m = members.len();
        let mut ranked: Vec<(usize, f64)> = members
            .iter()
            .map(|&i| {
                let p = per[i]
                    .first()
                    .and_then(|o| o.test.as_ref())
                    .and_then(|t| t.p_value)
                    .unwrap_or(1.0);
                (i, p)
            })
            .collect();
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut stop: Option<usize> = None;
        for (k, &(i, p)) in ranked.iter().enumerate() {
            let o = &objectives[i];
            let alpha = o.spec.test.as_ref().map_or(0.05, |t| t.alpha);
            let at = stop.unwrap_or(k);
            let level = alpha / (m - at) as f64;
            if stop.is_none() && p > level {
                stop = Some(k);
            }
            let mut row = o.clone();
            if let Some(t) = row.spec.test.as_mut() {
                t.alpha = level;
            }
            let plugin = plugins.iter().find(|p| p.instance == o.instance);
            let metric =
                plugin.and_then(|p| p.metrics.iter().find(|x| x.name == o.metric.as_str()));
            let mut out = acknowledged::history(&row, metric, plugin, baselines.of(i));
            if m > 1 {
                out.reason.push_str(&format!(
                    "; Holm over the {m} metrics of `{family}`: tested at α {}",
                    crate::units::format_value(level)
                ));
            }
            per[i] = vec![out];
        }
    }
}

/// An objective whose metric never arrived, for `reason` (a part of the
/// gate that was not recorded).
pub fn missing(o: &PlannedObjective, reason: String) -> ObjectiveOutcome {
    let mut out = objective::blank(o);
    out.reason = reason;
    out
}

/// The verdict, score and summary of objectives evaluated elsewhere (each
/// in the part of the gate that ran its plugin).
pub fn recombine(
    objectives: Vec<ObjectiveOutcome>,
    plugins: &[PluginOutcome],
    strategy: &DecisionSpec,
) -> Evaluation {
    let (verdict, score) = combine(&objectives, strategy);
    let summary = summary::summarize(&objectives, plugins, verdict, score, strategy);
    Evaluation {
        objectives,
        verdict,
        score,
        summary,
    }
}

/// What a status does to the gate under the objective's `on_*` settings
/// and `mode`.
pub fn effect_of(status: ObjectiveStatus, spec: &Objective) -> OutcomeEffect {
    let base = match status {
        ObjectiveStatus::Pass | ObjectiveStatus::Acknowledged => Effect::Pass,
        ObjectiveStatus::Warn => Effect::Warn,
        ObjectiveStatus::Fail => Effect::Fail,
        ObjectiveStatus::NoData => spec.on_no_data,
        ObjectiveStatus::NoBaseline => spec.on_no_baseline,
        ObjectiveStatus::Inconclusive => spec.on_inconclusive,
    };
    match spec.mode {
        Mode::Enforce => base.into(),
        Mode::Warn => base.min(Effect::Warn).into(),
        Mode::Shadow => OutcomeEffect::None,
    }
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
        // Only shadow objectives: nothing was enforced, which is worth a
        // warning. Objectives that do not apply to the build (side by side
        // on a push) and no shadow ones: nothing was asked of it.
        if !outcomes.is_empty() && outcomes.iter().all(|o| o.mode != Mode::Shadow) {
            Verdict::Pass
        } else {
            Verdict::Warn
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use ObjectiveStatus as S;
    use OutcomeEffect as E;

    fn objective(mode: &str, on_no_data: &str, on_no_baseline: &str, on_inc: &str) -> Objective {
        serde_json::from_value(json!({
            "id": "o", "metric": "i.m", "pass": "< 1",
            "mode": mode, "on_no_data": on_no_data,
            "on_no_baseline": on_no_baseline, "on_inconclusive": on_inc,
        }))
        .expect("a valid objective")
    }

    /// Every status under every mode, with `on_*` set to each effect.
    #[test]
    fn effect_of_status_mode_and_on_settings() {
        #[rustfmt::skip]
        let table: &[(S, &str, &str, E)] = &[
            // status            mode       on_* (all three)  effect
            (S::Pass,            "enforce", "fail",           E::Pass),
            (S::Warn,            "enforce", "fail",           E::Warn),
            (S::Fail,            "enforce", "pass",           E::Fail),
            (S::NoData,          "enforce", "fail",           E::Fail),
            (S::NoData,          "enforce", "warn",           E::Warn),
            (S::NoData,          "enforce", "pass",           E::Pass),
            (S::NoBaseline,      "enforce", "fail",           E::Fail),
            (S::NoBaseline,      "enforce", "pass",           E::Pass),
            (S::Inconclusive,    "enforce", "warn",           E::Warn),
            (S::Inconclusive,    "enforce", "fail",           E::Fail),
            // `warn` caps every effect at warn.
            (S::Pass,            "warn",    "fail",           E::Pass),
            (S::Fail,            "warn",    "fail",           E::Warn),
            (S::NoData,          "warn",    "fail",           E::Warn),
            (S::NoData,          "warn",    "pass",           E::Pass),
            (S::NoBaseline,      "warn",    "fail",           E::Warn),
            (S::Inconclusive,    "warn",    "fail",           E::Warn),
            // `shadow` never counts.
            (S::Pass,            "shadow",  "fail",           E::None),
            (S::Fail,            "shadow",  "fail",           E::None),
            (S::NoData,          "shadow",  "fail",           E::None),
        ];
        for &(status, mode, on, want) in table {
            let o = objective(mode, on, on, on);
            assert_eq!(
                effect_of(status, &o),
                want,
                "{status:?} in {mode} with on_*: {on}"
            );
        }
        // Each `on_*` applies to its own status only.
        let o = objective("enforce", "pass", "warn", "fail");
        assert_eq!(effect_of(S::NoData, &o), E::Pass);
        assert_eq!(effect_of(S::NoBaseline, &o), E::Warn);
        assert_eq!(effect_of(S::Inconclusive, &o), E::Fail);
    }

    fn outcome(effect: E, weight: f64, key: bool) -> ObjectiveOutcome {
        serde_json::from_value(json!({
            "id": "o", "metric": "i.m", "status": "pass", "effect": effect,
            "mode": if effect == E::None { "shadow" } else { "enforce" },
            "key": key, "weight": weight, "criteria": [], "reason": "",
        }))
        .expect("a valid outcome")
    }

    /// Name, (effect, weight, key) per objective, strategy, verdict, score.
    type Case = (
        &'static str,
        Vec<(E, f64, bool)>,
        DecisionSpec,
        Verdict,
        f64,
    );

    #[test]
    fn objectives_that_do_not_apply_pass_but_shadow_ones_warn() {
        // Side by side on a push build: enforced, but without effect.
        let mut o = outcome(E::None, 1.0, false);
        o.mode = Mode::Enforce;
        assert_eq!(combine(&[o.clone()], &DecisionSpec::All).0, Verdict::Pass);
        let shadow = outcome(E::None, 1.0, false);
        assert_eq!(combine(&[o, shadow], &DecisionSpec::All).0, Verdict::Warn);
    }

    #[test]
    fn combine_under_each_strategy() {
        let all = DecisionSpec::All;
        let score = |pass, warn| DecisionSpec::Score { pass, warn };
        let (p, w, f, n) = (E::Pass, E::Warn, E::Fail, E::None);
        #[rustfmt::skip]
        let table: Vec<Case> = vec![
            ("all pass",                 vec![(p, 1.0, false), (p, 1.0, false)], all.clone(), Verdict::Pass, 100.0),
            ("a warn warns",             vec![(p, 1.0, false), (w, 1.0, false)], all.clone(), Verdict::Warn, 75.0),
            ("a fail fails",             vec![(p, 1.0, false), (f, 1.0, false)], all.clone(), Verdict::Fail, 50.0),
            ("shadow does not count",    vec![(p, 1.0, false), (n, 1.0, false)], all.clone(), Verdict::Pass, 100.0),
            ("only shadow warns",        vec![(n, 1.0, false)],                  all.clone(), Verdict::Warn, 100.0),
            ("nothing at all warns",     vec![],                                 all.clone(), Verdict::Warn, 100.0),
            ("score: weights count",     vec![(p, 3.0, false), (f, 1.0, false)], score(90.0, 75.0), Verdict::Warn, 75.0),
            ("score: at pass passes",    vec![(p, 9.0, false), (f, 1.0, false)], score(90.0, 75.0), Verdict::Pass, 90.0),
            ("score: below warn fails",  vec![(p, 1.0, false), (f, 1.0, false)], score(90.0, 75.0), Verdict::Fail, 50.0),
            ("score: warn is half",      vec![(w, 1.0, false), (p, 1.0, false)], score(70.0, 50.0), Verdict::Pass, 75.0),
            ("score: a key fail fails",  vec![(p, 99.0, false), (f, 1.0, true)], score(90.0, 75.0), Verdict::Fail, 99.0),
            ("score: a key warn is fine",vec![(p, 99.0, false), (w, 1.0, true)], score(90.0, 75.0), Verdict::Pass, 99.5),
            ("score: rounds to 0.01",    vec![(p, 2.0, false), (f, 1.0, false)], score(60.0, 50.0), Verdict::Pass, 66.67),
        ];
        for (name, effects, strategy, verdict, want_score) in table {
            let outcomes: Vec<_> = effects
                .iter()
                .map(|&(e, wt, k)| outcome(e, wt, k))
                .collect();
            assert_eq!(
                combine(&outcomes, &strategy),
                (verdict, want_score),
                "{name}"
            );
        }
    }
}
