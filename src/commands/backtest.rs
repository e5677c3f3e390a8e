//! `qod backtest`: the policy replayed over the stored history.

use super::{scan_included, CommandError, Env};
use std::path::{Path, PathBuf};

/// A replay and what it replayed.
#[derive(Debug, Clone)]
pub struct Backtested {
    pub policy_file: PathBuf,
    pub location: String,
    /// The policy's objectives, in policy order.
    pub objective_ids: Vec<String>,
    pub result: crate::backtest::Backtest,
    /// With `--against OLD`: the old policy's file and where the two differ.
    pub against: Option<(PathBuf, crate::backtest::Differences)>,
    pub warnings: Vec<String>,
}

/// Replays the policy over the newest `last` runs of `branch` (by
/// default, every run that is no pull or merge request: what a gate's
/// history is made of). Objectives judged side by side are left out, with
/// a warning: the history holds no base to replay them with. With
/// `against` (the policy before a change), both are replayed over the same
/// runs and their differences given.
pub async fn backtest(
    env: &Env,
    location: &str,
    policy: Option<&Path>,
    cwd: &Path,
    last: usize,
    branch: Option<&str>,
    against: Option<&Path>,
) -> Result<Backtested, CommandError> {
    let mut plan = crate::plan::load(policy, cwd)?;
    let mut old = against
        .map(|file| crate::plan::load(Some(file), cwd))
        .transpose()?;
    let store = super::open_existing(location, env).await?;
    let mut read = scan_included(&store, last.max(1), |r| super::in_series(r, branch)).await?;
    let both = old.is_some();
    for p in std::iter::once(&mut plan).chain(old.as_mut()) {
        let (compared, replayed): (Vec<_>, Vec<_>) =
            p.objectives.drain(..).partition(|o| o.compared.is_some());
        p.objectives = replayed;
        for o in &compared {
            let of = if both {
                format!(" of `{}`", p.policy.file.display())
            } else {
                String::new()
            };
            read.warnings.push(format!(
                "objective `{}`{of} is judged side by side (`against: base`): a replay has no base to measure it against, so it is left out",
                o.spec.id,
            ));
        }
    }
    read.runs.reverse();
    // Significance tests need the samples the index leaves out.
    let tested = |p: &crate::plan::Plan| p.objectives.iter().any(|o| o.spec.test.is_some());
    if tested(&plan) || old.as_ref().is_some_and(tested) {
        for run in read.runs.iter_mut() {
            match store.full_record(run).await {
                Ok(full) => *run = full,
                Err(e @ crate::store::StoreError::Corrupt { .. }) => read.warnings.push(format!(
                    "{e}; its summary stands in for it, without samples"
                )),
                Err(e) => return Err(e.into()),
            }
        }
    }
    let replay = |p: &crate::plan::Plan| {
        crate::backtest::replay(&p.objectives, &p.policy.policy.decision, &read.runs)
    };
    let result = replay(&plan);
    let against = old.as_ref().map(|old| {
        (
            old.policy.file.clone(),
            crate::backtest::differences(&replay(old), &result),
        )
    });
    Ok(Backtested {
        policy_file: plan.policy.file.clone(),
        location: read.location,
        objective_ids: plan.objectives.iter().map(|o| o.spec.id.clone()).collect(),
        result,
        against,
        warnings: read.warnings,
    })
}
