//! Running the plugins and evaluating, with `confirm:`: the plugins behind
//! failing objectives are run again, up to each objective's `confirm`
//! times, and the gate decides on the pooled runs. Every earlier evaluation
//! of a confirmed objective is kept as an attempt.

use crate::decision::{Attempt, ObjectiveStatus, PluginOutcome};
use crate::evaluate::{self, Baselines, Evaluation};
use crate::plan::Plan;
use crate::runner::{self, RunSettings, SharedContext};
use std::collections::BTreeMap;

/// Runs every plugin of `plan`, evaluates, and confirms failures.
pub async fn run_and_evaluate(
    plan: &Plan,
    shared: &SharedContext,
    settings: &RunSettings,
    baselines: &Baselines,
) -> (Vec<PluginOutcome>, Evaluation) {
    let mut plugins = runner::run_all(plan, shared, settings).await;
    let evaluate = |plugins: &[PluginOutcome]| {
        evaluate::evaluate(
            &plan.objectives,
            &plan.policy.policy.decision,
            plugins,
            baselines,
        )
    };
    let mut eval = evaluate(&plugins);
    // Each instance's runs so far, pooled into `plugins[i]`.
    let mut runs: Vec<Vec<PluginOutcome>> = plugins.iter().map(|p| vec![p.clone()]).collect();
    let mut attempts: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    let most = plan
        .objectives
        .iter()
        .map(|o| o.spec.confirm)
        .max()
        .unwrap_or(0);
    for attempt in 1..=most {
        let failing: Vec<usize> = plan
            .objectives
            .iter()
            .zip(&eval.objectives)
            .enumerate()
            .filter(|(_, (o, out))| {
                out.status == ObjectiveStatus::Fail && o.spec.confirm >= attempt
            })
            .map(|(i, _)| i)
            .collect();
        if failing.is_empty() || settings.cancel.signal().is_some() {
            break;
        }
        let mut rerun: Vec<usize> = Vec::new();
        for &i in &failing {
            let (o, out) = (&plan.objectives[i], &eval.objectives[i]);
            let inst = plan.instance_index(&o.instance);
            attempts
                .entry(o.spec.id.clone())
                .or_default()
                .push(Attempt {
                    attempt,
                    runs: runs[inst].len() as u32,
                    value: out.value,
                    status: out.status,
                    reason: out.reason.clone(),
                });
            if !rerun.contains(&inst) {
                rerun.push(inst);
            }
        }
        rerun.sort_unstable();
        for i in rerun {
            let inst = &plan.instances[i];
            runs[i].push(runner::run_again(inst, shared, settings).await);
            plugins[i] = runner::pool(runs[i].clone(), runs[i].len() as u32, inst.repeat_aggregate);
        }
        eval = evaluate(&plugins);
    }
    for o in &mut eval.objectives {
        if let Some(a) = attempts.remove(&o.id) {
            o.attempts = a;
        }
    }
    (plugins, eval)
}
