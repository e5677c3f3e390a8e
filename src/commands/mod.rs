//! The subcommands, one file each. A command takes its arguments and the
//! environment, does its work and returns data (or a [`CommandError`]);
//! `cli` renders both, in one way for all: a table or JSON on stdout,
//! notes on stderr.

pub(crate) mod backtest;
pub(crate) mod bisect;
pub(crate) mod calibrate;
pub(crate) mod codepipeline;
pub mod comment;
pub(crate) mod context;
pub(crate) mod deployed;
mod error;
pub(crate) mod export;
pub(crate) mod history;
pub mod init;
pub(crate) mod plugins;
pub mod report;
pub(crate) mod run;
pub mod schema;
pub(crate) mod store;
pub(crate) mod trend;
pub(crate) mod validate;

pub use error::CommandError;

use crate::record::RunRecord;
use crate::store::Store;
use std::ops::ControlFlow;

/// The environment a command runs in (what `std::env::vars()` gives the
/// CLI; tests pass their own).
pub type Env = std::collections::BTreeMap<String, String>;

/// Runs read from the store, and what went wrong reading some of them.
#[derive(Debug, Clone)]
pub struct Runs {
    /// The store, as people should see it named.
    pub location: String,
    /// Newest first.
    pub runs: Vec<RunRecord>,
    /// Records that were skipped, and why.
    pub warnings: Vec<String>,
    /// Why nothing was found, when a filter found nothing.
    pub miss: Option<String>,
}

/// Opens the store at `location` for reading: a store that was never
/// written is a mistyped `--store` far more often than an empty history.
pub(crate) async fn open_existing(location: &str, env: &Env) -> Result<Store, CommandError> {
    let store = Store::open(location, env).await?;
    if store.exists().await? {
        Ok(store)
    } else {
        Err(CommandError::NoStore(store.location()))
    }
}

/// Up to `last` of the newest runs that `keep` accepts, newest first.
pub(crate) async fn scan_newest(
    store: &Store,
    last: usize,
    keep: impl Fn(&RunRecord) -> bool,
) -> Result<Runs, CommandError> {
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut warnings = Vec::new();
    store
        .scan(
            |r| {
                if keep(&r) {
                    runs.push(r);
                }
                if runs.len() >= last {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
            |w| warnings.push(w),
        )
        .await?;
    Ok(Runs {
        location: store.location(),
        runs,
        warnings,
        miss: None,
    })
}

/// As [`scan_newest`], leaving out the runs excluded from baselines
/// (`qod history exclude`), which a warning counts.
pub(crate) async fn scan_included(
    store: &Store,
    last: usize,
    keep: impl Fn(&RunRecord) -> bool,
) -> Result<Runs, CommandError> {
    let excluded = store.excluded().await?;
    let skipped = std::cell::Cell::new(0usize);
    let mut read = scan_newest(store, last, |r| {
        if !keep(r) {
            return false;
        }
        let out = excluded.contains_key(r.run_id.as_str());
        skipped.set(skipped.get() + usize::from(out));
        !out
    })
    .await?;
    let n = skipped.get();
    if n > 0 {
        read.warnings.push(format!(
            "{n} run{} excluded from baselines (`qod history exclude`) {} left out",
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" }
        ));
    }
    Ok(read)
}

/// Whether a run belongs in a metric's series: of `branch` when one is
/// given, else any run that is not a change under review (a pull or merge
/// request's runs are judged against their base, and would blur its line).
pub(crate) fn in_series(r: &RunRecord, branch: Option<&str>) -> bool {
    match branch {
        Some(b) => r.source.branch.as_deref() == Some(b),
        None => !crate::ci::is_change(&r.source),
    }
}

/// The `--metric` arguments as globs.
pub(crate) fn metric_patterns(metrics: &[String]) -> Result<Vec<glob::Pattern>, CommandError> {
    metrics
        .iter()
        .map(|m| {
            glob::Pattern::new(m).map_err(|e| {
                CommandError::Usage(format!(
                    "invalid `--metric` `{m}`: {e}; write a metric (`build.duration`) or a glob (`latency.p*`)"
                ))
            })
        })
        .collect()
}
