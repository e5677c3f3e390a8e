//! `plugin.json`: what a plugin is, how to start it, what it accepts and
//! what it measures.

use crate::duration::HumanDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A plugin's manifest (`plugins/<name>/plugin.json`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "qod plugin manifest")]
pub struct Manifest {
    /// Version of the manifest format; always 1.
    #[schemars(range(min = 1, max = 1))]
    pub manifest_version: u32,
    /// The plugin's name, as policies name it in `uses:`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9._-]*$"))]
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// One line on what the plugin measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Protocol versions the plugin speaks; qod speaks version 1.
    #[schemars(length(min = 1))]
    pub protocol_versions: Vec<u32>,
    /// The argv to start the plugin (no shell). Relative paths resolve
    /// against the manifest's folder: the program when it contains a `/`,
    /// and arguments written as `./…` or `../…`. A bare program name is
    /// looked up on `PATH`; `qod` is the qod binary running the gate. The
    /// plugin runs in the workspace.
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
    /// How long one run may take before it is stopped (policy `timeout:` overrides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// Environment variables the plugin needs passed through (names, or a
    /// prefix ending in `*` such as `AWS_*`). Nothing else reaches it beyond
    /// PATH, HOME, locale, TMPDIR and `QOD_*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// JSON Schema for the instance's `with:` config; defaults are filled in
    /// before the plugin runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<serde_json::Value>,
    /// The metrics the plugin reports.
    #[schemars(length(min = 1))]
    pub metrics: Vec<MetricDecl>,
}

/// One metric a plugin declares, or a pattern of names for plugins whose
/// metrics depend on their input.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricDecl {
    /// The metric's name, or a pattern: `*`, or a prefix such as `sort/*`.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Unit of the values (`ms`, `s`, `B`, `req/s`, `ratio`). Omitted for a
    /// plain count, or for a pattern whose results carry their own unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Which direction is an improvement.
    pub better: Better,
    /// What the metric means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl MetricDecl {
    /// Whether the declared name is a pattern rather than a single name.
    pub fn is_pattern(&self) -> bool {
        self.name.contains('*') || self.name.contains('?') || self.name.contains('[')
    }

    /// Whether `metric` is this declaration's name or matches its pattern.
    pub fn matches(&self, metric: &str) -> bool {
        if self.is_pattern() {
            glob::Pattern::new(&self.name)
                .map(|p| p.matches(metric))
                .unwrap_or(false)
        } else {
            self.name == metric
        }
    }
}

impl Manifest {
    /// The declaration that covers `metric`: an exact name first, then the
    /// first pattern that matches.
    pub fn metric(&self, metric: &str) -> Option<&MetricDecl> {
        self.metrics
            .iter()
            .find(|m| !m.is_pattern() && m.name == metric)
            .or_else(|| self.metrics.iter().find(|m| m.matches(metric)))
    }
}

/// Which direction of change is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Better {
    Lower,
    Higher,
}
