//! `RunRecord`: what the store keeps of each run. One JSON object per line,
//! so the files are JSON Lines that Athena and `jq` read as they are.

use crate::decision::{Decision, ObjectiveStatus, OutcomeEffect, PluginStatus, Verdict};
use crate::ids::{InstanceId, RunId};
use crate::protocol::{Pipeline, Source};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the record format.
pub const RECORD_VERSION: u32 = 1;

/// The most samples kept per metric, so one chatty plugin cannot bloat the store.
pub const MAX_SAMPLES_PER_METRIC: usize = 1000;

/// Bytes of a failed plugin's stderr a record keeps.
pub const STDERR_KEPT: usize = 2048;

/// The end of `text`, at most `max` bytes, cut at a character boundary.
fn tail_chars(text: &str, max: usize) -> String {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

/// One recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "qod run record")]
pub struct RunRecord {
    /// Version of this format; always 1.
    pub record_version: u32,
    /// The run's id (time-ordered).
    pub run_id: RunId,
    /// When the run started (RFC 3339, UTC); the record's date partition.
    pub started_at: String,
    /// When it finished (RFC 3339, UTC).
    pub finished_at: String,
    /// The CI pipeline.
    pub pipeline: Pipeline,
    /// The source gated.
    pub source: Source,
    /// The verdict.
    pub decision: Verdict,
    /// The score in percent.
    pub score: f64,
    /// Every metric measured, flat.
    pub metrics: Vec<RecordedMetric>,
    /// Every objective's outcome.
    pub objectives: Vec<RecordedObjective>,
    /// Every plugin instance's outcome.
    pub plugins: Vec<RecordedPlugin>,
    /// The run was cancelled (by a signal) before its plugins ended; it
    /// enters no baseline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    /// The machine the run measured on (absent in records written before
    /// qod recorded it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<crate::machine::Runner>,
    /// The run is excluded from baselines (`qod history exclude`): set by
    /// the commands that read the history (`history`, `export`), from the
    /// store's markers; never part of the record file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<Exclusion>,
}

/// Why a run was excluded from baselines, or taken back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Exclusion {
    /// The run.
    pub run_id: RunId,
    /// Why.
    pub reason: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who (the CI's initiator, or the user running qod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// One metric of a recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordedMetric {
    /// `<instance>.<metric>`: what objectives name.
    pub key: String,
    pub instance: InstanceId,
    pub name: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Up to 1000 individual measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<f64>,
    /// What measured the value, when the plugin said (`valgrind`, `perf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument: Option<String>,
}

/// One objective of a recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordedObjective {
    pub id: String,
    pub metric: String,
    pub status: ObjectiveStatus,
    pub effect: OutcomeEffect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// The baseline value the objective was compared with, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Why the objective ended as it did, as the decision said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The acknowledgement that judged the objective (so `qod validate`
    /// can tell one that no longer matches anything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<crate::decision::AcknowledgementOutcome>,
    /// Set when the objective's `test:` could not be taken for too few
    /// baseline runs: like a run with no baseline, it was not judged, and
    /// it joins later baselines (leaving out the runs that strayed before
    /// the test could weigh them would understate how runs vary).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_history: bool,
}

/// One plugin instance of a recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordedPlugin {
    pub instance: InstanceId,
    pub name: String,
    pub status: PluginStatus,
    pub duration_ms: u64,
    /// What went wrong (`kind: message`), when the plugin did not measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The end of the plugin's stderr (at most 2 KiB), when it did not measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_tail: Option<String>,
}

impl RecordedObjective {
    /// What a record keeps of an objective's outcome.
    pub fn from_outcome(o: &crate::decision::ObjectiveOutcome) -> RecordedObjective {
        RecordedObjective {
            id: o.id.clone(),
            metric: o.metric.clone(),
            status: o.status,
            effect: o.effect,
            value: o.value,
            target: o.target,
            baseline: o.baseline.as_ref().and_then(|b| b.value),
            reason: Some(o.reason.clone()),
            acknowledgement: o.acknowledgement.clone(),
            awaiting_history: o.status == crate::decision::ObjectiveStatus::Inconclusive
                && o.test
                    .as_ref()
                    // The test needs `min_runs` runs, and never fewer than 3.
                    .is_some_and(|t| {
                        t.significant.is_none() && t.n_baseline < t.min_runs.max(3) as usize
                    }),
        }
    }
}

impl RecordedMetric {
    /// What a record keeps of a plugin outcome's metrics.
    pub fn of(p: &crate::decision::PluginOutcome) -> impl Iterator<Item = RecordedMetric> + '_ {
        p.metrics.iter().map(move |m| RecordedMetric {
            key: format!("{}.{}", p.instance, m.name),
            instance: p.instance.clone(),
            name: m.name.clone(),
            value: m.value,
            unit: m.unit.clone(),
            samples: m
                .samples
                .iter()
                .flatten()
                .take(MAX_SAMPLES_PER_METRIC)
                .copied()
                .collect(),
            instrument: m.instrument.clone(),
        })
    }
}

impl RunRecord {
    /// The record of a decided run.
    pub fn from_decision(d: &Decision, pipeline: &Pipeline, source: &Source) -> RunRecord {
        let metrics = d.plugins.iter().flat_map(RecordedMetric::of).collect();
        RunRecord {
            record_version: RECORD_VERSION,
            run_id: d.run.id.clone(),
            started_at: d.run.started_at.clone(),
            finished_at: d.run.finished_at.clone(),
            pipeline: pipeline.clone(),
            source: source.clone(),
            decision: d.decision,
            score: d.score,
            cancelled: d.run.cancelled.is_some(),
            runner: d.run.runner.clone(),
            excluded: None,
            metrics,
            objectives: d
                .objectives
                .iter()
                .map(RecordedObjective::from_outcome)
                .collect(),
            plugins: d
                .plugins
                .iter()
                .map(|p| RecordedPlugin {
                    instance: p.instance.clone(),
                    name: p.name.clone(),
                    status: p.status,
                    duration_ms: p.duration_ms,
                    error: p
                        .error
                        .as_ref()
                        .map(|e| format!("{}: {}", e.kind, e.message)),
                    stderr_tail: p
                        .stderr_tail
                        .as_deref()
                        .filter(|_| p.status != PluginStatus::Ok)
                        .map(|t| tail_chars(t, STDERR_KEPT)),
                })
                .collect(),
        }
    }

    /// The value of metric `key` in this run.
    pub fn metric(&self, key: &str) -> Option<&RecordedMetric> {
        self.metrics.iter().find(|m| m.key == key)
    }

    /// This run's outcome for objective `id`.
    pub fn objective(&self, id: &str) -> Option<&RecordedObjective> {
        self.objectives.iter().find(|o| o.id == id)
    }

    /// The `YYYY-MM-DD` partition of the record.
    pub fn date(&self) -> &str {
        // A store key's segment: `YYYY-MM-DD`, or `unknown`, never a path.
        match self.started_at.get(..10) {
            Some(d) if d.bytes().all(|b| b.is_ascii_digit() || b == b'-') => d,
            _ => "unknown",
        }
    }
}

/// Version of the deployment record format.
pub const DEPLOYMENT_VERSION: u32 = 1;

/// A deployment, as `qod deployed` records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeploymentRecord {
    pub record_version: u32,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<crate::ids::RunId>,
    pub pipeline: crate::protocol::Pipeline,
}
