//! The gate's history step, in one place: read the newest records until each
//! relative objective has its baseline runs (chosen once, by
//! [`Chooser`]) and a recent passing run is seen; load the full records of
//! the runs whose samples a significance test needs; find the last
//! deployment; keep the recent values for sparklines.

use crate::decision::{Decision, Verdict};
use crate::diag::error_chain;
use crate::evaluate::baseline::MAX_SCAN;
pub use crate::evaluate::Target;
use crate::evaluate::{Baselines, Chooser};
use crate::plan::PlannedObjective;
use crate::protocol::Deployment;
use crate::record::RunRecord;
use crate::store::index::{last_deployment, IndexedDeployment, HEAD_MAX};
use crate::store::{Store, StoreError};
use std::ops::ControlFlow;

/// Values a trend holds at most, this run's included.
pub const TREND_RUNS: usize = 20;

/// What the gate knows of the past.
#[derive(Debug, Default)]
pub struct History {
    /// The records read, newest first (index summaries).
    pub runs: Vec<RunRecord>,
    /// Each objective's baseline runs, with their samples where a test needs them.
    pub baselines: Baselines,
    /// The recorded deployment of this branch, or the last passing run.
    pub last_deployment: Option<Deployment>,
    /// Why the history could not be read; the gate then decides without it.
    pub error: Option<String>,
}

/// Reads what the gate needs of `store` for a run judging `objectives`
/// for `target` started at `now` (no objectives: the recent runs and the
/// last deployment only). A store that cannot be read gives an empty
/// history with the reason; problems that lose nothing go to `warnings`.
pub async fn read(
    store: &Store,
    objectives: &[PlannedObjective],
    target: &Target,
    now: chrono::DateTime<chrono::Utc>,
    warnings: &mut Vec<String>,
) -> History {
    let branch = target.branch.as_deref();
    let mut chooser = Chooser::new(objectives, target, now);
    // Runs excluded from baselines (`qod history exclude`) are not read.
    let excluded = match store.excluded().await {
        Ok(e) => e,
        Err(e) => {
            warnings.push(format!(
                "the store's excluded runs could not be read, so none is left out: {}",
                error_chain(&e)
            ));
            Default::default()
        }
    };
    let (runs, deployments) = match scan(store, &mut chooser, branch, &excluded, warnings).await {
        Ok(read) => read,
        Err(e) => {
            return History {
                baselines: Chooser::new(objectives, target, now).finish(),
                error: Some(error_chain(&e)),
                ..History::default()
            }
        }
    };
    let mut baselines = chooser.finish();
    with_samples(store, objectives, &mut baselines, warnings).await;
    // Without a recorded deployment, the last passing run stands in for it;
    // `source` says which it is.
    let last_deployment = last_deployment(&deployments, branch).cloned().or_else(|| {
        runs.iter()
            .find(|r| {
                r.decision == Verdict::Pass
                    && (branch.is_none() || r.source.branch.as_deref() == branch)
            })
            .map(|r| Deployment {
                revision: r.source.revision.clone(),
                at: r.finished_at.clone(),
                run_id: Some(r.run_id.clone()),
                source: "last_passing_run".into(),
            })
    });
    History {
        runs,
        baselines,
        last_deployment,
        error: None,
    }
}

/// Reads the newest records (but `excluded` runs) until the chooser is complete, a passing run
/// (for `last_deployment`) is seen and a trend's runs are read, or
/// [`MAX_SCAN`] records were read; also the latest deployments.
pub async fn scan(
    store: &Store,
    chooser: &mut Chooser<'_>,
    branch: Option<&str>,
    excluded: &std::collections::BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<(Vec<RunRecord>, Vec<IndexedDeployment>), StoreError> {
    let mut seen_pass = false;
    let mut runs = Vec::new();
    let deployments = store
        .scan_with_deployments(
            |run| {
                if excluded.contains_key(run.run_id.as_str()) {
                    return ControlFlow::Continue(());
                }
                chooser.offer(&run);
                seen_pass |= run.decision == Verdict::Pass
                    && (branch.is_none() || run.source.branch.as_deref() == branch);
                runs.push(run);
                // The last passing run stands in for a deployment only when
                // it is recent: looking for it never reads past the head.
                // The runs of a trend come from the head too (it holds more
                // than `TREND_RUNS` once there are segments).
                let done = (seen_pass || runs.len() >= HEAD_MAX)
                    && runs.len() >= TREND_RUNS
                    && chooser.complete();
                if done || runs.len() >= MAX_SCAN {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
            |w| warnings.push(w),
        )
        .await?;
    Ok((runs, deployments))
}

/// The index keeps no samples. For objectives with a significance test,
/// replaces the summaries of their baseline runs with the full records: a
/// few reads, only for those objectives.
async fn with_samples(
    store: &Store,
    objectives: &[PlannedObjective],
    baselines: &mut Baselines,
    warnings: &mut Vec<String>,
) {
    let mut full: Vec<RunRecord> = Vec::new();
    for run in baselines.runs_mut(objectives, |o| o.spec.test.is_some()) {
        if let Some(f) = full.iter().find(|f| f.run_id == run.run_id) {
            *run = f.clone();
            continue;
        }
        match store.full_record(run).await {
            Ok(f) => {
                *run = f.clone();
                full.push(f);
            }
            Err(e) => warnings.push(format!(
                "the samples of run `{}` could not be read, so its value stands in for them: {}",
                run.run_id,
                error_chain(&e)
            )),
        }
    }
}

/// The objectives to evaluate once the plugins have run: each history
/// objective whose metric is a pattern becomes one objective per metric
/// its instance reported that the pattern matches (and no objective names
/// exactly), each with its baseline chosen from the runs read (with their
/// samples where a test needs them); the others stay as planned, with the
/// baselines chosen before. The two lists are aligned.
pub async fn rows(
    objectives: &[PlannedObjective],
    plugins: &[crate::decision::PluginOutcome],
    history: &History,
    (store, target, now): (&Store, &Target, chrono::DateTime<chrono::Utc>),
    warnings: &mut Vec<String>,
) -> (Vec<PlannedObjective>, Baselines) {
    if !objectives
        .iter()
        .any(|o| o.is_pattern() && o.compared.is_none())
    {
        return (objectives.to_vec(), history.baselines.clone());
    }
    let named = |o: &PlannedObjective, m: &str| {
        objectives
            .iter()
            .any(|x| x.instance == o.instance && !x.is_pattern() && x.metric.as_str() == m)
    };
    // Each planned objective, or the rows it expands to (`None`: expanded).
    let mut out: Vec<(PlannedObjective, Option<usize>)> = Vec::new();
    for (i, o) in objectives.iter().enumerate() {
        let found: Vec<&str> = match (o.is_pattern() && o.compared.is_none())
            .then(|| plugins.iter().find(|p| p.instance == o.instance))
            .flatten()
        {
            Some(p) => {
                let mut names: Vec<&str> = p
                    .metrics
                    .iter()
                    .map(|m| m.name.as_str())
                    .filter(|m| o.matches(m) && !named(o, m))
                    .collect();
                names.sort_unstable();
                names.dedup();
                names
            }
            None => Vec::new(),
        };
        if found.is_empty() {
            out.push((o.clone(), Some(i)));
        } else {
            out.extend(found.into_iter().map(|m| (o.row(m), None)));
        }
    }
    let expanded: Vec<PlannedObjective> = out
        .iter()
        .filter(|(_, i)| i.is_none())
        .map(|(o, _)| o.clone())
        .collect();
    let mut chosen = Chooser::new(&expanded, target, now)
        .offer_all(&history.runs)
        .finish();
    with_samples(store, &expanded, &mut chosen, warnings).await;
    let mut chosen = chosen.0.into_iter();
    let baselines = out
        .iter()
        .map(|(_, i)| match i {
            Some(i) => history.baselines.0.get(*i).cloned().flatten(),
            None => chosen.next().flatten(),
        })
        .collect();
    (
        out.into_iter().map(|(o, _)| o).collect(),
        Baselines(baselines),
    )
}

/// The recent values of each objective's metric on `branch`, oldest first,
/// ending with this run's.
pub fn trends(
    history: &[RunRecord],
    d: &Decision,
    branch: Option<&str>,
) -> Vec<(String, Vec<f64>)> {
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for o in &d.objectives {
        if out.iter().any(|(k, _)| *k == o.metric) {
            continue;
        }
        let mut values: Vec<f64> = history
            .iter()
            .filter(|r| branch.is_none() || r.source.branch.as_deref() == branch)
            .filter_map(|r| r.metric(&o.metric).map(|m| m.value))
            .take(TREND_RUNS - 1)
            .collect();
        values.reverse();
        values.extend(o.value);
        out.push((o.metric.clone(), values));
    }
    out
}
