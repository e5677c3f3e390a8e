//! `qod calibrate`, run: every side-by-side objective's plugin measured
//! A/A — both sides of each pair the same workspace, in pairs of random
//! order, for as many pairs as asked (or as `--budget` allows) — and each
//! row's log-ratios handed to `crate::calibrate`, which replays the
//! objective's own test over them; every history objective's plugin run
//! many times in a row, and the series handed to
//! `crate::calibrate::history`, which replays the objective's own rule.

use super::{RunOptions, Session};
use crate::calibrate::{Calibration, ObjectiveCalibration};
use crate::compare::BaseCheckout;
use crate::decision::{PluginOutcome, PluginStatus};
use crate::plan::Plan;
use crate::policy::BaseSource;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone)]
pub struct CalibrateRequest {
    /// A/A pairs (default: three times `compare.pairs.max`).
    pub pairs: Option<u32>,
    /// Runs in a row for history objectives (default: each objective's
    /// `baseline.last` and `confirm`, and 40 more to judge).
    pub runs: Option<u32>,
    /// The most wall time the pairs and the runs may take, together.
    pub budget: Option<Duration>,
    /// The change the gate should detect, in percent (default: one point
    /// beyond each objective's tolerance).
    pub target_pct: Option<f64>,
}

/// Why a calibration could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrateError {
    #[error(
        "the policy has no objective: `qod calibrate` measures what its objectives judge; add one"
    )]
    NothingToCalibrate,
    #[error(transparent)]
    Prepare(crate::compare::WorkspaceError),
    #[error("cancelled by {}", crate::supervise::signal_name(*.0))]
    Cancelled(i32),
}

/// Calibrates the session's objectives on this machine: side by side
/// first, then history, within one `--budget`.
pub async fn calibrate(
    session: &Session,
    opts: &RunOptions,
    req: &CalibrateRequest,
) -> Result<Calibration, CalibrateError> {
    let plan = &session.plan;
    if plan.objectives.is_empty() {
        return Err(CalibrateError::NothingToCalibrate);
    }
    let deadline = req.budget.map(|b| Instant::now() + b);
    let mut objectives = Vec::new();
    let mut skipped = Vec::new();
    if plan.objectives.iter().any(|o| o.compared.is_some()) {
        side_by_side(session, opts, req, &mut objectives, &mut skipped).await?;
    }
    if plan.objectives.iter().any(|o| o.compared.is_none()) {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        history(session, opts, req, left, &mut objectives, &mut skipped).await?;
    }
    Ok(Calibration {
        policy_hash: crate::calibrate::policy_hash(&plan.policy.text),
        policy: plan.policy.file.display().to_string(),
        made_at: crate::time::rfc3339(crate::time::now()),
        runner: session.runner(),
        objectives,
        skipped,
    })
}

/// The side-by-side objectives, measured A/A.
async fn side_by_side(
    session: &Session,
    opts: &RunOptions,
    req: &CalibrateRequest,
    objectives: &mut Vec<ObjectiveCalibration>,
    skipped: &mut Vec<String>,
) -> Result<(), CalibrateError> {
    let mut plan = session.plan.clone();
    plan.objectives.retain(|o| o.compared.is_some());
    let Some(spec) = plan.policy.policy.compare.clone() else {
        return Err(CalibrateError::NothingToCalibrate);
    };
    let compared = crate::compare::instances(&plan);
    let ids: Vec<_> = compared
        .iter()
        .map(|&i| plan.instances[i].id.clone())
        .collect();
    plan.instances.retain(|i| ids.contains(&i.id));
    let cwd = &session.request.cwd;
    let settings = super::settings(&session.request, opts, &plan);
    crate::compare::workspace::prepare_side(
        &spec,
        "candidate",
        cwd,
        &settings.parent_env,
        settings.grace,
        &settings.cancel,
    )
    .await
    .map_err(|e| match e {
        crate::compare::WorkspaceError::Cancelled { signal, .. } => {
            CalibrateError::Cancelled(signal)
        }
        e => CalibrateError::Prepare(e.redacted(|t| settings.redactor.redact(t))),
    })?;
    // Both sides the same folder: A/A.
    let same = BaseCheckout::open(
        &BaseSource::Workspace(cwd.clone()),
        &crate::protocol::Source::default(),
        cwd,
    )
    .map_err(CalibrateError::Prepare)?;
    let mut aa = spec.clone();
    aa.pairs.max = req.pairs.unwrap_or(spec.pairs.max * 3).clamp(2, 1000);
    aa.pairs.min = aa.pairs.min.min(aa.pairs.max);
    aa.budget = req.budget.map(crate::duration::HumanDuration);
    let runner = session.runner();
    let shared = super::local_context(runner.clone());
    // Every pair measured (a share of one: no early stop).
    let (_, comparisons) =
        crate::compare::run(&plan, &aa, &same, &shared, &settings, Some((1, 1))).await;
    if let Some(sig) = settings.cancel.signal() {
        return Err(CalibrateError::Cancelled(sig));
    }
    for o in &plan.objectives {
        let rows: Vec<_> = comparisons
            .by_objective
            .iter()
            .filter(|(k, _)| *k == &o.spec.id || k.starts_with(&format!("{}[", o.spec.id)))
            .collect();
        if rows.is_empty() {
            let why = comparisons
                .problems
                .get(&o.spec.id)
                .cloned()
                .unwrap_or_else(|| "its plugin measured no pair".into());
            skipped.push(format!("objective `{}`: {why}", o.spec.id));
            continue;
        }
        for (id, (c, _)) in rows {
            let Some(share) = &c.share else { continue };
            let w: Vec<f64> = share
                .base
                .iter()
                .zip(&share.candidate)
                .map(|(b, c)| (c / b).ln())
                .collect();
            let tolerance = o.compared.expect("filtered").matching(c.tolerance_pct);
            let family = f64::from(c.family_size.unwrap_or(1).max(1));
            // The policy's own design: its pairs, looks, test and α.
            let seq =
                crate::compare::design_of(&spec, tolerance, spec.alpha / family, c.seed).sequence();
            let metric = match &o.family {
                _ if id.contains('[') => {
                    format!("{}.{}", o.instance, &id[o.spec.id.len() + 1..id.len() - 1])
                }
                _ => o.spec.metric.clone(),
            };
            let target = req.target_pct.unwrap_or(c.tolerance_pct.abs() + 1.0);
            objectives.push(crate::calibrate::calibrate(
                id,
                &metric,
                &seq,
                &w,
                target,
                c.budget_exhausted,
            ));
        }
    }
    Ok(())
}

/// The history objectives: their instances run `--runs` times in a row,
/// and each objective's rule replayed over the series.
async fn history(
    session: &Session,
    opts: &RunOptions,
    req: &CalibrateRequest,
    budget: Option<Duration>,
    objectives: &mut Vec<ObjectiveCalibration>,
    skipped: &mut Vec<String>,
) -> Result<(), CalibrateError> {
    let mut plan: Plan = session.plan.clone();
    plan.objectives.retain(|o| o.compared.is_none());
    let used: Vec<usize> = (0..plan.instances.len())
        .filter(|&i| {
            plan.objectives
                .iter()
                .any(|o| o.instance == plan.instances[i].id)
        })
        .collect();
    let runs = req.runs.unwrap_or_else(|| {
        let most = plan
            .objectives
            .iter()
            .map(|o| o.baseline.last + o.spec.confirm)
            .max()
            .unwrap_or(0);
        most + 40
    });
    let settings = super::settings(&session.request, opts, &plan);
    let shared = super::local_context(session.runner());
    let started = Instant::now();
    let deadline = budget.map(|b| started + b);
    // Each instance's runs, oldest first: each run's invocations.
    let mut series: Vec<Vec<Vec<PluginOutcome>>> = vec![Vec::new(); plan.instances.len()];
    let mut partial = false;
    'runs: for run in 1..=runs {
        for &i in &used {
            let inst = &plan.instances[i];
            let again = crate::runner::run_repeated(inst, &shared, &settings, true).await;
            if let Some(sig) = settings.cancel.signal() {
                return Err(CalibrateError::Cancelled(sig));
            }
            series[i].push(again.into_iter().map(|a| a.outcome).collect());
            let pace = started.elapsed() / run;
            let (left, by_budget) = match deadline {
                Some(d) => (d.saturating_duration_since(Instant::now()), true),
                None => (pace * (runs - run), false),
            };
            settings.reporter.report(crate::events::Event::Calibrating {
                instance: inst.id.to_string(),
                run,
                of: runs,
                left,
                budget: by_budget,
            });
        }
        if deadline.is_some_and(|d| Instant::now() >= d) && run < runs {
            partial = true;
            break 'runs;
        }
    }
    for o in &plan.objectives {
        let i = plan.instance_index(&o.instance);
        let runs = &series[i];
        if let Some((k, failed)) = runs.iter().enumerate().find_map(|(k, r)| {
            r.iter()
                .find(|p| p.status != PluginStatus::Ok)
                .map(|p| (k, p))
        }) {
            let why = failed
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_else(|| format!("it ended `{}`", failed.status.as_str()));
            skipped.push(format!(
                "objective `{}`: its plugin failed on run {} of {}: {}",
                o.spec.id,
                k + 1,
                runs.len(),
                settings.redactor.redact(&why)
            ));
            continue;
        }
        let rows: Vec<crate::plan::PlannedObjective> = match o.is_pattern() {
            false => vec![o.clone()],
            true => {
                let mut names: Vec<&str> = runs
                    .first()
                    .into_iter()
                    .flatten()
                    .flat_map(|p| p.metrics.iter().map(|m| m.name.as_str()))
                    .filter(|m| o.matches(m))
                    .collect();
                names.sort_unstable();
                names.dedup();
                names.into_iter().map(|m| o.row(m)).collect()
            }
        };
        if rows.is_empty() {
            skipped.push(format!(
                "objective `{}`: its plugin measured no metric matching `{}`",
                o.spec.id, o.spec.metric
            ));
            continue;
        }
        let rule = crate::calibrate::history::Rule {
            rows: &rows,
            instance: &plan.instances[i],
            strategy: &plan.policy.policy.decision,
        };
        let target = |row: &crate::plan::PlannedObjective| {
            req.target_pct.unwrap_or_else(|| {
                crate::calibrate::history::tolerance_pct(row).map_or(10.0, |t| t + 1.0)
            })
        };
        objectives.extend(crate::calibrate::history::calibrate(
            &rule, runs, target, partial,
        ));
    }
    Ok(())
}
