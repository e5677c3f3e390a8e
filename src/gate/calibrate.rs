//! `qod calibrate`, run: every side-by-side objective's plugin measured
//! A/A — both sides of each pair the same workspace, in pairs of random
//! order, for as many pairs as asked (or as `--budget` allows) — and each
//! row's log-ratios handed to `crate::calibrate`, which replays the
//! objective's own test over them.

use super::{RunOptions, Session};
use crate::calibrate::{Calibration, ObjectiveCalibration};
use crate::compare::BaseCheckout;
use crate::policy::BaseSource;
use std::time::Duration;

/// What to measure.
#[derive(Debug, Clone)]
pub struct CalibrateRequest {
    /// A/A pairs (default: three times `compare.pairs.max`).
    pub pairs: Option<u32>,
    /// The most wall time the pairs may take.
    pub budget: Option<Duration>,
    /// The change the gate should detect, in percent (default: one point
    /// beyond each objective's tolerance).
    pub target_pct: Option<f64>,
}

/// Why a calibration could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrateError {
    #[error("the policy has no objective `against: base`: `qod calibrate` measures side-by-side objectives A/A; add `compare:` and an objective `against: base`")]
    NothingToCalibrate,
    #[error(transparent)]
    Prepare(crate::compare::WorkspaceError),
    #[error("cancelled by {}", crate::supervise::signal_name(*.0))]
    Cancelled(i32),
}

/// Calibrates the session's side-by-side objectives on this machine.
pub async fn calibrate(
    session: &Session,
    opts: &RunOptions,
    req: &CalibrateRequest,
) -> Result<Calibration, CalibrateError> {
    let mut plan = session.plan.clone();
    let skipped: Vec<String> = plan
        .objectives
        .iter()
        .filter(|o| o.compared.is_none())
        .map(|o| {
            format!(
                "objective `{}` compares with history: `qod calibrate` measures side-by-side objectives",
                o.spec.id
            )
        })
        .collect();
    plan.objectives.retain(|o| o.compared.is_some());
    let Some(spec) = plan.policy.policy.compare.clone() else {
        return Err(CalibrateError::NothingToCalibrate);
    };
    if plan.objectives.is_empty() {
        return Err(CalibrateError::NothingToCalibrate);
    }
    let compared = crate::compare::instances(&plan);
    let ids: Vec<_> = compared
        .iter()
        .map(|&i| plan.instances[i].id.clone())
        .collect();
    plan.instances.retain(|i| ids.contains(&i.id));
    let cwd = &session.request.cwd;
    let settings = super::settings(&session.request, opts, &plan);
    if let Some(cmd) = &spec.prepare {
        let limits = crate::compare::workspace::PrepareLimits {
            timeout: spec.prepare_timeout.get(),
            grace: settings.grace,
        };
        crate::compare::workspace::prepare(
            cmd,
            "candidate",
            cwd,
            &settings.parent_env,
            limits,
            &settings.cancel,
        )
        .await
        .map_err(|e| match e {
            crate::compare::WorkspaceError::Cancelled { signal, .. } => {
                CalibrateError::Cancelled(signal)
            }
            e => CalibrateError::Prepare(e.redacted(|t| settings.redactor.redact(t))),
        })?;
    }
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
    let mut objectives: Vec<ObjectiveCalibration> = Vec::new();
    let mut skipped = skipped;
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
    Ok(Calibration {
        policy_hash: crate::calibrate::policy_hash(&plan.policy.text),
        policy: plan.policy.file.display().to_string(),
        made_at: crate::time::rfc3339(crate::time::now()),
        runner,
        objectives,
        skipped,
    })
}
