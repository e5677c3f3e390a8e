//! `qod codepipeline lambda-event`, `lambda-runtime` and `worker`: the gate
//! run for a CodePipeline job, and its result reported with the job API
//! (`ci::codepipeline` speaks the API, `ci::lambda` Lambda's runtime API;
//! this runs the gate).

use super::run::{Ran, Sinks};
use super::CommandError;
use crate::ci::codepipeline::{self as cp, Claim, JobConfig, JobError, Worker};
use crate::exit::Exit;
use crate::gate::suspend::Suspension;
use crate::gate::{Request, RunOptions, Session};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One handled job: the run (or why there was none) and whether its result
/// reached CodePipeline.
#[derive(Debug)]
pub struct Job {
    pub ran: Result<Ran, CommandError>,
    pub sent: Result<(), JobError>,
}

impl Job {
    /// The run's exit code, or 2 when there was no decision or reporting failed.
    pub fn exit(&self) -> Exit {
        match (&self.ran, &self.sent) {
            (Ok(r), Ok(())) => r.exit(),
            _ => Exit::NoDecision,
        }
    }
}

/// The request of one job: the job's `UserParameters` over the command's.
fn request_for(base: &Request, config: &JobConfig) -> Request {
    let mut req = base.clone();
    if let Some(p) = &config.policy {
        req.policy = Some(p.into());
    }
    if let Some(s) = &config.store {
        req.store = s.clone();
    }
    req.strict |= config.strict;
    req
}

/// Runs the gate of one job, or resumes the suspended gate `token` names,
/// in one session (one store for the suspension, the run and the record).
/// A gate whose plugins are still pending is suspended: kept in the store,
/// its outputs not written yet.
async fn run_job(
    req: Request,
    opts: &RunOptions,
    token: Option<&str>,
    sinks: &Sinks,
) -> Result<Ran, CommandError> {
    let session = Session::open(req).await?;
    let resume = match token {
        Some(token) => Some(Suspension::take(&session.store, token).await?),
        None => None,
    };
    let opts = RunOptions {
        suspend: true,
        ..opts.clone()
    };
    let outcome = crate::gate::run(&session, &opts, resume).await?;
    if let Some(s) = &outcome.suspended {
        s.save(&session.store).await?;
        return Ok(Ran {
            outcome,
            annotations: Vec::new(),
            failed: None,
        });
    }
    Ok(super::run::publish(outcome, sinks, &session.request.env))
}

/// Runs the gate for one job (or resumes it) and reports it.
async fn handle(
    client: &aws_sdk_codepipeline::Client,
    job: &str,
    config: Result<JobConfig, String>,
    token: Option<&str>,
    (base, opts): (&Request, &RunOptions),
    sinks: &Sinks,
) -> Job {
    let ran = match config {
        Ok(config) => run_job(request_for(base, &config), opts, token, sinks).await,
        Err(message) => Err(CommandError::UserParameters(message)),
    };
    let report = match &ran {
        Ok(r) => match &r.outcome.suspended {
            Some(s) => cp::continue_report(
                &format!(
                    "qod: {}; asks to be resumed in {}",
                    s.waiting_for(),
                    crate::duration::HumanDuration(s.retry_after())
                ),
                &s.token,
            ),
            // The job's result is the decision's; an output that could
            // not be written shows in the exit code and on stderr.
            None => cp::report_for(Ok((&r.outcome.decision, r.outcome.exit))),
        },
        Err(e) => cp::report_for(Err(e)),
    };
    let run_id = ran
        .as_ref()
        .ok()
        .map(|r| r.outcome.decision.run.id.to_string());
    let sent = cp::send_report(client, job, &report, run_id.as_deref()).await;
    Job { ran, sent }
}

/// The job in `event` (a Lambda invoke event), run and reported.
pub async fn lambda_event(
    event: &str,
    base: (&Request, &RunOptions),
    sinks: &Sinks,
) -> Result<Job, CommandError> {
    let event = cp::parse_event(event)?;
    let client = cp::client(&base.0.env).await;
    let config = JobConfig::from_user_parameters(event.params.as_deref());
    Ok(handle(
        &client,
        &event.job,
        config,
        event.continuation.as_deref(),
        base,
        sinks,
    )
    .await)
}

/// A Lambda custom runtime whose handler is qod: each event is a
/// CodePipeline job, run and reported as [`lambda_event`] does, and the
/// invocation answered with the decision's summary; an event that is no
/// CodePipeline job, or a result CodePipeline did not take, is answered
/// with an error, and the next event is handled all the same. Runs until
/// the sandbox ends, or the runtime API fails.
pub async fn lambda_runtime(
    base: (&Request, &RunOptions),
    sinks: &Sinks,
    mut on_job: impl FnMut(&Job),
    mut on_error: impl FnMut(&CommandError),
) -> Result<Exit, CommandError> {
    let runtime = crate::ci::lambda::Runtime::from_env(&base.0.env)?;
    loop {
        let inv = runtime.next().await?;
        let job = match lambda_event(&inv.event, base, sinks).await {
            Ok(job) => job,
            Err(e) => {
                on_error(&e);
                runtime
                    .error(
                        &inv.request_id,
                        "QodNotACodePipelineJob",
                        &crate::diag::error_chain(&e),
                    )
                    .await?;
                continue;
            }
        };
        on_job(&job);
        match (&job.ran, &job.sent) {
            (_, Err(e)) => {
                let message = format!(
                    "the job's result did not reach CodePipeline: {}",
                    crate::diag::error_chain(e)
                );
                runtime
                    .error(&inv.request_id, "QodJobNotReported", &message)
                    .await?
            }
            (Ok(r), Ok(())) => {
                let d = &r.outcome.decision;
                let answer = serde_json::json!({
                    "decision": d.decision.as_str(),
                    "score": d.score,
                    "run_id": d.run.id,
                    "summary": d.summary,
                    "suspended": r.outcome.suspended.as_ref().map(|s| s.token.clone()),
                });
                runtime
                    .respond(&inv.request_id, answer.to_string().into_bytes())
                    .await?
            }
            // The job was reported as failed (`ConfigurationError`): the
            // invocation did its work.
            (Err(e), Ok(())) => {
                let answer = serde_json::json!({ "error": crate::diag::error_chain(e) });
                runtime
                    .respond(&inv.request_id, answer.to_string().into_bytes())
                    .await?
            }
        }
    }
}

/// Polls for jobs of the custom action, claims each, runs the gate and
/// reports; `on_job` sees each handled job, `on_note` each skipped one.
/// SIGTERM or SIGINT finish the current job, then end the loop. Ends with
/// the worst exit code of the jobs (a failed gate is 1, not a failure of
/// the worker).
pub async fn worker(
    w: &Worker,
    base: (&Request, &RunOptions),
    sinks: &Sinks,
    mut on_job: impl FnMut(&Job),
    mut on_note: impl FnMut(&str),
) -> Result<Exit, CommandError> {
    let client = cp::client(&base.0.env).await;
    let stop = Arc::new(AtomicBool::new(false));
    for kind in [
        tokio::signal::unix::SignalKind::terminate(),
        tokio::signal::unix::SignalKind::interrupt(),
    ] {
        if let Ok(mut sig) = tokio::signal::unix::signal(kind) {
            let stop = stop.clone();
            tokio::spawn(async move {
                sig.recv().await;
                stop.store(true, Ordering::SeqCst);
            });
        }
    }
    let action = w.action();
    let mut worst = Exit::Pass;
    while !stop.load(Ordering::SeqCst) {
        match cp::claim(&client, &action).await? {
            Claim::None if w.once => break,
            Claim::None => {
                let until = tokio::time::Instant::now() + w.poll_interval;
                while tokio::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                continue;
            }
            Claim::Skipped(why) => {
                on_note(&why);
                continue;
            }
            Claim::Job {
                id,
                config,
                continuation,
            } => {
                let job = handle(
                    &client,
                    &id,
                    Ok(config),
                    continuation.as_deref(),
                    base,
                    sinks,
                )
                .await;
                on_job(&job);
                worst = worst.max(job.exit());
            }
        }
        if w.once {
            break;
        }
    }
    Ok(worst)
}
