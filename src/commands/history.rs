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
    flag_excluded(&store, &mut read.runs).await?;
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

/// `qod history exclude|include RUN_ID --reason …`: marks run `run` as
/// excluded from baselines (or takes that back), after checking that it is
/// recorded; the marker written.
pub async fn exclude(
    env: &Env,
    location: &str,
    run: &str,
    reason: &str,
    exclude: bool,
) -> Result<crate::record::Exclusion, CommandError> {
    if !crate::ids::is_key_name(run) {
        return Err(CommandError::Usage(format!(
            "`{run}` is not a run id; `qod history` lists them"
        )));
    }
    if reason.trim().is_empty() {
        return Err(CommandError::Usage(
            "`--reason` says why, for whoever reads the history later: give one".into(),
        ));
    }
    let store = super::open_existing(location, env).await?;
    let suffix = format!("/{run}.json");
    if !store
        .run_keys(None)
        .await?
        .iter()
        .any(|k| k.ends_with(&suffix))
    {
        return Err(CommandError::Usage(format!(
            "no run `{run}` is recorded in `{}`; `qod history` lists the runs with their ids",
            store.location()
        )));
    }
    let excluded = store.excluded().await?.contains_key(run);
    if excluded == exclude {
        return Err(CommandError::Usage(format!(
            "run `{run}` is {} already",
            if exclude { "excluded" } else { "not excluded" }
        )));
    }
    let marker = crate::record::Exclusion {
        run_id: crate::ids::RunId(run.to_owned()),
        reason: reason.trim().to_owned(),
        at: crate::time::rfc3339(crate::time::now()),
        by: [
            "QOD_ACTOR",
            "GITHUB_ACTOR",
            "GITLAB_USER_LOGIN",
            "USER",
            "USERNAME",
        ]
        .iter()
        .find_map(|k| env.get(*k).filter(|v| !v.trim().is_empty()).cloned()),
    };
    store.mark_excluded(run, exclude, &marker).await?;
    Ok(marker)
}

/// Sets `excluded` on the runs of `runs` that are excluded: one listing,
/// and one read of each such run's marker.
pub async fn flag_excluded(
    store: &crate::store::Store,
    runs: &mut [RunRecord],
) -> Result<(), CommandError> {
    let excluded = store.excluded().await?;
    if excluded.is_empty() {
        return Ok(());
    }
    for r in runs.iter_mut() {
        if let Some(key) = excluded.get(r.run_id.as_str()) {
            r.excluded =
                Some(
                    store
                        .exclusion(key)
                        .await?
                        .unwrap_or_else(|| crate::record::Exclusion {
                            run_id: r.run_id.clone(),
                            reason: String::new(),
                            at: String::new(),
                            by: None,
                        }),
                );
        }
    }
    Ok(())
}
