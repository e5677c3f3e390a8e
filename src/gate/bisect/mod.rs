//! `qod bisect`, run: the commits between a good and a bad revision, each
//! checked out in a temporary worktree (removed on every exit, signals
//! included), prepared with `compare.prepare`, and compared side by side
//! with the good revision on this runner, with one objective's metric and
//! tolerance; `crate::bisect::Search` chooses which commit comes next.

mod bench;

use super::Session;
use crate::bisect::{
    expected_steps, BisectVerdict, Bisection, Culprit, Next, Search, Skipped, Step, StepVerdict,
};
use crate::compare::{BaseCheckout, WorkspaceError};
use crate::decision::ComparisonOutcome;
use crate::events::Event;
use crate::plan::Plan;
use crate::policy::{BaseSource, CompareSpec};
use bench::{keep, Bench, Measured};
use std::path::Path;

/// What to bisect.
#[derive(Debug, Clone)]
pub struct BisectRequest {
    pub good: String,
    pub bad: String,
    /// The objective deciding each step (default: the policy's first
    /// side-by-side objective, else its first with a relative tolerance).
    pub objective: Option<String>,
    /// Keep each step's comparison in the store, as a run excluded from
    /// baselines (`--record`): the report shows them apart.
    pub record: bool,
    /// Compare only the commit of probe K of N (`--probe K/N`, one job of
    /// a matrix), and end.
    pub probe: Option<(u32, u32)>,
    /// Steps measured before (by probes, `--after`): they narrow the range
    /// before the search begins.
    pub after: Vec<Step>,
}

/// Why a bisection could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BisectError {
    #[error(
        "`{0}` names no commit in this repository (fetch it first: CI checkouts are often shallow)"
    )]
    UnknownRevision(String),
    #[error("`{good}` is not an ancestor of `{bad}`: give `--good` a revision the bad one descends from")]
    NotAncestor { good: String, bad: String },
    #[error("`--good` and `--bad` are the same commit: there is nothing between them")]
    SameCommit,
    #[error("no objective to bisect with: {0}")]
    NoObjective(String),
    #[error("the good revision cannot be measured: {0}")]
    Good(String),
    #[error("cancelled by {}; every worktree was removed", crate::supervise::signal_name(*.0))]
    Cancelled(i32),
}

fn git(cwd: &Path, args: &[&str]) -> Result<String, String> {
    crate::git::run(cwd, args).map(|s| s.trim().to_owned())
}

fn resolve(cwd: &Path, rev: &str) -> Result<String, BisectError> {
    git(
        cwd,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|_| BisectError::UnknownRevision(rev.to_owned()))
}

/// A commit's subject and author.
fn describe(cwd: &Path, rev: &str) -> (String, String) {
    let text = git(cwd, &["show", "-s", "--format=%s%x00%an <%ae>", rev]).unwrap_or_default();
    let (subject, author) = text.split_once('\0').unwrap_or((&text, ""));
    (subject.to_owned(), author.to_owned())
}

/// `plan` narrowed to the objective `id` (or the first that can be
/// compared side by side), made an objective `against: base`.
fn narrow(plan: &Plan, id: Option<&str>) -> Result<Plan, BisectError> {
    let tolerance = |o: &crate::plan::PlannedObjective| {
        o.compared.or_else(|| {
            o.pass
                .first()
                .and_then(|c| crate::plan::tolerance_of(c).ok())
        })
    };
    let chosen = match id {
        Some(id) => {
            let o = plan.objectives.iter().find(|o| o.spec.id == id).ok_or_else(|| {
                BisectError::NoObjective(format!(
                    "the policy has no objective `{id}`; its objectives are: {}",
                    plan.objectives
                        .iter()
                        .map(|o| format!("`{}`", o.spec.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            if tolerance(o).is_none() {
                return Err(BisectError::NoObjective(format!(
                    "objective `{id}` has no relative tolerance (`<= +5%`) to compare a commit with the good one by"
                )));
            }
            o
        }
        None => plan
            .objectives
            .iter()
            .find(|o| o.compared.is_some())
            .or_else(|| plan.objectives.iter().find(|o| tolerance(o).is_some()))
            .ok_or_else(|| {
                BisectError::NoObjective(
                    "no objective has a relative tolerance (`pass: \"<= +5%\"`); add one, or name one with `--objective`".into(),
                )
            })?,
    };
    let mut o = chosen.clone();
    o.compared = tolerance(chosen);
    o.acknowledgements.clear();
    let mut narrowed = plan.clone();
    narrowed.instances.retain(|i| i.id == o.instance);
    narrowed.objectives = vec![o];
    Ok(narrowed)
}

/// Bisects between `req.good` and `req.bad` in the session's checkout.
pub async fn bisect(
    session: &Session,
    opts: &super::RunOptions,
    req: &BisectRequest,
) -> Result<Bisection, BisectError> {
    let cwd = &session.request.cwd;
    let good = resolve(cwd, &req.good)?;
    let bad = resolve(cwd, &req.bad)?;
    if good == bad {
        return Err(BisectError::SameCommit);
    }
    if git(cwd, &["merge-base", "--is-ancestor", &good, &bad]).is_err() {
        return Err(BisectError::NotAncestor {
            good: req.good.clone(),
            bad: req.bad.clone(),
        });
    }
    let commits: Vec<String> = git(
        cwd,
        &[
            "rev-list",
            "--reverse",
            "--ancestry-path",
            &format!("{good}..{bad}"),
        ],
    )
    .map_err(|_| BisectError::UnknownRevision(req.bad.clone()))?
    .lines()
    .map(str::to_owned)
    .collect();
    let plan = narrow(&session.plan, req.objective.as_deref())?;
    let o = &plan.objectives[0];
    let spec: CompareSpec = match &plan.policy.policy.compare {
        Some(s) => s.clone(),
        None => serde_json::from_value(serde_json::json!({"base": {"revision": good}}))
            .expect("a base is all a comparison needs"),
    };
    let mut settings = super::settings(&session.request, opts, &plan);
    // Each step, not each plugin invocation, is what a bisection shows.
    settings.reporter = std::sync::Arc::new(StepsOnly(settings.reporter.clone()));
    crate::runner::become_subreaper();
    let good_checkout = BaseCheckout::open(
        &BaseSource::Revision(good.clone()),
        &crate::protocol::Source::default(),
        cwd,
    )
    .map_err(|e| BisectError::Good(e.to_string()))?;
    crate::compare::workspace::prepare_side(
        &spec,
        "base",
        &good_checkout.path,
        &settings.parent_env,
        settings.grace,
        &settings.cancel,
    )
    .await
    .map_err(|e| match e {
        WorkspaceError::Cancelled { signal, .. } => BisectError::Cancelled(signal),
        e => BisectError::Good(e.redacted(|t| settings.redactor.redact(t)).to_string()),
    })?;
    let shared = super::local_context(session.runner());
    let reporter = settings.reporter.clone();
    let bench = Bench {
        plan: &plan,
        spec,
        good: &good_checkout,
        shared,
        settings,
        cwd,
    };
    let of_about = expected_steps(commits.len()) + 1;
    let mut steps: Vec<Step> = Vec::new();
    let mut worse_at: Vec<(usize, ComparisonOutcome)> = Vec::new();
    let mut skipped_list: Vec<Skipped> = Vec::new();
    // Each step: announced, measured, recorded.
    let mut step = |i: usize, m: Measured, steps: &mut Vec<Step>| {
        let (subject, _) = describe(cwd, &commits[i]);
        reporter.report(Event::Bisect {
            step: steps.len() + 1,
            of_about,
            revision: commits[i].clone(),
            subject: subject.clone(),
            verdict: Some(m.verdict.phrase().into()),
            detail: m.reason.clone(),
        });
        if m.verdict == StepVerdict::Skipped {
            skipped_list.push(Skipped {
                revision: commits[i].clone(),
                reason: m.reason.clone(),
            });
        }
        if let (StepVerdict::Worse, Some(c)) = (m.verdict, &m.comparison) {
            worse_at.push((i, c.clone()));
        }
        steps.push(Step {
            revision: commits[i].clone(),
            subject,
            verdict: m.verdict,
            pairs: m.comparison.as_ref().map_or(0, |c| c.pairs),
            change_pct: m.comparison.as_ref().map(|c| c.change_pct),
            ci_low_pct: m.comparison.as_ref().map(|c| c.ci_low_pct),
            ci_high_pct: m.comparison.as_ref().map(|c| c.ci_high_pct),
            reason: m.reason,
        });
    };
    let announce = |i: usize, n: usize| {
        reporter.report(Event::Bisect {
            step: n,
            of_about,
            revision: commits[i].clone(),
            subject: describe(cwd, &commits[i]).0,
            verdict: None,
            detail: String::new(),
        })
    };
    let last = commits.len() - 1;
    let mut kept = Vec::new();
    let summary = |verdict, steps: Vec<Step>, skipped: Vec<Skipped>| Bisection {
        good: good.clone(),
        bad: bad.clone(),
        objective: o.spec.id.clone(),
        metric: o.spec.metric.clone(),
        tolerance_pct: o
            .compared
            .map_or(0.0, |t| ((t.ratio - 1.0) * 1e8).round() / 1e6),
        commits: commits.len(),
        verdict,
        culprit: None,
        steps,
        skipped,
        candidates: Vec::new(),
        recorded: Vec::new(),
        warnings: Vec::new(),
    };
    // One probe of a matrix: its commit, and no more.
    if let Some((k, n)) = req.probe {
        let i = crate::bisect::probe_index(k, n, commits.len());
        announce(i, 1);
        let m = bench.measure(&commits[i]).await?;
        step(i, m, &mut steps);
        return Ok(summary(BisectVerdict::Probed, steps, skipped_list));
    }
    // First: is `bad` worse at all?
    announce(last, 1);
    let first = bench.measure(&bad).await?;
    if req.record {
        kept.push(keep(&session.store, &bench, (&good, &bad), &bad, &first).await);
    }
    let bad_verdict = first.verdict;
    step(last, first, &mut steps);
    let mut search = Search::new(commits.len());
    // What probes found, in the order of their commits.
    let mut probed: Vec<(usize, &Step)> = req
        .after
        .iter()
        .filter_map(|s| Some((commits.iter().position(|c| *c == s.revision)?, s)))
        .collect();
    probed.sort_by_key(|(i, _)| *i);
    for (i, s) in probed {
        search.answer(i, s.verdict);
        let mut s = s.clone();
        s.reason = format!("probe: {}", s.reason);
        steps.push(s);
    }
    let end = match bad_verdict {
        StepVerdict::Same => None,
        StepVerdict::Worse => loop {
            match search.next() {
                Next::Test(i) => {
                    announce(i, steps.len() + 1);
                    let m = bench.measure(&commits[i]).await?;
                    if req.record {
                        kept.push(
                            keep(&session.store, &bench, (&good, &bad), &commits[i], &m).await,
                        );
                    }
                    search.answer(i, m.verdict);
                    step(i, m, &mut steps);
                }
                other => break Some(other),
            }
        },
        _ => Some(Next::Stuck((0..commits.len()).collect())),
    };
    let mut out = summary(BisectVerdict::NoRegression, steps, skipped_list);
    out.recorded = kept
        .iter()
        .filter_map(|k| k.as_ref().ok().cloned())
        .collect();
    out.warnings = kept
        .into_iter()
        .filter_map(Result::err)
        .map(|e| format!("a step was not recorded: {e}"))
        .collect();
    match end {
        None => {}
        Some(Next::Found(i)) => {
            let (subject, author) = describe(cwd, &commits[i]);
            let c = worse_at.iter().rev().find(|(j, _)| *j == i).map(|(_, c)| c);
            out.verdict = BisectVerdict::Found;
            out.culprit = Some(Culprit {
                revision: commits[i].clone(),
                subject,
                author,
                change_pct: c.map_or(0.0, |c| c.change_pct),
                ci_low_pct: c.map_or(0.0, |c| c.ci_low_pct),
                ci_high_pct: c.map_or(0.0, |c| c.ci_high_pct),
                mde_pct: c.and_then(|c| c.mde_pct),
            });
        }
        Some(other) => {
            // Stuck (the loop ends on nothing else): the commits left.
            let left = match other {
                Next::Stuck(left) => left,
                _ => (0..commits.len()).collect(),
            };
            out.verdict = BisectVerdict::Inconclusive;
            out.candidates = left.into_iter().map(|i| commits[i].clone()).collect();
        }
    }
    Ok(out)
}

/// A reporter that passes the bisection's steps on, and nothing else.
#[derive(Debug)]
struct StepsOnly(crate::events::Shared);

impl crate::events::Reporter for StepsOnly {
    fn report(&self, event: Event) {
        if matches!(event, Event::Bisect { .. }) {
            self.0.report(event);
        }
    }
}
