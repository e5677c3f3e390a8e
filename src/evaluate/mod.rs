//! Evaluation: pure and synchronous. Plugin outcomes and the chosen
//! baselines in, one outcome per objective and the combined verdict out.
//! Nothing here does I/O.
//!
//! - [`baseline`]: which earlier runs each relative objective compares with;
//! - [`objective`]: one objective's status, target and reason;
//! - [`significance`]: the optional test that excuses noise;
//! - here: the effect of a status under `mode` and `on_*`, and [`combine`],
//!   which adds the effects up to a verdict and a score.

pub mod baseline;
mod objective;
mod significance;
mod summary;

pub use baseline::{BaselineRuns, Baselines, Chooser};

use crate::decision::{ObjectiveOutcome, ObjectiveStatus, OutcomeEffect, PluginOutcome, Verdict};
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

/// Evaluates every objective against the plugins' metrics and its chosen
/// baseline, then combines them with `strategy`.
pub fn evaluate(
    objectives: &[PlannedObjective],
    strategy: &DecisionSpec,
    plugins: &[PluginOutcome],
    baselines: &Baselines,
) -> Evaluation {
    let outcomes: Vec<ObjectiveOutcome> = objectives
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let plugin = plugins.iter().find(|p| p.instance == o.instance);
            let metric =
                plugin.and_then(|p| p.metrics.iter().find(|m| m.name == o.metric.as_str()));
            objective::evaluate(o, metric, plugin, baselines.of(i))
        })
        .collect();
    let (verdict, score) = combine(&outcomes, strategy);
    let summary = summary::summarize(&outcomes, plugins, verdict, score, strategy);
    Evaluation {
        objectives: outcomes,
        verdict,
        score,
        summary,
    }
}

/// What a status does to the gate under the objective's `on_*` settings
/// and `mode`.
pub fn effect_of(status: ObjectiveStatus, spec: &Objective) -> OutcomeEffect {
    let base = match status {
        ObjectiveStatus::Pass => Effect::Pass,
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
