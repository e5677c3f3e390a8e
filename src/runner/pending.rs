//! Plugins that answer `"status": "pending"`: the answer read, and the wait
//! before the plugin is invoked again with its state.

use super::{PlannedInstance, RunSettings};
use crate::decision::{PluginOutcome, PluginStatus};
use crate::protocol::{PluginResult, ResultStatus};
use crate::supervise::{Ending, RawRun};
use serde_json::Value;
use std::time::Duration;

/// What a plugin that answered `"status": "pending"` asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub state: Value,
    pub retry_after: Duration,
    pub summary: Option<String>,
}

/// When to ask a pending plugin again, when it does not say.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The pending answer of a run that exited 0 with a result whose status is
/// `pending`; anything else is left to [`interpret`].
pub fn pending(raw: &RawRun) -> Option<Pending> {
    if !matches!(&raw.ending, Ending::Exited(s) if s.success()) {
        return None;
    }
    let result: PluginResult = serde_json::from_slice(&raw.stdout).ok()?;
    (result.status == ResultStatus::Pending).then(|| Pending {
        state: result.state.unwrap_or(Value::Null),
        retry_after: result.retry_after.map_or(DEFAULT_RETRY_AFTER, |d| d.get()),
        summary: result.summary,
    })
}

/// Waits out a pending plugin's `retry_after`, saying so on stderr; or the
/// outcome when its timeout would pass first or the gate is cancelled.
pub(super) async fn wait(
    inst: &PlannedInstance,
    settings: &RunSettings,
    p: &Pending,
    elapsed: Duration,
) -> Result<(), Box<PluginOutcome>> {
    let what = p.summary.as_deref().unwrap_or("no summary");
    let left = inst.timeout.saturating_sub(elapsed);
    if p.retry_after >= left {
        tokio::time::sleep(left).await;
        let mut out = super::unrun(
            inst,
            PluginStatus::Timeout,
            "timeout",
            format!(
                "still pending after its timeout of {} ({what}); raise `timeout:` for this instance if the work takes longer",
                crate::duration::HumanDuration(inst.timeout)
            ),
        );
        out.duration_ms = inst.timeout.as_millis() as u64;
        return Err(Box::new(out));
    }
    settings.reporter.report(crate::events::Event::Pending {
        instance: inst.id.to_string(),
        what: settings.redactor.redact(what),
        retry_after: p.retry_after,
    });
    let mut cancel = settings.cancel.clone();
    tokio::select! {
        _ = tokio::time::sleep(p.retry_after) => Ok(()),
        sig = cancel.cancelled() => Err(Box::new(super::unrun(
            inst,
            PluginStatus::Cancelled,
            "cancelled",
            format!("cancelled by {} while pending ({what})", super::signal_name(sig)),
        ))),
    }
}

/// A plugin left pending when the gate is suspended: its outcome (status
/// `pending`), and apart from it what it needs to be resumed.
pub(super) fn suspended(
    inst: &PlannedInstance,
    p: Pending,
    since: chrono::DateTime<chrono::Utc>,
    resumed: u32,
) -> (PluginOutcome, crate::decision::PendingState) {
    let mut out = super::unrun(
        inst,
        PluginStatus::Pending,
        "pending",
        format!(
            "pending ({}); the gate is suspended and resumes later",
            p.summary.as_deref().unwrap_or("no summary")
        ),
    );
    out.summary = p.summary;
    let state = crate::decision::PendingState {
        state: p.state,
        retry_after_ms: p.retry_after.as_millis() as u64,
        since: crate::time::rfc3339(since),
        resumed,
    };
    (out, state)
}
