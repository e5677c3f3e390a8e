//! The parts of a comparison spread over jobs (`qod run --pairs K/N`):
//! the newest recording of each share, their pairs pooled row by row
//! (`compare::pooled`), and each side-by-side objective judged again on
//! all of them.

use super::PartRecord;
use crate::decision::{ObjectiveOutcome, PairShare};
use crate::evaluate::Comparisons;
use crate::plan::Plan;
use std::collections::{BTreeMap, BTreeSet};

/// The side-by-side objectives judged on the pooled pairs, by objective
/// id; the records used (indices); and what to say.
#[derive(Debug, Default)]
pub struct PooledParts {
    pub objectives: BTreeMap<String, Vec<ObjectiveOutcome>>,
    pub used: Vec<usize>,
    pub notes: Vec<String>,
}

/// Which of `records` (newest first) are shares of the pairs: the newest
/// of each K, for the N most of them name; and the Ks missing.
pub fn shares(records: &[PartRecord]) -> (Vec<usize>, Vec<u32>) {
    let Some(n) = records.iter().find_map(|r| r.part.pairs.map(|[_, n]| n)) else {
        return (Vec::new(), Vec::new());
    };
    let mut by_k: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some([k, m]) = r.part.pairs {
            if m == n {
                by_k.entry(k).or_insert(i);
            }
        }
    }
    let missing = (1..=n).filter(|k| !by_k.contains_key(k)).collect();
    (by_k.into_values().collect(), missing)
}

/// Pools the pairs of the shares among `records` (newest first).
pub fn pool(plan: &Plan, group: &str, records: &[PartRecord]) -> PooledParts {
    let (used, missing) = shares(records);
    let Some(spec) = plan.policy.policy.compare.as_ref() else {
        return PooledParts::default();
    };
    if used.is_empty() {
        return PooledParts::default();
    }
    let mut out = PooledParts {
        used: used.clone(),
        ..Default::default()
    };
    let shared: Vec<&PartRecord> = used.iter().map(|&i| &records[i]).collect();
    if !missing.is_empty() {
        out.notes.push(format!(
            "group `{group}` is missing pair share{} {} of {}: the comparisons pool the pairs of the {} recorded",
            if missing.len() == 1 { "" } else { "s" },
            missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
            missing.len() + used.len(),
            used.len()
        ));
    }
    for o in plan.objectives.iter().filter(|o| o.compared.is_some()) {
        let Some(own) = o.compared else { continue };
        let rows = |r: &'_ PartRecord| -> Vec<ObjectiveOutcome> {
            r.objectives
                .iter()
                .filter(|x| {
                    (x.id == o.spec.id
                        || x.family.as_ref().is_some_and(|f| f.objective == o.spec.id))
                        && x.comparison.as_ref().is_some_and(|c| c.share.is_some())
                })
                .cloned()
                .collect()
        };
        let ids: BTreeSet<String> = shared.iter().flat_map(|r| rows(r)).map(|x| x.id).collect();
        if ids.is_empty() {
            continue;
        }
        let mut comparisons = Comparisons::default();
        let mut runners = BTreeSet::new();
        for id in &ids {
            let found: Vec<ObjectiveOutcome> = shared
                .iter()
                .flat_map(|r| rows(r))
                .filter(|x| x.id == *id)
                .collect();
            let Some(template) = found.first().and_then(|x| x.comparison.clone()) else {
                continue;
            };
            let parts: Vec<&PairShare> = found
                .iter()
                .filter_map(|x| x.comparison.as_ref()?.share.as_ref())
                .collect();
            runners.extend(parts.iter().filter_map(|s| s.runner.clone()));
            let tolerance = own.matching(template.tolerance_pct);
            let family = template.family_size.unwrap_or(1);
            let pooled = crate::compare::pooled(spec, tolerance, family, &template, &parts);
            comparisons.by_objective.insert(id.clone(), pooled);
            if o.is_pattern() {
                comparisons
                    .families
                    .entry(o.spec.id.clone())
                    .or_default()
                    .push(id.clone());
            }
        }
        // The candidate's values as the newest share measured them.
        let plugins: Vec<_> = shared[0]
            .plugins
            .iter()
            .filter(|p| p.instance == o.instance)
            .cloned()
            .collect();
        let eval = crate::evaluate::evaluate(
            std::slice::from_ref(o),
            &plan.policy.policy.decision,
            &plugins,
            &Default::default(),
            &comparisons,
        );
        out.notes.push(format!(
            "the pairs of `{}` were pooled from {} job{} on {} runner{}",
            o.spec.id,
            used.len(),
            if used.len() == 1 { "" } else { "s" },
            runners.len().max(1),
            if runners.len() > 1 { "s" } else { "" }
        ));
        out.objectives.insert(o.spec.id.clone(), eval.objectives);
    }
    out
}
