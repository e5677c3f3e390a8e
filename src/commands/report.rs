//! `qod report`: the HTML report of the history (and each chart as SVG).

use super::{metric_patterns, scan_newest, CommandError, Env};
use std::path::{Path, PathBuf};

/// What `qod report` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub out: PathBuf,
    pub runs: usize,
    pub metrics: usize,
    /// The SVG folder and how many charts went into it.
    pub svg: Option<(PathBuf, usize)>,
    pub warnings: Vec<String>,
}

/// Writes the report of the newest `last` runs to `out` (and their charts
/// as SVG files in `svg_dir`): of `branch`, or of every branch, the main
/// one as each chart's line and the others' runs and pull requests as
/// points apart.
pub async fn report(
    env: &Env,
    location: &str,
    out: &Path,
    last: usize,
    metrics: &[String],
    branch: Option<&str>,
    svg_dir: Option<&Path>,
) -> Result<Written, CommandError> {
    let only = metric_patterns(metrics)?;
    let store = super::open_existing(location, env).await?;
    let mut read = scan_newest(&store, last.max(1), |r| {
        branch.is_none_or(|b| r.source.branch.as_deref() == Some(b))
    })
    .await?;
    super::history::flag_excluded(&store, &mut read.runs).await?;
    let deployments: Vec<(String, String)> = store
        .deployments(crate::report::html::DEPLOYMENTS_MAX)
        .await?
        .into_iter()
        .map(|d| (d.at, d.revision.unwrap_or_default()))
        .collect();
    let series = crate::report::html::series(&read.runs, &deployments, &only);
    let html = crate::report::html::page(&read.runs, &series, &read.location);
    std::fs::write(out, html).map_err(|e| CommandError::Write(out.to_owned(), e))?;
    let mut svg = None;
    if let Some(dir) = svg_dir {
        std::fs::create_dir_all(dir).map_err(|e| CommandError::Write(dir.to_owned(), e))?;
        for s in &series {
            let file = dir.join(format!("{}.svg", crate::report::html::file_stem(&s.key)));
            let (w, h) = crate::report::html::CHART_SIZE;
            std::fs::write(&file, crate::report::chart::svg(s, w, h))
                .map_err(|e| CommandError::Write(file.clone(), e))?;
        }
        svg = Some((dir.to_owned(), series.len()));
    }
    Ok(Written {
        out: out.to_owned(),
        runs: read.runs.len(),
        metrics: series.len(),
        svg,
        warnings: read.warnings,
    })
}
