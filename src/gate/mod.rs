//! One gate run, end to end, as DESIGN's six steps: plan → context →
//! history → plugins (with confirmation) → evaluation → decision → record.
//! Each step lives in the module that owns it; [`run`] only sequences them.
//! This is what `qod run` and the CodePipeline commands call.

mod acknowledge;
pub mod bisect;
pub mod calibrate;
mod calibrated;
pub mod combine;
mod confirm;
mod decide;
pub mod history;
mod record;
mod session;
pub mod suspend;

pub use session::{Request, Session};

pub use decide::exit_of;
use decide::{decide, exit_code, headline, Ending};
use record::{add_store_error, record, record_part};

use crate::decision::Decision;
use crate::diag::Diagnostics;
use crate::exit::Exit;
use crate::ids::RunId;
use crate::plan::Plan;
use crate::protocol::HistoryInfo;
use crate::runner::{Cancel, RunSettings, SharedContext};
use crate::secrets::{secret_values, Redactor};
use crate::store::{spool, StoreError};
use history::History;
use std::collections::BTreeMap;
use std::time::Duration;

/// What `qod run` asks beyond the [`Request`] every gate command shares.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Plugins run at once (`None`: one per CPU).
    pub jobs: Option<usize>,
    /// Cancel the gate on SIGTERM, SIGINT or SIGHUP (stop the plugins, then
    /// decide and record); off where the caller handles signals itself.
    pub cancel_on_signals: bool,
    pub grace: Duration,
    /// A JSON document (`{"pipeline": …, "source": …}`) merged over what
    /// was detected from the CI environment: a file, or `-` for stdin.
    pub context: Option<String>,
    /// `--base`: the branch (or `origin/<branch>`) a local change is
    /// compared with.
    pub base: Option<String>,
    /// Run only part of the policy, recorded as a part of a group for
    /// `qod combine` (`--group`, `--part`, `--shard`, `--only`).
    pub part: Option<PartRequest>,
    /// Suspend the gate when a plugin answers `pending` (CodePipeline
    /// continuation tokens) rather than wait for it here.
    pub suspend: bool,
}

/// Which part of a group a run is: the group (`None`: from the CI), and
/// the selection.
#[derive(Debug, Clone)]
pub struct PartRequest {
    pub group: Option<String>,
    pub selection: crate::parts::Selection,
}

/// A decided run.
#[derive(Debug, Clone)]
pub struct GateOutcome {
    /// The decision, secrets redacted.
    pub decision: Decision,
    pub exit: Exit,
    /// Things to tell the user on stderr (records skipped…).
    pub warnings: Vec<String>,
    /// Things worth knowing that are not problems (a new store).
    pub notes: Vec<String>,
    /// Each objective metric's recent values, oldest first, ending with
    /// this run's (for sparklines).
    pub trends: Vec<(String, Vec<f64>)>,
    /// The gate was suspended, waiting for pending plugins: what resuming
    /// it takes. The decision is then provisional, and was not recorded.
    pub suspended: Option<suspend::Suspension>,
}

/// Why no decision could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    #[error("{0}")]
    Invalid(#[from] Diagnostics),
    #[error("cannot use the history store")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Context(#[from] crate::ci::ContextError),
    /// The candidate's `compare.prepare` failed: there is nothing to measure.
    #[error(transparent)]
    Prepare(crate::compare::WorkspaceError),
    #[error(transparent)]
    Part(#[from] crate::parts::PartError),
    #[error("no part of group `{group}` is recorded in `{location}`; {hint}")]
    NoParts {
        group: String,
        location: String,
        hint: String,
    },
}

/// Runs the gate of `session`; `resume`: the suspended gate this run
/// takes up again.
pub async fn run(
    session: &Session,
    opts: &RunOptions,
    resume: Option<suspend::Suspension>,
) -> Result<GateOutcome, GateError> {
    let started_at = crate::time::now();
    let req = &session.request;
    let store = &session.store;
    // 1. The plan (checked when the session opened); a part runs its
    // instances and their objectives only.
    let part = match &opts.part {
        Some(p) => {
            let group = match &p.group {
                Some(g) => g.clone(),
                None => crate::parts::group_from_env(&req.env)?,
            };
            Some(crate::parts::select(&session.plan, &group, &p.selection)?)
        }
        None => None,
    };
    let whole = session.plan.instances.len();
    let mut plan = match &part {
        Some(info) => crate::parts::sub_plan(&session.plan, info),
        None => session.plan.clone(),
    };
    // 2. The context: the pipeline and source from the CI environment.
    let provider = session.provider;
    let (pipeline, source) = crate::ci::context(
        &req.env,
        provider,
        &req.cwd,
        opts.context.as_deref(),
        opts.base.as_deref(),
        || session.git_info(),
    )?;
    let branch = source.branch.as_deref();
    let mut warnings = Vec::new();
    // The acknowledgements that apply to this build.
    acknowledge::assign(
        &mut plan,
        &source,
        &req.cwd,
        provider.event_file(&req.env),
        started_at.date_naive(),
        &mut warnings,
    );
    // 3. The history: what the spool kept, then the baselines.
    let uploaded = match &req.spool {
        Some(dir) => spool::upload(store, dir, &mut warnings).await,
        None => 0,
    };
    // A change is compared with its base branch, from the merge-base back.
    let runner = session.runner();
    let target =
        crate::evaluate::Target::new(&source, crate::ci::base_of(&req.cwd, &source)).on(&runner);
    let history = history::read(store, &plan.objectives, &target, started_at, &mut warnings).await;
    // 4 and 5. The plugins and the evaluation, failures confirmed.
    let mut shared = SharedContext {
        run_id: RunId::generate(),
        started_at,
        pipeline: pipeline.clone(),
        source: source.clone(),
        history: HistoryInfo {
            last_deployment: history.last_deployment.clone(),
        },
        runner: Some(runner),
    };
    let mut settings = settings(req, opts, &plan);
    // A resumed gate is the same run: its id, start and context, the
    // outcomes it had, and the pending plugins invoked again.
    let carried = match &resume {
        Some(s) => s.resume(&plan, &mut shared, &mut settings),
        None => Vec::new(),
    };
    let (pipeline, source) = (shared.pipeline.clone(), shared.source.clone());
    crate::runner::become_subreaper();
    // The base of a side-by-side comparison: checked out (a worktree,
    // removed when `base` drops, after the record) and prepared.
    let compare = plan
        .policy
        .policy
        .compare
        .as_ref()
        .filter(|_| plan.objectives.iter().any(|o| o.compared.is_some()));
    let base = match compare {
        Some(spec) if !crate::compare::applies(spec, &source, provider) => {
            Some(Err(crate::evaluate::NOT_A_CHANGE.to_owned()))
        }
        Some(spec) => Some(
            crate::compare::open_base(
                spec,
                &source,
                &req.cwd,
                &req.env,
                settings.grace,
                &settings.cancel,
            )
            .await
            .map_err(|e| GateError::Prepare(e.redacted(|t| settings.redactor.redact(t))))?,
        ),
        None => None,
    };
    let comparing = compare
        .zip(base.as_ref())
        .map(|(spec, base)| confirm::Comparing {
            spec,
            base: base.as_ref().map_err(Clone::clone),
            share: part.as_ref().and_then(|p| p.pairs).map(|[k, n]| (k, n)),
        });
    let judging = confirm::Judging {
        history: &history,
        store,
        target: &target,
        now: started_at,
    };
    let confirm::Ran {
        plugins,
        mut eval,
        pending,
    } = confirm::run_and_evaluate(
        &plan,
        &shared,
        &settings,
        judging,
        comparing,
        &carried,
        &mut warnings,
    )
    .await;
    let orphans = crate::runner::kill_orphans();
    if orphans > 0 {
        warnings.push(format!(
            "{orphans} process{} left by plugins outside their process groups (started with `setsid`?) were killed",
            if orphans == 1 { "" } else { "es" }
        ));
    }
    // Plugins still pending: the gate is suspended, to be resumed later.
    let suspended = (!pending.is_empty()).then(|| {
        settings
            .redactor
            .redact_doc(suspend::Suspension::of(&shared, &plugins, pending))
    });
    // 6. The decision, then the record.
    // Text that came from plugins, `compare.prepare`, the CI or git leaves
    // qod here, in the decision and everything made of it (the record, the
    // index, comments, summaries): redacted once, as a whole.
    // What this runner can detect, from its calibration.
    let fingerprint = shared
        .runner
        .as_ref()
        .map(|r| r.fingerprint.clone())
        .unwrap_or_default();
    let calibration = calibrated::cite(store, &plan, &fingerprint, &mut eval, &mut warnings).await;
    let mut decision = settings.redactor.redact_doc(decide(
        &plan, &shared, store, &history, uploaded, eval, plugins,
    ));
    decision.run.calibration = calibration;
    if let Some(s) = suspended {
        let ending = Ending::Suspended(s.waiting_for());
        decision.summary = headline(&decision.summary, &ending);
        return Ok(GateOutcome {
            exit: exit_code(&decision, &ending, req.strict),
            decision,
            warnings,
            notes: Vec::new(),
            trends: Vec::new(),
            suspended: Some(s),
        });
    }
    let ending = match (settings.cancel.signal(), &part) {
        (Some(sig), _) => Ending::Cancelled(sig),
        (None, Some(_)) => Ending::Part,
        (None, None) => Ending::Decided,
    };
    decision.summary = headline(&decision.summary, &ending);
    if let Ending::Cancelled(sig) = ending {
        decision.run.cancelled = Some(crate::runner::signal_name(sig));
    }
    let mut notes = Vec::new();
    if let Some(info) = part {
        notes.extend(record_part(store, &mut decision, info, whole, &pipeline, &source).await);
    } else if req.record {
        record(
            store,
            req.spool.as_deref(),
            &mut decision,
            &pipeline,
            &source,
        )
        .await;
        if decision.store.created {
            let created = created_note(&req.store, &decision.store.location);
            // On a CI runner a new store usually means a lost history:
            // every run would start one. Said as a warning (an annotation).
            if provider == crate::ci::Provider::Local {
                notes.push(created);
            } else {
                warnings.push(created);
            }
        }
    }
    decision.store.requests = store.requests();
    let exit = exit_code(&decision, &ending, req.strict);
    let trends = history::trends(&history.runs, &decision, branch);
    Ok(GateOutcome {
        decision,
        exit,
        warnings,
        notes,
        trends,
        suspended: None,
    })
}

/// The context of measurements made outside a gate run (a bisection's
/// steps, a calibration's pairs): a local pipeline on `runner`.
fn local_context(runner: crate::machine::Runner) -> SharedContext {
    SharedContext {
        run_id: RunId::generate(),
        started_at: crate::time::now(),
        pipeline: crate::protocol::Pipeline {
            provider: crate::ci::Provider::Local.name().into(),
            ..Default::default()
        },
        source: crate::protocol::Source::default(),
        history: HistoryInfo::default(),
        runner: Some(runner),
    }
}

/// What a run that created its store says: where, and for a bare word
/// (`qod-history`), whether a branch (`git:qod-history`) was meant.
fn created_note(asked: &str, location: &str) -> String {
    let bare = !asked.is_empty()
        && asked
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let hint = if bare {
        format!(
            "`{asked}` is a folder in this checkout: did you mean `git:{asked}`, a branch of this repository that every clone shares?"
        )
    } else {
        "if history was expected there, check `--store` or `QOD_STORE`".to_owned()
    };
    format!("created a new history store at `{location}` ({hint})")
}

/// How plugins run for `opts`. Secret values are what the redactor hides
/// from every plugin outcome, so none reaches the decision or the store.
fn settings(req: &Request, opts: &RunOptions, plan: &Plan) -> RunSettings {
    let passed: Vec<String> = plan
        .instances
        .iter()
        .flat_map(|i| i.env.iter().cloned())
        .collect();
    RunSettings {
        // Asking for the CPUs reads cgroup files: not for one plugin.
        jobs: match (opts.jobs, plan.instances.len()) {
            (Some(n), _) => n.max(1),
            (None, 0 | 1) => 1,
            (None, _) => std::thread::available_parallelism().map_or(1, usize::from),
        },
        grace: opts.grace,
        reporter: req.reporter.clone(),
        workspace: req.cwd.clone(),
        artifacts: req.cwd.join(".qod").join("artifacts"),
        parent_env: req.env.clone(),
        redactor: Redactor::new(secret_values(&req.env, &passed)),
        cancel: if opts.cancel_on_signals {
            Cancel::on_signals()
        } else {
            Cancel::never()
        },
        suspend: opts.suspend,
        resume: BTreeMap::new(),
    }
}
