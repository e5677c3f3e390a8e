//! `qod history`: recent runs, newest first.

use super::{scan_newest, CommandError, Env, Runs};

/// The newest `last` runs (only those that measured `metric`, and only
/// those of `branch`, if given).
pub async fn history(
    env: &Env,
    location: &str,
    metric: Option<&str>,
    branch: Option<&str>,
    last: usize,
) -> Result<Runs, CommandError> {
    let store = super::open_existing(location, env).await?;
    scan_newest(&store, last, |r| {
        metric.is_none_or(|m| r.metric(m).is_some())
            && branch.is_none_or(|b| r.source.branch.as_deref() == Some(b))
    })
    .await
}
