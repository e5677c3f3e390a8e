//! `qod combine`: the parts of a group read from the store (waiting for
//! the missing ones up to `--wait`), composed into one decision over the
//! whole policy, and recorded as one run: the run baselines and history see.

use super::decide::{exit_code, headline, Ending};
use super::{decide, history, record, GateError, GateOutcome, Session};
use crate::ids::RunId;
use crate::parts::PartRecord;
use crate::plan::Plan;
use crate::protocol::HistoryInfo;
use crate::runner::SharedContext;
use crate::store::Store;
use std::time::Duration;

/// What `qod combine` asks beyond the [`super::Request`] every gate
/// command shares.
#[derive(Debug, Clone)]
pub struct CombineOptions {
    /// The group (`None`: from the CI, as the parts found it).
    pub group: Option<String>,
    /// How long to wait for parts not recorded yet.
    pub wait: Duration,
}

/// Time between two looks at the store while waiting for parts.
const POLL: Duration = Duration::from_secs(2);

/// Composes the recorded parts of a group into one decision, and records it.
pub async fn combine(session: &Session, opts: &CombineOptions) -> Result<GateOutcome, GateError> {
    let (req, plan, store) = (&session.request, &session.plan, &session.store);
    let group = match &opts.group {
        Some(g) => g.clone(),
        None => crate::parts::group_from_env(&req.env)?,
    };
    let (records, damaged) = await_parts(store, plan, &group, opts.wait, &req.reporter).await?;
    if records.is_empty() {
        return Err(GateError::NoParts {
            group: group.clone(),
            location: store.location(),
            hint: format!(
                "run the parts first with `qod run --group {group} --part …` (or `--shard K/N`), against the same `--store`; `--wait 10m` waits for them"
            ),
        });
    }
    let started_at = crate::time::now();
    let composed = crate::parts::compose(plan, &group, records);
    let mut warnings = composed.notes.clone();
    warnings.extend(damaged);
    for (id, why) in &composed.missing {
        warnings.push(format!("`{id}`: {why}"));
    }
    let source = composed.source.clone();
    let pipeline = composed.pipeline.clone();
    let runner = session.runner();
    let target =
        crate::evaluate::Target::new(&source, crate::ci::base_of(&req.cwd, &source)).on(&runner);
    // The history gives the sparklines and the last deployment only: each
    // part chose (and read the samples of) its own baselines.
    let history = history::read(store, &[], &target, started_at, &mut warnings).await;
    let eval = crate::evaluate::recombine(
        composed.objectives,
        &composed.plugins,
        &plan.policy.policy.decision,
    );
    let shared = SharedContext {
        run_id: RunId::generate(),
        started_at,
        pipeline: pipeline.clone(),
        source: source.clone(),
        history: HistoryInfo {
            last_deployment: history.last_deployment.clone(),
        },
        runner: Some(runner),
    };
    let mut decision = decide(plan, &shared, store, &history, 0, eval, composed.plugins);
    if !composed.started_at.is_empty() {
        decision.run.started_at = composed.started_at.clone();
    }
    decision.run.parts = composed.parts;
    decision.run.cancelled = composed.cancelled;
    let ending = match &decision.run.cancelled {
        Some(c) => Ending::PartCancelled(c.clone()),
        None => Ending::Decided,
    };
    decision.summary = headline(&decision.summary, &ending);
    let mut notes = Vec::new();
    for p in decision
        .run
        .parts
        .iter()
        .filter(|p| !p.superseded.is_empty())
    {
        notes.push(format!(
            "part `{}` was recorded {} times; the newest ({}) is used",
            p.name,
            p.superseded.len() + 1,
            p.run_id
        ));
    }
    if req.record {
        let newest = decision
            .run
            .parts
            .iter()
            .map(|p| p.run_id.as_str())
            .max()
            .unwrap_or_default()
            .to_owned();
        let key = crate::parts::key_of(&group);
        match store
            .mark_combined(&key, &newest, decision.run.id.as_str())
            .await
        {
            Ok(None) => record(store, req.spool.as_deref(), &mut decision, &pipeline, &source).await,
            Ok(Some(earlier)) => notes.push(format!(
                "these parts of group `{group}` were combined and recorded before, as run {earlier}; this decision is not recorded again"
            )),
            Err(e) => super::add_store_error(&mut decision, crate::diag::error_chain(&e)),
        }
    }
    decision.store.requests = store.requests();
    let exit = exit_code(&decision, &ending, req.strict);
    let trends = history::trends(&history.runs, &decision, source.branch.as_deref());
    Ok(GateOutcome {
        decision,
        exit,
        warnings,
        notes,
        trends,
        suspended: None,
    })
}

/// The group's parts, read until every instance of the policy is covered
/// or `wait` has passed.
async fn await_parts(
    store: &Store,
    plan: &Plan,
    group: &str,
    wait: Duration,
    reporter: &crate::events::Shared,
) -> Result<(Vec<PartRecord>, Vec<String>), GateError> {
    let until = tokio::time::Instant::now() + wait;
    let key = crate::parts::key_of(group);
    let mut said = None;
    loop {
        let (mut records, damaged): (Vec<PartRecord>, _) = store.parts(&key).await?;
        records.retain(|r| r.part.group == group);
        let covered = plan
            .instances
            .iter()
            .filter(|i| records.iter().any(|r| r.part.instances.contains(&i.id)))
            .count();
        // A comparison spread over jobs waits for every share of its pairs.
        let (_, shares_missing) = crate::parts::shares(&records);
        let now = tokio::time::Instant::now();
        if (covered == plan.instances.len() && shares_missing.is_empty()) || now >= until {
            return Ok((records, damaged));
        }
        // What is awaited: instances, or once they are all in, pair shares.
        let (covered, total, what) = match shares_missing.len() {
            0 => (covered, plan.instances.len(), "instances"),
            missing => {
                let n = records
                    .iter()
                    .find_map(|r| r.part.pairs.map(|[_, n]| n as usize))
                    .unwrap_or(missing);
                (n - missing, n, "pair shares")
            }
        };
        if said != Some((covered, what)) {
            reporter.report(crate::events::Event::WaitingForParts {
                group: group.to_owned(),
                covered,
                total,
                what,
                left: until - now,
            });
            said = Some((covered, what));
        }
        tokio::time::sleep(POLL.min(until - now)).await;
    }
}
