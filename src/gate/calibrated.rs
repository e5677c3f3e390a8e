//! A gate's side-by-side objectives cite what their runner can detect:
//! the newest calibration (`qod calibrate`) of this runner for this
//! policy, younger than 30 days. One of another runner, or an old one, is
//! named in a warning, never used silently.

use crate::calibrate::{choose, Calibration};
use crate::decision::{CalibrationRef, ObjectiveStatus};
use crate::evaluate::Evaluation;
use crate::plan::Plan;
use crate::store::Store;

/// Adds to each side-by-side objective that passed or could not tell what
/// this runner's calibration says it can detect; returns the calibration
/// cited.
pub(super) async fn cite(
    store: &Store,
    plan: &Plan,
    fingerprint: &str,
    eval: &mut Evaluation,
    warnings: &mut Vec<String>,
) -> Option<CalibrationRef> {
    if !eval.objectives.iter().any(|o| o.comparison.is_some()) {
        return None;
    }
    let hash = crate::calibrate::policy_hash(&plan.policy.text);
    let found: Vec<Calibration> = match store.calibrations(&hash).await {
        Ok(f) => f,
        Err(e) => {
            warnings.push(format!(
                "the store's calibrations could not be read: {}",
                crate::diag::error_chain(&e)
            ));
            return None;
        }
    };
    let c = match choose(&found, fingerprint, &hash, crate::time::now()) {
        Ok(c) => c,
        Err(why) => {
            if !why.is_empty() {
                warnings.push(why);
            }
            return None;
        }
    };
    let day = c.made_at.get(..10).unwrap_or_default().to_owned();
    for o in eval.objectives.iter_mut().filter(|o| {
        o.comparison.is_some()
            && matches!(
                o.status,
                ObjectiveStatus::Pass | ObjectiveStatus::Inconclusive
            )
    }) {
        let Some(cal) = c.objectives.iter().find(|x| x.id == o.id) else {
            continue;
        };
        if let Some(mde) = cal.mde_pct {
            o.reason.push_str(&format!(
                "; on this runner, +{mde}% is detected 95% of the time within {} pairs (calibrated {day}, {} A/A pairs)",
                o.comparison.as_ref().map_or(0, |c| c.max_pairs),
                cal.pairs
            ));
        }
    }
    Some(CalibrationRef {
        made_at: c.made_at.clone(),
        fingerprint: c.runner.fingerprint.clone(),
    })
}
