//! Gates larger than one job: a policy run in parts (`qod run --group ID
//! --part NAME | --shard K/N | --only INSTANCE…`), each part recorded in the
//! store under its group, and the parts composed into one decision (`qod
//! combine`). Here: which instances a part runs, the part record, and the
//! composition itself, which is pure.
//!
//! Every objective belongs to one instance, and every instance is run by
//! one part, so each part evaluates its own objectives exactly as the whole
//! policy run at once would; composing is taking each objective from the
//! part that ran its instance, and adding the effects up again.

mod compose;
mod pooled;

pub use compose::{compose, Composed};
pub use pooled::shares;

use crate::decision::{ObjectiveOutcome, PartInfo, PluginOutcome};
use crate::ids::{InstanceId, RunId};
use crate::plan::Plan;
use crate::protocol::{Pipeline, Source};
use std::collections::BTreeMap;

/// The version of the part record's layout.
pub const PART_RECORD_VERSION: u32 = 1;

/// Why a part cannot be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartError {
    #[error("part `{name}` is not in the policy's `parts:`; {hint}")]
    UnknownPart { name: String, hint: String },
    #[error(
        "`--only` names instance `{name}`, which is not under the policy's `plugins:`; {hint}"
    )]
    UnknownInstance { name: String, hint: String },
    #[error("{what} `{name}` has characters other than letters, digits, `.`, `_` and `-`; rename it (it becomes part of a store key)")]
    BadName { what: &'static str, name: String },
    #[error("`--pairs K/N` shares out the pairs of side-by-side comparisons, and the policy has no objective `against: base`; spread its plugins over jobs with `--shard K/N` or `--part`")]
    NoComparison,
    #[error("no `--group` was given and there is no CI run to group by; give the same `--group ID` (or `QOD_GROUP`) to every part and to `qod combine`{hint}")]
    NoGroup { hint: String },
}

/// Which part of the policy a job runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// A part named under the policy's `parts:`.
    Named(String),
    /// Shard K of N: every Nth instance, in the order of their names.
    Shard { k: u32, n: u32 },
    /// Pairs K, K + N, … of every side-by-side comparison (`--pairs K/N`):
    /// the instances behind objectives `against: base`, with a share of
    /// their pairs, pooled by `qod combine`.
    Pairs { k: u32, n: u32 },
    /// These instances, as a part called `name` (or by their names joined with `.`).
    Only {
        name: Option<String>,
        instances: Vec<InstanceId>,
    },
}

/// `--shard K/N`.
pub fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not `K/N` with 1 ≤ K ≤ N (such as `2/4`)");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u32, u32) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

pub use crate::ids::is_key_name as is_name;

/// The name of shard K of N.
pub fn shard_name(k: u32, n: u32) -> String {
    format!("shard-{k}-of-{n}")
}

/// The shard (1-based) that runs `id` among `n`: the instances in the order
/// of their names, dealt out in turn. Every job computes the same.
pub fn shard_of(plan: &Plan, id: &InstanceId, n: u32) -> u32 {
    let mut names: Vec<&InstanceId> = plan.instances.iter().map(|i| &i.id).collect();
    names.sort();
    let at = names.iter().position(|x| *x == id).unwrap_or(0);
    (at as u32 % n) + 1
}

/// The part `sel` makes of `plan`, in group `group`.
pub fn select(plan: &Plan, group: &str, sel: &Selection) -> Result<PartInfo, PartError> {
    let parts = &plan.policy.policy.parts;
    let ids = |names: &[InstanceId]| -> Vec<InstanceId> {
        // In policy order, whatever order they were given in.
        plan.instances
            .iter()
            .map(|i| i.id.clone())
            .filter(|id| names.contains(id))
            .collect()
    };
    let mut pairs = None;
    let (name, instances, shard) = match sel {
        Selection::Pairs { k, n } => {
            let compared: Vec<InstanceId> = crate::compare::instances(plan)
                .into_iter()
                .map(|i| plan.instances[i].id.clone())
                .collect();
            if compared.is_empty() {
                return Err(PartError::NoComparison);
            }
            pairs = Some([*k, *n]);
            (format!("pairs-{k}-of-{n}"), compared, None)
        }
        Selection::Named(name) => {
            let Some(list) = parts.get(name) else {
                let hint = if parts.is_empty() {
                    "the policy has no `parts:`: define them, or pick instances with `--only` or `--shard K/N`".to_owned()
                } else {
                    format!(
                        "{}the parts are: {}",
                        crate::diag::did_you_mean(name, parts.keys().map(String::as_str)),
                        parts
                            .keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                return Err(PartError::UnknownPart {
                    name: name.clone(),
                    hint,
                });
            };
            (name.clone(), ids(list), None)
        }
        Selection::Shard { k, n } => {
            let mine: Vec<InstanceId> = plan
                .instances
                .iter()
                .filter(|i| shard_of(plan, &i.id, *n) == *k)
                .map(|i| i.id.clone())
                .collect();
            (shard_name(*k, *n), mine, Some([*k, *n]))
        }
        Selection::Only { name, instances } => {
            for id in instances {
                if !plan.instances.iter().any(|i| i.id == *id) {
                    let known = plan.instances.iter().map(|i| i.id.as_str());
                    return Err(PartError::UnknownInstance {
                        name: id.to_string(),
                        hint: format!(
                            "{}the instances are: {}",
                            crate::diag::did_you_mean(id.as_str(), known.clone()),
                            known
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
            let chosen = ids(instances);
            let name = name.clone().unwrap_or_else(|| {
                chosen
                    .iter()
                    .map(InstanceId::as_str)
                    .collect::<Vec<_>>()
                    .join(".")
            });
            (name, chosen, None)
        }
    };
    if !is_name(&name) {
        return Err(PartError::BadName { what: "part", name });
    }
    Ok(PartInfo {
        group: group.to_owned(),
        name,
        instances,
        shard,
        pairs,
    })
}

/// `plan` cut down to `part`'s instances and their objectives.
pub fn sub_plan(plan: &Plan, part: &PartInfo) -> Plan {
    let mut sub = plan.clone();
    sub.instances.retain(|i| part.instances.contains(&i.id));
    sub.objectives
        .retain(|o| part.instances.contains(&o.instance));
    sub
}

/// The group a job belongs to when none is given: the CI run all the jobs
/// of one pipeline share (GitHub's run id, GitLab's pipeline id, Jenkins'
/// build tag, the commit a CodeBuild batch builds). A re-run job keeps it,
/// and its part supersedes the earlier recording.
pub fn group_from_env(env: &BTreeMap<String, String>) -> Result<String, PartError> {
    if let Some(g) = env.get("QOD_GROUP").filter(|v| !v.is_empty()) {
        return Ok(g.clone());
    }
    let provider = crate::ci::Provider::detect(env);
    provider.group(env).ok_or_else(|| PartError::NoGroup {
        hint: provider.group_hint().into(),
    })
}

/// The group as it appears in store keys: characters other than letters,
/// digits, `.`, `_` and `-` become `_`, and `.`, `..` or an empty name
/// become underscores (the record keeps the real name).
pub fn key_of(group: &str) -> String {
    let key: String = group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Never a path component that climbs or stays put (`..`, `.`, empty).
    if crate::ids::is_key_name(&key) {
        key
    } else {
        key.replace('.', "_") + "_"
    }
}

/// What the store keeps of one part: everything its run found, so that
/// the combined decision can be composed without running anything again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PartRecord {
    pub record_version: u32,
    pub part: PartInfo,
    /// The part's own run id.
    pub run_id: RunId,
    pub started_at: String,
    pub finished_at: String,
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<String>,
    pub pipeline: Pipeline,
    pub source: Source,
    pub plugins: Vec<PluginOutcome>,
    pub objectives: Vec<ObjectiveOutcome>,
}
