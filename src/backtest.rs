//! `qod backtest`: replays a policy over the stored history. Each run is
//! evaluated against only the runs before it, with the statuses the policy
//! itself gave them (so `include: pass` baselines follow the replayed
//! decisions, not the recorded ones). Pure: records in, outcomes out.

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
    /// Runs the objective would have failed the gate in (its effect was `fail`).
    pub stopped: Vec<usize>,
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
                out.push(PluginOutcome {
                    instance: m.instance.clone(),
                    name: recorded.map(|p| p.name.clone()).unwrap_or_default(),
                    version: String::new(),
                    status: PluginStatus::Ok,
                    duration_ms: recorded.map_or(0, |p| p.duration_ms),
                    exit_code: None,
                    signal: None,
                    metrics: Vec::new(),
                    summary: None,
                    error: None,
                    notes: Vec::new(),
                    stderr_tail: None,
                    repeats: None,
                });
                out.len() - 1
            }
        };
        out[idx].metrics.push(Metric {
            name: m.name.clone(),
            value: m.value,
            unit: m.unit.clone(),
            better: None,
            samples: (!m.samples.is_empty()).then(|| m.samples.clone()),
        });
    }
    out
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
        let baselines = evaluate::Chooser::new(objectives, run.source.branch.as_deref(), at)
            .offer_all(&history)
            .finish();
        let eval = evaluate::evaluate(objectives, strategy, &plugins, &baselines);
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
