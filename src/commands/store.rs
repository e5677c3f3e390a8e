//! `qod store prune` and `qod store reindex`: maintaining the store.

use super::{CommandError, Env};
use crate::store::{Keep, PruneReport, Reindexed};

/// Removes old runs (and stale temporary files); returns what was removed
/// and kept, how many temporary files went, and the location.
pub async fn prune(
    env: &Env,
    location: &str,
    keep: Keep,
) -> Result<(PruneReport, usize, String), CommandError> {
    let store = super::open_existing(location, env).await?;
    let report = store.prune(keep, crate::time::now()).await?;
    let swept = store.sweep_temporary_files()?;
    Ok((report, swept, store.location()))
}

/// Rebuilds the index from the run records, moving damaged ones aside.
pub async fn reindex(env: &Env, location: &str) -> Result<(Reindexed, String), CommandError> {
    let store = super::open_existing(location, env).await?;
    let done = store.reindex().await?;
    Ok((done, store.location()))
}
