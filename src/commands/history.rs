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
    let mut read = scan_newest(&store, last, |r| {
        metric.is_none_or(|m| r.metric(m).is_some())
            && branch.is_none_or(|b| r.source.branch.as_deref() == Some(b))
    })
    .await?;
    // Only an unfiltered read knows the index's newest run.
    let unindexed = if metric.is_none() && branch.is_none() {
        unindexed(&store, &read).await?
    } else {
        0
    };
    if unindexed > 0 {
        let (s, is, it) = if unindexed == 1 {
            ("", "is", "it")
        } else {
            ("s", "are", "them")
        };
        read.warnings.push(format!(
            "{unindexed} recorded run{s} newer than the index's newest {is} not in the index (a writer died between recording and indexing, or the index could not be updated); `qod store reindex` adds {it}"
        ));
    }
    Ok(read)
}

/// Records newer than the newest indexed run: written, never indexed.
/// Costs one listing of the newest day's folder.
async fn unindexed(store: &crate::store::Store, read: &Runs) -> Result<usize, CommandError> {
    let Some(newest) = read.runs.first() else {
        return Ok(0);
    };
    let day = newest.started_at.get(..10).unwrap_or_default();
    let newer = store
        .run_keys_on(day)
        .await?
        .iter()
        .filter_map(|k| {
            k.rsplit('/')
                .next()?
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .filter(|id| id.as_str() > newest.run_id.0.as_str())
        .count();
    Ok(newer)
}
