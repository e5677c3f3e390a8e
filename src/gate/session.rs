//! A gate session: what every gate command shares, asked for once
//! ([`Request`]) and opened once ([`Session::open`]): the plan, the store
//! and the CI provider. `qod run` (a whole run, a part, a resumed
//! CodePipeline job) and `qod combine` take a session; none opens the
//! store or reads the policy again.

use super::GateError;
use crate::ci::{GitInfo, Provider};
use crate::plan::Plan;
use crate::store::Store;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the user asked of every gate command: the policy, the store, how
/// strict, whether to record, where progress goes, and the environment.
#[derive(Debug, Clone)]
pub struct Request {
    pub policy: Option<PathBuf>,
    pub store: String,
    /// A warning fails the gate (exit 1).
    pub strict: bool,
    /// Record the run in the store (off for dry runs).
    pub record: bool,
    /// Where a record goes when the store cannot take it; uploaded by the
    /// next run that reaches the store.
    pub spool: Option<PathBuf>,
    /// Where progress (starts, heartbeats, ends, pairs, parts) is reported.
    pub reporter: crate::events::Shared,
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
}

/// A request opened: the whole plan checked, the store opened, the CI
/// provider detected.
#[derive(Debug)]
pub struct Session {
    pub request: Request,
    pub plan: Plan,
    pub store: Store,
    pub provider: Provider,
    /// What git says of the checkout, asked while the plan is checked.
    git: std::sync::Mutex<Option<std::thread::JoinHandle<GitInfo>>>,
}

impl Session {
    /// The machine this run measures on, with what the CI and `QOD_RUNNER`
    /// say of it.
    pub fn runner(&self) -> crate::machine::Runner {
        let env = &self.request.env;
        let name = env
            .get("QOD_RUNNER")
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        crate::machine::Runner::this(self.provider.runner_image(env), name)
    }

    pub async fn open(request: Request) -> Result<Session, GateError> {
        // Asking git costs a process; it overlaps with checking the plan.
        let cwd = request.cwd.clone();
        let git = std::thread::spawn(move || crate::ci::git_info(&cwd));
        // Compiling the schema validators costs more than anything else
        // before the plugins start; the second core does it while the
        // policy is read, and is not waited for: whoever needs a validator
        // first waits for it then (the plugins' results, at the earliest
        // when the first plugin ends).
        std::thread::spawn(|| {
            crate::validate::SchemaKind::Manifest.validator();
            crate::validate::SchemaKind::Result.validator();
        });
        let plan = crate::plan::load(request.policy.as_deref(), &request.cwd)?;
        let store = Store::open(&request.store, &request.env).await?;
        let provider = Provider::detect(&request.env);
        Ok(Session {
            request,
            plan,
            store,
            provider,
            git: std::sync::Mutex::new(Some(git)),
        })
    }

    /// The checkout's revision and branch (asked once; again if asked twice).
    pub fn git_info(&self) -> GitInfo {
        let handle = self.git.lock().ok().and_then(|mut g| g.take());
        match handle {
            Some(h) => h.join().unwrap_or_default(),
            None => crate::ci::git_info(&self.request.cwd),
        }
    }
}
