//! `acknowledge:`: regressions accepted on purpose, kept in the repository
//! as reviewable entries with an owner, a reason and an expiry.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The acknowledgements of a policy: a list of entries, or the path of a
/// YAML file holding such a list (relative to the policy file), e.g.
/// `.qod/acknowledgements.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Acknowledge {
    /// A YAML file holding a list of acknowledgements.
    File(PathBuf),
    /// The acknowledgements themselves.
    List(Vec<Acknowledgement>),
}

/// A regression accepted on purpose: while it applies, the objective it
/// names is judged by `accept` instead of its own criterion, and passes as
/// `acknowledged` when only the accepted criterion holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// The objective accepted: its `id`, or for one metric of a pattern
    /// objective its row id (`suite[bench.parse]`). Give this or `metric`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub objective: Option<String>,
    /// The metrics accepted, as a pattern over `<instance>.<metric>`
    /// (`bench.*parse*`). Give this or `objective`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub metric: Option<String>,
    /// The criterion accepted instead of the objective's (`<= +25%`): for an
    /// objective `against: base`, a tolerance of the same kind.
    #[schemars(length(min = 1))]
    pub accept: String,
    /// Why the regression is intended.
    #[schemars(length(min = 1))]
    pub reason: String,
    /// Who accepted it (a person or a team).
    #[schemars(length(min = 1))]
    pub owner: String,
    /// Where it is discussed (an issue, a design note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The last day it applies (`2027-01-31`, UTC); after it, it is ignored
    /// with a warning.
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    pub expires: String,
    /// Applies to this pull (merge) request only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub pull_request: Option<u64>,
    /// Applies to builds of this branch only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub branch: Option<String>,
    /// Applies to this revision and its descendants; on a branch, runs
    /// before it stop being baselines of the objective once runs of it (or
    /// of its descendants) exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub from: Option<String>,
}
