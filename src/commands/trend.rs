//! `qod trend`: change points in each metric's history (E-divisive means).

use super::{metric_patterns, scan_included, CommandError, Env};
use crate::record::RunRecord;
use serde::Serialize;

/// One metric's history and the change points found in it.
#[derive(Debug, Clone, Serialize)]
pub struct MetricTrend {
    pub metric: String,
    pub unit: Option<String>,
    /// Runs that measured it.
    pub runs: usize,
    pub change_points: Vec<TrendPoint>,
}

/// One change point of one metric.
#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    /// The first run after the change, counted from 1 in the runs read.
    pub run_number: usize,
    pub run_id: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_revision: Option<String>,
    pub mean_before: f64,
    pub mean_after: f64,
    pub change_pct: f64,
    pub magnitude: f64,
    pub pvalue: f64,
    /// What changed there: `code` (another revision on the same runner),
    /// `runner` (the machine's fingerprint changed: not the code), or
    /// `same_revision` (the revision did not change: not the code either).
    pub cause: &'static str,
    /// The runner fingerprints of the runs on each side, where recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_after: Option<String>,
}

/// Why the series changed between runs `before` and `after`: another
/// runner, the same revision, or (otherwise) the code.
fn cause(before: &RunRecord, after: &RunRecord) -> &'static str {
    let fp = |r: &RunRecord| r.runner.as_ref().map(|m| m.fingerprint.clone());
    match (
        (fp(before), fp(after)),
        (&before.source.revision, &after.source.revision),
    ) {
        ((Some(a), Some(b)), _) if a != b => "runner",
        (_, (Some(a), Some(b))) if a == b => "same_revision",
        _ => "code",
    }
}

/// What `qod trend` found.
#[derive(Debug, Clone)]
pub struct Trend {
    pub location: String,
    pub metrics: Vec<MetricTrend>,
    pub warnings: Vec<String>,
}

/// What to analyse.
#[derive(Debug, Clone)]
pub struct TrendQuery<'a> {
    pub metrics: &'a [String],
    pub last: usize,
    pub branch: Option<&'a str>,
    pub params: crate::changepoint::Params,
}

/// The change points of each metric in the newest `q.last` runs.
pub async fn trend(env: &Env, location: &str, q: TrendQuery<'_>) -> Result<Trend, CommandError> {
    let only = metric_patterns(q.metrics)?;
    let store = super::open_existing(location, env).await?;
    let mut read = scan_included(&store, q.last.max(1), |r| super::in_series(r, q.branch)).await?;
    let keys = crate::report::html::metric_keys(&read.runs, &only);
    read.runs.reverse();
    let metrics = keys
        .into_iter()
        .map(|(key, unit)| {
            let measured: Vec<(&RunRecord, f64)> = read
                .runs
                .iter()
                .filter_map(|r| r.metric(&key).map(|m| (r, m.value)))
                .collect();
            let values: Vec<f64> = measured.iter().map(|(_, v)| *v).collect();
            let change_points = crate::changepoint::detect(&values, q.params)
                .iter()
                .map(|c| {
                    let (r, _) = measured[c.index];
                    let before = measured[c.index - 1].0;
                    let fp = |r: &RunRecord| r.runner.as_ref().map(|m| m.fingerprint.clone());
                    TrendPoint {
                        run_number: c.index + 1,
                        run_id: r.run_id.to_string(),
                        at: r.started_at.clone(),
                        revision: r.source.revision.clone(),
                        previous_revision: measured[c.index - 1].0.source.revision.clone(),
                        mean_before: c.stats.mean_before,
                        mean_after: c.stats.mean_after,
                        change_pct: c.stats.forward_change() * 100.0,
                        magnitude: c.stats.magnitude(),
                        pvalue: c.stats.pvalue,
                        cause: cause(before, r),
                        runner_before: fp(before),
                        runner_after: fp(r),
                    }
                })
                .collect();
            MetricTrend {
                metric: key,
                unit,
                runs: values.len(),
                change_points,
            }
        })
        .collect();
    Ok(Trend {
        location: read.location,
        metrics,
        warnings: read.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(revision: Option<&str>, runner: Option<&str>) -> RunRecord {
        let mut r: RunRecord = serde_json::from_value(serde_json::json!({
            "record_version": 1, "run_id": "r", "started_at": "2026-01-01T00:00:00Z",
            "finished_at": "2026-01-01T00:00:01Z", "pipeline": {"provider": "local"},
            "source": {}, "decision": "pass", "score": 100.0, "metrics": [],
            "objectives": [], "plugins": []
        }))
        .expect("a record");
        r.source.revision = revision.map(str::to_owned);
        r.runner = runner.map(|f| crate::machine::Runner {
            fingerprint: f.to_owned(),
            ..Default::default()
        });
        r
    }

    #[test]
    fn a_change_point_says_whether_the_code_could_be_why() {
        let (a, b) = (Some("aaaaaaa"), Some("bbbbbbb"));
        assert_eq!(cause(&run(a, Some("x")), &run(b, Some("y"))), "runner");
        assert_eq!(
            cause(&run(a, Some("x")), &run(a, Some("x"))),
            "same_revision"
        );
        assert_eq!(cause(&run(a, None), &run(a, None)), "same_revision");
        assert_eq!(cause(&run(a, Some("x")), &run(b, Some("x"))), "code");
        // Without runners recorded, another revision is the code's.
        assert_eq!(cause(&run(a, None), &run(b, Some("x"))), "code");
    }
}
