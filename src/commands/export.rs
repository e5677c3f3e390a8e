//! `qod export`: every run record, oldest first, handed to a sink one at a
//! time (so a large history is never all in memory); the CLI writes them
//! as CSV or JSON Lines. Runs excluded from baselines carry their
//! `excluded` marker.

use super::{CommandError, Env};
use crate::record::RunRecord;

/// Streams the records of runs since `since` (`YYYY-MM-DD`, UTC) to `sink`;
/// a damaged record goes to `warn` and is left out.
pub async fn export(
    env: &Env,
    location: &str,
    since: Option<&str>,
    mut sink: impl FnMut(RunRecord) -> Result<(), CommandError>,
    mut warn: impl FnMut(String),
) -> Result<(), CommandError> {
    if let Some(s) = since {
        if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
            return Err(CommandError::Usage(format!(
                "invalid `--since` `{s}`: write a date as `YYYY-MM-DD`"
            )));
        }
    }
    let store = super::open_existing(location, env).await?;
    let excluded = store.excluded().await?;
    for key in store.run_keys(since).await? {
        match store.read_record(&key).await {
            Ok(mut r) => {
                if let Some(marker) = excluded.get(r.run_id.as_str()) {
                    r.excluded = store.exclusion(marker).await?;
                }
                sink(r)?
            }
            // One damaged record must not hide the others.
            Err(e @ crate::store::StoreError::Corrupt { .. }) => warn(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
