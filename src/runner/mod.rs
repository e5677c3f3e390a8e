//! Running the plan's plugins: each as a subprocess over protocol v1, at
//! most `jobs` at once, one outcome per instance whatever happens, in
//! policy order.

mod outcome;
mod pending;

use crate::events::Event;
use crate::secrets::plugin_env;
pub use crate::supervise::{become_subreaper, kill_orphans, signal_name, Cancel, DEFAULT_GRACE};
use crate::supervise::{Cmd, Limits, StdoutMode, STDERR_TAIL, STDOUT_CAP};

/// What `stdout` from a plugin of `manifest` that exited 0 comes to (for
/// tests that feed the interpreter directly).
#[cfg(test)]
pub(crate) fn interpret_stdout(
    manifest: &crate::protocol::Manifest,
    stdout: &[u8],
) -> PluginOutcome {
    let raw = crate::supervise::RawRun {
        ending: crate::supervise::Ending::Exited(std::os::unix::process::ExitStatusExt::from_raw(
            0,
        )),
        stdout: stdout.to_vec(),
        stdout_overflow: false,
        stderr_tail: Vec::new(),
        duration: Duration::from_millis(1),
        notes: Vec::new(),
    };
    outcome::interpret(
        &crate::ids::InstanceId::new("fuzz"),
        manifest,
        raw,
        Duration::from_secs(1),
        DEFAULT_GRACE,
    )
}

use crate::decision::{PendingState, PluginOutcome, PluginStatus};
use crate::ids::{InstanceId, RunId};
use crate::plan::{Plan, PlannedInstance};
use crate::protocol::{
    Context, HistoryInfo, Paths, Pipeline, PluginRef, RunInfo, Source, PROTOCOL_VERSION,
};
use crate::secrets::Redactor;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Time between "still running" lines for a plugin, by default.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// How plugins are run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub jobs: usize,
    pub grace: Duration,
    /// Where starts, heartbeats, pending answers and ends are reported.
    pub reporter: crate::events::Shared,
    /// The plugins' working directory (`paths.workspace`).
    pub workspace: PathBuf,
    /// Each instance gets `<artifacts>/<instance>/` as `paths.artifacts`.
    pub artifacts: PathBuf,
    /// The environment plugins' environments are taken from.
    pub parent_env: BTreeMap<String, String>,
    /// Hides secret values in everything a plugin reports, so that none
    /// reaches the decision, the outputs or the store.
    pub redactor: Redactor,
    /// Stops every plugin when the gate is cancelled.
    pub cancel: Cancel,
    /// A plugin that answers `pending` ends with status `pending` and its
    /// state, for the gate to be resumed later (CodePipeline continuation
    /// tokens), rather than being waited for here.
    pub suspend: bool,
    /// The instances a resumed gate invokes again, with the state each
    /// answered last.
    pub resume: BTreeMap<crate::ids::InstanceId, crate::decision::PendingState>,
}

/// The part of the context every instance shares.
#[derive(Debug, Clone)]
pub struct SharedContext {
    pub run_id: RunId,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub pipeline: Pipeline,
    pub source: Source,
    pub history: HistoryInfo,
    /// The machine measured on.
    pub runner: Option<crate::machine::Runner>,
}

/// One invocation of a plugin: its outcome, and beside it the runner's
/// working state, which never enters a decision: for a plugin that
/// answered `pending` while the gate suspends, what it asked to be resumed
/// with.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub outcome: PluginOutcome,
    pub pending: Option<PendingState>,
}

impl Invocation {
    /// An invocation that ended (nothing pending).
    pub fn ended(outcome: PluginOutcome) -> Invocation {
        Invocation {
            outcome,
            pending: None,
        }
    }
}

/// Splits invocations into each instance's outcomes and the states of the
/// pending ones, by instance.
pub fn split(
    runs: Vec<Vec<Invocation>>,
) -> (Vec<Vec<PluginOutcome>>, BTreeMap<InstanceId, PendingState>) {
    let mut pending = BTreeMap::new();
    let outcomes = runs
        .into_iter()
        .map(|inv| {
            inv.into_iter()
                .map(|i| {
                    if let Some(p) = i.pending {
                        pending.insert(i.outcome.instance.clone(), p);
                    }
                    i.outcome
                })
                .collect()
        })
        .collect();
    (outcomes, pending)
}

/// Runs every instance of `plan` but those at the indices in `skip` (run
/// by the caller); each instance's runs (more than one with `repeat:`)
/// come back in policy order, the skipped ones with none.
pub async fn run_all(
    plan: &Plan,
    shared: &SharedContext,
    settings: &RunSettings,
    skip: &[usize],
) -> Vec<Vec<Invocation>> {
    let sem = Arc::new(Semaphore::new(settings.jobs.max(1)));
    let total = plan.instances.len();
    let mut handles: Vec<Option<tokio::task::JoinHandle<Vec<Invocation>>>> =
        Vec::with_capacity(total);
    for (index, inst) in plan.instances.iter().enumerate() {
        if skip.contains(&index) {
            handles.push(None);
            continue;
        }
        let inst = inst.clone();
        let settings = settings.clone();
        let sem = sem.clone();
        let shared = shared.clone();
        handles.push(Some(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore never closes");
            if let Some(sig) = settings.cancel.signal() {
                return vec![Invocation::ended(unrun(
                    &inst,
                    PluginStatus::Cancelled,
                    "cancelled",
                    format!("cancelled by {} before it started", signal_name(sig)),
                ))];
            }
            run_repeated(&inst, &shared, &settings, false).await
        })));
    }
    let mut outcomes = Vec::with_capacity(total);
    for (h, inst) in handles.into_iter().zip(&plan.instances) {
        let Some(h) = h else {
            outcomes.push(Vec::new());
            continue;
        };
        outcomes.push(h.await.unwrap_or_else(|e| {
            vec![Invocation::ended(unrun(
                inst,
                PluginStatus::SpawnFailed,
                "internal",
                format!("qod lost track of the plugin: {e}"),
            ))]
        }));
    }
    outcomes
}

/// Runs one instance `repeat` times, one after another, stopping at the
/// first run that fails or at a cancel. Repeats (and, with `fresh`, the
/// first run too: a confirmation) get a fresh start and deadline; the first
/// run of a gate keeps the gate's.
pub async fn run_repeated(
    inst: &PlannedInstance,
    shared: &SharedContext,
    settings: &RunSettings,
    fresh: bool,
) -> Vec<Invocation> {
    // A confirmation waits for a pending plugin here: the gate is past
    // suspending once its first runs have ended.
    let waiting;
    let settings = if fresh && settings.suspend {
        let mut s = settings.clone();
        s.suspend = false;
        waiting = s;
        &waiting
    } else {
        settings
    };
    let mut runs = Vec::new();
    while runs.len() < inst.repeat.max(1) as usize
        && runs
            .last()
            .is_none_or(|r: &Invocation| r.outcome.status == PluginStatus::Ok)
        && (runs.is_empty() || settings.cancel.signal().is_none())
    {
        let mut again = shared.clone();
        if fresh || !runs.is_empty() {
            again.started_at = crate::time::now();
        }
        let input = context_for(inst, &again, settings);
        runs.push(run_one(inst, input, settings).await);
    }
    runs
}

/// One instance's outcome from its runs: the run itself, or the runs pooled.
pub fn outcome_of(inst: &PlannedInstance, runs: Vec<PluginOutcome>) -> PluginOutcome {
    if runs.len() > 1 || inst.repeat > 1 {
        let n = runs.len() as u32;
        pool(runs, n.max(inst.repeat), inst.repeat_aggregate)
    } else {
        runs.into_iter().next().unwrap_or_else(|| {
            unrun(
                inst,
                PluginStatus::Cancelled,
                "cancelled",
                "did not run".into(),
            )
        })
    }
}

/// The outcome of an instance that has no run to show: `status`, with
/// an error of `kind` saying why.
fn unrun(
    inst: &PlannedInstance,
    status: PluginStatus,
    kind: &str,
    message: String,
) -> PluginOutcome {
    PluginOutcome::new(
        inst.id.clone(),
        inst.plugin.manifest.name.clone(),
        inst.plugin.manifest.version.clone(),
        status,
    )
    .with_error(kind, message)
}

/// Runs one instance once as one side of a pair (`compare:`): with
/// `variant` and `pair` in its context, and `workspace` as its
/// `paths.workspace` and working directory.
pub async fn run_variant(
    inst: &PlannedInstance,
    shared: &SharedContext,
    settings: &RunSettings,
    workspace: &std::path::Path,
    variant: &str,
    pair: u32,
) -> PluginOutcome {
    let mut settings = settings.clone();
    settings.workspace = workspace.to_owned();
    // Pairs are measured back to back: a pending plugin is waited for
    // here, never left for a later invocation.
    settings.suspend = false;
    let mut again = shared.clone();
    again.started_at = crate::time::now();
    let (mut ctx, env) = context_for(inst, &again, &settings);
    ctx.variant = Some(variant.to_owned());
    ctx.pair = Some(pair);
    run_one(inst, (ctx, env), &settings).await.outcome
}

/// Pools the outcomes of runs of one instance: the last failing run if
/// one failed, else each metric's samples pooled (a run without samples
/// gives its value) and its value the `aggregate` of the runs' values.
pub fn pool(
    runs: Vec<PluginOutcome>,
    planned: u32,
    aggregate: crate::policy::Aggregate,
) -> PluginOutcome {
    let n = runs.len() as u32;
    let total_ms: u64 = runs.iter().map(|r| r.duration_ms).sum();
    if let Some(failed) = runs.iter().position(|r| r.status != PluginStatus::Ok) {
        let mut out = runs[failed].clone();
        out.notes.push(format!(
            "run {} of {planned} failed, so the gate has no pooled value for this plugin",
            failed + 1
        ));
        out.duration_ms = total_ms;
        return out;
    }
    let mut out = runs[0].clone();
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for m in &mut out.metrics {
        let per_run: Vec<&crate::protocol::Metric> = runs
            .iter()
            .filter_map(|r| r.metrics.iter().find(|x| x.name == m.name))
            .collect();
        let vals: Vec<f64> = per_run.iter().map(|x| x.value).collect();
        m.value = crate::stats::aggregate(&vals, aggregate);
        let pooled: Vec<f64> = per_run
            .iter()
            .flat_map(|x| x.samples.clone().unwrap_or_else(|| vec![x.value]))
            .collect();
        m.samples = Some(pooled);
        values.insert(m.name.clone(), vals);
    }
    out.duration_ms = total_ms;
    out.summary = runs.last().and_then(|r| r.summary.clone());
    out.repeats = Some(crate::decision::Repeats {
        runs: n,
        aggregate: aggregate.name(),
        values,
    });
    out
}

fn context_for(
    inst: &PlannedInstance,
    shared: &SharedContext,
    settings: &RunSettings,
) -> (Context, BTreeMap<String, String>) {
    let artifacts = settings.artifacts.join(inst.id.as_str());
    let deadline = shared.started_at
        + chrono::Duration::from_std(inst.timeout).unwrap_or(chrono::Duration::MAX);
    let ctx = Context {
        protocol: PROTOCOL_VERSION,
        plugin: PluginRef {
            name: inst.plugin.manifest.name.clone(),
            instance: inst.id.clone(),
        },
        config: inst.config.clone(),
        run: RunInfo {
            id: shared.run_id.clone(),
            started_at: crate::time::rfc3339(shared.started_at),
            deadline: Some(crate::time::rfc3339(deadline)),
        },
        pipeline: shared.pipeline.clone(),
        source: shared.source.clone(),
        history: shared.history.clone(),
        paths: Paths {
            workspace: settings.workspace.to_string_lossy().into_owned(),
            artifacts: artifacts.to_string_lossy().into_owned(),
        },
        variant: None,
        pair: None,
        resume: settings.resume.get(&inst.id).map(|p| p.state.clone()),
    };
    let mut env = plugin_env(&settings.parent_env, &inst.env);
    env.insert("QOD_PROTOCOL".into(), PROTOCOL_VERSION.to_string());
    env.insert("QOD_RUN_ID".into(), shared.run_id.to_string());
    env.insert("QOD_INSTANCE".into(), inst.id.to_string());
    env.insert("QOD_ARTIFACTS".into(), ctx.paths.artifacts.clone());
    (ctx, env)
}

async fn run_one(
    inst: &PlannedInstance,
    (ctx, env): (Context, BTreeMap<String, String>),
    settings: &RunSettings,
) -> Invocation {
    let mut notes = Vec::new();
    if let Err(e) = std::fs::create_dir_all(&ctx.paths.artifacts) {
        notes.push(format!(
            "could not create its artifacts folder `{}`: {e}",
            ctx.paths.artifacts
        ));
    }
    // Side by side, which side and pair this is.
    let side = ctx.variant.clone().zip(ctx.pair);
    settings.reporter.report(Event::Started {
        instance: inst.id.to_string(),
        plugin: inst.plugin.manifest.name.clone(),
        side: side.clone(),
    });
    // A plugin that answers `pending` is invoked again with its state, until
    // it ends; its timeout counts the whole span.
    // A resumed gate's plugin carries on from its state, its timeout
    // counting from when it first started.
    let earlier = settings.resume.get(&inst.id);
    let since = earlier
        .and_then(|p| chrono::DateTime::parse_from_rfc3339(&p.since).ok())
        .map_or_else(crate::time::now, |t| t.with_timezone(&chrono::Utc));
    let before = (crate::time::now() - since).to_std().unwrap_or_default();
    let started = std::time::Instant::now();
    let elapsed = || started.elapsed() + before;
    let mut ctx = ctx;
    let mut resumed = earlier.map_or(0, |p| p.resumed + u32::from(ctx.resume.is_some()));
    let (mut out, pending) = loop {
        let input = serde_json::to_vec(&ctx).expect("contexts serialize");
        let limits = Limits {
            timeout: inst.timeout.saturating_sub(elapsed()),
            grace: settings.grace,
            stdout: StdoutMode::Capped(STDOUT_CAP),
            // More than is kept: a secret across the tail's first byte is
            // whole when it is redacted, and cut after.
            stderr_tail: STDERR_TAIL + TAIL_SLACK,
        };
        let cmd = Cmd::argv(&inst.plugin.argv)
            .env_clear()
            .envs(&env)
            .cwd(&settings.workspace);
        let running = cmd.supervise(input, limits, &settings.cancel);
        let raw = match settings.reporter.heartbeat() {
            Some(every) => with_heartbeat(running, inst, &settings.reporter, every).await,
            None => running.await,
        };
        let Some(p) = pending::pending(&raw) else {
            break (
                outcome::interpret(
                    &inst.id,
                    &inst.plugin.manifest,
                    raw,
                    inst.timeout,
                    settings.grace,
                ),
                None,
            );
        };
        if settings.suspend && p.retry_after < inst.timeout.saturating_sub(elapsed()) {
            let (out, state) = pending::suspended(inst, p, since, resumed);
            break (out, Some(state));
        }
        match pending::wait(inst, settings, &p, elapsed()).await {
            Ok(()) => {
                ctx.resume = Some(p.state);
                resumed += 1;
            }
            Err(out) => break (*out, None),
        }
    };
    if resumed > 0 {
        notes.push(format!(
            "answered `pending` and was resumed {resumed} time{}",
            if resumed == 1 { "" } else { "s" }
        ));
        out.duration_ms = elapsed().as_millis() as u64;
    }
    notes.append(&mut out.notes);
    out.notes = notes;
    redact(&mut out, &settings.redactor);
    if let Some(tail) = out.stderr_tail.as_mut() {
        let mut start = tail.len().saturating_sub(STDERR_TAIL);
        while !tail.is_char_boundary(start) {
            start += 1;
        }
        tail.drain(..start);
    }
    settings.reporter.report(Event::Ended {
        instance: inst.id.to_string(),
        side,
        status: out.status.as_str().to_owned(),
        duration_ms: out.duration_ms,
        detail: match (&out.status, &out.error) {
            (PluginStatus::Ok, _) => outcome::brief(&out),
            (_, Some(e)) => e.message.clone(),
            _ => String::new(),
        },
    });
    Invocation {
        outcome: out,
        pending,
    }
}

/// Awaits `f`, reporting a heartbeat every `every` until it ends, so that
/// a long plugin is not mistaken for a hung one.
async fn with_heartbeat<F: std::future::Future>(
    f: F,
    inst: &PlannedInstance,
    reporter: &crate::events::Shared,
    every: Duration,
) -> F::Output {
    let started = tokio::time::Instant::now();
    let every = every.max(Duration::from_millis(100));
    let mut tick = tokio::time::interval_at(started + every, every);
    tokio::pin!(f);
    loop {
        tokio::select! {
            out = &mut f => return out,
            _ = tick.tick() => reporter.report(Event::Heartbeat {
                instance: inst.id.to_string(),
                plugin: inst.plugin.manifest.name.clone(),
                elapsed: started.elapsed(),
            }),
        }
    }
}

/// Hides secret values in every text of `out` that came from the plugin
/// (its result, its stderr) or mentions what it printed.
/// Bytes of stderr read beyond the tail kept, so that a secret that
/// straddles the tail's start is redacted whole before the tail is cut.
const TAIL_SLACK: usize = 4 << 10;

/// The whole outcome redacted, every string in it (a pending plugin's
/// state included: it is stored with a suspended gate; a plugin reads its
/// secrets from the environment again when it is resumed).
fn redact(out: &mut PluginOutcome, r: &Redactor) {
    *out = r.redact_doc(out.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Aggregate;
    use crate::protocol::Metric;

    fn run(
        status: PluginStatus,
        ms: u64,
        metrics: &[(&str, f64, Option<Vec<f64>>)],
    ) -> PluginOutcome {
        serde_json::from_value::<PluginOutcome>(serde_json::json!({
            "instance": "bench", "name": "emit", "version": "1", "status": status,
            "duration_ms": ms, "metrics": [],
        }))
        .map(|mut o| {
            o.metrics = metrics
                .iter()
                .map(|(name, value, samples)| Metric {
                    name: (*name).into(),
                    value: *value,
                    unit: Some("ms".into()),
                    better: None,
                    samples: samples.clone(),
                    instrument: None,
                })
                .collect();
            o.summary = Some(format!("{ms} ms"));
            o
        })
        .expect("a valid outcome")
    }

    /// Name, aggregate, runs, pooled value, pooled samples.
    type Case = (&'static str, Aggregate, Vec<PluginOutcome>, f64, Vec<f64>);

    #[test]
    fn pool_aggregates_values_and_pools_samples() {
        let ok = PluginStatus::Ok;
        #[rustfmt::skip]
        let table: &[Case] = &[
            ("median of values, samples pooled in run order", Aggregate::Median,
             vec![run(ok, 10, &[("t", 5.0, Some(vec![4.0, 6.0]))]),
                  run(ok, 20, &[("t", 9.0, Some(vec![8.0, 10.0]))]),
                  run(ok, 30, &[("t", 7.0, Some(vec![7.0]))])],
             7.0, vec![4.0, 6.0, 8.0, 10.0, 7.0]),
            ("a run without samples gives its value", Aggregate::Mean,
             vec![run(ok, 10, &[("t", 2.0, None)]), run(ok, 10, &[("t", 4.0, Some(vec![3.0, 5.0]))])],
             3.0, vec![2.0, 3.0, 5.0]),
            ("min", Aggregate::Min,
             vec![run(ok, 1, &[("t", 2.0, None)]), run(ok, 1, &[("t", 1.0, None)])],
             1.0, vec![2.0, 1.0]),
            ("max", Aggregate::Max,
             vec![run(ok, 1, &[("t", 2.0, None)]), run(ok, 1, &[("t", 1.0, None)])],
             2.0, vec![2.0, 1.0]),
        ];
        for (name, aggregate, runs, value, samples) in table {
            let n = runs.len() as u32;
            let total: u64 = runs.iter().map(|r| r.duration_ms).sum();
            let last_summary = runs.last().unwrap().summary.clone();
            let out = pool(runs.clone(), n, *aggregate);
            assert_eq!(out.status, PluginStatus::Ok, "{name}");
            assert_eq!(out.metrics[0].value, *value, "{name}");
            assert_eq!(
                out.metrics[0].samples.as_deref(),
                Some(&samples[..]),
                "{name}"
            );
            assert_eq!(out.duration_ms, total, "{name}: durations add up");
            assert_eq!(out.summary, last_summary, "{name}: the last run's summary");
            let repeats = out.repeats.expect("repeats are recorded");
            assert_eq!(repeats.runs, n, "{name}");
            assert_eq!(repeats.aggregate, aggregate.name(), "{name}");
            let values: Vec<f64> = runs.iter().map(|r| r.metrics[0].value).collect();
            assert_eq!(repeats.values["t"], values, "{name}: each run's value");
        }
    }

    /// Runs the policy `yaml` (in a temporary folder, with the test
    /// plugins' folder) with a recording reporter; its events.
    fn events_of(yaml: &str, heartbeat: Option<Duration>) -> Vec<Event> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        // `slow` sleeps, then measures; `leaks` fails, printing a secret.
        for (name, script) in [
            ("slow", "cat >/dev/null; sleep 0.5; echo '{\"protocol\":1,\"status\":\"ok\",\"metrics\":[{\"name\":\"value\",\"value\":1}]}'"),
            ("leaks", "cat >/dev/null; echo '{\"protocol\":1,\"status\":\"error\",\"error\":{\"kind\":\"denied\",\"message\":\"denied for tok-secret-123\"}}'"),
        ] {
            let folder = dir.path().join("plugins").join(name);
            std::fs::create_dir_all(&folder).expect("created");
            let manifest = serde_json::json!({
                "manifest_version": 1, "name": name, "version": "0.1.0",
                "description": "a test plugin", "protocol_versions": [1],
                "command": ["sh", "-c", script], "timeout": "10s",
                "metrics": [{"name": "value", "unit": "ms", "better": "lower"}],
            });
            std::fs::write(folder.join("plugin.json"), manifest.to_string()).expect("written");
        }
        std::fs::write(dir.path().join("qod.yaml"), yaml).expect("written");
        let plan = crate::plan::load(None, dir.path()).expect("a valid policy");
        let recorder = Arc::new(crate::events::Recorder {
            heartbeat,
            ..Default::default()
        });
        let settings = RunSettings {
            jobs: 1,
            grace: DEFAULT_GRACE,
            reporter: recorder.clone(),
            workspace: dir.path().to_owned(),
            artifacts: dir.path().join("artifacts"),
            parent_env: std::env::vars().collect(),
            redactor: Redactor::new(vec!["tok-secret-123".into()]),
            cancel: Cancel::never(),
            suspend: false,
            resume: BTreeMap::new(),
        };
        let shared = SharedContext {
            run_id: RunId::generate(),
            started_at: crate::time::now(),
            pipeline: Pipeline::default(),
            source: Source::default(),
            history: HistoryInfo::default(),
            runner: None,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(run_all(&plan, &shared, &settings, &[]));
        let events = recorder.events.lock().expect("not poisoned").clone();
        events
    }

    #[test]
    fn a_run_reports_start_heartbeats_and_end_with_redacted_text() {
        let events = events_of(
            "version: 1\nplugins:\n  slow: { uses: slow }\n  fails: { uses: leaks }\nobjectives:\n  - { id: a, metric: slow.value, pass: \"< 10ms\" }\n  - { id: b, metric: fails.value, pass: \"< 10ms\" }\n",
            Some(Duration::from_millis(100)),
        );
        let started: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Started { instance, side, .. } => Some((instance.as_str(), side.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(started, [("slow", None), ("fails", None)], "{events:#?}");
        let beats = events
            .iter()
            .filter(|e| matches!(e, Event::Heartbeat { instance, .. } if instance == "slow"))
            .count();
        assert!(
            (2..=6).contains(&beats),
            "{beats} heartbeats in 0.5 s: {events:#?}"
        );
        let ended: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Ended {
                    instance, status, ..
                } => Some((instance.as_str(), status.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            ended,
            [("slow", "ok"), ("fails", "plugin_error")],
            "{events:#?}"
        );
        // What the plugin printed reaches the event redacted.
        let text = format!("{events:?}");
        assert!(text.contains("denied for [redacted]"), "{events:#?}");
        assert!(!text.contains("tok-secret-123"), "{events:#?}");
        // Each instance's events in order: started, then heartbeats, then ended.
        let slow: Vec<_> = events
            .iter()
            .filter(|e| format!("{e:?}").contains("\"slow\""))
            .collect();
        assert!(matches!(slow.first(), Some(Event::Started { .. })));
        assert!(matches!(slow.last(), Some(Event::Ended { .. })));
    }

    #[test]
    fn no_heartbeat_is_reported_when_the_reporter_wants_none() {
        let events = events_of(
            "version: 1\nplugins:\n  slow: { uses: slow }\nobjectives:\n  - { id: a, metric: slow.value, pass: \"< 10ms\" }\n",
            None,
        );
        assert!(
            !events.iter().any(|e| matches!(e, Event::Heartbeat { .. })),
            "{events:#?}"
        );
        assert_eq!(events.len(), 2, "{events:#?}");
    }

    #[test]
    fn pool_keeps_the_failing_run() {
        let runs = vec![
            run(PluginStatus::Ok, 10, &[("t", 1.0, None)]),
            run(PluginStatus::Timeout, 20, &[]),
            run(PluginStatus::Ok, 30, &[("t", 1.0, None)]),
        ];
        let out = pool(runs, 5, Aggregate::Median);
        assert_eq!(out.status, PluginStatus::Timeout);
        assert!(out.metrics.is_empty(), "no pooled value");
        assert_eq!(out.duration_ms, 60);
        assert!(
            out.notes.iter().any(|n| n.contains("run 2 of 5 failed")),
            "{:?}",
            out.notes
        );
        assert!(out.repeats.is_none());
    }
}
