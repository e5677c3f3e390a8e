//! `qod calibrate` for objectives judged against history: the instance run
//! many times in a row on this runner, then the objective's own rule —
//! its baseline (`last`, `aggregate`, `include`), tolerance, `test:` and
//! `confirm:` — replayed over that series with the gate's own evaluation,
//! as `benches/noise.rs` replays a recorded one: each run in turn is judged
//! against the runs before it (as they were judged), with a change of r
//! injected into it and into the runs that confirm it.

use super::{
    recommend_target, smallest_detected, wilson, Detection, ObjectiveCalibration, CHANGES,
};
use crate::decision::{ObjectiveStatus, PluginOutcome};
use crate::evaluate::{self, Baselines, Chooser, Target};
use crate::ids::RunId;
use crate::plan::{PlannedInstance, PlannedObjective};
use crate::policy::criterion::Op;
use crate::policy::DecisionSpec;
use crate::record::{RecordedMetric, RecordedObjective, RunRecord};

/// A history objective — one row, or a pattern objective's row per metric,
/// judged together as the gate judges them (Holm over the family) — and
/// what the gate runs it with.
pub struct Rule<'a> {
    pub rows: &'a [PlannedObjective],
    pub instance: &'a PlannedInstance,
    pub strategy: &'a DecisionSpec,
}

/// Calibrates each row of `rule` on `series`: each gate run's invocations
/// (more than one with `repeat:`), oldest first; a change is injected
/// into one row's metric at a time. `target_pct`: the change each row
/// should detect; `partial`: `--budget` cut the series short.
pub fn calibrate(
    rule: &Rule,
    series: &[Vec<PluginOutcome>],
    target_pct: impl Fn(&PlannedObjective) -> f64,
    partial: bool,
) -> Vec<ObjectiveCalibration> {
    let one = |i: usize| crate::runner::outcome_of(rule.instance, series[i].clone());
    let runs: Vec<PluginOutcome> = (0..series.len()).map(one).collect();
    let replay = Replay::new(rule, series, runs);
    (0..rule.rows.len())
        .map(|k| replay.calibrate_row(k, target_pct(&rule.rows[k]), partial))
        .collect()
}

impl Replay<'_> {
    /// The calibration of row `k`.
    fn calibrate_row(&self, k: usize, target_pct: f64, partial: bool) -> ObjectiveCalibration {
        let row = &self.rule.rows[k];
        let n = self.series.len();
        let values: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|p| p.metrics.iter().find(|m| m.name == row.metric.as_str()))
            .map(|m| m.value)
            .collect();
        let confirm = row.spec.confirm as usize;
        let last = if row.is_relative() {
            row.baseline.last as usize
        } else {
            0
        };
        let mut out = ObjectiveCalibration {
            id: row.spec.id.clone(),
            metric: row.spec.metric.clone(),
            against: super::Against::History,
            pairs: n as u32,
            partial,
            cv_pct: cv_pct(&values),
            false_alarm_pct: 0.0,
            false_alarm_interval_pct: [0.0, 100.0],
            detection: Vec::new(),
            mde_pct: None,
            recommendation: String::new(),
        };
        // A trial: a run with a full history before it and its
        // confirmations after.
        let trials: Vec<usize> = (last..n.saturating_sub(confirm)).collect();
        if values.len() < n || trials.len() < 10 {
            out.recommendation = if values.len() < n {
                format!(
                    "{} of {n} runs measured `{}`: calibrate again once the plugin measures it on every run",
                    values.len(),
                    out.metric
                )
            } else {
                format!(
                    "{n} runs leave {} judged with a full baseline: give `--runs` (and `--budget`) room for {} or more",
                    trials.len(),
                    last + confirm + 30
                )
            };
            return out;
        }
        let worse = worse_factor(row);
        let rate = |pct: f64| -> (f64, Option<u32>) {
            let change = (k, worse(pct));
            let mut at: Vec<u32> = trials
                .iter()
                .filter_map(|&i| self.fails(i, change))
                .collect();
            at.sort_unstable();
            let detected = at.len() as f64 * 100.0 / trials.len() as f64;
            (detected, at.get(at.len() / 2).copied())
        };
        let alarms = trials
            .iter()
            .filter(|&&i| self.fails(i, (k, 1.0)).is_some())
            .count();
        out.false_alarm_pct = alarms as f64 * 100.0 / trials.len() as f64;
        out.false_alarm_interval_pct = wilson(alarms, trials.len());
        for pct in CHANGES {
            let (detected, median) = rate(pct);
            out.detection.push(Detection {
                change_pct: pct,
                detected_pct: detected,
                median_pairs: median,
            });
        }
        out.mde_pct = smallest_detected(|pct| rate(pct).0);
        out.recommendation = recommend(&out, row, target_pct);
        out
    }
}

/// The run-to-run spread of `values`, in percent of their mean.
fn cv_pct(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if values.len() < 2 {
        return 0.0;
    }
    let m = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    if m == 0.0 {
        0.0
    } else {
        (sd / m * 100.0).abs()
    }
}

/// What a change of `pct` percent multiplies the row's values by: more
/// for a limit from above (`<`, `<=`), less for one from below.
fn worse_factor(row: &PlannedObjective) -> impl Fn(f64) -> f64 {
    let higher_is_worse = row
        .pass
        .first()
        .is_none_or(|c| matches!(c.op, Op::Lt | Op::Le));
    move |pct| {
        let f = 1.0 + pct / 100.0;
        if higher_is_worse {
            f
        } else {
            1.0 / f
        }
    }
}

/// The A/A series judged run by run as the gate would have: the baselines
/// each run was judged by, from the records of the runs before it.
struct Replay<'a> {
    rule: &'a Rule<'a>,
    series: &'a [Vec<PluginOutcome>],
    runs: Vec<PluginOutcome>,
    baselines: Vec<Baselines>,
}

impl<'a> Replay<'a> {
    fn new(
        rule: &'a Rule<'a>,
        series: &'a [Vec<PluginOutcome>],
        runs: Vec<PluginOutcome>,
    ) -> Replay<'a> {
        let now = crate::time::now();
        let target = Target::default();
        let mut replay = Replay {
            rule,
            series,
            baselines: Vec::with_capacity(runs.len()),
            runs,
        };
        let mut history: Vec<RunRecord> = Vec::with_capacity(replay.runs.len());
        for i in 0..replay.runs.len() {
            let at = now - chrono::Duration::seconds((replay.runs.len() - i) as i64);
            let baselines = Chooser::new(rule.rows, &target, at)
                .offer_all(&history)
                .finish();
            replay.baselines.push(baselines);
            let (judged, run, _) = replay.confirmed(i, None);
            history.insert(0, record(i, at, &run, judged));
        }
        replay
    }

    /// Run `i` judged as the gate judges it, with `change` — a row's index
    /// and the factor its metric is multiplied by — injected: the rows that
    /// fail are measured again (the next runs of the series, pooled with
    /// it as the gate pools them) up to their `confirm` times. The
    /// evaluation, the outcome it judged, and the runs that took.
    fn confirmed(
        &self,
        i: usize,
        change: Option<(usize, f64)>,
    ) -> (evaluate::Evaluation, PluginOutcome, u32) {
        let rows = self.rule.rows;
        let judge = |p: PluginOutcome| {
            let e = evaluate::evaluate(
                rows,
                self.rule.strategy,
                std::slice::from_ref(&p),
                &self.baselines[i],
                &evaluate::Comparisons::default(),
            );
            (e, p)
        };
        let changed = |p: &PluginOutcome| match change {
            Some((k, factor)) => scaled(p, rows[k].metric.as_str(), factor),
            None => p.clone(),
        };
        let (mut e, mut p) = judge(changed(&self.runs[i]));
        let mut took = 1;
        for attempt in 1..=self.series.len() - 1 - i {
            let failing = e.objectives.iter().zip(rows).any(|(o, r)| {
                o.status == ObjectiveStatus::Fail && r.spec.confirm as usize >= attempt
            });
            if !failing {
                break;
            }
            let pooled: Vec<PluginOutcome> = self.series[i..=i + attempt]
                .iter()
                .flatten()
                .map(changed)
                .collect();
            let n = pooled.len() as u32;
            (e, p) = judge(crate::runner::pool(
                pooled,
                n,
                self.rule.instance.repeat_aggregate,
            ));
            took = attempt as u32 + 1;
        }
        (e, p, took)
    }

    /// The runs it took row `k` to fail run `i` with `change` injected into
    /// its metric, if it fails.
    fn fails(&self, i: usize, change: (usize, f64)) -> Option<u32> {
        let (e, _, took) = self.confirmed(i, Some(change));
        (e.objectives[change.0].status == ObjectiveStatus::Fail).then_some(took)
    }
}

/// `p` with every value and sample of `metric` multiplied by `factor`.
fn scaled(p: &PluginOutcome, metric: &str, factor: f64) -> PluginOutcome {
    let mut p = p.clone();
    for m in p.metrics.iter_mut().filter(|m| m.name == metric) {
        m.value *= factor;
        for s in m.samples.iter_mut().flatten() {
            *s *= factor;
        }
    }
    p
}

/// The record of replayed run `i`, as later baselines read it.
fn record(
    i: usize,
    at: chrono::DateTime<chrono::Utc>,
    run: &PluginOutcome,
    judged: evaluate::Evaluation,
) -> RunRecord {
    let time = crate::time::rfc3339(at);
    RunRecord {
        record_version: crate::record::RECORD_VERSION,
        run_id: RunId::new(format!("calibration-{i:06}")),
        started_at: time.clone(),
        finished_at: time,
        pipeline: Default::default(),
        source: Default::default(),
        decision: judged.verdict,
        score: judged.score,
        metrics: RecordedMetric::of(run).collect(),
        objectives: judged
            .objectives
            .iter()
            .map(RecordedObjective::from_outcome)
            .collect(),
        plugins: Vec::new(),
        cancelled: false,
        runner: None,
        excluded: None,
    }
}

/// A relative tolerance's room, in percent (`<= +5%`: 5), if the row has
/// one.
pub fn tolerance_pct(row: &PlannedObjective) -> Option<f64> {
    row.pass
        .first()
        .and_then(|p| p.ratio())
        // `+5%` is a ratio of 1.05: 5, not 5.000000000000004.
        .map(|r| ((r - 1.0).abs() * 100.0 * 1e9).round() / 1e9)
}

/// What to change to reach `target_pct` with a history rule.
fn recommend(c: &ObjectiveCalibration, row: &PlannedObjective, target_pct: f64) -> String {
    let tolerance = tolerance_pct(row);
    let side_by_side =
        "compare side by side (`against: base`), which removes the drift between runs";
    let alarms = if c.false_alarm_pct > 1.0 {
        let fix = match (row.spec.test.is_some(), row.spec.confirm) {
            (false, _) => "add `test: { method: welch-t }` (it fails only beyond what runs vary)",
            (true, 0) => "add `confirm: 2` (a failing run is measured twice more)",
            _ => "the runner drifts more than the baseline's runs show",
        };
        format!(
            "{:.1}% of unchanged runs would fail on this runner ({fix}); ",
            c.false_alarm_pct
        )
    } else {
        String::new()
    };
    let Some(mde) = c.mde_pct else {
        if !row.is_relative() {
            let limit = row.pass.first().map_or("", |p| p.text.as_str());
            return format!(
                "{alarms}changes up to +100% stay inside `{limit}` on this runner: the limit catches only larger ones (a relative objective, `<= +5%`, catches smaller)"
            );
        }
        return format!(
            "{alarms}no change up to +100% is detected 95% of the time by this rule on this runner: quiet the measurement (instruction counts, `repeat:`) or {side_by_side}"
        );
    };
    let runs = match row.spec.confirm {
        0 => "from one run".to_owned(),
        k => format!("from one run and {k} confirming"),
    };
    alarms
        + &recommend_target(mde, target_pct, tolerance, &runs).unwrap_or_else(|| {
            format!(
                "+{mde}% is the smallest change detected 95% of the time {runs}: to reach +{target_pct}%, quiet the measurement (instruction counts, `repeat:`), raise `baseline.last` (now {}), or {side_by_side}",
                row.baseline.last
            )
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_spread_is_relative_to_the_mean() {
        let cv = super::cv_pct(&[99.0, 101.0, 99.0, 101.0]);
        assert!((cv - 1.1547).abs() < 1e-3, "{cv}");
        assert_eq!(super::cv_pct(&[5.0]), 0.0);
    }
}
