//! Acknowledged objectives: judged by their own criterion first and, when
//! it does not hold, by the criterion an acknowledgement accepts; if that
//! one holds, the objective is `acknowledged` (a pass) and its reason
//! quotes who accepted what, why and until when.

use super::baseline::BaselineRuns;
use super::{compared, effect_of, objective, Comparisons};
use crate::decision::{AcknowledgementOutcome, ObjectiveOutcome, ObjectiveStatus, PluginOutcome};
use crate::plan::acknowledged::{Ack, AckSource};
use crate::plan::PlannedObjective;
use crate::protocol::Metric;

/// An objective compared with history.
pub(super) fn history(
    o: &PlannedObjective,
    metric: Option<&Metric>,
    plugin: Option<&PluginOutcome>,
    runs: Option<&BaselineRuns>,
) -> ObjectiveOutcome {
    let mut own = objective::evaluate(o, metric, plugin, runs);
    let Some(ack) = o.acknowledgement() else {
        expired(o, &mut own);
        return own;
    };
    // `from: REV` once the baseline is REV's line: the change is the new
    // level, and the objective's own criterion judges what comes after it.
    let rebased = runs.is_some_and(|b| {
        ack.since.is_some()
            && !b.runs.is_empty()
            && b.runs.iter().all(|r| {
                r.source
                    .revision
                    .as_deref()
                    .is_some_and(|rev| ack.on_line(rev))
            })
    });
    if rebased {
        own.reason.push_str(&format!(
            "; baseline from `{}` on, the change acknowledged by {}",
            ack.entry.from.as_deref().unwrap_or_default(),
            ack.entry.owner
        ));
        own.acknowledgement = Some(outcome(ack, own.status));
        return own;
    }
    let accepted = match own.status {
        ObjectiveStatus::Fail | ObjectiveStatus::Warn | ObjectiveStatus::Inconclusive
            if own.policy_error.is_none() =>
        {
            let mut row = o.clone();
            row.pass = vec![ack.accept.clone()];
            row.warn = Vec::new();
            Some(objective::evaluate(&row, metric, plugin, runs))
        }
        _ => None,
    };
    judge(o, own, ack, accepted.map(|a| (a.status, a.reason)))
}

/// An objective `against: base`: its paired test ran at the accepted
/// tolerance; its own tolerance is judged from the same interval.
pub(super) fn side_by_side(
    o: &PlannedObjective,
    metric: Option<&Metric>,
    plugin: Option<&PluginOutcome>,
    comparisons: &Comparisons,
) -> ObjectiveOutcome {
    let mut out = compared::evaluate(o, metric, plugin, comparisons);
    let (Some(ack), Some(c), Some(own)) = (o.acknowledgement(), out.comparison.clone(), o.compared)
    else {
        expired(o, &mut out);
        return out;
    };
    let own = own.toward(metric.and_then(|m| m.better));
    let limit = (own.ratio - 1.0) * 100.0;
    let (worst, best) = if own.higher_is_worse {
        (c.ci_high_pct, c.ci_low_pct)
    } else {
        (-c.ci_low_pct, -c.ci_high_pct)
    };
    let limit = if own.higher_is_worse { limit } else { -limit };
    let original = if worst <= limit {
        ObjectiveStatus::Pass
    } else if best > limit {
        ObjectiveStatus::Fail
    } else {
        ObjectiveStatus::Inconclusive
    };
    if original == ObjectiveStatus::Pass {
        return judge(o, out, ack, None);
    }
    let accepted = (out.status, out.reason.clone());
    out.status = original;
    out.reason = format!(
        "{}; {} its own `{}`",
        out.reason,
        if original == ObjectiveStatus::Fail {
            "the whole interval is beyond"
        } else {
            "the interval reaches beyond"
        },
        o.pass.first().map_or("", |p| p.text.as_str()),
    );
    judge(o, out, ack, Some(accepted))
}

/// The outcome of `own` under `ack`, given how the accepted criterion
/// ended (`None`: it was not needed).
fn judge(
    o: &PlannedObjective,
    mut own: ObjectiveOutcome,
    ack: &Ack,
    accepted: Option<(ObjectiveStatus, String)>,
) -> ObjectiveOutcome {
    own.acknowledgement = Some(outcome(ack, own.status));
    match accepted {
        None => {
            if own.status == ObjectiveStatus::Pass {
                own.reason.push_str(&format!(
                    "; not needed: the acknowledgement of {}",
                    ack.describe()
                ));
            }
        }
        Some((ObjectiveStatus::Pass, _)) => {
            own.status = ObjectiveStatus::Acknowledged;
            own.effect = effect_of(own.status, &o.spec);
            own.reason = format!("acknowledged: {}; {}", own.reason, ack.describe());
        }
        Some((status, _)) => {
            own.reason = format!(
                "{}; the acknowledged `{}` does not hold either ({}); {}",
                own.reason,
                ack.entry.accept,
                status.as_str(),
                ack.describe()
            );
        }
    }
    own
}

fn outcome(ack: &Ack, original: ObjectiveStatus) -> AcknowledgementOutcome {
    AcknowledgementOutcome {
        accept: ack.entry.accept.clone(),
        reason: ack.entry.reason.clone(),
        owner: ack.entry.owner.clone(),
        link: ack.entry.link.clone(),
        expires: ack.expires.map(|d| d.to_string()),
        source: match ack.source {
            AckSource::Policy => "policy",
            AckSource::File(_) => "file",
            AckSource::Trailer { .. } => "trailer",
        }
        .into(),
        from: ack.entry.from.clone(),
        original_status: original,
        expired: ack.expired,
    }
}

/// Notes an expired acknowledgement that names `o`: ignored, said so.
fn expired(o: &PlannedObjective, out: &mut ObjectiveOutcome) {
    if let Some(ack) = o.expired_acknowledgements().next() {
        out.reason.push_str(&format!(
            "; the acknowledgement of `{}` by {} expired on {} and was ignored",
            ack.entry.accept,
            ack.entry.owner,
            ack.expires.map(|d| d.to_string()).unwrap_or_default()
        ));
        out.acknowledgement = Some(outcome(ack, out.status));
    }
}
