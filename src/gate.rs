//! One gate run, end to end: policy → plugins → results → evaluation →
//! decision → store. This is what `qod run` calls; the CLI only parses
//! arguments and prints.

use crate::decision::{
    Decision, PipelineSummary, RunSummary, StoreOutcome, Verdict, DECISION_SCHEMA_VERSION,
};
use crate::diag::Diagnostics;
use crate::evaluate::{self, baseline};
use crate::ids::RunId;
use crate::plan::Plan;
use crate::plugin::Discovery;
use crate::policy::find_policy;
use crate::protocol::{Deployment, HistoryInfo};
use crate::runner::{run_all, secret_values, Redactor, RunSettings, SharedContext};
use crate::store::{Blobs, DirBlobs, RunRecord, Store, StoreError};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

/// Exit code: the gate passed or warned.
pub const EXIT_PASS: u8 = 0;
/// Exit code: the gate failed (or warned, with `--strict`).
pub const EXIT_FAIL: u8 = 1;
/// Exit code: no decision could be made (bad policy or manifest, store unusable).
pub const EXIT_NO_DECISION: u8 = 2;

/// At most this many records are read to find baselines, however sparse the
/// matching runs are, so one evaluation's cost has a ceiling.
pub const MAX_SCAN: usize = 10_000;

/// Everything `qod run` needs to know.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub policy: Option<PathBuf>,
    pub store: String,
    pub jobs: usize,
    pub strict: bool,
    pub progress: bool,
    pub grace: Duration,
    /// Record the run in the store (off for dry runs).
    pub record: bool,
    /// Where a record goes when the store cannot take it; uploaded by the
    /// next run that reaches the store.
    pub spool: Option<PathBuf>,
    /// A JSON document (`{"pipeline": …, "source": …}`) merged over what
    /// was detected from the CI environment: a file, or `-` for stdin.
    pub context: Option<String>,
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
}

/// A decided run.
#[derive(Debug, Clone)]
pub struct GateOutcome {
    pub decision: Decision,
    /// The decision as printed: pretty JSON, secrets redacted.
    pub json: String,
    pub exit: u8,
    /// Things to tell the user on stderr (records skipped…).
    pub warnings: Vec<String>,
    /// Each objective metric's recent values, oldest first, ending with
    /// this run's (for sparklines).
    pub trends: Vec<(String, Vec<f64>)>,
}

/// Values a trend holds at most, this run's included.
pub const TREND_RUNS: usize = 20;

/// The recent values of each objective's metric on `branch`, oldest first.
fn trends(history: &[RunRecord], d: &Decision, branch: Option<&str>) -> Vec<(String, Vec<f64>)> {
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for o in &d.objectives {
        if out.iter().any(|(k, _)| *k == o.metric) {
            continue;
        }
        let mut values: Vec<f64> = history
            .iter()
            .filter(|r| branch.is_none() || r.source.branch.as_deref() == branch)
            .filter_map(|r| r.metric(&o.metric).map(|m| m.value))
            .take(TREND_RUNS - 1)
            .collect();
        values.reverse();
        values.extend(o.value);
        out.push((o.metric.clone(), values));
    }
    out
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
}

/// The pipeline and source: detected from the CI environment, with
/// `context` (a file, or `-` for stdin) merged over them.
pub fn pipeline_context(
    env: &BTreeMap<String, String>,
    cwd: &std::path::Path,
    context: Option<&str>,
    git: impl FnOnce() -> crate::ci::GitInfo,
) -> Result<(crate::protocol::Pipeline, crate::protocol::Source), crate::ci::ContextError> {
    let (mut pipeline, mut source) = crate::ci::detect(env, cwd, git);
    if let Some(file) = context {
        let text = if file == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
        } else {
            std::fs::read_to_string(cwd.join(file))
        }
        .map_err(|source| crate::ci::ContextError::Read {
            file: file.to_owned(),
            source,
        })?;
        crate::ci::merge_context(file, &text, &mut pipeline, &mut source)?;
    }
    Ok((pipeline, source))
}

/// Loads and checks everything `run` would, without running anything.
pub fn prepare(
    policy: Option<&std::path::Path>,
    cwd: &std::path::Path,
) -> Result<Plan, Diagnostics> {
    let file = find_policy(policy, cwd)?;
    let file = if file.is_relative() {
        cwd.join(&file)
    } else {
        file
    };
    // Shown relative to the working directory when qod runs there, which
    // is how users name it; absolute when a caller passes another folder.
    let file = if std::env::current_dir().ok().as_deref() == Some(cwd) {
        pathdiff(&file, cwd)
    } else {
        file
    };
    let policy_dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let discovery = Discovery::standard(&cwd.join(policy_dir), cwd);
    Plan::prepare(&file, &discovery)
}

/// Shows `file` relative to `cwd` when it is inside it, for shorter messages.
fn pathdiff(file: &std::path::Path, cwd: &std::path::Path) -> PathBuf {
    file.strip_prefix(cwd)
        .map(PathBuf::from)
        .unwrap_or_else(|_| file.to_owned())
}

/// Runs the gate.
pub async fn run(opts: &RunOptions) -> Result<GateOutcome, GateError> {
    let started_at = crate::time::now();
    // Asking git costs a process; it overlaps with checking the policy.
    let cwd = opts.cwd.clone();
    let git = std::thread::spawn(move || crate::ci::git_info(&cwd));
    // Compiling the schema validators costs more than anything else before
    // the plugins start; the second core does it while the policy is read.
    let warm = std::thread::spawn(|| {
        crate::schema::SchemaKind::Manifest.validator();
        crate::schema::SchemaKind::Result.validator();
    });
    let plan = prepare(opts.policy.as_deref(), &opts.cwd)?;
    let _ = warm.join();
    let store = Store::open(&opts.store, &opts.env).await?;
    let run_id = RunId::generate();
    let (pipeline, source) =
        pipeline_context(&opts.env, &opts.cwd, opts.context.as_deref(), || {
            git.join().unwrap_or_default()
        })?;
    let branch = source.branch.clone();
    let mut warnings = Vec::new();

    let uploaded = match &opts.spool {
        Some(spool) => upload_spool(&store, spool, &mut warnings).await,
        None => 0,
    };
    let (history, deployments, store_error) =
        match read_history(&store, &plan, branch.as_deref(), &mut warnings).await {
            Ok((h, d)) => (h, d, None),
            Err(e) => (Vec::new(), Vec::new(), Some(error_chain(&e))),
        };
    let history = with_samples(
        &store,
        &plan.objectives,
        history,
        branch.as_deref(),
        &mut warnings,
    )
    .await;
    let recorded_deployment =
        crate::store::index::last_deployment(&deployments, branch.as_deref()).cloned();
    // Without a recorded deployment, the last passing run stands in for it;
    // `source` says which it is.
    let last_deployment = recorded_deployment.or_else(|| {
        history
            .iter()
            .find(|r| {
                r.decision == Verdict::Pass && (branch.is_none() || r.source.branch == branch)
            })
            .map(|r| Deployment {
                revision: r.source.revision.clone(),
                at: r.finished_at.clone(),
                run_id: Some(r.run_id.clone()),
                source: "last_passing_run".into(),
            })
    });

    let passed: Vec<String> = plan
        .instances
        .iter()
        .flat_map(|i| i.env.iter().cloned())
        .collect();
    let redactor = Redactor::new(secret_values(&opts.env, &passed));
    let settings = RunSettings {
        jobs: opts.jobs,
        grace: opts.grace,
        progress: opts.progress,
        workspace: opts.cwd.clone(),
        artifacts: opts.cwd.join(".qod").join("artifacts"),
        parent_env: opts.env.clone(),
        redactor: redactor.clone(),
    };
    let shared = SharedContext {
        run_id: run_id.clone(),
        started_at,
        pipeline: pipeline.clone(),
        source: source.clone(),
        history: HistoryInfo {
            last_deployment: last_deployment.clone(),
        },
    };
    let mut plugins = run_all(&plan, &shared, &settings).await;
    let evaluate_now = |plugins: &[crate::decision::PluginOutcome]| {
        evaluate::evaluate(
            &plan.objectives,
            &plan.policy.policy.decision,
            plugins,
            &history,
            branch.as_deref(),
            crate::time::now(),
        )
    };
    let mut eval = evaluate_now(&plugins);
    // `confirm:`: re-run the plugins behind failing objectives and decide on
    // the pooled runs, keeping every earlier evaluation.
    let mut runs: Vec<Vec<crate::decision::PluginOutcome>> =
        plugins.iter().map(|p| vec![p.clone()]).collect();
    let mut attempts: BTreeMap<String, Vec<crate::decision::Attempt>> = BTreeMap::new();
    for attempt in 1..=plan
        .objectives
        .iter()
        .map(|o| o.spec.confirm)
        .max()
        .unwrap_or(0)
    {
        let failing: Vec<&crate::plan::PlannedObjective> = plan
            .objectives
            .iter()
            .zip(&eval.objectives)
            .filter(|(o, out)| {
                out.status == crate::decision::ObjectiveStatus::Fail && o.spec.confirm >= attempt
            })
            .map(|(o, _)| o)
            .collect();
        if failing.is_empty() {
            break;
        }
        for o in &failing {
            let out = eval
                .objectives
                .iter()
                .find(|x| x.id == o.spec.id)
                .expect("evaluated");
            let i = plan
                .instances
                .iter()
                .position(|x| x.id == o.instance)
                .expect("planned");
            attempts
                .entry(o.spec.id.clone())
                .or_default()
                .push(crate::decision::Attempt {
                    attempt,
                    runs: runs[i].len() as u32,
                    value: out.value,
                    status: out.status,
                    reason: out.reason.clone(),
                });
        }
        let mut rerun: Vec<usize> = failing
            .iter()
            .filter_map(|o| plan.instances.iter().position(|x| x.id == o.instance))
            .collect();
        rerun.sort_unstable();
        rerun.dedup();
        for i in rerun {
            let inst = &plan.instances[i];
            runs[i].push(crate::runner::run_again(inst, &shared, &settings).await);
            plugins[i] =
                crate::runner::pool(runs[i].clone(), runs[i].len() as u32, inst.repeat_aggregate);
        }
        eval = evaluate_now(&plugins);
    }
    for o in &mut eval.objectives {
        if let Some(a) = attempts.remove(&o.id) {
            o.attempts = a;
        }
    }

    let mut decision = Decision {
        schema_version: DECISION_SCHEMA_VERSION,
        decision: eval.verdict,
        score: eval.score,
        summary: eval.summary,
        objectives: eval.objectives,
        plugins,
        pipeline: PipelineSummary {
            provider: pipeline.provider.clone(),
            name: pipeline.name.clone(),
            build_id: pipeline.build_id.clone(),
            revision: source.revision.clone(),
            branch: source.branch.clone(),
        },
        run: RunSummary {
            id: run_id,
            started_at: crate::time::rfc3339(started_at),
            finished_at: crate::time::rfc3339(crate::time::now()),
            policy: plan.policy.file.display().to_string(),
        },
        store: StoreOutcome {
            location: store.location(),
            history_read: store_error.is_none(),
            recorded: false,
            spooled: false,
            uploaded_from_spool: uploaded,
            last_deployment,
            requests: 0,
            error: store_error,
        },
    };
    if opts.record {
        let record = RunRecord::from_decision(&decision, &pipeline, &source);
        match store.record(&record).await {
            Ok(()) => decision.store.recorded = true,
            Err(e) => {
                let mut msg = error_chain(&e);
                if let Some(spool) = &opts.spool {
                    match spool_record(spool, &record).await {
                        Ok(()) => decision.store.spooled = true,
                        Err(e) => {
                            msg.push_str(&format!("; the spool failed too: {}", error_chain(&e)))
                        }
                    }
                }
                decision.store.error = Some(match decision.store.error.take() {
                    Some(prev) => format!("{prev}; {msg}"),
                    None => msg,
                });
            }
        }
    }
    decision.store.requests = store.requests();
    let mut value = serde_json::to_value(&decision).expect("decisions serialize");
    redactor.redact_json(&mut value);
    let decision: Decision =
        serde_json::from_value(value.clone()).expect("redaction keeps the shape");
    let json = serde_json::to_string_pretty(&value).expect("decisions serialize");
    let exit = if decision.store.error.is_some() {
        EXIT_NO_DECISION
    } else {
        match decision.decision {
            Verdict::Pass => EXIT_PASS,
            Verdict::Warn if opts.strict => EXIT_FAIL,
            Verdict::Warn => EXIT_PASS,
            Verdict::Fail => EXIT_FAIL,
        }
    };
    let trends = trends(&history, &decision, branch.as_deref());
    Ok(GateOutcome {
        decision,
        json,
        exit,
        warnings,
        trends,
    })
}

/// Reads the newest records until every relative objective has the runs it
/// asks for, and a passing run (for `last_deployment`) is seen, or
/// [`MAX_SCAN`] records were read; also the latest deployments.
pub async fn read_history(
    store: &Store,
    plan: &Plan,
    branch: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<(Vec<RunRecord>, Vec<crate::store::index::IndexedDeployment>), StoreError> {
    let relative: Vec<_> = plan.objectives.iter().filter(|o| o.is_relative()).collect();
    let mut found = vec![0u32; relative.len()];
    let mut seen_pass = false;
    let mut history = Vec::new();
    let deployments = store
        .scan_with_deployments(
            |run| {
                for (o, n) in relative.iter().zip(found.iter_mut()) {
                    if *n < o.baseline.last
                        && baseline::admits(&run, &o.spec.id, o.key(), &o.baseline, branch)
                    {
                        *n += 1;
                    }
                }
                seen_pass |= run.decision == Verdict::Pass
                    && (branch.is_none() || run.source.branch.as_deref() == branch);
                history.push(run);
                // The last passing run stands in for a deployment only when
                // it is recent: looking for it never reads past the head.
                // The runs of a trend come from the head too (it holds more
                // than `TREND_RUNS` once there are segments).
                let done = (seen_pass || history.len() >= crate::store::index::HEAD_MAX)
                    && (history.len() >= TREND_RUNS)
                    && relative
                        .iter()
                        .zip(&found)
                        .all(|(o, n)| *n >= o.baseline.last);
                if done || history.len() >= MAX_SCAN {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
            |w| warnings.push(w),
        )
        .await?;
    Ok((history, deployments))
}

/// The index keeps no samples. For objectives with a significance test,
/// replaces the summaries of the runs their baselines use with the full
/// records: a few reads, only for those objectives.
pub async fn with_samples(
    store: &Store,
    objectives: &[crate::plan::PlannedObjective],
    mut history: Vec<RunRecord>,
    branch: Option<&str>,
    warnings: &mut Vec<String>,
) -> Vec<RunRecord> {
    let mut wanted: Vec<crate::ids::RunId> = Vec::new();
    for o in objectives
        .iter()
        .filter(|o| o.spec.test.is_some() && o.is_relative())
    {
        let unit =
            crate::units::Unit::of_metric(o.declared_unit.as_ref().map(|u| u.symbol.as_str()));
        let sel = evaluate::baseline::select(
            &history,
            &o.spec.id,
            o.key(),
            &unit,
            &o.baseline,
            branch,
            None,
        );
        for id in sel.runs {
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
    }
    for run in history.iter_mut().filter(|r| wanted.contains(&r.run_id)) {
        match store.full_record(run).await {
            Ok(full) => *run = full,
            Err(e) => warnings.push(format!(
                "the samples of run `{}` could not be read, so its value stands in for them: {}",
                run.run_id,
                error_chain(&e)
            )),
        }
    }
    history
}

/// Keeps a record that the store could not take.
async fn spool_record(spool: &std::path::Path, record: &RunRecord) -> Result<(), StoreError> {
    let mut line = serde_json::to_vec(record).expect("records serialize");
    line.push(b'\n');
    DirBlobs::new(spool)
        .put(&format!("{}.json", record.run_id), line, None)
        .await
        .map(|_| ())
}

/// Uploads what earlier runs spooled; what fails stays for the next run.
async fn upload_spool(store: &Store, spool: &std::path::Path, warnings: &mut Vec<String>) -> u32 {
    let blobs = DirBlobs::new(spool);
    let Ok(keys) = blobs.list("").await else {
        return 0;
    };
    let mut uploaded = 0;
    for key in keys.iter().filter(|k| k.ends_with(".json")) {
        let record = match blobs.get(key).await {
            Ok(Some(b)) => serde_json::from_slice::<RunRecord>(&b.bytes),
            _ => continue,
        };
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                warnings.push(format!(
                    "spooled record `{}` is unreadable and stays there: {e}",
                    spool.join(key).display()
                ));
                continue;
            }
        };
        match store.record_again(&record).await {
            Ok(()) => {
                let _ = blobs.delete(key).await;
                uploaded += 1;
            }
            Err(e) => {
                warnings.push(format!(
                    "spooled run {} stays in `{}`: {}",
                    record.run_id,
                    spool.display(),
                    error_chain(&e)
                ));
                break;
            }
        }
    }
    uploaded
}

/// An error with its causes, `: `-separated, for one-line messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
