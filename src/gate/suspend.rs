//! A gate suspended while plugins are pending (`qod codepipeline
//! lambda-event` and `worker`): what it had when it stopped, kept in the
//! store under the id its continuation token names, and how a later
//! invocation resumes it as the same run.

use crate::decision::{PendingState, PluginOutcome, PluginStatus};
use crate::ids::{InstanceId, RunId};
use crate::plan::Plan;
use crate::protocol::{Pipeline, Source};
use crate::runner::{RunSettings, SharedContext};
use crate::store::{Store, StoreError, Taken};
use std::time::Duration;

/// How long a continuation token stays good: CodePipeline gives a Lambda
/// or custom action at most a day.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What a continuation token starts with, before the saved gate's id.
const TOKEN_PREFIX: &str = "qod-suspended:";

/// Why a continuation token resumes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("continuation token `{token}` is not one qod gave; was the action's token changed?")]
    Foreign { token: String },
    #[error("continuation token `{token}` names no suspended gate in `{location}`; was `--store` (or the job's `store`) changed between invocations, or the store pruned?")]
    Unknown { token: String, location: String },
    #[error("continuation token `{token}` was used before: a suspended gate resumes once; start the action again for a new gate")]
    Used { token: String },
    #[error("continuation token `{token}` expired: the gate was suspended at {saved_at}, more than {} ago; start the action again", crate::duration::HumanDuration(TOKEN_LIFETIME))]
    Expired { token: String, saved_at: String },
    #[error("cannot use the history store for continuation token `{token}`")]
    Store {
        token: String,
        #[source]
        source: StoreError,
    },
}

/// A suspended gate.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Suspension {
    /// The token that resumes it (`qod-suspended:<id>`).
    pub token: String,
    pub run_id: RunId,
    pub started_at: String,
    /// When it was suspended (RFC 3339).
    pub saved_at: String,
    pub pipeline: Pipeline,
    pub source: Source,
    /// Every instance's outcome so far, in policy order.
    pub plugins: Vec<PluginOutcome>,
    /// The pending instances' states, given back when the gate resumes.
    #[serde(default)]
    pub pending: std::collections::BTreeMap<InstanceId, PendingState>,
}

impl Suspension {
    /// The gate `shared` suspended with `plugins`, `pending` of them.
    pub fn of(
        shared: &SharedContext,
        plugins: &[PluginOutcome],
        pending: std::collections::BTreeMap<InstanceId, PendingState>,
    ) -> Suspension {
        Suspension {
            token: format!("{TOKEN_PREFIX}{}", uuid::Uuid::now_v7()),
            run_id: shared.run_id.clone(),
            started_at: crate::time::rfc3339(shared.started_at),
            saved_at: crate::time::rfc3339(crate::time::now()),
            pipeline: shared.pipeline.clone(),
            source: shared.source.clone(),
            plugins: plugins.to_vec(),
            pending,
        }
    }

    fn pending(&self) -> impl Iterator<Item = (&InstanceId, &PluginOutcome, &PendingState)> {
        self.plugins
            .iter()
            .filter_map(|p| self.pending.get(&p.instance).map(|s| (&p.instance, p, s)))
    }

    /// One line: which plugins are pending, and what they said.
    pub fn waiting_for(&self) -> String {
        self.pending()
            .map(|(id, p, _)| match &p.summary {
                Some(s) => format!("`{id}` pending ({s})"),
                None => format!("`{id}` pending"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// When it would like to be invoked again: the shortest `retry_after`.
    pub fn retry_after(&self) -> Duration {
        self.pending()
            .map(|(_, _, s)| Duration::from_millis(s.retry_after_ms))
            .min()
            .unwrap_or_default()
    }

    /// Sets up the run that resumes it: the same id, start and context;
    /// the pending plugins' states in `settings`. Returns the outcomes
    /// carried over (by instance index), which are not run again.
    pub fn resume(
        &self,
        plan: &Plan,
        shared: &mut SharedContext,
        settings: &mut RunSettings,
    ) -> Vec<(usize, PluginOutcome)> {
        // The run id becomes a store key: a tampered one (`../../x`) is not
        // taken; the resumed run keeps the id it was given.
        if uuid::Uuid::parse_str(self.run_id.as_str()).is_ok() {
            shared.run_id = self.run_id.clone();
        }
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&self.started_at) {
            shared.started_at = t.with_timezone(&chrono::Utc);
        }
        shared.pipeline = self.pipeline.clone();
        shared.source = self.source.clone();
        let mut carried = Vec::new();
        for p in &self.plugins {
            let Some(i) = plan.instances.iter().position(|x| x.id == p.instance) else {
                continue;
            };
            match (self.pending.get(&p.instance), p.status) {
                (Some(state), PluginStatus::Pending) => {
                    settings.resume.insert(p.instance.clone(), state.clone());
                }
                // Pending without a state to resume with: run it afresh,
                // never carry `pending` into a decision.
                (None, PluginStatus::Pending) => {}
                _ => carried.push((i, p.clone())),
            }
        }
        carried
    }

    /// Keeps it in `store` under its token.
    pub async fn save(&self, store: &Store) -> Result<(), TokenError> {
        store
            .keep_suspended(id_of(&self.token)?, self)
            .await
            .map_err(|source| TokenError::Store {
                token: self.token.clone(),
                source,
            })
    }

    /// The gate `token` names, spending the token.
    pub async fn take(store: &Store, token: &str) -> Result<Suspension, TokenError> {
        let id = id_of(token)?;
        let taken = store
            .take_suspended::<Suspension>(id)
            .await
            .map_err(|source| TokenError::Store {
                token: token.to_owned(),
                source,
            })?;
        let s = match taken {
            Taken::Found(s) => s,
            Taken::Used => {
                return Err(TokenError::Used {
                    token: token.into(),
                })
            }
            Taken::Unknown => {
                return Err(TokenError::Unknown {
                    token: token.into(),
                    location: store.location(),
                })
            }
        };
        let saved = chrono::DateTime::parse_from_rfc3339(&s.saved_at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|_| crate::time::now());
        let age = (crate::time::now() - saved).to_std().unwrap_or_default();
        if age > TOKEN_LIFETIME {
            return Err(TokenError::Expired {
                token: token.into(),
                saved_at: s.saved_at,
            });
        }
        Ok(s)
    }
}

/// The saved gate's id in a token; only characters a store key may hold.
fn id_of(token: &str) -> Result<&str, TokenError> {
    token
        .strip_prefix(TOKEN_PREFIX)
        .filter(|id| crate::ids::is_key_name(id))
        .ok_or_else(|| TokenError::Foreign {
            token: token.to_owned(),
        })
}
