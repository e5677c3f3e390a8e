//! One step of a bisection: a commit checked out, prepared and compared
//! side by side with the good revision (measured again with twice the
//! pairs when it cannot tell), and, with `--record`, kept in the store.

use super::BisectError;
use crate::bisect::StepVerdict;
use crate::compare::{BaseCheckout, WorkspaceError};
use crate::decision::{ComparisonOutcome, ObjectiveStatus, PluginStatus};
use crate::plan::Plan;
use crate::policy::{BaseSource, CompareSpec};
use crate::runner::{RunSettings, SharedContext};
use std::path::Path;

/// One commit compared with the good revision.
pub(super) struct Measured {
    pub(super) verdict: StepVerdict,
    pub(super) comparison: Option<ComparisonOutcome>,
    pub(super) reason: String,
}

/// The context of every comparison.
pub(super) struct Bench<'a> {
    pub(super) plan: &'a Plan,
    pub(super) spec: CompareSpec,
    pub(super) good: &'a BaseCheckout,
    pub(super) shared: SharedContext,
    pub(super) settings: RunSettings,
    pub(super) cwd: &'a Path,
}

fn signed(pct: f64) -> String {
    format!("{pct:+.1}%")
}

impl Bench<'_> {
    fn cancelled(&self) -> Result<(), BisectError> {
        match self.settings.cancel.signal() {
            Some(sig) => Err(BisectError::Cancelled(sig)),
            None => Ok(()),
        }
    }

    /// Checks `rev` out, prepares it, and compares it with the good
    /// revision; an unknown answer is measured again with twice the pairs.
    pub(super) async fn measure(&self, rev: &str) -> Result<Measured, BisectError> {
        let checkout = match BaseCheckout::open(
            &BaseSource::Revision(rev.to_owned()),
            &crate::protocol::Source::default(),
            self.cwd,
        ) {
            Ok(c) => c,
            Err(e) => return Ok(skipped(e.to_string())),
        };
        match crate::compare::workspace::prepare_side(
            &self.spec,
            "candidate",
            &checkout.path,
            &self.settings.parent_env,
            self.settings.grace,
            &self.settings.cancel,
        )
        .await
        {
            Ok(()) => {}
            Err(WorkspaceError::Cancelled { signal, .. }) => {
                return Err(BisectError::Cancelled(signal))
            }
            Err(e) => {
                let e = e.redacted(|t| self.settings.redactor.redact(t));
                return Ok(skipped(e.to_string()));
            }
        }
        let mut m = self.compare(&checkout, &self.spec).await?;
        if m.verdict == StepVerdict::Unknown {
            let mut more = self.spec.clone();
            more.pairs.max = (more.pairs.max * 2).min(1000);
            m = self.compare(&checkout, &more).await?;
        }
        Ok(m)
    }

    async fn compare(
        &self,
        checkout: &BaseCheckout,
        spec: &CompareSpec,
    ) -> Result<Measured, BisectError> {
        let mut settings = self.settings.clone();
        settings.workspace = checkout.path.clone();
        settings.artifacts = checkout.path.join(".qod").join("artifacts");
        let (outcomes, comparisons) =
            crate::compare::run(self.plan, spec, self.good, &self.shared, &settings, None).await;
        self.cancelled()?;
        if let Some((_, out)) = outcomes.iter().find(|(_, o)| o.status != PluginStatus::Ok) {
            let why = out
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            return Ok(skipped(format!(
                "the plugin ended `{}` on it: {}",
                out.status.as_str(),
                self.settings.redactor.redact(&why)
            )));
        }
        let id = &self.plan.objectives[0].spec.id;
        let rows: Vec<&(ComparisonOutcome, ObjectiveStatus)> = comparisons
            .by_objective
            .iter()
            .filter(|(k, _)| *k == id || k.starts_with(&format!("{id}[")))
            .map(|(_, v)| v)
            .collect();
        let Some(first) = rows
            .iter()
            .find(|(_, s)| *s == ObjectiveStatus::Fail)
            .or(rows.first())
        else {
            let why = comparisons
                .problems
                .values()
                .next()
                .or(comparisons.unavailable.as_ref())
                .cloned()
                .unwrap_or_else(|| "the comparison gave no ratio".into());
            return Ok(Measured {
                verdict: StepVerdict::Unknown,
                comparison: None,
                reason: why,
            });
        };
        let verdict = if rows.iter().any(|(_, s)| *s == ObjectiveStatus::Fail) {
            StepVerdict::Worse
        } else if rows.iter().all(|(_, s)| *s == ObjectiveStatus::Pass) {
            StepVerdict::Same
        } else {
            StepVerdict::Unknown
        };
        let c = &first.0;
        let tolerance = signed(c.tolerance_pct);
        let mde = c
            .mde_pct
            .map(|m| format!("; it could detect changes from {}", signed(m)))
            .unwrap_or_default();
        let reason = format!(
            "{} [{}, {}] over {} pairs: {}{mde}",
            signed(c.change_pct),
            signed(c.ci_low_pct),
            signed(c.ci_high_pct),
            c.pairs,
            match verdict {
                StepVerdict::Worse => format!("worse than {tolerance}"),
                StepVerdict::Same => format!("inside {tolerance}"),
                _ => format!("cannot tell whether it is beyond {tolerance}"),
            }
        );
        Ok(Measured {
            verdict,
            comparison: Some(c.clone()),
            reason,
        })
    }
}

/// Keeps step `m` (of commit `rev`) in the store: a record of its own,
/// excluded from baselines at once, so that the report shows it apart.
pub(super) async fn keep(
    store: &crate::store::Store,
    bench: &Bench<'_>,
    (good, bad): (&str, &str),
    rev: &str,
    m: &Measured,
) -> Result<String, String> {
    let Some(c) = &m.comparison else {
        return Err(format!(
            "step {} measured nothing to record",
            &rev[..rev.len().min(12)]
        ));
    };
    let o = &bench.plan.objectives[0];
    let now = crate::time::rfc3339(crate::time::now());
    let status = match m.verdict {
        StepVerdict::Worse => ObjectiveStatus::Fail,
        StepVerdict::Same => ObjectiveStatus::Pass,
        _ => ObjectiveStatus::Inconclusive,
    };
    let decision = match m.verdict {
        StepVerdict::Worse => crate::decision::Verdict::Fail,
        StepVerdict::Same => crate::decision::Verdict::Pass,
        _ => crate::decision::Verdict::Warn,
    };
    let run_id = crate::ids::RunId::generate();
    let record = crate::record::RunRecord {
        record_version: crate::record::RECORD_VERSION,
        run_id: run_id.clone(),
        started_at: now.clone(),
        finished_at: now.clone(),
        pipeline: bench.shared.pipeline.clone(),
        source: crate::protocol::Source {
            revision: Some(rev.to_owned()),
            event: Some("bisect".into()),
            ..Default::default()
        },
        decision,
        score: if decision == crate::decision::Verdict::Pass {
            100.0
        } else {
            0.0
        },
        metrics: vec![crate::record::RecordedMetric {
            key: o.spec.metric.clone(),
            instance: o.instance.clone(),
            name: o.metric.to_string(),
            value: c.candidate_value,
            unit: None,
            samples: Vec::new(),
            instrument: None,
        }],
        objectives: vec![crate::record::RecordedObjective {
            id: o.spec.id.clone(),
            metric: o.spec.metric.clone(),
            status,
            effect: crate::evaluate::effect_of(status, &o.spec),
            value: Some(c.candidate_value),
            target: None,
            baseline: Some(c.base_value),
            reason: Some(m.reason.clone()),
            acknowledgement: None,
            awaiting_history: false,
        }],
        plugins: Vec::new(),
        cancelled: false,
        runner: bench.shared.runner.clone(),
        excluded: None,
    };
    let marker = crate::record::Exclusion {
        run_id: run_id.clone(),
        reason: format!(
            "a step of `qod bisect` from {} to {}: a comparison with the good revision, not a gate run",
            &good[..good.len().min(12)],
            &bad[..bad.len().min(12)]
        ),
        at: now,
        by: None,
    };
    // Excluded first: never a baseline, even for a moment.
    let fail = |e: crate::store::StoreError| crate::diag::error_chain(&e);
    store
        .mark_excluded(run_id.as_str(), true, &marker)
        .await
        .map_err(fail)?;
    store.record(&record).await.map_err(fail)?;
    Ok(run_id.to_string())
}

fn skipped(reason: String) -> Measured {
    Measured {
        verdict: StepVerdict::Skipped,
        comparison: None,
        reason,
    }
}
