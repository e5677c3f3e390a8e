//! Side-by-side comparison (`compare:` in the policy, objectives `against:
//! base`): the plugins behind those objectives run alternately on the base
//! and on the candidate, in pairs whose order is random (seeded, recorded),
//! each invocation told its `variant` and `pair` and given its side's folder
//! as its workspace. After each batch of pairs the log-ratios
//! candidate/base are tested ([`sequential`]); the instance stops when every
//! objective on it has ended.

pub mod sequential;
pub mod workspace;

use crate::decision::{ComparisonOutcome, ObjectiveStatus, PluginOutcome, PluginStatus};
use crate::evaluate::Comparisons;
use crate::plan::Plan;
use crate::policy::{Aggregate, CompareSpec};
use crate::protocol::Metric;
use crate::runner::{self, RunSettings, SharedContext};
use sequential::{Design, Ending, Rng, State};
use workspace::prepare;
pub use workspace::{Base, WorkspaceError};

/// The base of a comparison made ready: checked out and prepared in each
/// side's folder; or why it cannot be (its objectives end `no_baseline`
/// with the reason). A candidate whose `prepare` fails is an error: there
/// is nothing to measure.
pub fn open_base(
    spec: &CompareSpec,
    source: &crate::protocol::Source,
    cwd: &std::path::Path,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<Result<Base, String>, WorkspaceError> {
    let base = match Base::open(&spec.base, source, cwd) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e.to_string())),
    };
    if let Some(cmd) = &spec.prepare {
        prepare(cmd, "candidate", cwd, env)?;
        if let Err(e) = prepare(cmd, "base", &base.path, env) {
            return Ok(Err(e.to_string()));
        }
    }
    Ok(Ok(base))
}

/// The instances behind objectives `against: base`, as indices into the plan.
pub fn instances(plan: &Plan) -> Vec<usize> {
    let mut out: Vec<usize> = plan
        .objectives
        .iter()
        .filter(|o| o.side_by_side.is_some())
        .map(|o| plan.instance_index(&o.instance))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
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

/// One objective's comparison in progress.
struct Open {
    id: String,
    metric: String,
    design: Design,
    tolerance_pct: f64,
    w: Vec<f64>,
    base: Vec<f64>,
    candidate: Vec<f64>,
    spent: f64,
    state: Option<State>,
    /// Why a pair gave no ratio, the first time it happened.
    problem: Option<String>,
}

/// Runs the compared instances of `plan` side by side, one instance after
/// another (nothing else runs meanwhile, so the two sides see the same
/// machine). Returns each instance's candidate invocations pooled (what the
/// decision and the record keep) and each objective's comparison.
pub async fn run(
    plan: &Plan,
    spec: &CompareSpec,
    base: &Base,
    shared: &SharedContext,
    settings: &RunSettings,
) -> (Vec<(usize, PluginOutcome)>, Comparisons) {
    let seed = seed(spec, shared.run_id.as_str());
    let candidate = settings.workspace.clone();
    let mut outcomes = Vec::new();
    let mut comparisons = Comparisons::default();
    for index in instances(plan) {
        let inst = &plan.instances[index];
        let mut open: Vec<Open> = plan
            .objectives
            .iter()
            .filter(|o| o.instance == inst.id)
            .filter_map(|o| {
                let side = o.side_by_side?;
                Some(Open {
                    id: o.spec.id.clone(),
                    metric: o.metric.as_str().to_owned(),
                    design: Design {
                        method: spec.test,
                        alpha: spec.alpha,
                        min: spec.pairs.min as usize,
                        max: spec.pairs.max as usize,
                        batch: spec.pairs.batch as usize,
                        floor: side.ratio.ln(),
                        higher_is_worse: side.higher_is_worse,
                        seed,
                    },
                    // `1.1 - 1` is 0.10000000000000009: rounded to what was written.
                    tolerance_pct: ((side.ratio - 1.0) * 1e8).round() / 1e6,
                    w: Vec::new(),
                    base: Vec::new(),
                    candidate: Vec::new(),
                    spent: 0.0,
                    state: None,
                    problem: None,
                })
            })
            .collect();
        let max = open.iter().map(|o| o.design.max).max().unwrap_or(0);
        // Each instance's order is its own, and reproducible from the seed.
        let mut rng = Rng::new(seed ^ sequential::Rng::new(index as u64).next_u64());
        let mut order = String::new();
        let mut runs: Vec<PluginOutcome> = Vec::new();
        let mut failed: Option<PluginOutcome> = None;
        for pair in 1..=max as u32 {
            if settings.cancel.signal().is_some() {
                break;
            }
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
            let [Some(b), Some(c)] = got else { break };
            for o in open
                .iter_mut()
                .filter(|o| o.problem.is_none())
                .filter(|o| o.state.as_ref().is_none_or(|s| s.ending.is_none()))
            {
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
                if o.design.is_look(o.w.len()) {
                    let s = o.design.look(&o.w, o.spent);
                    o.spent = s.alpha_spent;
                    o.state = Some(s);
                }
            }
            runs.push(c);
            if open
                .iter()
                // An objective whose pairs give no ratio is not waited for.
                .all(|o| {
                    o.problem.is_some() || o.state.as_ref().is_some_and(|s| s.ending.is_some())
                })
            {
                break;
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
                    "measured side by side with `{}`: {pairs} pair{} (order {order})",
                    base.label,
                    if pairs == 1 { "" } else { "s" }
                ));
                pooled
            }
        };
        if outcome.status == PluginStatus::Ok {
            for o in open {
                // A comparison cut short (a cancelled run) ends where it stood.
                let state = match o.state {
                    Some(s) if s.ending.is_some() => s,
                    _ if o.w.is_empty() => {
                        if let Some(p) = o.problem {
                            comparisons.problems.insert(o.id, p);
                        }
                        continue;
                    }
                    _ => {
                        let mut s = o.design.look(&o.w, o.spent);
                        s.ending = Some(Ending::Inconclusive);
                        s.stopped_early = false;
                        s
                    }
                };
                let status = match state.ending {
                    Some(Ending::Fail) => ObjectiveStatus::Fail,
                    Some(Ending::Pass) => ObjectiveStatus::Pass,
                    _ => ObjectiveStatus::Inconclusive,
                };
                let median = |v: &[f64]| crate::stats::aggregate(v, Aggregate::Median);
                comparisons.by_objective.insert(
                    o.id,
                    (
                        ComparisonOutcome {
                            base: base.label.clone(),
                            base_revision: base.revision.clone(),
                            test: spec.test.as_str().to_owned(),
                            alpha: spec.alpha,
                            alpha_spent: state.alpha_spent,
                            pairs: state.pairs as u32,
                            min_pairs: o.design.min as u32,
                            max_pairs: o.design.max as u32,
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
