//! `qod store prune` and `qod store reindex`: maintaining the store.

use super::{CommandError, Env};
use crate::store::{Keep, PruneReport};

/// Removes old runs; returns what was removed and kept, and the location.
pub async fn prune(
    env: &Env,
    location: &str,
    keep: Keep,
) -> Result<(PruneReport, String), CommandError> {
    let store = super::open_existing(location, env).await?;
    let report = store.prune(keep, crate::time::now()).await?;
    Ok((report, store.location()))
}

/// Rebuilds the index from the run records; returns how many runs it holds.
pub async fn reindex(env: &Env, location: &str) -> Result<(usize, String), CommandError> {
    let store = super::open_existing(location, env).await?;
    let n = store.reindex().await?;
    Ok((n, store.location()))
}
