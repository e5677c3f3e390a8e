//! `qod validate`: everything `qod run` checks, without running anything;
//! with a store, the acknowledgements that no longer match anything.

use super::{CommandError, Env};
use crate::plan::Plan;
use std::path::Path;

/// The policy, manifests and configs, checked.
pub fn validate(policy: Option<&Path>, cwd: &Path) -> Result<Plan, CommandError> {
    Ok(crate::plan::load(policy, cwd)?)
}

/// How long an acknowledgement may match nothing before it is stale.
pub const STALE_DAYS: i64 = 30;

/// The acknowledgements of `plan` that judged no run of the store at
/// `location` in the last [`STALE_DAYS`] days, each as a warning. A store
/// that does not exist has no runs to tell by: nothing is said.
pub async fn stale(env: &Env, location: &str, plan: &Plan) -> Result<Vec<String>, CommandError> {
    if plan.acknowledgements.is_empty() {
        return Ok(Vec::new());
    }
    let store = crate::store::Store::open(location, env).await?;
    if !store.exists().await? {
        return Ok(Vec::new());
    }
    let since = crate::time::rfc3339(crate::time::now() - chrono::Duration::days(STALE_DAYS));
    let mut runs = Vec::new();
    let mut warnings = Vec::new();
    store
        .scan(
            |r| {
                if r.started_at < since {
                    return std::ops::ControlFlow::Break(());
                }
                runs.push(r);
                std::ops::ControlFlow::Continue(())
            },
            |w| warnings.push(w),
        )
        .await?;
    for a in &plan.acknowledgements {
        let matched = runs.iter().any(|r| {
            r.objectives.iter().any(|o| {
                o.acknowledgement.as_ref().is_some_and(|x| {
                    x.accept == a.entry.accept
                        && x.owner == a.entry.owner
                        && x.expires.as_deref() == Some(a.entry.expires.as_str())
                        && !x.expired
                })
            })
        });
        if !matched {
            warnings.push(format!(
                "the acknowledgement of {} (`{}` by {}) judged no run of the last {STALE_DAYS} days ({} read from `{}`): it is stale; remove it if its change is gone",
                a.target(),
                a.entry.accept,
                a.entry.owner,
                runs.len(),
                store.location()
            ));
        }
    }
    Ok(warnings)
}
