//! Side-by-side comparison (`compare:` in the policy, objectives `against:
//! base`): the plugins behind those objectives run alternately on the base
//! and on the candidate, in pairs whose order is random (seeded, recorded),
//! each invocation told its `variant` and `pair` and given its side's folder
//! as its workspace. After each batch of pairs the log-ratios
//! candidate/base are tested ([`sequential`]); the instance stops when every
//! objective on it has ended, or when `compare.budget` runs out.
//!
//! An objective whose metric is a pattern (`bench.*`) is a family: one
//! comparison per metric the plugin reports that it matches (and no
//! objective names exactly), all from the same invocations, with Holm's
//! step-down over the family: each starts at `alpha / m`, and each fail
//! passes its share on to the metrics still open.

mod boundary;
mod pooled;
mod rows;
pub mod sequential;
pub mod workspace;

use crate::decision::{ComparisonOutcome, ObjectiveStatus, PluginOutcome, PluginStatus};
use crate::evaluate::Comparisons;
use crate::plan::Plan;
use crate::policy::{Aggregate, CompareSpec};
use crate::protocol::Metric;
use crate::runner::{self, RunSettings, SharedContext};
pub use pooled::pooled;
pub use rows::replicated;
use rows::{open_rows, step_down, Open};
use sequential::{Ending, Rng};
use std::time::{Duration, Instant};
pub use workspace::{open_base, BaseCheckout, WorkspaceError};

/// Whether side by side applies to a build: a CI push build (to the base
/// branch) has no merge-base by nature, so its side-by-side objectives on
/// `revision: merge-base` do not apply (it records history); a local run
/// without `--base` is told how to give one instead.
pub fn applies(
    spec: &CompareSpec,
    source: &crate::protocol::Source,
    provider: crate::ci::Provider,
) -> bool {
    !matches!(&spec.base, crate::policy::BaseSource::Revision(r) if r == "merge-base")
        || crate::ci::is_change(source)
        || provider == crate::ci::Provider::Local
}

/// The instances behind objectives `against: base`, as indices into the plan.
pub fn instances(plan: &Plan) -> Vec<usize> {
    let mut out: Vec<usize> = plan
        .objectives
        .iter()
        .filter(|o| o.compared.is_some())
        .map(|o| plan.instance_index(&o.instance))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The sequential design one row of `spec` is tested with: its tolerance,
/// at significance `alpha` (the policy's, over a family's size).
pub fn design_of(
    spec: &CompareSpec,
    tolerance: crate::plan::CompareTolerance,
    alpha: f64,
    seed: u64,
) -> sequential::Design {
    rows::design(spec, tolerance, alpha, seed)
}

/// The seed of a run's pair orders: the policy's, else one from the run id.
pub fn seed(spec: &CompareSpec, run_id: &str) -> u64 {
    spec.seed.unwrap_or_else(|| {
        // FNV-1a of the run id: stable, and different for every run.
        run_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
    })
}

/// One invocation's value of `name`: the median of its samples (pooled
/// within the invocation), else its value.
fn value_of(out: &PluginOutcome, name: &str) -> Option<f64> {
    let m: &Metric = out.metrics.iter().find(|m| m.name == name)?;
    Some(match m.samples.as_deref() {
        Some(s) if !s.is_empty() => crate::stats::aggregate(s, Aggregate::Median),
        _ => m.value,
    })
}

/// Runs the compared instances of `plan` side by side, one instance after
/// another (nothing else runs meanwhile, so the two sides see the same
/// machine). Returns each instance's candidate invocations pooled (what the
/// decision and the record keep) and each objective's comparison.
/// With `share` (`K/N`), only pairs K, K + N, … are measured, all of them
/// (a share does not stop early: the pooled pairs decide, in `qod
/// combine`), and each comparison carries them.
pub async fn run(
    plan: &Plan,
    spec: &CompareSpec,
    base: &BaseCheckout,
    shared: &SharedContext,
    settings: &RunSettings,
    share: Option<(u32, u32)>,
) -> (Vec<(usize, PluginOutcome)>, Comparisons) {
    let seed = seed(spec, shared.run_id.as_str());
    let candidate = settings.workspace.clone();
    let mut outcomes = Vec::new();
    let mut comparisons = Comparisons::default();
    let budget = spec.budget.map(|b| b.get());
    let began = Instant::now();
    let mut pair_times: Vec<Duration> = Vec::new();
    let mut out_of_budget = false;
    for index in instances(plan) {
        let inst = &plan.instances[index];
        let mut open: Vec<Open> = Vec::new();
        let max = spec.pairs.max as usize;
        // Each instance's order is its own, and reproducible from the seed.
        let mut rng = Rng::new(seed ^ sequential::Rng::new(index as u64).next_u64());
        let mut order = String::new();
        let mut runs: Vec<PluginOutcome> = Vec::new();
        let mut failed: Option<PluginOutcome> = None;
        // The base's failure is the comparison's, not the candidate's: like
        // a base that cannot be had, it leaves the objectives without one.
        let mut base_failed: Option<String> = None;
        let numbers: Vec<u32> = match share {
            Some((k, n)) => (k..=max as u32).step_by(n.max(1) as usize).collect(),
            None => (1..=max as u32).collect(),
        };
        let mut measured: Vec<u32> = Vec::new();
        for &pair in &numbers {
            if settings.cancel.signal().is_some() {
                break;
            }
            // The next pair must fit in what is left of the budget.
            if let Some(b) = budget {
                let typical = pair_times.iter().sum::<Duration>() / pair_times.len().max(1) as u32;
                if pair > 1 && began.elapsed() + typical > b {
                    out_of_budget = true;
                    break;
                }
            }
            let pair_started = Instant::now();
            let base_first = rng.below(2) == 0;
            order.push_str(if pair > 1 { " " } else { "" });
            order.push(if base_first { 'b' } else { 'c' });
            let sides = if base_first {
                [("base", &base.path), ("candidate", &candidate)]
            } else {
                [("candidate", &candidate), ("base", &base.path)]
            };
            let mut got: [Option<PluginOutcome>; 2] = [None, None];
            for (variant, folder) in sides {
                let out = runner::run_variant(inst, shared, settings, folder, variant, pair).await;
                if out.status != PluginStatus::Ok && variant == "base" {
                    base_failed = Some(format!(
                        "the base side of pair {pair} ended `{}`{}",
                        out.status.as_str(),
                        out.error
                            .as_ref()
                            .map(|e| format!(": {}", e.message))
                            .unwrap_or_default()
                    ));
                    break;
                }
                if out.status != PluginStatus::Ok {
                    let mut out = out;
                    out.notes.push(format!(
                        "the {variant} side of pair {pair} of the comparison with `{}` failed",
                        base.label
                    ));
                    failed = Some(out);
                    break;
                }
                got[usize::from(variant == "candidate")] = Some(out);
            }
            if base_failed.is_some() {
                runs.extend(got[1].take());
                break;
            }
            let [Some(b), Some(c)] = got else { break };
            pair_times.push(pair_started.elapsed());
            measured.push(pair);
            if measured.len() == 1 {
                let reported: Vec<&Metric> = c.metrics.iter().chain(&b.metrics).collect();
                open = open_rows(plan, spec, &inst.id, &reported, seed);
            }
            for o in open.iter_mut().filter(|o| !o.done()) {
                let (vb, vc) = match (value_of(&b, &o.metric), value_of(&c, &o.metric)) {
                    (Some(vb), Some(vc)) if vb > 0.0 && vc > 0.0 => (vb, vc),
                    (vb, vc) => {
                        let problem = match (vb, vc) {
                            (None, _) => format!("the base did not report `{}` (pair {pair})", o.metric),
                            (_, None) => format!("the candidate did not report `{}` (pair {pair})", o.metric),
                            (Some(b), Some(c)) => format!(
                                "a ratio needs values above 0, and pair {pair} measured {b} (base) and {c} (candidate)"
                            ),
                        };
                        o.problem.get_or_insert(problem);
                        continue;
                    }
                };
                o.w.push((vc / vb).ln());
                o.base.push(vb);
                o.candidate.push(vc);
                o.replicated = replicated(&o.base, &o.candidate);
                if share.is_none() && o.replicated.is_none() && o.seq.is_look(o.w.len()) {
                    o.state = Some(o.seq.look(&o.w, false));
                }
            }
            step_down(&mut open, spec.alpha);
            runs.push(c);
            // What is left: of the budget, else at most the pairs to `max`.
            let typical = pair_times.iter().sum::<Duration>() / pair_times.len().max(1) as u32;
            let left = budget
                .map(|b| b.saturating_sub(began.elapsed()))
                .unwrap_or(typical * (max as u32 - pair));
            settings.reporter.report(progress(
                &inst.id,
                (pair, max),
                &open,
                left,
                budget.is_some(),
            ));
            // An objective whose pairs give no ratio is not waited for.
            if open.iter().all(Open::done) {
                break;
            }
        }
        if base_failed.is_some() && runs.is_empty() {
            // The candidate measured once, for the record.
            let out = runner::run_variant(inst, shared, settings, &candidate, "candidate", 1).await;
            match out.status {
                PluginStatus::Ok => runs.push(out),
                _ => failed = Some(out),
            }
        }
        let pairs = runs.len();
        let outcome = match failed {
            Some(f) => f,
            None if runs.is_empty() => continue,
            None => {
                let mut pooled = runner::pool(runs, pairs as u32, Aggregate::Median);
                pooled.repeats = None;
                pooled.notes.push(format!(
                    "measured side by side with `{}`: {pairs} pair{} (order {order}){}",
                    base.label,
                    if pairs == 1 { "" } else { "s" },
                    if out_of_budget {
                        format!(
                            "; `compare.budget` ({}) ran out",
                            crate::duration::short(budget.unwrap_or_default())
                        )
                    } else {
                        String::new()
                    }
                ));
                pooled
            }
        };
        if let (Some(why), PluginStatus::Ok) = (&base_failed, outcome.status) {
            for o in plan.objectives.iter().filter(|o| o.instance == inst.id) {
                comparisons
                    .problems
                    .entry(o.spec.id.clone())
                    .or_insert_with(|| why.clone());
            }
        }
        if outcome.status == PluginStatus::Ok {
            let sizes: std::collections::BTreeMap<String, u32> = open
                .iter()
                .filter_map(|o| o.family.clone())
                .fold(std::collections::BTreeMap::new(), |mut m, f| {
                    *m.entry(f).or_insert(0) += 1;
                    m
                });
            for o in open {
                if let Some(f) = &o.family {
                    comparisons
                        .families
                        .entry(f.clone())
                        .or_default()
                        .push(o.id.clone());
                }
                if let Some(r) = &o.replicated {
                    comparisons.replicated.insert(o.id.clone(), r.clone());
                }
                if let Some(why) = base_failed.as_ref().filter(|_| !o.done()) {
                    comparisons.problems.insert(o.id, why.clone());
                    continue;
                }
                // A comparison cut short (a cancelled run, the budget) ends
                // where it stood.
                let budget_hit = out_of_budget && !o.done();
                let state = match o.state {
                    Some(s) if s.ending.is_some() && o.replicated.is_none() => s,
                    _ if o.w.is_empty() => {
                        if let Some(p) = o.problem {
                            comparisons.problems.insert(o.id, p);
                        }
                        continue;
                    }
                    _ if o.replicated.is_some() => {
                        let mut s = o.seq.look(&o.w, true);
                        s.ending = Some(Ending::Inconclusive);
                        s
                    }
                    _ => {
                        let mut s = o.seq.look(&o.w, true);
                        // Cancelled: what it stood at, never a pass.
                        if !budget_hit && o.w.len() < o.seq.design.max {
                            s.ending = Some(Ending::Inconclusive);
                        }
                        s
                    }
                };
                let status = match state.ending {
                    Some(Ending::Fail) => ObjectiveStatus::Fail,
                    Some(Ending::Pass) => ObjectiveStatus::Pass,
                    _ => ObjectiveStatus::Inconclusive,
                };
                let median = |v: &[f64]| crate::stats::aggregate(v, Aggregate::Median);
                let family_size = o.family.as_ref().and_then(|f| sizes.get(f).copied());
                comparisons.by_objective.insert(
                    o.id,
                    (
                        ComparisonOutcome {
                            base: base.label.clone(),
                            base_revision: base.revision.clone(),
                            test: spec.test.as_str().to_owned(),
                            alpha: o.seq.design.alpha,
                            alpha_spent: state.alpha_spent,
                            pairs: state.pairs as u32,
                            min_pairs: o.seq.design.min as u32,
                            max_pairs: o.seq.design.max as u32,
                            stopped_early: state.stopped_early,
                            tolerance_pct: o.tolerance_pct,
                            change_pct: state.change_pct,
                            ci_low_pct: state.ci_pct.0,
                            ci_high_pct: state.ci_pct.1,
                            p_worse: state.p_worse,
                            p_inside: state.p_inside,
                            base_value: median(&o.base),
                            candidate_value: median(&o.candidate),
                            seed,
                            order: order.clone(),
                            boundary_p: state.boundary,
                            mde_pct: state.mde_pct,
                            budget_exhausted: budget_hit,
                            family_size,
                            share: share.map(|(k, n)| crate::decision::PairShare {
                                k,
                                n,
                                pairs: measured.clone(),
                                base: o.base.clone(),
                                candidate: o.candidate.clone(),
                                runner: shared.runner.as_ref().map(|r| r.fingerprint.clone()),
                            }),
                            pooled: None,
                        },
                        status,
                    ),
                );
            }
        }
        outcomes.push((index, outcome));
    }
    (outcomes, comparisons)
}

/// What a pair leaves: the pairs done, the running estimate (of the one
/// metric, or how many of a family are decided) and the budget left.
fn progress(
    inst: &crate::ids::InstanceId,
    (pair, max): (u32, usize),
    open: &[Open],
    left: Duration,
    budget: bool,
) -> crate::events::Event {
    let progress = match open {
        [o] if o.w.is_empty() => String::new(),
        [o] => format!("{:+.1}% so far", sequential::estimate(&o.w).0),
        _ => format!(
            "{} of {} metrics decided",
            open.iter().filter(|o| o.done()).count(),
            open.len()
        ),
    };
    crate::events::Event::Pair {
        instance: inst.to_string(),
        pair,
        max: max as u32,
        progress,
        left,
        budget,
    }
}
