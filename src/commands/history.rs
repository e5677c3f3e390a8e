//! `qod history`: recent runs, newest first.

use super::{scan_newest, CommandError, Env, Runs};
use crate::record::RunRecord;

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
    // `--metric` is a metric or a glob (`bench.*#median`), as for `trend`.
    let pattern = match metric {
        Some(m) => super::metric_patterns(&[m.to_owned()])?.pop(),
        None => None,
    };
    let measured = |r: &RunRecord| {
        pattern
            .as_ref()
            .is_none_or(|p| r.metrics.iter().any(|m| p.matches(&m.key)))
    };
    let mut read = scan_newest(&store, last, |r| {
        measured(r) && branch.is_none_or(|b| r.source.branch.as_deref() == Some(b))
    })
    .await?;
    if read.runs.is_empty() {
        read.miss = Some(miss(&store, metric, branch).await?);
    }
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

/// Runs looked at, at most, to say why a filter found nothing.
const MISS_SCAN: usize = 10_000;

/// Why a read found no run: nothing recorded, or nothing that measured
/// `metric` (with the metrics that were measured, and the nearest), or
/// nothing on `branch`.
async fn miss(
    store: &crate::store::Store,
    metric: Option<&str>,
    branch: Option<&str>,
) -> Result<String, CommandError> {
    let all = scan_newest(store, MISS_SCAN, |_| true).await?;
    let n = all.runs.len();
    let runs = format!(
        "{n}{} run{} recorded",
        if n >= MISS_SCAN { "+" } else { "" },
        if n == 1 { "" } else { "s" }
    );
    if n == 0 {
        return Ok(format!("no runs recorded in `{}`", all.location));
    }
    if let Some(m) = metric {
        let mut keys: Vec<&str> = all
            .runs
            .iter()
            .flat_map(|r| r.metrics.iter().map(|m| m.key.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        if !keys.is_empty()
            && !all
                .runs
                .iter()
                .any(|r| r.metrics.iter().any(|k| k.key == m))
        {
            let shown: Vec<String> = keys.iter().take(8).map(|k| format!("`{k}`")).collect();
            return Ok(format!(
                "no run measured `{m}`; {runs}; {}they measured {}{} (`--metric` takes a glob: `{}*`)",
                crate::diag::did_you_mean(m, keys.iter().copied()),
                shown.join(", "),
                if keys.len() > shown.len() { ", …" } else { "" },
                m.split(['#', '.']).next().unwrap_or(m)
            ));
        }
    }
    Ok(match branch {
        Some(b) => format!("no run on branch `{b}` matched; {runs}"),
        None => format!("no run matched; {runs}"),
    })
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
