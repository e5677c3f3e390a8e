//! `qod calibrate`: the session opened, the calibration run, and its
//! table for people.

use super::CommandError;
use crate::calibrate::{Against, Calibration};
use crate::gate::calibrate::CalibrateRequest;
use crate::gate::{Request, RunOptions, Session};
use std::fmt::Write;

/// Calibrates the request's policy on this machine and, when the request
/// records, keeps the calibration in its store (for the gates on this
/// runner to cite); the key it went to.
pub async fn calibrate(
    req: Request,
    opts: &RunOptions,
    calibration: &CalibrateRequest,
) -> Result<(Calibration, Option<String>), CommandError> {
    let session = Session::open(req).await?;
    let c = crate::gate::calibrate::calibrate(&session, opts, calibration).await?;
    let kept = match session.request.record && !c.objectives.is_empty() {
        true => Some(
            session
                .store
                .keep_calibration(&c.runner.fingerprint, &c.policy_hash, &c.made_at, &c)
                .await?,
        ),
        false => None,
    };
    Ok((c, kept))
}

/// The calibration as a table: one block per objective.
pub fn table(c: &Calibration) -> String {
    let mut s = format!(
        "calibration of `{}` on runner {} ({})\n",
        c.policy,
        c.runner.fingerprint,
        c.runner.cpu.as_deref().unwrap_or("an unknown CPU")
    );
    for o in &c.objectives {
        let (what, per, unit) = match o.against {
            Against::Base => ("A/A pairs", "a pair", "pairs"),
            Against::History => ("runs in a row", "from run to run", "runs"),
        };
        let _ = writeln!(
            s,
            "\n{} (`{}`): {} {what}{}, spread {:.2}% {per}",
            o.id,
            o.metric,
            o.pairs,
            if o.partial {
                " (cut short by `--budget`)"
            } else {
                ""
            },
            o.cv_pct
        );
        if !o.detection.is_empty() {
            let _ = writeln!(
                s,
                "  false alarms {:.1}% [{:.1}%, {:.1}%]",
                o.false_alarm_pct, o.false_alarm_interval_pct[0], o.false_alarm_interval_pct[1]
            );
            for d in &o.detection {
                let _ = writeln!(
                    s,
                    "  {:>5} detected {:>5.1}%{}",
                    format!("+{}%", d.change_pct),
                    d.detected_pct,
                    d.median_pairs
                        .map(|p| format!(", median {p} {unit}"))
                        .unwrap_or_default()
                );
            }
            if let Some(m) = o.mde_pct {
                let _ = writeln!(s, "  smallest change detected 95% of the time: +{m}%");
            }
        }
        let _ = writeln!(s, "  {}", crate::diag::printable(&o.recommendation));
    }
    for why in &c.skipped {
        let _ = writeln!(s, "\nnot calibrated: {}", crate::diag::printable(why));
    }
    s
}
