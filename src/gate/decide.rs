//! The decision document, composed from what the run collected, and the
//! exit code it ends with.

use super::history::History;
use crate::decision::{
    Decision, PipelineSummary, PluginOutcome, RunSummary, StoreOutcome, Verdict,
    DECISION_SCHEMA_VERSION,
};
use crate::evaluate::Evaluation;
use crate::exit::Exit;
use crate::plan::Plan;
use crate::runner::SharedContext;
use crate::store::Store;

/// Composes the decision document from the evaluation and what the run saw.
pub(super) fn decide(
    plan: &Plan,
    shared: &SharedContext,
    store: &Store,
    history: &History,
    uploaded: u32,
    eval: Evaluation,
    plugins: Vec<PluginOutcome>,
) -> Decision {
    Decision {
        schema_version: DECISION_SCHEMA_VERSION,
        decision: eval.verdict,
        score: eval.score,
        summary: eval.summary,
        objectives: eval.objectives,
        plugins,
        pipeline: PipelineSummary {
            provider: shared.pipeline.provider.clone(),
            name: shared.pipeline.name.clone(),
            build_id: shared.pipeline.build_id.clone(),
            revision: shared.source.revision.clone(),
            branch: shared.source.branch.clone(),
            pull_request: shared.source.pull_request,
            base_branch: shared.source.base_branch.clone(),
            merge_base: shared.source.merge_base.clone(),
        },
        run: RunSummary {
            id: shared.run_id.clone(),
            started_at: crate::time::rfc3339(shared.started_at),
            finished_at: crate::time::rfc3339(crate::time::now()),
            policy: plan.policy.file.display().to_string(),
            cancelled: None,
            part: None,
            parts: Vec::new(),
            runner: shared.runner.clone(),
            calibration: None,
        },
        store: StoreOutcome {
            location: store.location(),
            history_read: history.error.is_none(),
            recorded: false,
            created: false,
            spooled: false,
            uploaded_from_spool: uploaded,
            last_deployment: history.last_deployment.clone(),
            requests: 0,
            error: history.error.clone(),
        },
    }
}

/// How a run ended, beside its verdict: what its headline says first and
/// what its exit code follows.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Ending {
    /// The whole policy, decided.
    Decided,
    /// A part of a group: `qod combine` decides.
    Part,
    /// Cancelled by this signal (its name): the plugins were stopped.
    Cancelled(i32),
    /// Combined from parts, one of which was cancelled by this signal.
    PartCancelled(String),
    /// Waiting for pending plugins (what they wait for).
    Suspended(String),
}

/// The decision's headline: the evaluation's summary, after how the run
/// ended when that comes first.
pub(super) fn headline(summary: &str, ending: &Ending) -> String {
    match ending {
        Ending::Decided | Ending::Part => summary.to_owned(),
        Ending::Cancelled(sig) => format!(
            "cancelled by {}: {summary}",
            crate::supervise::signal_name(*sig)
        ),
        Ending::PartCancelled(name) => format!("a part was cancelled by {name}: {summary}"),
        Ending::Suspended(waiting) => format!("suspended: {waiting}"),
    }
}

/// The exit code a run ends with: the signal's for a cancelled run; a
/// part's and a suspended gate's pass unless the store failed (their
/// verdicts are not the gate's yet); a combined run with a cancelled part
/// made no whole decision.
pub(super) fn exit_code(d: &Decision, ending: &Ending, strict: bool) -> Exit {
    match ending {
        Ending::Cancelled(sig) => Exit::Cancelled(u8::try_from(*sig).unwrap_or(15)),
        Ending::Suspended(_) => Exit::Pass,
        Ending::Part if d.store.error.is_none() => Exit::Pass,
        Ending::PartCancelled(_) => Exit::NoDecision.max(exit_of(d, strict)),
        Ending::Part | Ending::Decided => exit_of(d, strict),
    }
}

/// The exit code of a decided run: a store that failed means no decision
/// can be trusted to have been kept.
pub fn exit_of(d: &Decision, strict: bool) -> Exit {
    if d.store.error.is_some() || d.objectives.iter().any(|o| o.policy_error.is_some()) {
        return Exit::NoDecision;
    }
    match d.decision {
        Verdict::Pass => Exit::Pass,
        Verdict::Warn if strict => Exit::Fail,
        Verdict::Warn => Exit::Pass,
        Verdict::Fail => Exit::Fail,
    }
}
