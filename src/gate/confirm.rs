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
    pub base: Result<&'a crate::compare::BaseCheckout, String>,
    /// `--pairs K/N`: this job's share of the pairs.
    pub share: Option<(u32, u32)>,
}

/// What the judging of history objectives needs once the plugins have
/// run: the history read, and the store and target to choose the
/// baselines of a pattern objective's metrics.
pub struct Judging<'a> {
    pub history: &'a super::History,
    pub store: &'a crate::store::Store,
    pub target: &'a super::history::Target,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Runs every plugin of `plan` (the instances behind `against: base`
/// objectives side by side, after the others), evaluates, and confirms
/// failures. Problems that lose nothing go to `warnings`.
pub async fn run_and_evaluate(
    plan: &Plan,
    shared: &SharedContext,
    settings: &RunSettings,
    judging: Judging<'_>,
    comparing: Option<Comparing<'_>>,
    carried: &[(usize, PluginOutcome)],
    warnings: &mut Vec<String>,
) -> Ran {
    let mut skip = match &comparing {
        Some(Comparing { base: Ok(_), .. }) => crate::compare::instances(plan),
        _ => Vec::new(),
    };
    skip.extend(carried.iter().map(|(i, _)| *i));
    // Each instance's runs so far; `plugins[i]` is them pooled.
    let (mut runs, pending) = runner::split(runner::run_all(plan, shared, settings, &skip).await);
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
            share,
        }) => {
            let (outcomes, c) =
                crate::compare::run(plan, spec, base, shared, settings, share).await;
            for (i, out) in outcomes {
                runs[i] = vec![out.clone()];
                plugins[i] = out;
            }
            comparisons = c;
        }
        Some(Comparing { base: Err(why), .. }) => comparisons.unavailable = Some(why),
        None => {}
    }
    // A history objective with a pattern: one objective per metric found.
    let (objectives, baselines): (Vec<_>, Baselines) = super::history::rows(
        &plan.objectives,
        &plugins,
        judging.history,
        (judging.store, judging.target, judging.now),
        warnings,
    )
    .await;
    let evaluate = |plugins: &[PluginOutcome]| {
        evaluate::evaluate(
            &objectives,
            &plan.policy.policy.decision,
            plugins,
            &baselines,
            &comparisons,
        )
    };
    let mut eval = evaluate(&plugins);
    // A suspended gate decides nothing yet: no confirmation either.
    if plugins.iter().any(|p| p.status == PluginStatus::Pending) {
        return Ran {
            plugins,
            eval,
            pending,
        };
    }
    let mut attempts: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    let most = objectives.iter().map(|o| o.spec.confirm).max().unwrap_or(0);
    for attempt in 1..=most {
        // Rows and objectives pair up by id (a side-by-side pattern
        // objective has one row per metric, and takes no `confirm`).
        let failing: Vec<(usize, usize)> = eval
            .objectives
            .iter()
            .enumerate()
            .filter_map(|(r, out)| {
                let i = objectives.iter().position(|o| o.spec.id == out.id)?;
                (out.status == ObjectiveStatus::Fail && objectives[i].spec.confirm >= attempt)
                    .then_some((i, r))
            })
            .collect();
        if failing.is_empty() || settings.cancel.signal().is_some() {
            break;
        }
        let mut rerun: Vec<usize> = Vec::new();
        for &(i, r) in &failing {
            let (o, out) = (&objectives[i], &eval.objectives[r]);
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
            // A confirmation never suspends: its invocations all end.
            let again = runner::run_repeated(inst, shared, settings, true).await;
            runs[i].extend(again.into_iter().map(|a| a.outcome));
            plugins[i] = runner::pool(runs[i].clone(), runs[i].len() as u32, inst.repeat_aggregate);
        }
        eval = evaluate(&plugins);
    }
    for o in &mut eval.objectives {
        if let Some(a) = attempts.remove(&o.id) {
            o.attempts = a;
        }
    }
    Ran {
        plugins,
        eval,
        pending,
    }
}

/// What the plugins gave: each instance's outcome, the evaluation, and the
/// states of the plugins left pending (by instance).
pub struct Ran {
    pub plugins: Vec<PluginOutcome>,
    pub eval: Evaluation,
    pub pending: BTreeMap<crate::ids::InstanceId, crate::decision::PendingState>,
}
