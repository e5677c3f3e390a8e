//! A gate's objectives cite what their runner can detect: the newest
//! calibration (`qod calibrate`) of this runner for this policy, younger
//! than 30 days. One of another runner, or an old one, is named in a
//! warning, never used silently.

use crate::calibrate::{choose, Against, Calibration};
use crate::decision::{CalibrationRef, ObjectiveStatus};
use crate::evaluate::Evaluation;
use crate::plan::Plan;
use crate::store::Store;

/// Adds to each objective that passed or could not tell what this
/// runner's calibration says it can detect; returns the calibration cited.
pub(super) async fn cite(
    store: &Store,
    plan: &Plan,
    fingerprint: &str,
    eval: &mut Evaluation,
    warnings: &mut Vec<String>,
) -> Option<CalibrationRef> {
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
        matches!(
            o.status,
            ObjectiveStatus::Pass | ObjectiveStatus::Inconclusive
        )
    }) {
        let against = match o.comparison {
            Some(_) => Against::Base,
            None => Against::History,
        };
        let Some(cal) = c
            .objectives
            .iter()
            .find(|x| x.id == o.id && x.against == against)
        else {
            continue;
        };
        let Some(mde) = cal.mde_pct else { continue };
        let (within, measured) = match &o.comparison {
            Some(cmp) => (
                format!("within {} pairs", cmp.max_pairs),
                format!("{} A/A pairs", cal.pairs),
            ),
            None => {
                let confirm = plan
                    .objectives
                    .iter()
                    .find(|p| o.family.as_ref().map_or(&o.id, |f| &f.objective) == &p.spec.id)
                    .map_or(0, |p| p.spec.confirm);
                let within = match confirm {
                    0 => "from one run".to_owned(),
                    k => format!("from one run and {k} confirming"),
                };
                (within, format!("{} runs in a row", cal.pairs))
            }
        };
        o.reason.push_str(&format!(
            "; on this runner, +{mde}% is detected 95% of the time {within} (calibrated {day}, {measured})"
        ));
    }
    Some(CalibrationRef {
        made_at: c.made_at.clone(),
        fingerprint: c.runner.fingerprint.clone(),
    })
}
