//! The result a plugin prints on stdout.

use super::Better;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Exactly one JSON object on the plugin's stdout.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "qod plugin result")]
pub struct PluginResult {
    /// Protocol version of this document; must be one the manifest lists.
    pub protocol: u32,
    /// `ok` when the plugin measured, `error` when it ran but could not,
    /// `pending` when it started something that is still running: qod
    /// invokes it again after `retry_after` with `state` as the context's
    /// `resume`, until it answers `ok` or `error` or its timeout (counted
    /// over the whole span) runs out.
    pub status: ResultStatus,
    /// What was measured.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// One line for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Why the plugin could not measure (with `status: error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// With `status: pending`: what the plugin needs to carry on (a job id,
    /// a step), given back unchanged as the context's `resume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Value>,
    /// With `status: pending`: when to invoke the plugin again (`60s`,
    /// `500ms`); default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<crate::duration::HumanDuration>,
}

/// Whether the plugin could measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ResultStatus {
    Ok,
    Error,
    Pending,
}

/// One measured value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metric {
    /// The metric's name; must be declared in the manifest (by name or pattern).
    pub name: String,
    /// The value, a finite number.
    pub value: f64,
    /// Unit of `value` and `samples`; defaults to the manifest's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Direction of improvement, where it differs from the manifest's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub better: Option<Better>,
    /// The individual measurements behind `value`, if there were several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Vec<f64>>,
    /// What measured the value, where values of different instruments do
    /// not compare (`valgrind`, `perf` for instruction counts). A baseline
    /// uses only earlier runs measured with the same instrument.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument: Option<String>,
}

/// Why a plugin could not measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorInfo {
    /// A short machine-readable kind, such as `measurement-failed` or `bad-config`.
    pub kind: String,
    /// What went wrong and, where possible, how to fix it.
    pub message: String,
}
