//! The history commands: `deployed`, `history`, `export`, `store prune` and
//! `store reindex`. Each reads or changes the store and prints for people
//! (stderr) or for programs (stdout).

use crate::record::{DeploymentRecord, RunRecord};
use crate::store::{Keep, Store, StoreError};
use crate::units::format_with_unit;
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

/// Why a history command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    #[error("cannot use the history store")]
    Store(#[from] StoreError),
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
    #[error("cannot write CSV")]
    Csv(#[from] csv::Error),
    #[error("invalid `--since` `{0}`: write a date as `YYYY-MM-DD`")]
    Since(String),
    #[error(
        "invalid `--metric` `{0}`: {1}; write a metric (`build.duration`) or a glob (`latency.p*`)"
    )]
    MetricPattern(String, glob::PatternError),
    #[error("{0}")]
    Policy(String),
    #[error("cannot write `{}`", .0.display())]
    Write(std::path::PathBuf, #[source] std::io::Error),
}

fn env() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

/// `qod deployed`: records that a revision reached production.
pub async fn deployed(
    location: &str,
    revision: Option<String>,
    run_id: Option<String>,
    branch: Option<String>,
    cwd: &Path,
) -> Result<(), CommandError> {
    let env = env();
    let store = Store::open(location, &env).await?;
    let (pipeline, source) = crate::ci::detect(&env, cwd, || crate::ci::git_info(cwd));
    let record = DeploymentRecord {
        record_version: 1,
        id: uuid::Uuid::now_v7().to_string(),
        branch: branch.or(source.branch),
        revision: revision.or(source.revision),
        at: crate::time::rfc3339(crate::time::now()),
        run_id: run_id.map(crate::ids::RunId::new),
        pipeline,
    };
    store.record_deployment(&record).await?;
    eprintln!(
        "qod: recorded deployment of {} on branch {} in `{}`",
        record
            .revision
            .as_deref()
            .map(|r| format!("`{r}`"))
            .unwrap_or_else(|| "an unknown revision".into()),
        record
            .branch
            .as_deref()
            .map(|b| format!("`{b}`"))
            .unwrap_or_else(|| "(unknown)".into()),
        store.location()
    );
    println!("{}", serde_json::to_string(&record).expect("serializes"));
    Ok(())
}

/// `qod report`: the HTML report of the newest `last` runs (and their
/// charts as SVG files in `svg_dir`).
pub async fn report(
    location: &str,
    out: &Path,
    last: usize,
    metrics: &[String],
    svg_dir: Option<&Path>,
) -> Result<(), CommandError> {
    let only = metric_patterns(metrics)?;
    let store = Store::open(location, &env()).await?;
    let runs = scan_newest(&store, last, |_| true).await?;
    let deployments: Vec<(String, String)> = store
        .deployments(crate::report::html::DEPLOYMENTS_MAX)
        .await?
        .into_iter()
        .map(|d| (d.at, d.revision.unwrap_or_default()))
        .collect();
    let series = crate::report::html::series(&runs, &deployments, &only);
    let html = crate::report::html::page(&runs, &series, &store.location());
    std::fs::write(out, html).map_err(|e| CommandError::Write(out.to_owned(), e))?;
    let mut written = 0;
    if let Some(dir) = svg_dir {
        std::fs::create_dir_all(dir).map_err(|e| CommandError::Write(dir.to_owned(), e))?;
        for s in &series {
            let file = dir.join(format!("{}.svg", crate::report::html::file_stem(&s.key)));
            let (w, h) = crate::report::html::CHART_SIZE;
            std::fs::write(&file, crate::report::chart::svg(s, w, h))
                .map_err(|e| CommandError::Write(file.clone(), e))?;
            written += 1;
        }
    }
    eprintln!(
        "qod: wrote `{}`: {} run{}, {} metric{}{}",
        out.display(),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        series.len(),
        if series.len() == 1 { "" } else { "s" },
        svg_dir
            .map(|d| format!(
                ", and {written} SVG chart{} in `{}`",
                if written == 1 { "" } else { "s" },
                d.display()
            ))
            .unwrap_or_default()
    );
    Ok(())
}

/// Up to `last` of the newest runs that `keep` accepts, newest first.
async fn scan_newest(
    store: &Store,
    last: usize,
    keep: impl Fn(&RunRecord) -> bool,
) -> Result<Vec<RunRecord>, CommandError> {
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
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(runs)
}

/// The `--metric` arguments as globs.
fn metric_patterns(metrics: &[String]) -> Result<Vec<glob::Pattern>, CommandError> {
    metrics
        .iter()
        .map(|m| glob::Pattern::new(m).map_err(|e| CommandError::MetricPattern(m.clone(), e)))
        .collect()
}

/// One change point of one metric, as `qod trend` prints it.
#[derive(Debug, serde::Serialize)]
struct TrendPoint<'a> {
    /// The first run after the change, counted from 1 in the runs read.
    run_number: usize,
    run_id: &'a str,
    at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_revision: Option<&'a str>,
    mean_before: f64,
    mean_after: f64,
    change_pct: f64,
    magnitude: f64,
    pvalue: f64,
}

/// `qod trend`: change points in each metric's history.
pub async fn trend(
    location: &str,
    metrics: &[String],
    last: usize,
    branch: Option<&str>,
    params: crate::changepoint::Params,
    json: bool,
) -> Result<(), CommandError> {
    let only = metric_patterns(metrics)?;
    let store = Store::open(location, &env()).await?;
    let mut runs = scan_newest(&store, last, |r| {
        branch.is_none() || r.source.branch.as_deref() == branch
    })
    .await?;
    let keys = crate::report::html::metric_keys(&runs, &only);
    runs.reverse();
    let mut report = Vec::new();
    let mut out = std::io::stdout().lock();
    for (key, unit) in &keys {
        let measured: Vec<(&RunRecord, f64)> = runs
            .iter()
            .filter_map(|r| r.metric(key).map(|m| (r, m.value)))
            .collect();
        let values: Vec<f64> = measured.iter().map(|(_, v)| *v).collect();
        let cps = crate::changepoint::detect(&values, params);
        let points: Vec<TrendPoint> = cps
            .iter()
            .map(|c| {
                let (r, _) = measured[c.index];
                TrendPoint {
                    run_number: c.index + 1,
                    run_id: &r.run_id.0,
                    at: &r.started_at,
                    revision: r.source.revision.as_deref(),
                    previous_revision: measured[c.index - 1].0.source.revision.as_deref(),
                    mean_before: c.stats.mean_before,
                    mean_after: c.stats.mean_after,
                    change_pct: c.stats.forward_change() * 100.0,
                    magnitude: c.stats.magnitude(),
                    pvalue: c.stats.pvalue,
                }
            })
            .collect();
        if json {
            report.push(serde_json::json!({
                "metric": key, "unit": unit, "runs": values.len(), "change_points": points,
            }));
            continue;
        }
        let u = unit.as_deref().unwrap_or("");
        writeln!(
            out,
            "{key}: {} run{}, {} change point{}",
            values.len(),
            if values.len() == 1 { "" } else { "s" },
            points.len(),
            if points.len() == 1 { "" } else { "s" }
        )?;
        for p in &points {
            writeln!(
                out,
                "  run {:>5}  {}  {}  {} → {} ({}{:.1}%, p {}){}",
                p.run_number,
                p.at,
                p.run_id,
                format_with_unit(p.mean_before, u),
                format_with_unit(p.mean_after, u),
                if p.change_pct > 0.0 { "+" } else { "" },
                p.change_pct,
                if p.pvalue < 1e-12 {
                    "< 1e-12".to_owned()
                } else {
                    format!("= {:.2e}", p.pvalue)
                },
                p.revision
                    .map(|r| format!("  at {}", &r[..r.len().min(12)]))
                    .unwrap_or_default()
            )?;
        }
    }
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report).expect("serializes")
        )?;
    } else if keys.is_empty() {
        eprintln!("qod: no runs with metrics in `{}`", store.location());
    }
    Ok(())
}

/// `qod backtest`: the policy replayed over the newest `last` runs.
pub async fn backtest(
    location: &str,
    policy: Option<&Path>,
    cwd: &Path,
    last: usize,
    json: bool,
) -> Result<(), CommandError> {
    let plan = crate::plan::load(policy, cwd).map_err(|d| CommandError::Policy(d.to_string()))?;
    let store = Store::open(location, &env()).await?;
    let mut runs = scan_newest(&store, last, |_| true).await?;
    runs.reverse();
    // Significance tests need the samples the index leaves out.
    if plan.objectives.iter().any(|o| o.spec.test.is_some()) {
        for run in runs.iter_mut() {
            *run = store.full_record(run).await?;
        }
    }
    let result = crate::backtest::replay(&plan.objectives, &plan.policy.policy.decision, &runs);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&result).expect("serializes")
        )?;
        return Ok(());
    }
    let count = |v: &str| result.gate.get(v).copied().unwrap_or(0);
    writeln!(
        out,
        "backtest of `{}` over {} run{} of `{}`: {} pass, {} warn, {} fail ({} differ from the recorded decision)",
        plan.policy.file.display(),
        result.runs,
        if result.runs == 1 { "" } else { "s" },
        store.location(),
        count("pass"),
        count("warn"),
        count("fail"),
        result.changed
    )?;
    let width = plan
        .objectives
        .iter()
        .map(|o| o.spec.id.len())
        .max()
        .unwrap_or(9)
        .max(9);
    writeln!(
        out,
        "\n{:width$}  {:>5} {:>5} {:>5} {:>8} {:>12}  would have stopped",
        "objective", "pass", "warn", "fail", "no data", "no baseline"
    )?;
    for o in &plan.objectives {
        let Some(t) = result.objectives.get(&o.spec.id) else {
            continue;
        };
        let stopped = if t.stopped.is_empty() {
            "–".to_owned()
        } else {
            let mut s: Vec<String> = t.stopped.iter().take(12).map(|n| format!("#{n}")).collect();
            if t.stopped.len() > 12 {
                s.push(format!("… ({} runs)", t.stopped.len()));
            }
            s.join(" ")
        };
        writeln!(
            out,
            "{:width$}  {:>5} {:>5} {:>5} {:>8} {:>12}  {stopped}",
            o.spec.id, t.pass, t.warn, t.fail, t.no_data, t.no_baseline
        )?;
    }
    let failed: Vec<_> = result
        .replayed
        .iter()
        .filter(|r| r.decision == crate::decision::Verdict::Fail)
        .collect();
    if !failed.is_empty() {
        writeln!(out, "\nruns the gate would have stopped:")?;
        for r in failed.iter().rev().take(20) {
            let why: Vec<String> = r
                .objectives
                .iter()
                .filter(|o| o.effect == crate::decision::OutcomeEffect::Fail)
                .map(|o| format!("{}: {}", o.id, o.reason))
                .collect();
            writeln!(
                out,
                "  #{:<5} {}  {}{}  {}",
                r.run_number,
                r.started_at,
                r.run_id,
                r.revision
                    .as_deref()
                    .map(|v| format!("  {}", &v[..v.len().min(12)]))
                    .unwrap_or_default(),
                why.join("; ")
            )?;
        }
        if failed.len() > 20 {
            writeln!(
                out,
                "  … and {} older (`--json` lists them all)",
                failed.len() - 20
            )?;
        }
    }
    Ok(())
}

/// `qod history`: recent runs, newest first.
pub async fn history(
    location: &str,
    metric: Option<&str>,
    last: usize,
    json: bool,
) -> Result<(), CommandError> {
    let store = Store::open(location, &env()).await?;
    let runs = scan_newest(&store, last, |r| {
        metric.is_none_or(|m| r.metric(m).is_some())
    })
    .await?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&runs).expect("serializes")
        )?;
        return Ok(());
    }
    if runs.is_empty() {
        eprintln!("qod: no runs recorded in `{}`", store.location());
        return Ok(());
    }
    writeln!(
        out,
        "{:<17} {:<36} {:<12} {:<8} {:<5} {:>6}  metrics",
        "started (UTC)", "run", "branch", "revision", "gate", "score"
    )?;
    for r in &runs {
        let metrics: Vec<String> = r
            .metrics
            .iter()
            .filter(|m| metric.is_none_or(|k| m.key == k))
            .take(4)
            .map(|m| {
                format!(
                    "{}={}",
                    m.key,
                    format_with_unit(m.value, m.unit.as_deref().unwrap_or(""))
                )
            })
            .collect();
        writeln!(
            out,
            "{:<17} {:<36} {:<12} {:<8} {:<5} {:>6}  {}",
            r.started_at
                .get(..16)
                .unwrap_or(&r.started_at)
                .replace('T', " "),
            r.run_id,
            r.source.branch.as_deref().unwrap_or("-"),
            r.source
                .revision
                .as_deref()
                .map(|s| &s[..s.len().min(8)])
                .unwrap_or("-"),
            r.decision.as_str(),
            crate::units::format_value(r.score),
            metrics.join(" ")
        )?;
    }
    Ok(())
}

/// `qod export`: every run record, oldest first, as CSV rows (one per run
/// and metric) or as the records themselves (JSON Lines).
pub async fn export(
    location: &str,
    csv_format: bool,
    since: Option<&str>,
) -> Result<(), CommandError> {
    if let Some(s) = since {
        if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
            return Err(CommandError::Since(s.to_owned()));
        }
    }
    let store = Store::open(location, &env()).await?;
    let keys = store.run_keys(since).await?;
    let stdout = std::io::stdout().lock();
    if csv_format {
        let mut w = csv::Writer::from_writer(stdout);
        w.write_record([
            "run_id",
            "started_at",
            "finished_at",
            "provider",
            "pipeline",
            "build_id",
            "branch",
            "revision",
            "decision",
            "score",
            "metric",
            "value",
            "unit",
        ])?;
        for key in keys {
            let r = store.read_record(&key).await?;
            let base = [
                r.run_id.to_string(),
                r.started_at.clone(),
                r.finished_at.clone(),
                r.pipeline.provider.clone(),
                r.pipeline.name.clone().unwrap_or_default(),
                r.pipeline.build_id.clone().unwrap_or_default(),
                r.source.branch.clone().unwrap_or_default(),
                r.source.revision.clone().unwrap_or_default(),
                r.decision.as_str().to_owned(),
                r.score.to_string(),
            ];
            if r.metrics.is_empty() {
                w.write_record(base.iter().map(String::as_str).chain(["", "", ""]))?;
            }
            for m in &r.metrics {
                let value = m.value.to_string();
                w.write_record(base.iter().map(String::as_str).chain([
                    m.key.as_str(),
                    value.as_str(),
                    m.unit.as_deref().unwrap_or(""),
                ]))?;
            }
        }
        w.flush()?;
    } else {
        let mut out = stdout;
        for key in keys {
            let r = store.read_record(&key).await?;
            writeln!(out, "{}", serde_json::to_string(&r).expect("serializes"))?;
        }
    }
    Ok(())
}

/// `qod store prune`.
pub async fn prune(location: &str, keep: Keep) -> Result<(), CommandError> {
    let store = Store::open(location, &env()).await?;
    let report = store.prune(keep, crate::time::now()).await?;
    eprintln!(
        "qod: removed {} run{}, kept {} in `{}`",
        report.removed_runs,
        if report.removed_runs == 1 { "" } else { "s" },
        report.kept_runs,
        store.location()
    );
    Ok(())
}

/// `qod store reindex`.
pub async fn reindex(location: &str) -> Result<(), CommandError> {
    let store = Store::open(location, &env()).await?;
    let n = store.reindex().await?;
    eprintln!(
        "qod: indexed {n} run{} in `{}`",
        if n == 1 { "" } else { "s" },
        store.location()
    );
    Ok(())
}
