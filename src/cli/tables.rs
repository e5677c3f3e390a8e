//! The text each data command prints for people (`--format table`). Pure:
//! data in, text out.

use super::render::count;
use crate::commands::trend::Trend;
use crate::plugin::{DiscoveryError, ResolvedPlugin};
use crate::protocol::{Pipeline, Source};
use crate::record::{DeploymentRecord, RunRecord};
use crate::units::{format_value, format_with_unit};
use std::fmt::Write;

/// The first `n` characters of a revision.
pub(super) fn short(rev: &str, n: usize) -> &str {
    &rev[..rev.len().min(n)]
}

/// `qod history`: one line per run, newest first.
pub fn history(runs: &[RunRecord], metric: Option<&str>) -> String {
    let mut s = format!(
        "{:<17} {:<36} {:<12} {:<8} {:<5} {:>6}\n",
        "started (UTC)", "run", "branch", "revision", "gate", "score"
    );
    let pattern = metric.map(|k| glob::Pattern::new(k).map_err(|_| k));
    for r in runs {
        let _ = writeln!(
            s,
            "{:<17} {:<36} {:<12} {:<8} {:<5} {:>6}",
            r.started_at
                .get(..16)
                .unwrap_or(&r.started_at)
                .replace('T', " "),
            r.run_id,
            short(r.source.branch.as_deref().unwrap_or("-"), 12),
            r.source.revision.as_deref().map_or("-", |v| short(v, 8)),
            r.decision.as_str(),
            format_value(r.score),
        );
        // The metrics asked for; else those the run's objectives judged;
        // else the first few. Indented below the run, lines of at most
        // 100 columns, so that the table reads in a narrow terminal.
        let used: Vec<&str> = r.objectives.iter().map(|o| o.metric.as_str()).collect();
        let shown: Vec<String> = r
            .metrics
            .iter()
            .filter(|m| match &pattern {
                Some(Ok(p)) => p.matches(&m.key),
                Some(Err(k)) => m.key == *k,
                None => used.is_empty() || used.contains(&m.key.as_str()),
            })
            .take(if used.is_empty() && pattern.is_none() {
                4
            } else {
                usize::MAX
            })
            .map(|m| {
                format!(
                    "{} = {}",
                    m.key,
                    format_with_unit(m.value, m.unit.as_deref().unwrap_or(""))
                )
            })
            .collect();
        let mut line = String::new();
        for m in shown {
            if !line.is_empty() && line.len() + 3 + m.chars().count() > 98 {
                let _ = writeln!(s, "  {line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push_str(" · ");
            }
            line.push_str(&m);
        }
        if !line.is_empty() {
            let _ = writeln!(s, "  {line}");
        }
        if let Some(e) = &r.excluded {
            let _ = writeln!(
                s,
                "  excluded from baselines{}: {}",
                e.by.as_deref()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default(),
                crate::diag::printable(&e.reason)
            );
        }
    }
    s
}

/// `qod trend`: each metric, then its change points.
pub fn trend(t: &Trend) -> String {
    let mut s = String::new();
    for m in &t.metrics {
        let u = m.unit.as_deref().unwrap_or("");
        let _ = writeln!(
            s,
            "{}: {}, {}",
            m.metric,
            count(m.runs, "run"),
            count(m.change_points.len(), "change point")
        );
        for p in &m.change_points {
            let _ = writeln!(
                s,
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
                    .as_deref()
                    .map(|r| format!("  at {}", short(r, 12)))
                    .unwrap_or_default()
            );
            match p.cause {
                "runner" => {
                    let _ = writeln!(
                        s,
                        "           a change of runner, not of code: {} → {}",
                        p.runner_before.as_deref().unwrap_or("?"),
                        p.runner_after.as_deref().unwrap_or("?")
                    );
                }
                "same_revision" => {
                    let _ = writeln!(
                        s,
                        "           the revision did not change: the runner or its load, not the code"
                    );
                }
                _ => {}
            }
        }
    }
    s
}

/// The plugins `qod plugins list` found.
pub type Found = [(String, Result<ResolvedPlugin, DiscoveryError>)];

/// `qod plugins list`: name, version, origin, description.
pub fn plugins(found: &Found) -> String {
    let mut s = String::new();
    for (name, r) in found {
        let _ = match r {
            Ok(p) => writeln!(
                s,
                "{name:<20} {:<8} {:<12} {}",
                p.manifest.version,
                p.origin.as_str(),
                p.manifest.description.as_deref().unwrap_or("")
            ),
            Err(e) => writeln!(s, "{name:<20} error: {}", crate::diag::error_chain(e)),
        };
    }
    s
}

/// `qod plugins list --format json`.
pub fn plugins_json(found: &Found) -> serde_json::Value {
    found
        .iter()
        .map(|(name, r)| match r {
            Ok(p) => serde_json::json!({
                "name": name, "version": p.manifest.version, "origin": p.origin.as_str(),
                "source": p.source, "description": p.manifest.description,
            }),
            Err(e) => serde_json::json!({"name": name, "error": crate::diag::error_chain(e)}),
        })
        .collect()
}

/// `qod plugins describe --format json`: the manifest, and where it came from.
pub fn describe_json(p: &ResolvedPlugin) -> serde_json::Value {
    let mut v = serde_json::to_value(&p.manifest).expect("serializes");
    v["source"] = serde_json::json!(p.source);
    v["origin"] = serde_json::json!(p.origin.as_str());
    v
}

/// `qod plugins describe`: the manifest for people.
pub fn describe(p: &ResolvedPlugin) -> String {
    let m = &p.manifest;
    let mut s = format!("{} {} ({})\n", m.name, m.version, p.origin.as_str());
    if let Some(d) = &m.description {
        let _ = writeln!(s, "  {d}");
    }
    let _ = writeln!(s, "  source: {}", p.source.display());
    let _ = writeln!(s, "  runs:   {}", p.argv.join(" "));
    if !m.metrics.is_empty() {
        s.push_str("  metrics:\n");
        for metric in &m.metrics {
            let _ = writeln!(
                s,
                "    {:<20} {:<8} {:<7} {}",
                metric.name,
                metric.unit.as_deref().unwrap_or(""),
                serde_json::to_value(metric.better)
                    .ok()
                    .and_then(|b| b.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                metric.description.as_deref().unwrap_or("")
            );
        }
    }
    let config = m
        .config_schema
        .as_ref()
        .and_then(|c| c.get("properties"))
        .and_then(|p| p.as_object());
    if let Some(props) = config.filter(|p| !p.is_empty()) {
        s.push_str("  config (`with:`):\n");
        for (k, v) in props {
            let kind = v.get("type").map(|t| match t.as_str() {
                Some(t) => t.to_owned(),
                None => t.to_string(),
            });
            let _ = writeln!(
                s,
                "    {k:<20} {:<8} {}",
                kind.unwrap_or_default(),
                v.get("description").and_then(|d| d.as_str()).unwrap_or("")
            );
        }
    }
    s
}

/// `qod context --format table`.
pub fn context(pipeline: &Pipeline, source: &Source) -> String {
    let v = serde_json::json!({"pipeline": pipeline, "source": source});
    let mut s = String::new();
    for part in ["pipeline", "source"] {
        let _ = writeln!(s, "{part}:");
        if let Some(fields) = v[part].as_object() {
            for (k, v) in fields {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                let _ = writeln!(s, "  {k:<12} {v}");
            }
        }
    }
    s
}

/// `qod deployed`'s line: what was recorded where.
pub fn deployment(record: &DeploymentRecord, location: &str) -> String {
    format!(
        "recorded deployment of {} on branch {} in `{location}`",
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
    )
}

/// The CSV columns of `qod export --format csv`.
pub const CSV_HEADER: [&str; 14] = [
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
    "excluded",
];

/// A run's CSV rows: one per metric (one with empty metric columns when it
/// has none).
pub fn csv_rows(r: &RunRecord) -> Vec<Vec<String>> {
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
    let row = |metric: &str, value: String, unit: &str| {
        let mut v = base.to_vec();
        v.extend([
            metric.to_owned(),
            value,
            unit.to_owned(),
            if r.excluded.is_some() { "true" } else { "" }.to_owned(),
        ]);
        v
    };
    if r.metrics.is_empty() {
        return vec![row("", String::new(), "")];
    }
    r.metrics
        .iter()
        .map(|m| row(&m.key, m.value.to_string(), m.unit.as_deref().unwrap_or("")))
        .collect()
}
