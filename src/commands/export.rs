//! `qod export`: every run record, oldest first, handed to a sink one at a
//! time (so a large history is never all in memory); the CLI writes them
//! as CSV or JSON Lines.

use super::{CommandError, Env};
use crate::record::RunRecord;

/// Streams the records of runs since `since` (`YYYY-MM-DD`, UTC) to `sink`.
pub async fn export(
    env: &Env,
    location: &str,
    since: Option<&str>,
    mut sink: impl FnMut(RunRecord) -> Result<(), CommandError>,
) -> Result<(), CommandError> {
    if let Some(s) = since {
        if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
            return Err(CommandError::Usage(format!(
                "invalid `--since` `{s}`: write a date as `YYYY-MM-DD`"
            )));
        }
    }
    let store = super::open_existing(location, env).await?;
    for key in store.run_keys(since).await? {
        sink(store.read_record(&key).await?)?;
    }
    Ok(())
}
