//! `qod run` and the CodePipeline commands on the command line: their
//! options, and a decided run shown (the decision on stdout, the summary
//! and annotations on stderr).

use super::args::{CodepipelineCommand, CombineArgs, ForgeCommand, GateArgs, OutputsArg, RunArgs};
use super::render::{self, Printer};
use super::{block_on, cwd, summary};
use crate::commands::{self, CommandError, Env};
use crate::exit::Exit;
use crate::gate::{Request, RunOptions};
use std::io::IsTerminal;

/// Where a decision goes besides stdout.
fn sinks(o: OutputsArg) -> commands::run::Sinks {
    commands::run::Sinks {
        out: o.out,
        outputs: crate::outputs::Outputs {
            junit: o.junit,
            markdown: o.markdown,
            env_file: o.env_file,
        },
        samples: o.samples.limit(),
    }
}

/// Time between progress lines where a command has no `--heartbeat`.
const HEARTBEAT: std::time::Duration = crate::runner::HEARTBEAT;

/// The request every gate command makes, and where its outputs go.
fn request_of(
    args: GateArgs,
    heartbeat: std::time::Duration,
    p: &Printer,
    env: Env,
) -> (Request, commands::run::Sinks) {
    let req = Request {
        policy: args.policy,
        store: args.store.store,
        strict: args.strict,
        record: !args.no_record,
        spool: args.spool,
        reporter: std::sync::Arc::new(super::progress::Progress {
            shown: !p.quiet && (args.progress || std::io::stderr().is_terminal()),
            heartbeat,
        }),
        cwd: cwd(),
        env,
    };
    (req, sinks(args.outputs))
}

pub(super) fn options_of(
    args: RunArgs,
    p: &Printer,
    env: Env,
) -> (Request, RunOptions, commands::run::Sinks) {
    let (req, sinks) = request_of(args.gate, args.heartbeat.0, p, env);
    let selection = match (args.shard, args.part, args.only) {
        _ if args.pairs.is_some() => args
            .pairs
            .map(|(k, n)| crate::parts::Selection::Pairs { k, n }),
        (Some((k, n)), _, _) => Some(crate::parts::Selection::Shard { k, n }),
        (None, name, only) if !only.is_empty() => Some(crate::parts::Selection::Only {
            name,
            instances: only.into_iter().map(crate::ids::InstanceId::new).collect(),
        }),
        (None, Some(name), _) => Some(crate::parts::Selection::Named(name)),
        (None, None, _) => None,
    };
    // `--group` alone is refused by clap: it needs a selection.
    let group = args.group;
    let part = selection.map(|selection| crate::gate::PartRequest { group, selection });
    let opts = RunOptions {
        jobs: args.jobs.map(usize::from),
        cancel_on_signals: true,
        grace: args.kill_grace.0,
        context: args.context,
        base: args.base,
        part,
        suspend: false,
    };
    (req, opts, sinks)
}

/// Shows a decided run: the decision on stdout, warnings, the summary and
/// the annotations on stderr, then the output that failed; returns the
/// exit code.
pub(super) fn show_run(
    ran: &commands::run::Ran,
    env: &Env,
    samples: Option<usize>,
    p: &Printer,
) -> Exit {
    p.warnings(&ran.outcome.warnings);
    for n in &ran.outcome.notes {
        p.note(&format!("qod: {n}"));
    }
    let _ = p.data(&commands::run::decision_json(&ran.outcome, samples));
    let github = crate::ci::Provider::detect(env).annotates();
    p.note(&summary::human_summary(
        &ran.outcome.decision,
        github,
        p.colour,
    ));
    for a in &ran.annotations {
        render::eprint(a);
    }
    if github {
        for w in &ran.outcome.warnings {
            render::eprint(&crate::outputs::github::warning(w));
        }
    }
    if let Some(e) = &ran.failed {
        p.error(e);
    }
    ran.exit()
}

pub(super) fn codepipeline(
    command: CodepipelineCommand,
    p: &Printer,
    env: Env,
) -> Result<Exit, CommandError> {
    match command {
        CodepipelineCommand::LambdaEvent { event, run } => {
            let text = match &event {
                Some(f) => std::fs::read_to_string(f).map_err(|e| CommandError::Read(f.clone(), e)),
                None => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                        .map(|_| s)
                        .map_err(|e| CommandError::Read("-".into(), e))
                }
            }?;
            let (req, opts, sinks) = options_of(run, p, env);
            let job = block_on(commands::codepipeline::lambda_event(
                &text,
                (&req, &opts),
                &sinks,
            ))?;
            Ok(show_job(&job, &req.env, sinks.samples, p))
        }
        CodepipelineCommand::LambdaRuntime { run } => {
            let (req, opts, sinks) = options_of(run, p, env);
            block_on(commands::codepipeline::lambda_runtime(
                (&req, &opts),
                &sinks,
                |job| {
                    show_job(job, &req.env, sinks.samples, p);
                },
                |e| p.error(e),
            ))
        }
        CodepipelineCommand::Worker {
            category,
            provider,
            version,
            once,
            poll_interval,
            run,
        } => {
            let (req, mut opts, sinks) = options_of(run, p, env);
            // The worker handles SIGTERM itself: it finishes the current job.
            opts.cancel_on_signals = false;
            let w = crate::ci::codepipeline::Worker {
                category,
                provider,
                version,
                once,
                poll_interval: poll_interval.0,
            };
            block_on(commands::codepipeline::worker(
                &w,
                (&req, &opts),
                &sinks,
                |job| {
                    show_job(job, &req.env, sinks.samples, p);
                },
                |note| p.note(&format!("qod: {note}")),
            ))
        }
    }
}

/// Shows a handled CodePipeline job: its run (or why there was none),
/// then whether reporting it failed.
fn show_job(
    job: &commands::codepipeline::Job,
    env: &Env,
    samples: Option<usize>,
    p: &Printer,
) -> Exit {
    match &job.ran {
        Ok(ran) => match &ran.outcome.suspended {
            Some(s) => p.note(&format!(
                "qod: gate suspended: {}; CodePipeline invokes the action again with continuation token `{}`",
                s.waiting_for(),
                s.token
            )),
            None => {
                show_run(ran, env, samples, p);
            }
        },
        Err(e) => p.error(e),
    }
    if let Err(e) = &job.sent {
        p.error(e);
    }
    job.exit()
}

/// `qod combine`: the parts composed, the decision shown like a run's.
pub(super) fn combine(args: CombineArgs, p: &Printer, env: Env) -> Result<Exit, CommandError> {
    let (req, sinks) = request_of(args.gate, HEARTBEAT, p, env);
    let opts = crate::gate::combine::CombineOptions {
        group: args.group,
        wait: args.wait.0,
    };
    let env = req.env.clone();
    let ran = block_on(commands::run::combine(req, &opts, &sinks))?;
    Ok(show_run(&ran, &env, sinks.samples, p))
}

/// `qod github comment` and `qod gitlab comment`.
pub(super) fn forge_comment(
    forge: crate::outputs::comment::Forge,
    command: ForgeCommand,
    p: &Printer,
    env: Env,
) -> Result<Exit, CommandError> {
    use crate::outputs::comment::Commented;
    let ForgeCommand::Comment {
        decision,
        markdown,
        bisect,
    } = command;
    let what = match forge {
        crate::outputs::comment::Forge::Github => "pull request",
        crate::outputs::comment::Forge::Gitlab => "merge request",
    };
    let commented = match bisect {
        Some(file) => block_on(commands::comment::bisection(forge, &file, &env))?,
        None => block_on(commands::comment::comment(
            forge,
            &decision,
            markdown.as_deref(),
            &env,
        ))?,
    };
    match commented {
        Commented::Created { url } => p.note(&format!("qod: commented on the {what}: {url}")),
        Commented::Updated { url } => p.note(&format!("qod: updated the {what}'s comment: {url}")),
        Commented::NotARequest => {
            p.note(&format!("qod: not a {what} build; nothing to comment on"))
        }
        Commented::Fallback { why, instead } => p.warning(&format!(
            "qod could not comment on the {what}: {why}; the summary went to {instead}"
        )),
    }
    Ok(Exit::Pass)
}
