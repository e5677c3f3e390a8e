//! The one-line summary of an evaluation: what failed or warned, and why.

use crate::decision::{ObjectiveOutcome, OutcomeEffect, PluginOutcome, PluginStatus, Verdict};
use crate::policy::DecisionSpec;
use crate::units::format_value;

pub(super) fn summarize(
    outcomes: &[ObjectiveOutcome],
    plugins: &[PluginOutcome],
    verdict: Verdict,
    score: f64,
    strategy: &DecisionSpec,
) -> String {
    let n = outcomes.len();
    let plural = |k: usize, word: &str| format!("{k} {word}{}", if k == 1 { "" } else { "s" });
    let listed = |effect: OutcomeEffect| -> Vec<String> {
        outcomes
            .iter()
            .filter(|o| o.effect == effect)
            .map(|o| format!("{} {}", o.id, o.reason))
            .collect()
    };
    let fails = listed(OutcomeEffect::Fail);
    let warns = listed(OutcomeEffect::Warn);
    let shadow = outcomes
        .iter()
        .filter(|o| o.effect == OutcomeEffect::None)
        .count();
    let shadow_mode = outcomes
        .iter()
        .filter(|o| o.mode == crate::policy::Mode::Shadow)
        .count();
    let mut s = match verdict {
        _ if shadow == n && shadow_mode == 0 && n > 0 => format!(
            "no objective applies to this build ({} judged side by side on changes only); its values are recorded as history",
            plural(n, "objective")
        ),
        _ if shadow == n => format!(
            "no objective is enforced ({} in shadow mode)",
            plural(n, "objective")
        ),
        Verdict::Fail if fails.is_empty() => {
            format!("score {} is below the pass threshold", format_value(score))
        }
        Verdict::Fail => format!(
            "{} of {} failed: {}",
            fails.len(),
            plural(n, "objective"),
            fails.join("; ")
        ),
        Verdict::Warn => format!(
            "{} of {} warned: {}",
            warns.len(),
            plural(n, "objective"),
            warns.join("; ")
        ),
        Verdict::Pass if n == 1 => "the objective passed".to_owned(),
        Verdict::Pass => format!("all {} passed", plural(n - shadow, "objective")),
    };
    // Each pattern objective with rows that failed, counted first:
    // "`suite`: 2 of 48 metrics worse than +3%".
    let mut families: Vec<&str> = Vec::new();
    for o in outcomes {
        if let Some(f) = &o.family {
            if !families.contains(&f.objective.as_str()) {
                families.push(&f.objective);
            }
        }
    }
    let counts: Vec<String> = families
        .iter()
        .filter_map(|f| {
            let rows: Vec<&ObjectiveOutcome> = outcomes
                .iter()
                .filter(|o| o.family.as_ref().is_some_and(|x| x.objective == *f))
                .collect();
            let worse = rows
                .iter()
                .filter(|o| o.status == crate::decision::ObjectiveStatus::Fail)
                .count();
            // The criterion as written (a rate's row holds its mirror).
            let criterion = rows.first()?.criteria.first()?.clone();
            (worse > 0).then(|| {
                format!(
                    "`{f}`: {worse} of {} fail `{criterion}`",
                    plural(rows.len(), "metric")
                )
            })
        })
        .collect();
    if !counts.is_empty() {
        s = format!("{}; {s}", counts.join("; "));
    }
    if let DecisionSpec::Score { .. } = strategy {
        s = format!("score {}: {s}", format_value(score));
    }
    // Regressions accepted on purpose are never passed over in silence.
    let acknowledged: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status == crate::decision::ObjectiveStatus::Acknowledged)
        .filter_map(|o| {
            let a = o.acknowledgement.as_ref()?;
            Some(format!("{} (`{}`, by {})", o.id, a.accept, a.owner))
        })
        .collect();
    if !acknowledged.is_empty() {
        s.push_str(&format!(
            "; {} acknowledged: {}",
            acknowledged.len(),
            acknowledged.join(", ")
        ));
    }
    if verdict == Verdict::Pass && !warns.is_empty() {
        s.push_str(&format!("; {} warned: {}", warns.len(), warns.join("; ")));
    }
    let broken: Vec<String> = plugins
        .iter()
        .filter(|p| p.status != PluginStatus::Ok)
        .map(|p| format!("`{}` {}", p.instance, p.status.as_str()))
        .collect();
    if !broken.is_empty() {
        s.push_str(&format!("; plugin problems: {}", broken.join(", ")));
    }
    // A policy that does not fit what a plugin reported is said first: the
    // run exits 2 for it, whatever the verdict.
    if let Some(o) = outcomes.iter().find(|o| o.policy_error.is_some()) {
        s = format!(
            "policy error: objective `{}` cannot judge `{}`: {}; {s}",
            o.id,
            o.metric,
            o.policy_error.as_deref().unwrap_or_default()
        );
    }
    s
}
