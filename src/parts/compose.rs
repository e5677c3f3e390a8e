//! Composing the recorded parts of a group over the whole policy: each
//! instance from the newest part that ran it, the objectives from the part
//! that evaluated them, and the parts that never arrived named.

use super::{shard_name, shard_of, PartRecord};
use crate::decision::{ObjectiveOutcome, PartSummary, PluginOutcome, PluginStatus};
use crate::ids::InstanceId;
use crate::plan::Plan;
use crate::protocol::{Pipeline, Source};
use std::collections::BTreeMap;

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
                plugins.push(
                    PluginOutcome::new(
                        inst.id.clone(),
                        inst.plugin.manifest.name.clone(),
                        inst.plugin.manifest.version.clone(),
                        PluginStatus::Missing,
                    )
                    .with_error("missing", reason),
                );
            }
        }
    }
    // Comparisons spread over jobs (`--pairs K/N`): judged on all pairs.
    let pooled = super::pooled::pool(plan, group, &records);
    for &r in &pooled.used {
        if !used.contains(&r) {
            used.push(r);
        }
    }
    let objectives = plan
        .objectives
        .iter()
        .flat_map(|o| {
            if let Some((_, why)) = missing.iter().find(|(id, _)| *id == o.instance) {
                return vec![crate::evaluate::missing(o, why.clone())];
            }
            if let Some(rows) = pooled.objectives.get(&o.spec.id) {
                return rows.clone();
            }
            let rec = &records[by_instance[&o.instance]];
            // A pattern objective's rows: each metric it matched.
            let rows: Vec<_> = rec
                .objectives
                .iter()
                .filter(|x| {
                    x.id == o.spec.id
                        || x.family.as_ref().is_some_and(|f| f.objective == o.spec.id)
                })
                .cloned()
                .collect();
            // A part evaluated under another policy is not this policy's
            // verdict: its criteria must be this policy's.
            let pass: Vec<&str> = o.pass.iter().map(|p| p.text.as_str()).collect();
            let warn: Vec<&str> = o.warn.iter().map(|p| p.text.as_str()).collect();
            if let Some(other) = rows.iter().find(|r| {
                r.criteria.iter().map(String::as_str).ne(pass.iter().copied())
                    || r.warn_criteria.iter().map(String::as_str).ne(warn.iter().copied())
            }) {
                return vec![crate::evaluate::missing(
                    o,
                    format!(
                        "part `{}` evaluated `{}` under another policy (`{}` where this policy says `{}`); run the parts again with one policy",
                        rec.part.name,
                        o.spec.id,
                        other.criteria.join(", "),
                        pass.join(", ")
                    ),
                )];
            }
            // What needs no history is judged again from the part's values;
            // the rest keeps the part's verdict, its effect under this policy.
            let absolute = !o.is_pattern() && !o.is_relative() && o.compared.is_none();
            let rows: Vec<ObjectiveOutcome> = rows
                .into_iter()
                .map(|mut row| {
                    if absolute {
                        let again = crate::evaluate::evaluate(
                            std::slice::from_ref(o),
                            &plan.policy.policy.decision,
                            &rec.plugins,
                            &Default::default(),
                            &Default::default(),
                        );
                        if let Some(mut fresh) = again.objectives.into_iter().next() {
                            fresh.attempts = std::mem::take(&mut row.attempts);
                            return fresh;
                        }
                    }
                    row.effect = crate::evaluate::effect_of(row.status, &o.spec);
                    row.mode = o.spec.mode;
                    row.key = o.spec.key;
                    row.weight = o.spec.weight;
                    row
                })
                .collect();
            match rows.is_empty() {
                false => rows,
                true => vec![crate::evaluate::missing(
                    o,
                    format!(
                        "part `{}` did not evaluate objective `{}`: was the policy changed between the parts? Run the parts again with one policy",
                        rec.part.name, o.spec.id
                    ),
                )],
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
    let mut notes = pooled.notes;
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
