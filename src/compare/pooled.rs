//! Pairs measured by several jobs (`qod run --pairs K/N`, each on its own
//! runner), pooled: ordered by their numbers in the whole comparison and
//! walked through the same looks one job would have made, so that the
//! pooled decision is the one a job measuring all of those pairs reaches.
//! Each pair's ratio is taken on one runner, so the drift between runners
//! cancels within the pair.

use super::rows::{design, replicated};
use super::sequential::Ending;
use crate::decision::{ComparisonOutcome, ObjectiveStatus, PairShare, Pooled};
use crate::plan::CompareTolerance;
use crate::policy::{Aggregate, CompareSpec};

/// The comparison of one row from the `shares` of its pairs (`template`:
/// one share's comparison, for what they have in common), tested as a
/// family of `family_size` is.
pub fn pooled(
    spec: &CompareSpec,
    tolerance: CompareTolerance,
    family_size: u32,
    template: &ComparisonOutcome,
    shares: &[&PairShare],
) -> (ComparisonOutcome, ObjectiveStatus) {
    let mut pairs: std::collections::BTreeMap<u32, (f64, f64)> = Default::default();
    for s in shares {
        for ((p, b), c) in s.pairs.iter().zip(&s.base).zip(&s.candidate) {
            pairs.entry(*p).or_insert((*b, *c));
        }
    }
    let base: Vec<f64> = pairs.values().map(|(b, _)| *b).collect();
    let candidate: Vec<f64> = pairs.values().map(|(_, c)| *c).collect();
    let w: Vec<f64> = pairs.values().map(|(b, c)| (c / b).ln()).collect();
    let alpha = spec.alpha / f64::from(family_size.max(1));
    let d = design(spec, tolerance, alpha, template.seed);
    let seq = d.sequence();
    let copies = replicated(&base, &candidate);
    let mut state = None;
    if copies.is_none() {
        for n in 1..=w.len() {
            if seq.is_look(n) {
                let s = seq.look(&w[..n], false);
                if s.ending.is_some() {
                    state = Some(s);
                    break;
                }
            }
        }
    }
    let state = match state {
        Some(s) => s,
        None => {
            let mut s = seq.look(&w, true);
            if copies.is_some() || w.len() < d.max {
                s.ending = Some(Ending::Inconclusive);
            }
            s
        }
    };
    let used = state.pairs.min(w.len());
    let status = match state.ending {
        Some(Ending::Fail) => ObjectiveStatus::Fail,
        Some(Ending::Pass) => ObjectiveStatus::Pass,
        _ => ObjectiveStatus::Inconclusive,
    };
    let runners: std::collections::BTreeSet<&str> =
        shares.iter().filter_map(|s| s.runner.as_deref()).collect();
    let median = |v: &[f64]| crate::stats::aggregate(v, Aggregate::Median);
    let outcome = ComparisonOutcome {
        alpha,
        alpha_spent: state.alpha_spent,
        pairs: state.pairs as u32,
        stopped_early: state.stopped_early,
        change_pct: state.change_pct,
        ci_low_pct: state.ci_pct.0,
        ci_high_pct: state.ci_pct.1,
        p_worse: state.p_worse,
        p_inside: state.p_inside,
        base_value: median(&base[..used]),
        candidate_value: median(&candidate[..used]),
        order: format!(
            "pairs {} pooled from {} job{}",
            pairs
                .keys()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            shares.len(),
            if shares.len() == 1 { "" } else { "s" }
        ),
        boundary_p: state.boundary,
        mde_pct: state.mde_pct,
        share: None,
        pooled: Some(Pooled {
            jobs: shares.len() as u32,
            runners: runners.len().max(1) as u32,
        }),
        ..template.clone()
    };
    (outcome, status)
}
