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

/// Replays the policy over the newest `last` runs.
pub async fn backtest(
    env: &Env,
    location: &str,
    policy: Option<&Path>,
    cwd: &Path,
    last: usize,
) -> Result<Backtested, CommandError> {
    let plan = crate::plan::load(policy, cwd)?;
    let store = super::open_existing(location, env).await?;
    let mut read = scan_newest(&store, last.max(1), |_| true).await?;
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
