//! Running the plugins and evaluating, with `confirm:`: the plugins behind
//! failing objectives are run again, up to each objective's `confirm`
//! times, and the gate decides on the pooled runs. Every earlier evaluation
//! of a confirmed objective is kept as an attempt.

use crate::decision::{Attempt, ObjectiveStatus, PluginOutcome, PluginStatus};
use crate::evaluate::{self, Baselines, Evaluation};
use crate::plan::Plan;
use crate::runner::{self, RunSettings, SharedContext};
use std::collections::BTreeMap;

/// The side-by-side comparison of a run: its settings and its base, or why
/// the base could not be had.
pub struct Comparing<'a> {
    pub spec: &'a crate::policy::CompareSpec,
    pub base: Result<&'a crate::compare::Base, String>,
}

/// Runs every plugin of `plan` (the instances behind `against: base`
/// objectives side by side, after the others), evaluates, and confirms
/// failures.
pub async fn run_and_evaluate(
    plan: &Plan,
    shared: &SharedContext,
    settings: &RunSettings,
    baselines: &Baselines,
    comparing: Option<Comparing<'_>>,
    carried: &[(usize, PluginOutcome)],
) -> (Vec<PluginOutcome>, Evaluation) {
    let mut skip = match &comparing {
        Some(Comparing { base: Ok(_), .. }) => crate::compare::instances(plan),
        _ => Vec::new(),
    };
    skip.extend(carried.iter().map(|(i, _)| *i));
    // Each instance's runs so far; `plugins[i]` is them pooled.
    let mut runs = runner::run_all(plan, shared, settings, &skip).await;
    for (i, out) in carried {
        runs[*i] = vec![out.clone()];
    }
    let mut plugins: Vec<PluginOutcome> = plan
        .instances
        .iter()
        .zip(&runs)
        .map(|(inst, r)| runner::outcome_of(inst, r.clone()))
        .collect();
    for (i, out) in carried {
        plugins[*i] = out.clone();
    }
    let mut comparisons = evaluate::Comparisons::default();
    match comparing {
        Some(Comparing {
            spec,
            base: Ok(base),
        }) => {
            let (outcomes, c) = crate::compare::run(plan, spec, base, shared, settings).await;
            for (i, out) in outcomes {
                runs[i] = vec![out.clone()];
                plugins[i] = out;
            }
            comparisons = c;
        }
        Some(Comparing { base: Err(why), .. }) => comparisons.unavailable = Some(why),
        None => {}
    }
    let evaluate = |plugins: &[PluginOutcome]| {
        evaluate::evaluate(
            &plan.objectives,
            &plan.policy.policy.decision,
            plugins,
            baselines,
            &comparisons,
        )
    };
    let mut eval = evaluate(&plugins);
    // A suspended gate decides nothing yet: no confirmation either.
    if plugins.iter().any(|p| p.status == PluginStatus::Pending) {
        return (plugins, eval);
    }
    let mut attempts: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    let most = plan
        .objectives
        .iter()
        .map(|o| o.spec.confirm)
        .max()
        .unwrap_or(0);
    for attempt in 1..=most {
        // Rows and plan objectives pair up by id (a pattern objective has
        // one row per metric, and takes no `confirm`).
        let failing: Vec<(usize, usize)> = eval
            .objectives
            .iter()
            .enumerate()
            .filter_map(|(r, out)| {
                let i = plan.objectives.iter().position(|o| o.spec.id == out.id)?;
                (out.status == ObjectiveStatus::Fail && plan.objectives[i].spec.confirm >= attempt)
                    .then_some((i, r))
            })
            .collect();
        if failing.is_empty() || settings.cancel.signal().is_some() {
            break;
        }
        let mut rerun: Vec<usize> = Vec::new();
        for &(i, r) in &failing {
            let (o, out) = (&plan.objectives[i], &eval.objectives[r]);
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
            // A confirmation repeats the instance as it first ran: `repeat` runs.
            runs[i].extend(runner::run_repeated(inst, shared, settings, true).await);
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
