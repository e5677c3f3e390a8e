//! `qod report`: one self-contained HTML file (styles, script and data
//! inline; nothing fetched) with the latest decision, one chart per metric
//! and the recent runs, and the same charts as standalone SVG files.

use super::chart::{self, escape, ChartPoint, ChartSeries, Limit};
use crate::decision::{ObjectiveStatus, PluginStatus, Verdict};
use crate::record::RunRecord;
use crate::units::format_with_unit;

/// Chart size in pixels.
pub const CHART_SIZE: (u32, u32) = (640, 300);

/// Runs searched for change points at most (the newest), to keep a report
/// of a long history fast.
pub const CHANGE_POINT_RUNS: usize = 1000;

/// Deployments read at most (the newest).
pub const DEPLOYMENTS_MAX: usize = 200;

/// A metric key as a file name: letters, digits, `.`, `_` and `-` kept,
/// anything else as `_`.
pub fn file_stem(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Failed plugins listed at most, newest first.
const FAILED_PLUGINS_MAX: usize = 20;

fn rank(s: ObjectiveStatus) -> u8 {
    match s {
        ObjectiveStatus::Pass => 0,
        ObjectiveStatus::Acknowledged => 1,
        ObjectiveStatus::NoBaseline => 1,
        ObjectiveStatus::Inconclusive => 2,
        ObjectiveStatus::NoData => 2,
        ObjectiveStatus::Warn => 3,
        ObjectiveStatus::Fail => 4,
    }
}

/// The metrics of `runs` (newest first) that match `only` (all when it is
/// empty), with their units: in the order the newest run lists them, then
/// those only older runs have.
pub fn metric_keys(runs: &[RunRecord], only: &[glob::Pattern]) -> Vec<(String, Option<String>)> {
    let mut keys: Vec<(String, Option<String>)> = Vec::new();
    for r in runs {
        for m in &r.metrics {
            if !keys.iter().any(|(k, _)| *k == m.key)
                && (only.is_empty() || only.iter().any(|p| p.matches(&m.key)))
            {
                keys.push((m.key.clone(), m.unit.clone()));
            }
        }
    }
    keys
}

/// One series per metric of [`metric_keys`], points oldest first. `runs` is
/// newest first; `deployments` are `(at, revision)`.
pub fn series(
    runs: &[RunRecord],
    deployments: &[(String, String)],
    only: &[glob::Pattern],
) -> Vec<ChartSeries> {
    // The line of every chart is one branch: the one most runs that are no
    // pull request were recorded on (a tie goes to the newest).
    let mut counts: Vec<(Option<&str>, usize)> = Vec::new();
    for r in runs.iter().filter(|r| !crate::ci::is_change(&r.source)) {
        let b = r.source.branch.as_deref();
        match counts.iter_mut().find(|(x, _)| *x == b) {
            Some((_, n)) => *n += 1,
            None => counts.push((b, 1)),
        }
    }
    let line_branch = counts
        .iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .and_then(|(b, _)| *b);
    let by_id: std::collections::HashMap<&str, &RunRecord> =
        runs.iter().map(|r| (r.run_id.0.as_str(), r)).collect();
    metric_keys(runs, only)
        .into_iter()
        .map(|(key, unit)| {
            let points: Vec<ChartPoint> = runs
                .iter()
                .rev()
                .filter_map(|r| {
                    let m = r.metric(&key)?;
                    let objectives: Vec<_> =
                        r.objectives.iter().filter(|o| o.metric == key).collect();
                    // An excluded run is drawn apart, as a point off the line.
                    let on_line = !crate::ci::is_change(&r.source)
                        && r.excluded.is_none()
                        && (line_branch.is_none() || r.source.branch.as_deref() == line_branch);
                    Some(ChartPoint {
                        run_id: r.run_id.to_string(),
                        at: r.started_at.clone(),
                        revision: r.source.revision.clone(),
                        runner: r.runner.as_ref().map(|m| m.fingerprint.clone()),
                        value: m.value,
                        status: objectives.iter().map(|o| o.status).max_by_key(|s| rank(*s)),
                        limits: objectives
                            .iter()
                            .map(|o| Limit {
                                objective: o.id.clone(),
                                baseline: o.baseline,
                                target: o.target,
                            })
                            .collect(),
                        on_line,
                        label: (!on_line).then(|| off_line_label(r)),
                    })
                })
                .collect();
            // A deployment sits between the last run before it and the next
            // (RFC 3339 times in UTC compare as strings).
            let deployments = deployments
                .iter()
                .filter_map(|(at, rev)| {
                    let before = points
                        .iter()
                        .filter(|p| p.at.as_str() <= at.as_str())
                        .count();
                    (before > 0 && before < points.len())
                        .then(|| (before as f64 - 0.5, rev.clone()))
                })
                .collect();
            // Change points of the newest runs (E-divisive; see `qod trend`).
            // Only the line's runs: another branch's would be a change.
            let on_line: Vec<usize> = (0..points.len()).filter(|&i| points[i].on_line).collect();
            let from = on_line.len().saturating_sub(CHANGE_POINT_RUNS);
            let values: Vec<f64> = on_line[from..].iter().map(|&i| points[i].value).collect();
            let change_points =
                crate::changepoint::detect(&values, crate::changepoint::Params::default())
                    .iter()
                    .map(|c| on_line[c.index + from])
                    .collect();
            // Where the line's runs moved to another machine.
            let runner_changes = on_line
                .windows(2)
                .filter(|w| {
                    let (a, b) = (&points[w[0]].runner, &points[w[1]].runner);
                    a.is_some() && b.is_some() && a != b
                })
                .map(|w| w[1])
                .collect();
            // Where an acknowledged change re-baselines the line.
            let from_of = |i: usize| -> Option<String> {
                let r = by_id.get(points[i].run_id.as_str())?;
                r.objectives
                    .iter()
                    .filter(|o| o.metric == key)
                    .find_map(|o| o.acknowledgement.as_ref()?.from.clone())
            };
            let mut rebaselines = Vec::new();
            let mut last: Option<String> = None;
            for &i in &on_line {
                let from = from_of(i);
                if from.is_some() && from != last {
                    rebaselines.push((i, from.clone().unwrap_or_default()));
                }
                last = from;
            }
            ChartSeries {
                key,
                unit,
                points,
                deployments,
                change_points,
                runner_changes,
                rebaselines,
            }
        })
        .collect()
}

/// What a run off the line is, for its hover text.
fn off_line_label(r: &RunRecord) -> String {
    if let Some(e) = &r.excluded {
        return format!("excluded from baselines: {}", e.reason);
    }
    let branch = r.source.branch.as_deref().unwrap_or("an unknown branch");
    match (r.source.pull_request, &r.source.base_branch) {
        (Some(n), Some(base)) => format!("pull request #{n} ({branch} into {base})"),
        (Some(n), None) => format!("pull request #{n} ({branch})"),
        _ => format!("branch {branch}"),
    }
}

/// The page.
pub fn page(runs_newest_first: &[RunRecord], series: &[ChartSeries], store: &str) -> String {
    let mut html = String::with_capacity(64 * 1024);
    html.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<title>qod report</title><style>",
        include_str!("report.css"),
        "</style></head>\n<body data-ready=\"0\" data-errors=\"0\">\n"
    ));
    html.push_str(&format!(
        "<header><h1>qod report</h1><p class=\"meta\">{} run{} from <code>{}</code></p></header>\n",
        runs_newest_first.len(),
        if runs_newest_first.len() == 1 {
            ""
        } else {
            "s"
        },
        escape(store)
    ));
    // The latest decision of the history's own line: the newest run that
    // is no pull or merge request (those are judged against their base),
    // else the newest run.
    let latest = runs_newest_first
        .iter()
        .find(|r| !crate::ci::is_change(&r.source))
        .or(runs_newest_first.first());
    match latest {
        Some(latest) => html.push_str(&latest_decision(latest)),
        None => html.push_str("<section id=\"latest\"><p>The store holds no runs yet: run <code>qod run</code> first.</p></section>\n"),
    }
    html.push_str("<section id=\"charts\"><h2>Metrics</h2><p class=\"legend\"><span class=\"pass\">●</span> pass <span class=\"warn\">●</span> warn <span class=\"fail\">●</span> fail <span class=\"none\">●</span> no objective · ◆ another branch or a pull request, off the line · shaded: from the baseline to the target · dashed: the target · purple: a deployment · orange dashed: a change point · blue dotted: another runner from here · green dashed: an acknowledged change, the baseline anew from here · hover a point for its run and revision</p><div class=\"grid\">\n");
    // What the latest decision failed on first, then what it gated; the
    // metrics no objective uses are folded away.
    let rank = |key: &str| -> u8 {
        let Some(r) = latest else { return 2 };
        let on: Vec<_> = r.objectives.iter().filter(|o| o.metric == key).collect();
        if on.iter().any(|o| o.status == ObjectiveStatus::Fail) {
            0
        } else if on
            .iter()
            .any(|o| matches!(o.status, ObjectiveStatus::Warn | ObjectiveStatus::NoData))
        {
            1
        } else if !on.is_empty() {
            2
        } else {
            3
        }
    };
    let mut ordered: Vec<&ChartSeries> = series.iter().collect();
    ordered.sort_by_key(|s| rank(&s.key));
    let figure = |s: &ChartSeries| {
        format!(
            "<figure class=\"chart\" id=\"chart-{}\">{}</figure>\n",
            escape(&s.key),
            chart::svg(s, CHART_SIZE.0, CHART_SIZE.1)
        )
    };
    let (gated, ungated): (Vec<&ChartSeries>, Vec<&ChartSeries>) = ordered
        .into_iter()
        .partition(|s| rank(&s.key) < 3 || latest.is_none());
    for s in &gated {
        html.push_str(&figure(s));
    }
    html.push_str("</div>");
    if !ungated.is_empty() {
        html.push_str(&format!(
            "<details class=\"ungated\"><summary>{} metric{} no objective uses</summary><div class=\"grid\">\n",
            ungated.len(),
            if ungated.len() == 1 { "" } else { "s" }
        ));
        for s in &ungated {
            html.push_str(&figure(s));
        }
        html.push_str("</div></details>");
    }
    html.push_str("</section>\n");
    html.push_str(&runs_table(runs_newest_first));
    html.push_str(&failed_plugins(runs_newest_first));
    html.push_str("<script>");
    html.push_str(include_str!("report.js"));
    html.push_str("</script>\n</body></html>\n");
    html
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
    }
}

fn latest_decision(r: &RunRecord) -> String {
    let mut s = format!(
        "<section id=\"latest\"><h2>Latest decision: <span class=\"badge {c}\">{c}</span> <span class=\"score\">score {}</span></h2><p class=\"meta\">run <code>{}</code> at {}{}{}{}</p>\n",
        crate::units::format_value(r.score),
        escape(&r.run_id.0),
        escape(&r.started_at),
        r.source.branch.as_deref().map(|b| format!(" on <code>{}</code>", escape(b))).unwrap_or_default(),
        r.source.revision.as_deref().map(|v| format!(", revision <code>{}</code>", escape(&v[..v.len().min(12)]))).unwrap_or_default(),
        if crate::ci::is_change(&r.source) { " (a pull or merge request: no run of a branch is recorded)" } else { "" },
        c = verdict_class(r.decision),
    );
    s.push_str("<table class=\"objectives\"><thead><tr><th>objective</th><th>status</th><th>value</th><th>target</th><th>reason</th></tr></thead><tbody>\n");
    // What failed first.
    let mut objectives: Vec<_> = r.objectives.iter().collect();
    objectives.sort_by_key(|o| match o.status {
        ObjectiveStatus::Fail => 0,
        ObjectiveStatus::Warn | ObjectiveStatus::NoData => 1,
        _ => 2,
    });
    for o in objectives {
        let unit = r
            .metric(&o.metric)
            .and_then(|m| m.unit.clone())
            .unwrap_or_default();
        let status = serde_json::to_value(o.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        s.push_str(&format!(
            "<tr class=\"{status}\"><td><code>{}</code></td><td>{status}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&o.id),
            // The unit comes from a plugin: escaped like any of its text.
            escape(&o.value.map(|v| format_with_unit(v, &unit)).unwrap_or_else(|| "–".into())),
            escape(&o.target.map(|v| format_with_unit(v, &unit)).unwrap_or_else(|| "–".into())),
            escape(o.reason.as_deref().unwrap_or("")),
        ));
    }
    s.push_str("</tbody></table></section>\n");
    s
}

/// The runs as JSON for the paged table the script draws.
fn runs_table(runs: &[RunRecord]) -> String {
    let rows: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            let failed: Vec<&str> = r
                .objectives
                .iter()
                .filter(|o| matches!(o.status, ObjectiveStatus::Fail | ObjectiveStatus::Warn))
                .map(|o| o.id.as_str())
                .collect();
            serde_json::json!({
                "id": r.run_id.to_string(),
                "at": r.started_at,
                "branch": r.source.branch,
                "revision": r.source.revision.as_deref().map(|v| &v[..v.len().min(12)]),
                "decision": verdict_class(r.decision),
                "score": r.score,
                "flagged": failed.join(", "),
            })
        })
        .collect();
    // `</` cannot end the script element early.
    let data = serde_json::to_string(&rows)
        .expect("serializes")
        .replace("</", "<\\/");
    format!(
        "<section id=\"runs\"><h2>Runs</h2><table class=\"runs\"><thead><tr><th>run</th><th>started</th><th>branch</th><th>revision</th><th>decision</th><th>score</th><th>warned or failed</th></tr></thead><tbody></tbody></table>\
<nav class=\"pager\"><button type=\"button\" data-page=\"prev\">newer</button> <span class=\"page\"></span> <button type=\"button\" data-page=\"next\">older</button></nav>\
<script type=\"application/json\" id=\"runs-data\">{data}</script></section>\n"
    )
}

fn failed_plugins(runs: &[RunRecord]) -> String {
    let mut s = String::from("<section id=\"failed-plugins\"><h2>Failed plugins</h2>\n");
    let mut n = 0;
    for r in runs {
        for p in r.plugins.iter().filter(|p| p.status != PluginStatus::Ok) {
            if n == FAILED_PLUGINS_MAX {
                break;
            }
            n += 1;
            let status = serde_json::to_value(p.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            s.push_str(&format!(
                "<details class=\"failed-plugin\"><summary><code>{}</code> (<code>{}</code>) in run <code>{}</code>: {}{}</summary>{}</details>\n",
                escape(&p.instance.0),
                escape(&p.name),
                escape(&r.run_id.0),
                escape(&status),
                p.error.as_deref().map(|e| format!(" — {}", escape(e))).unwrap_or_default(),
                p.stderr_tail
                    .as_deref()
                    .filter(|t| !t.is_empty())
                    .map(|t| format!("<pre>{}</pre>", escape(t.trim_end())))
                    .unwrap_or_else(|| "<p>(no stderr)</p>".into()),
            ));
        }
    }
    if n == 0 {
        s.push_str("<p>None in these runs.</p>\n");
    }
    s.push_str("</section>\n");
    s
}
