//! `qod backtest`: replays a policy over the stored history. Each run is
//! evaluated against only the runs before it, with the statuses the policy
//! itself gave them (so `include: pass` baselines follow the replayed
//! decisions, not the recorded ones). Pure: records in, outcomes out.

mod against;

pub use against::{differences, Differences};

use crate::decision::{ObjectiveStatus, OutcomeEffect, PluginOutcome, PluginStatus, Verdict};
use crate::evaluate;
use crate::plan::PlannedObjective;
use crate::policy::DecisionSpec;
use crate::protocol::Metric;
use crate::record::{RecordedObjective, RunRecord};
use serde::Serialize;
use std::collections::BTreeMap;

/// Earlier runs each replayed run sees at least (baselines that skip runs,
/// such as `include: pass`, may need more than their `last`).
pub const HISTORY_MIN: usize = 256;

/// One run as the policy would have decided it.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayedRun {
    /// Counted from 1, oldest first.
    pub run_number: usize,
    pub run_id: String,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub decision: Verdict,
    /// What was recorded when the run happened.
    pub recorded_decision: Verdict,
    pub objectives: Vec<ReplayedObjective>,
}

/// One objective in one replayed run.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayedObjective {
    pub id: String,
    pub status: ObjectiveStatus,
    pub effect: OutcomeEffect,
    pub reason: String,
}

/// How often an objective would have ended each way.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub no_data: usize,
    pub no_baseline: usize,
    pub inconclusive: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub acknowledged: usize,
    /// Runs the objective would have failed the gate in (its effect was `fail`).
    pub stopped: Vec<usize>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The whole replay.
#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    pub runs: usize,
    /// Runs whose replayed verdict differs from the recorded one.
    pub changed: usize,
    pub gate: BTreeMap<String, usize>,
    pub objectives: BTreeMap<String, Tally>,
    pub replayed: Vec<ReplayedRun>,
}

/// The plugin outcomes a run's record implies: each instance that measured,
/// with its metrics; instances whose plugin failed have none.
fn plugins_of(r: &RunRecord) -> Vec<PluginOutcome> {
    let mut out: Vec<PluginOutcome> = Vec::new();
    for m in &r.metrics {
        let idx = match out.iter().position(|p| p.instance == m.instance) {
            Some(i) => i,
            None => {
                let recorded = r.plugins.iter().find(|p| p.instance == m.instance);
                let mut p = PluginOutcome::new(
                    m.instance.clone(),
                    recorded.map(|p| p.name.clone()).unwrap_or_default(),
                    String::new(),
                    PluginStatus::Ok,
                );
                p.duration_ms = recorded.map_or(0, |p| p.duration_ms);
                out.push(p);
                out.len() - 1
            }
        };
        out[idx].metrics.push(Metric {
            name: m.name.clone(),
            value: m.value,
            unit: m.unit.clone(),
            better: None,
            samples: (!m.samples.is_empty()).then(|| m.samples.clone()),
            instrument: m.instrument.clone(),
        });
    }
    out
}

/// What a recorded run was compared with: its base, for a change (only its
/// merge-base itself is known to be an ancestor, without the repository),
/// preferring runs of its machine.
fn target_of(run: &RunRecord) -> evaluate::Target {
    let source = &run.source;
    let base = crate::ci::is_change(source)
        .then(|| source.base_branch.clone())
        .flatten()
        .map(|branch| crate::ci::ChangeBase {
            branch,
            merge_base: source.merge_base.clone(),
            ancestors: source.merge_base.iter().cloned().collect(),
            merge_base_time: None,
        });
    let target = evaluate::Target::new(source, base);
    match &run.runner {
        Some(r) => target.on(r),
        None => target,
    }
}

/// Replays `objectives` over `runs` (oldest first).
pub fn replay(
    objectives: &[PlannedObjective],
    strategy: &DecisionSpec,
    runs: &[RunRecord],
) -> Backtest {
    // The history as the policy would have left it, newest first: as many
    // runs as the baselines could want, skipped runs included.
    let window = objectives
        .iter()
        .map(|o| o.baseline.last as usize * 8)
        .max()
        .unwrap_or(0)
        .clamp(HISTORY_MIN, crate::evaluate::baseline::MAX_SCAN);
    let mut history: Vec<RunRecord> = Vec::with_capacity(window + 1);
    let mut replayed = Vec::with_capacity(runs.len());
    let mut tallies: BTreeMap<String, Tally> = objectives
        .iter()
        .map(|o| (o.spec.id.clone(), Tally::default()))
        .collect();
    let mut gate: BTreeMap<String, usize> = BTreeMap::new();
    let mut changed = 0;
    for (i, run) in runs.iter().enumerate() {
        let plugins = plugins_of(run);
        let at = chrono::DateTime::parse_from_rfc3339(&run.started_at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|_| crate::time::now());
        let baselines = evaluate::Chooser::new(objectives, &target_of(run), at)
            .offer_all(&history)
            .finish();
        let eval = evaluate::evaluate(
            objectives,
            strategy,
            &plugins,
            &baselines,
            &evaluate::Comparisons {
                unavailable: Some("side-by-side comparisons are not replayed".into()),
                ..Default::default()
            },
        );
        let mut as_replayed = run.clone();
        as_replayed.decision = eval.verdict;
        as_replayed.score = eval.score;
        as_replayed.objectives = eval
            .objectives
            .iter()
            .map(RecordedObjective::from_outcome)
            .collect();
        history.insert(0, as_replayed);
        history.truncate(window);
        for o in &eval.objectives {
            let t = tallies.entry(o.id.clone()).or_default();
            match o.status {
                ObjectiveStatus::Pass => t.pass += 1,
                ObjectiveStatus::Warn => t.warn += 1,
                ObjectiveStatus::Fail => t.fail += 1,
                ObjectiveStatus::NoData => t.no_data += 1,
                ObjectiveStatus::NoBaseline => t.no_baseline += 1,
                ObjectiveStatus::Inconclusive => t.inconclusive += 1,
                ObjectiveStatus::Acknowledged => t.acknowledged += 1,
            }
            if o.effect == OutcomeEffect::Fail {
                t.stopped.push(i + 1);
            }
        }
        *gate
            .entry(verdict_name(eval.verdict).to_owned())
            .or_default() += 1;
        if eval.verdict != run.decision {
            changed += 1;
        }
        replayed.push(ReplayedRun {
            run_number: i + 1,
            run_id: run.run_id.0.clone(),
            started_at: run.started_at.clone(),
            revision: run.source.revision.clone(),
            decision: eval.verdict,
            recorded_decision: run.decision,
            objectives: eval
                .objectives
                .into_iter()
                .map(|o| ReplayedObjective {
                    id: o.id,
                    status: o.status,
                    effect: o.effect,
                    reason: o.reason,
                })
                .collect(),
        });
    }
    Backtest {
        runs: runs.len(),
        changed,
        gate,
        objectives: tallies,
        replayed,
    }
}

pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Verdict;
    use crate::ids::{InstanceId, RunId};
    use crate::record::RecordedMetric;

    /// A plan of `objectives` over a local plugin `emit` measuring `t` (ms).
    fn plan(objectives: &str) -> (tempfile::TempDir, crate::plan::Plan) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("plugins/emit")).unwrap();
        std::fs::write(
            dir.path().join("plugins/emit/plugin.json"),
            r#"{"manifest_version": 1, "name": "emit", "version": "1", "protocol_versions": [1],
                "command": ["true"], "metrics": [{"name": "t", "unit": "ms", "better": "lower"}]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("qod.yaml"),
            format!("version: 1\nplugins:\n  bench: {{uses: emit}}\nobjectives:\n{objectives}"),
        )
        .unwrap();
        let plan = crate::plan::load(None, dir.path()).expect("a valid plan");
        (dir, plan)
    }

    fn run(i: usize, t: Option<f64>, recorded: Verdict) -> RunRecord {
        RunRecord {
            record_version: 1,
            run_id: RunId::new(format!("{i:08}")),
            started_at: format!("2026-01-01T00:{:02}:{:02}.000Z", i / 60, i % 60),
            finished_at: format!("2026-01-01T00:{:02}:{:02}.500Z", i / 60, i % 60),
            pipeline: Default::default(),
            source: Default::default(),
            decision: recorded,
            score: 100.0,
            metrics: t
                .map(|value| RecordedMetric {
                    key: "bench.t".into(),
                    instance: InstanceId::new("bench"),
                    name: "t".into(),
                    value,
                    unit: Some("ms".into()),
                    samples: vec![],
                    instrument: None,
                })
                .into_iter()
                .collect(),
            objectives: vec![],
            plugins: vec![],
            cancelled: false,
            runner: None,
            excluded: None,
        }
    }

    /// Name, objectives, values, statuses, verdicts.
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [Option<f64>],
        &'a [ObjectiveStatus],
        &'a [Verdict],
    );

    #[test]
    fn replay_decides_each_run_against_the_runs_before_it() {
        use ObjectiveStatus as S;
        let absolute = "  - {id: fast, metric: bench.t, pass: '< 100 ms'}\n";
        let relative =
            "  - {id: steady, metric: bench.t, pass: '<= baseline * 1.2', baseline: {last: 3}}\n";
        let warn_only = "  - {id: soft, metric: bench.t, pass: '< 100 ms', mode: warn}\n";
        #[rustfmt::skip]
        let table: &[Case] = &[
            ("an absolute limit judges each value alone", absolute,
             &[Some(50.0), Some(150.0), Some(90.0)],
             &[S::Pass, S::Fail, S::Pass],
             &[Verdict::Pass, Verdict::Fail, Verdict::Pass]),
            ("a missing value is no data, which fails by default", absolute,
             &[Some(50.0), None],
             &[S::Pass, S::NoData],
             &[Verdict::Pass, Verdict::Fail]),
            ("the first run has no baseline; later ones compare with the ones before", relative,
             &[Some(100.0), Some(110.0), Some(200.0), Some(105.0)],
             &[S::NoBaseline, S::Pass, S::Fail, S::Pass],
             &[Verdict::Warn, Verdict::Pass, Verdict::Fail, Verdict::Pass]),
            ("mode warn never stops a run", warn_only,
             &[Some(150.0)],
             &[S::Fail],
             &[Verdict::Warn]),
        ];
        for (name, objectives, values, statuses, verdicts) in table {
            let (_dir, plan) = plan(objectives);
            let runs: Vec<RunRecord> = values
                .iter()
                .enumerate()
                .map(|(i, v)| run(i, *v, Verdict::Pass))
                .collect();
            let b = replay(&plan.objectives, &plan.policy.policy.decision, &runs);
            assert_eq!(b.runs, runs.len(), "{name}");
            let got: Vec<S> = b.replayed.iter().map(|r| r.objectives[0].status).collect();
            assert_eq!(&got, statuses, "{name}");
            let got: Vec<Verdict> = b.replayed.iter().map(|r| r.decision).collect();
            assert_eq!(&got, verdicts, "{name}");
            let changed = verdicts.iter().filter(|v| **v != Verdict::Pass).count();
            assert_eq!(b.changed, changed, "{name}: differ from the recorded pass");
            let id = &plan.objectives[0].spec.id;
            let stopped: Vec<usize> = b
                .replayed
                .iter()
                .filter(|r| r.objectives[0].effect == OutcomeEffect::Fail)
                .map(|r| r.run_number)
                .collect();
            assert_eq!(b.objectives[id].stopped, stopped, "{name}");
            assert_eq!(
                b.gate.values().sum::<usize>(),
                runs.len(),
                "{name}: every run counted once"
            );
        }
    }

    #[test]
    fn an_include_pass_baseline_follows_the_replayed_decisions() {
        // Run 2 is recorded as a pass but replays as a fail; with
        // `include: pass`, run 3's baseline must leave it out.
        let (_dir, plan) = plan(
            "  - {id: steady, metric: bench.t, pass: '<= baseline * 1.2', baseline: {last: 1, include: pass}}\n",
        );
        let runs = vec![
            run(0, Some(100.0), Verdict::Pass),
            run(1, Some(200.0), Verdict::Pass),
            run(2, Some(150.0), Verdict::Pass),
        ];
        let b = replay(&plan.objectives, &plan.policy.policy.decision, &runs);
        let statuses: Vec<ObjectiveStatus> =
            b.replayed.iter().map(|r| r.objectives[0].status).collect();
        assert_eq!(
            statuses,
            [
                ObjectiveStatus::NoBaseline,
                ObjectiveStatus::Fail,
                ObjectiveStatus::Fail
            ],
            "run 3 (150 ms) is compared with run 1 (100 ms), not run 2 (200 ms)"
        );
    }

    #[test]
    fn a_run_the_test_could_not_yet_weigh_joins_later_baselines() {
        // Run 3 strays past the tolerance while the test has two baseline
        // runs of the five it needs: inconclusive, not judged, so run 7's
        // test weighs all six runs before it (leaving it out would
        // understate how runs vary).
        let (_dir, plan) = plan(
            "  - {id: steady, metric: bench.t, pass: '<= +10%', test: {method: welch-t}, baseline: {last: 10}}\n",
        );
        let values = [100.0, 104.0, 115.0, 96.0, 100.0, 105.0, 101.0];
        let runs: Vec<RunRecord> = values
            .iter()
            .enumerate()
            .map(|(i, v)| run(i, Some(*v), Verdict::Pass))
            .collect();
        let b = replay(&plan.objectives, &plan.policy.policy.decision, &runs);
        let third = &b.replayed[2].objectives[0];
        assert_eq!(
            third.status,
            ObjectiveStatus::Inconclusive,
            "{}",
            third.reason
        );
        let last = &b.replayed[6].objectives[0];
        assert!(last.reason.contains("mean of last 6"), "{}", last.reason);
    }
}
