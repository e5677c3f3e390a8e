//! `qod backtest`: the policy replayed over the stored history.

use super::{scan_newest, CommandError, Env};
use std::path::{Path, PathBuf};

/// A replay and what it replayed.
#[derive(Debug, Clone)]
pub struct Backtested {
    pub policy_file: PathBuf,
    pub location: String,
    /// The policy's objectives, in policy order.
    pub objective_ids: Vec<String>,
    pub result: crate::backtest::Backtest,
    pub warnings: Vec<String>,
}

/// Replays the policy over the newest `last` runs of `branch` (by
/// default, every run that is no pull or merge request: what a gate's
/// history is made of). Objectives judged side by side are left out, with
/// a warning: the history holds no base to replay them with.
pub async fn backtest(
    env: &Env,
    location: &str,
    policy: Option<&Path>,
    cwd: &Path,
    last: usize,
    branch: Option<&str>,
) -> Result<Backtested, CommandError> {
    let mut plan = crate::plan::load(policy, cwd)?;
    let store = super::open_existing(location, env).await?;
    let mut read = scan_newest(&store, last.max(1), |r| super::in_series(r, branch)).await?;
    let (compared, replayed): (Vec<_>, Vec<_>) = plan
        .objectives
        .drain(..)
        .partition(|o| o.compared.is_some());
    plan.objectives = replayed;
    for o in &compared {
        read.warnings.push(format!(
            "objective `{}` is judged side by side (`against: base`): a replay has no base to measure it against, so it is left out",
            o.spec.id
        ));
    }
    read.runs.reverse();
    // Significance tests need the samples the index leaves out.
    if plan.objectives.iter().any(|o| o.spec.test.is_some()) {
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
    let result =
        crate::backtest::replay(&plan.objectives, &plan.policy.policy.decision, &read.runs);
    Ok(Backtested {
        policy_file: plan.policy.file.clone(),
        location: read.location,
        objective_ids: plan.objectives.iter().map(|o| o.spec.id.clone()).collect(),
        result,
        warnings: read.warnings,
    })
}
