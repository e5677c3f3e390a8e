//! The context document written to a plugin's stdin.

use crate::ids::{InstanceId, RunId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Everything a plugin gets to know about the run, as one JSON document on stdin.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "qod plugin context")]
pub struct Context {
    /// Protocol version of this document.
    pub protocol: u32,
    /// Which plugin and which instance of it this is.
    pub plugin: PluginRef,
    /// The instance's `with:` config, validated, with schema defaults filled in.
    pub config: serde_json::Value,
    /// The gate run this plugin belongs to.
    pub run: RunInfo,
    /// The CI pipeline the run happens in.
    pub pipeline: Pipeline,
    /// The source revision being gated.
    pub source: Source,
    /// What the history store knows that plugins may need.
    pub history: HistoryInfo,
    /// Where the plugin may look and write.
    pub paths: Paths,
    /// In a side-by-side comparison (`compare:`): which side this
    /// invocation measures, `base` or `candidate`; `paths.workspace` is
    /// that side's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// In a side-by-side comparison: the pair this invocation belongs to,
    /// from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<u32>,
    /// When the plugin's previous invocation in this run answered
    /// `"status": "pending"`: the `state` it gave, to carry on from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<serde_json::Value>,
}

/// The plugin and the policy instance being run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PluginRef {
    /// The plugin's manifest name.
    pub name: String,
    /// The instance's key under `plugins:` in the policy.
    pub instance: InstanceId,
}

/// The gate run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    /// The run's id (time-ordered).
    pub id: RunId,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When this plugin will be stopped (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
}

/// The CI pipeline, as far as it could be detected. Every field but
/// `provider` may be missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pipeline {
    /// `codebuild`, `github`, `gitlab`, `jenkins` or `local`.
    pub provider: String,
    /// Pipeline or project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Id of the pipeline execution (CodePipeline execution, workflow run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Id of the build or job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// Sequential build number, where the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_number: Option<u64>,
    /// When the build started (RFC 3339), where the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The job within the pipeline (GitHub job, GitLab job, CodeBuild batch build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// What started the build (`codepipeline/<name>`, a webhook, a user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
    /// A link to the build for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The source being gated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    /// Repository URL or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Commit id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Branch name (for a pull request, its head branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The branch a pull request targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// The pull (merge) request number, when the build is for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
    /// The commit the change left its base branch at (the merge-base), when
    /// the CI gives it or git can compute it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_base: Option<String>,
    /// The event that triggered the build (`push`, `PULL_REQUEST_CREATED`, `merge_request_event`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// History the plugin may need.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct HistoryInfo {
    /// The last revision that reached production, if any is known.
    #[serde(default)]
    pub last_deployment: Option<Deployment>,
}

/// A revision that was deployed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deployment {
    /// The deployed commit, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// When it was deployed (RFC 3339).
    pub at: String,
    /// The gate run that let it through, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// Where this came from: `deployment` (a recorded deployment) or
    /// `last_passing_run` (no deployment recorded; the last passing gate run).
    pub source: String,
}

/// Paths the plugin may use.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Paths {
    /// The working directory of the gate (the checked-out source).
    pub workspace: String,
    /// A folder for the plugin's own artifacts; created before it runs.
    pub artifacts: String,
}
