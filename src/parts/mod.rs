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

use crate::decision::{ObjectiveOutcome, PartInfo, PartSummary, PluginOutcome, PluginStatus};
use crate::ids::{InstanceId, RunId};
use crate::plan::Plan;
use crate::protocol::{ErrorInfo, Pipeline, Source};
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
    let (name, instances, shard) = match sel {
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
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    if let Some(g) = get("QOD_GROUP") {
        return Ok(g);
    }
    let found = match crate::ci::provider_of(env) {
        "github" => get("GITHUB_RUN_ID").map(|id| format!("github-{id}")),
        "gitlab" => get("CI_PIPELINE_ID").map(|id| format!("gitlab-{id}")),
        "jenkins" => get("BUILD_TAG"),
        "codebuild" => {
            get("CODEBUILD_RESOLVED_SOURCE_VERSION").map(|sha| format!("codebuild-{sha}"))
        }
        _ => None,
    };
    found.ok_or_else(|| PartError::NoGroup {
        hint: if crate::ci::provider_of(env) == "codebuild" {
            " (in CodePipeline, pass `#{codepipeline.PipelineExecutionId}` as `QOD_GROUP`)".into()
        } else {
            String::new()
        },
    })
}

/// The group as it appears in store keys: characters other than letters,
/// digits, `.`, `_` and `-` become `_` (the record keeps the real name).
pub fn key_of(group: &str) -> String {
    group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
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

/// The parts of one group, composed over the whole policy.
#[derive(Debug, Clone)]
pub struct Composed {
    /// Every instance's outcome, in policy order, with its part.
    pub plugins: Vec<PluginOutcome>,
    /// Every objective's outcome, in policy order.
    pub objectives: Vec<ObjectiveOutcome>,
    /// The parts used, in the policy order of their first instance.
    pub parts: Vec<PartSummary>,
    /// Instances no recorded part ran, each with the reason.
    pub missing: Vec<(InstanceId, String)>,
    /// The newest part's pipeline and source; the earliest start.
    pub pipeline: Pipeline,
    pub source: Source,
    pub started_at: String,
    /// A part that was cancelled, and by what.
    pub cancelled: Option<String>,
    /// Things worth saying (parts that measured other revisions).
    pub notes: Vec<String>,
}

/// Which part should have run `id`, from the policy's `parts:` or the
/// shards recorded so far.
fn expected_part(plan: &Plan, records: &[PartRecord], id: &InstanceId) -> Option<String> {
    if let Some((name, _)) = plan
        .policy
        .policy
        .parts
        .iter()
        .find(|(_, list)| list.contains(id))
    {
        return Some(name.clone());
    }
    let n = records.iter().find_map(|r| r.part.shard.map(|[_, n]| n))?;
    Some(shard_name(shard_of(plan, id, n), n))
}

/// Composes the recorded parts of `group` (any order) over `plan`: each
/// instance from the newest part that ran it; instances no part ran are
/// `missing`, and their objectives `no_data`, with the part named.
pub fn compose(plan: &Plan, group: &str, mut records: Vec<PartRecord>) -> Composed {
    // Newest first: run ids are time-ordered.
    records.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    let mut used: Vec<usize> = Vec::new();
    let mut by_instance: BTreeMap<&InstanceId, usize> = BTreeMap::new();
    for inst in &plan.instances {
        if let Some(r) = records
            .iter()
            .position(|r| r.part.instances.contains(&inst.id))
        {
            by_instance.insert(&inst.id, r);
            if !used.contains(&r) {
                used.push(r);
            }
        }
    }
    let mut missing = Vec::new();
    let mut plugins = Vec::new();
    for inst in &plan.instances {
        let taken = by_instance.get(&inst.id).and_then(|&r| {
            let rec = &records[r];
            rec.plugins
                .iter()
                .find(|p| p.instance == inst.id)
                .map(|p| (rec, p.clone()))
        });
        match taken {
            Some((rec, mut p)) => {
                p.part = Some(rec.part.name.clone());
                plugins.push(p);
            }
            None => {
                let reason = match expected_part(plan, &records, &inst.id) {
                    Some(part) => format!(
                        "part `{part}` of group `{group}` was not recorded, so `{}` did not run; run `qod run --group {group} --part …` for it, or wait for it with `qod combine --wait`",
                        inst.id
                    ),
                    None => format!(
                        "no recorded part of group `{group}` ran `{}`; give it to one of the parts (`--only`, `--shard` or the policy's `parts:`)",
                        inst.id
                    ),
                };
                missing.push((inst.id.clone(), reason.clone()));
                plugins.push(PluginOutcome {
                    instance: inst.id.clone(),
                    name: inst.plugin.manifest.name.clone(),
                    version: inst.plugin.manifest.version.clone(),
                    status: PluginStatus::Missing,
                    duration_ms: 0,
                    exit_code: None,
                    signal: None,
                    metrics: Vec::new(),
                    summary: None,
                    error: Some(ErrorInfo {
                        kind: "missing".into(),
                        message: reason,
                    }),
                    notes: Vec::new(),
                    repeats: None,
                    stderr_tail: None,
                    part: None,
                    pending: None,
                });
            }
        }
    }
    let objectives = plan
        .objectives
        .iter()
        .map(|o| {
            if let Some((_, why)) = missing.iter().find(|(id, _)| *id == o.instance) {
                return crate::evaluate::missing(o, why.clone());
            }
            let rec = &records[by_instance[&o.instance]];
            match rec.objectives.iter().find(|x| x.id == o.spec.id) {
                Some(out) => out.clone(),
                None => crate::evaluate::missing(
                    o,
                    format!(
                        "part `{}` did not evaluate objective `{}`: was the policy changed between the parts? Run the parts again with one policy",
                        rec.part.name, o.spec.id
                    ),
                ),
            }
        })
        .collect();
    // In the policy order of their first instance, each with the earlier
    // recordings of the same part.
    let newest_used = used.iter().copied().min();
    let first_instance = |r: usize| {
        plan.instances
            .iter()
            .position(|i| by_instance.get(&i.id) == Some(&r))
            .unwrap_or(usize::MAX)
    };
    used.sort_by_key(|&r| first_instance(r));
    let parts = used
        .iter()
        .map(|&r| {
            let rec = &records[r];
            PartSummary {
                name: rec.part.name.clone(),
                run_id: rec.run_id.clone(),
                started_at: rec.started_at.clone(),
                finished_at: rec.finished_at.clone(),
                instances: plan
                    .instances
                    .iter()
                    .filter(|i| by_instance.get(&i.id) == Some(&r))
                    .map(|i| i.id.clone())
                    .collect(),
                superseded: records
                    .iter()
                    .enumerate()
                    .filter(|(j, o)| {
                        !used.contains(j) && o.part.name == rec.part.name && o.run_id < rec.run_id
                    })
                    .map(|(_, o)| o.run_id.clone())
                    .collect(),
            }
        })
        .collect();
    let newest = newest_used.map(|r| &records[r]);
    let mut notes = Vec::new();
    let revisions: std::collections::BTreeSet<&str> = used
        .iter()
        .filter_map(|&r| records[r].source.revision.as_deref())
        .collect();
    if revisions.len() > 1 {
        notes.push(format!(
            "the parts of group `{group}` measured different revisions ({}): they were not all run for one commit",
            revisions.into_iter().map(|r| format!("`{}`", &r[..r.len().min(12)])).collect::<Vec<_>>().join(", ")
        ));
    }
    Composed {
        plugins,
        objectives,
        parts,
        missing,
        pipeline: newest.map(|r| r.pipeline.clone()).unwrap_or_default(),
        source: newest.map(|r| r.source.clone()).unwrap_or_default(),
        started_at: used
            .iter()
            .map(|&r| records[r].started_at.clone())
            .min()
            .unwrap_or_default(),
        cancelled: used.iter().find_map(|&r| {
            records[r]
                .cancelled
                .clone()
                .map(|c| format!("{c} (part `{}`)", records[r].part.name))
        }),
        notes,
    }
}
