//! The command line: parse arguments, call the library, print, exit with a
//! named code. Nothing here decides anything.

use crate::exit::Exit;
use crate::gate::{self, RunOptions};
use crate::plugin::Discovery;
use crate::units::format_with_unit;
use crate::validate::SchemaKind;
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// qod — a Quality-of-Deployment gate: runs benchmark plugins, compares what
/// they measure with goals and history, and prints one explained decision.
#[derive(Debug, Parser)]
#[command(name = "qod", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gate: plugins, evaluation, decision on stdout, run recorded.
    Run(RunArgs),
    /// Check the policy, manifests and configs without running anything.
    Validate {
        /// Policy file (default: qod.yaml, qod.yml or qod.json here).
        #[arg(long, short)]
        policy: Option<PathBuf>,
    },
    /// Print a JSON Schema of one of qod's documents.
    Schema {
        /// Which document.
        #[arg(value_enum)]
        kind: Option<SchemaKind>,
        /// Write every schema into this folder instead (how `schema/` is made).
        #[arg(long, value_name = "DIR", conflicts_with = "kind")]
        write: Option<PathBuf>,
    },
    /// What plugin discovery finds.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Print the pipeline and source qod detects from the CI environment.
    Context {
        /// A JSON document (`{"pipeline": …, "source": …}`) to merge over
        /// what was detected: a file, or `-` for stdin.
        #[arg(long, value_name = "FILE|-")]
        context: Option<String>,
    },
    /// Record that a revision reached production (run it after a successful deploy).
    Deployed(DeployedArgs),
    /// Recent runs with their decisions and metric values.
    History(HistoryArgs),
    /// Write the whole history for spreadsheets, Athena or QuickSight.
    Export(ExportArgs),
    /// Write an HTML report of the history: the latest decision, a chart per
    /// metric, the recent runs.
    Report(ReportArgs),
    /// Find change points in each metric's history (E-divisive means, as
    /// Apache Otava does).
    Trend(TrendArgs),
    /// Replay the policy over the stored history: how often each objective
    /// would have passed, warned and failed, and which runs it would have stopped.
    Backtest(BacktestArgs),
    /// Report the gate to CodePipeline as a job result.
    Codepipeline {
        #[command(subcommand)]
        command: CodepipelineCommand,
    },
    /// Run a first-party plugin's program: a context on stdin, a result on
    /// stdout (what `plugins/<name>/plugin.json` starts).
    #[command(hide = true)]
    Builtin {
        /// The first-party plugin.
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(crate::builtin::names().collect::<Vec<_>>()))]
        name: String,
    },
    /// Maintain the history store.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Debug, clap::Args)]
struct StoreArg {
    /// History store: a directory, or `s3://bucket/prefix`.
    #[arg(long, env = "QOD_STORE", default_value = ".qod/store")]
    store: String,
}

#[derive(Debug, clap::Args)]
struct DeployedArgs {
    #[command(flatten)]
    store: StoreArg,
    /// The deployed commit (default: the one the CI or git reports).
    #[arg(long)]
    revision: Option<String>,
    /// The gate run that let it through.
    #[arg(long)]
    run_id: Option<String>,
    /// The branch it was deployed from (default: the one the CI or git reports).
    #[arg(long)]
    branch: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum HistoryFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
struct HistoryArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only runs that measured this metric (`<instance>.<metric>`), and show its value.
    #[arg(long)]
    metric: Option<String>,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    last: usize,
    #[arg(long, value_enum, default_value = "table")]
    format: HistoryFormat,
}

#[derive(Debug, clap::Args)]
struct BacktestArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Policy file (default: qod.yaml, qod.yml or qod.json here).
    #[arg(long, short)]
    policy: Option<PathBuf>,
    /// How many runs to replay, newest first.
    #[arg(long, default_value_t = 1000)]
    last: usize,
    /// Print JSON (every replayed run) instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct TrendArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only these metrics (`<instance>.<metric>`, or a glob); repeatable.
    #[arg(long)]
    metric: Vec<String>,
    /// How many runs to analyse, newest first.
    #[arg(long, default_value_t = 1000)]
    last: usize,
    /// Only runs of this branch.
    #[arg(long)]
    branch: Option<String>,
    /// Runs per sliding window of the split step.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(2..))]
    window: u32,
    /// Largest p-value of a change point (two-sided Student's t-test).
    #[arg(long, default_value_t = 0.001)]
    max_pvalue: f64,
    /// Smallest relative change of a change point (0.05 = 5%).
    #[arg(long, default_value_t = 0.05)]
    min_magnitude: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    #[command(flatten)]
    store: StoreArg,
    /// The HTML file to write (self-contained: open it anywhere, offline).
    #[arg(long, default_value = "qod-report.html")]
    out: PathBuf,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 500)]
    last: usize,
    /// Only these metrics (`<instance>.<metric>`, or a glob such as `latency.p*`); repeatable.
    #[arg(long)]
    metric: Vec<String>,
    /// Also write each chart as a standalone SVG file into this folder.
    #[arg(long, value_name = "DIR")]
    svg_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// One row per run and metric.
    Csv,
    /// The full run records, one per line.
    Jsonl,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    store: StoreArg,
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Only runs of this day (`YYYY-MM-DD`, UTC) and later.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
}

#[derive(Debug, Subcommand)]
enum CodepipelineCommand {
    /// Run the job in a Lambda invoke event (`{"CodePipeline.job": …}`, on
    /// stdin or `--event`) and report it with PutJobSuccessResult or
    /// PutJobFailureResult. `UserParameters` names the policy: a path, or
    /// JSON with `policy`, `store`, `strict`.
    LambdaEvent {
        /// The event file (default: stdin).
        #[arg(long, value_name = "FILE")]
        event: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Poll for jobs of a custom action, claim each, run the gate, report.
    /// SIGTERM finishes the current job, then exits.
    Worker {
        /// The custom action's category.
        #[arg(long, default_value = "Test")]
        category: String,
        /// The custom action's provider name.
        #[arg(long, default_value = "QoD")]
        provider: String,
        /// The custom action's version.
        #[arg(long, default_value = "1")]
        version: String,
        /// Handle at most one job; exit when there is none.
        #[arg(long)]
        once: bool,
        /// Time between polls when there is no job.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
        poll_interval: Duration,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Remove old runs: their records and their index entries.
    Prune {
        #[command(flatten)]
        store: StoreArg,
        /// Keep the runs of the last N days.
        #[arg(
            long,
            value_name = "N",
            conflicts_with = "keep",
            required_unless_present = "keep"
        )]
        keep_days: Option<u32>,
        /// Keep the newest N runs.
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
    },
    /// Rebuild the index from the run records (after damage, or a writer
    /// that died between recording a run and indexing it).
    Reindex {
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Debug, Subcommand)]
enum PluginsCommand {
    /// List the plugins discovery finds, first match per name.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one plugin's manifest: config schema and metrics.
    Describe {
        /// The plugin's name.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Policy file (default: qod.yaml, qod.yml or qod.json here).
    #[arg(long, short)]
    policy: Option<PathBuf>,
    /// History store: a directory, or `s3://bucket/prefix`.
    #[arg(long, env = "QOD_STORE", default_value = ".qod/store")]
    store: String,
    /// Also write the decision to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Plugins run at once (default: the number of CPUs).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Exit 1 on warn, not only on fail.
    #[arg(long)]
    strict: bool,
    /// Print progress to stderr even when it is not a terminal.
    #[arg(long)]
    progress: bool,
    /// Do not record this run in the store.
    #[arg(long)]
    no_record: bool,
    /// A JSON document (`{"pipeline": …, "source": …}`) to merge over what
    /// was detected from the CI environment: a file, or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    context: Option<String>,
    /// Keep the record here when the store cannot take it; the next run
    /// with the same spool uploads it.
    #[arg(long, value_name = "DIR", env = "QOD_SPOOL")]
    spool: Option<PathBuf>,
    /// Also write a JUnit XML report (CodeBuild report groups, GitLab, Jenkins).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write a Markdown summary (on GitHub Actions it goes to the job
    /// summary anyway).
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Also write `QOD_DECISION=…`, `QOD_SCORE=…`, `QOD_RUN_ID=…` lines, to
    /// source before CodeBuild exports variables.
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// Time between SIGTERM and SIGKILL for a plugin past its timeout.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    kill_grace: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// Runs the CLI with the process's arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are not mistakes; everything else
            // clap rejects is a usage error, with its own exit code.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Exit::Usage.code()
            } else {
                Exit::Pass.code()
            });
        }
    };
    ExitCode::from(dispatch(cli).code())
}

fn eprint(s: &str) {
    let _ = writeln!(std::io::stderr(), "{s}");
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

fn dispatch(cli: Cli) -> Exit {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { policy } => match crate::plan::load(policy.as_deref(), &cwd()) {
            Ok(plan) => {
                eprint(&format!(
                    "qod: `{}` is valid: {} plugin instance{}, {} objective{}",
                    plan.policy.file.display(),
                    plan.instances.len(),
                    if plan.instances.len() == 1 { "" } else { "s" },
                    plan.objectives.len(),
                    if plan.objectives.len() == 1 { "" } else { "s" },
                ));
                Exit::Pass
            }
            Err(d) => {
                eprint(&d.to_string());
                Exit::NoDecision
            }
        },
        Command::Schema { kind, write } => schema(kind, write.as_deref()),
        Command::Plugins { command } => plugins(command),
        Command::Context { context } => {
            let cwd = cwd();
            let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
            match crate::ci::context(&env, &cwd, context.as_deref(), || crate::ci::git_info(&cwd)) {
                Ok((pipeline, source)) => {
                    let v = serde_json::json!({"pipeline": pipeline, "source": source});
                    println!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
                    Exit::Pass
                }
                Err(e) => {
                    eprint(&format!("error: {}", crate::diag::error_chain(&e)));
                    Exit::NoDecision
                }
            }
        }
        Command::Deployed(args) => block_on(crate::commands::history::deployed(
            &args.store.store,
            args.revision,
            args.run_id,
            args.branch,
            &cwd(),
        )),
        Command::History(args) => block_on(crate::commands::history::history(
            &args.store.store,
            args.metric.as_deref(),
            args.last,
            matches!(args.format, HistoryFormat::Json),
        )),
        Command::Export(args) => block_on(crate::commands::history::export(
            &args.store.store,
            matches!(args.format, ExportFormat::Csv),
            args.since.as_deref(),
        )),
        Command::Backtest(args) => block_on(crate::commands::history::backtest(
            &args.store.store,
            args.policy.as_deref(),
            &cwd(),
            args.last.max(1),
            args.json,
        )),
        Command::Trend(args) => block_on(crate::commands::history::trend(
            &args.store.store,
            &args.metric,
            args.last.max(1),
            args.branch.as_deref(),
            crate::changepoint::Params {
                window: args.window as usize,
                max_pvalue: args.max_pvalue,
                min_magnitude: args.min_magnitude,
            },
            args.json,
        )),
        Command::Report(args) => block_on(crate::commands::history::report(
            &args.store.store,
            &args.out,
            args.last.max(1),
            &args.metric,
            args.svg_dir.as_deref(),
        )),
        Command::Codepipeline { command } => codepipeline(command),
        // A plugin's exit code is the plugin protocol's, not qod's.
        Command::Builtin { name } => match crate::builtin::exec(&name) {
            0 => Exit::Pass,
            _ => Exit::Fail,
        },
        Command::Store { command } => match command {
            StoreCommand::Prune {
                store,
                keep_days,
                keep,
            } => {
                let keep = match (keep_days, keep) {
                    (Some(d), _) => crate::store::Keep::Days(d),
                    (None, Some(n)) => crate::store::Keep::Newest(n),
                    (None, None) => unreachable!("clap requires one"),
                };
                block_on(crate::commands::history::prune(&store.store, keep))
            }
            StoreCommand::Reindex { store } => {
                block_on(crate::commands::history::reindex(&store.store))
            }
        },
    }
}

/// Runs a store command; its error goes to stderr with exit code 2.
fn block_on(
    f: impl std::future::Future<Output = Result<(), crate::commands::history::CommandError>>,
) -> Exit {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    match rt.block_on(f) {
        Ok(()) => Exit::Pass,
        Err(e) => {
            eprint(&format!("error: {}", crate::diag::error_chain(&e)));
            Exit::NoDecision
        }
    }
}

fn outputs_of(args: &RunArgs) -> crate::outputs::Outputs {
    crate::outputs::Outputs {
        junit: args.junit.clone(),
        markdown: args.markdown.clone(),
        env_file: args.env_file.clone(),
    }
}

fn options_of(args: RunArgs) -> RunOptions {
    let progress = args.progress || std::io::stderr().is_terminal();
    RunOptions {
        policy: args.policy,
        store: args.store,
        jobs: args
            .jobs
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(usize::from)
                    .unwrap_or(1)
            })
            .max(1),
        strict: args.strict,
        progress,
        grace: args.kill_grace,
        record: !args.no_record,
        spool: args.spool,
        context: args.context,
        cwd: cwd(),
        env: std::env::vars().collect(),
    }
}

/// Plugins are I/O-bound children: one thread supervises them all.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

fn run(args: RunArgs) -> Exit {
    let outputs = outputs_of(&args);
    let out = args.out.clone();
    let opts = options_of(args);
    let outcome = runtime().block_on(gate::run(&opts));
    finish(outcome, &opts, &outputs, out.as_deref())
}

/// Prints a gate's outcome: the decision on stdout (and `--out`), the
/// summary on stderr, the reports; returns the exit code.
fn finish(
    outcome: Result<gate::GateOutcome, gate::GateError>,
    opts: &RunOptions,
    outputs: &crate::outputs::Outputs,
    out: Option<&Path>,
) -> Exit {
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            match &e {
                gate::GateError::Invalid(d) => eprint(&d.to_string()),
                other => eprint(&format!("error: {}", crate::diag::error_chain(other))),
            }
            return Exit::NoDecision;
        }
    };
    for w in &outcome.warnings {
        eprint(&format!("warning: {w}"));
    }
    let json = serde_json::to_string_pretty(&outcome.decision).expect("decisions serialize");
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{json}");
    let _ = stdout.flush();
    if let Some(out) = out {
        if let Err(e) = std::fs::write(out, format!("{json}\n")) {
            eprint(&format!(
                "error: cannot write the decision to `{}`: {e}",
                out.display()
            ));
            return Exit::NoDecision;
        }
    }
    let github = crate::ci::provider_of(&opts.env) == "github";
    eprint(&human_summary(&outcome.decision, github));
    match crate::outputs::publish(&outcome.decision, &outcome.trends, outputs, &opts.env) {
        Ok(annotations) => {
            for a in annotations {
                eprint(&a);
            }
        }
        Err(e) => {
            eprint(&format!("error: {}", crate::diag::error_chain(&e)));
            return Exit::NoDecision;
        }
    }
    outcome.exit
}

fn codepipeline(command: CodepipelineCommand) -> Exit {
    use crate::ci::codepipeline as cp;
    match command {
        CodepipelineCommand::LambdaEvent { event, run } => {
            let text = match &event {
                Some(f) => std::fs::read_to_string(f),
                None => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
                }
            };
            let text = match text {
                Ok(t) => t,
                Err(e) => {
                    eprint(&format!("error: cannot read the Lambda event: {e}"));
                    return Exit::NoDecision;
                }
            };
            let outputs = outputs_of(&run);
            let out = run.out.clone();
            let opts = options_of(run);
            match runtime().block_on(cp::lambda_event(&text, &opts)) {
                Ok((outcome, sent)) => {
                    let code = cp::exit_code(&outcome, &sent);
                    let shown = finish(outcome, &opts, &outputs, out.as_deref());
                    if let Err(e) = &sent {
                        eprint(&format!("error: {}", crate::diag::error_chain(e)));
                    }
                    code.max(shown)
                }
                Err(e) => {
                    eprint(&format!("error: {}", crate::diag::error_chain(&e)));
                    Exit::NoDecision
                }
            }
        }
        CodepipelineCommand::Worker {
            category,
            provider,
            version,
            once,
            poll_interval,
            run,
        } => {
            let outputs = outputs_of(&run);
            let opts = options_of(run);
            let w = cp::Worker {
                category,
                provider,
                version,
                once,
                poll_interval,
            };
            let result = runtime().block_on(cp::worker(&w, &opts, |outcome, sent| {
                match outcome {
                    Ok(o) => {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&o.decision).expect("decisions serialize")
                        );
                        eprint(&human_summary(&o.decision, false));
                        if let Err(e) =
                            crate::outputs::publish(&o.decision, &o.trends, &outputs, &opts.env)
                        {
                            eprint(&format!("error: {}", crate::diag::error_chain(&e)));
                        }
                    }
                    Err(gate::GateError::Invalid(d)) => eprint(&d.to_string()),
                    Err(e) => eprint(&format!("error: {}", crate::diag::error_chain(e))),
                }
                if let Err(e) = sent {
                    eprint(&format!("error: {}", crate::diag::error_chain(e)));
                }
            }));
            match result {
                Ok(code) => code,
                Err(e) => {
                    eprint(&format!("error: {}", crate::diag::error_chain(&e)));
                    Exit::NoDecision
                }
            }
        }
    }
}

/// The decision for people, on stderr.
pub fn human_summary(d: &crate::decision::Decision, github: bool) -> String {
    use crate::decision::ObjectiveStatus as S;
    let mut s = format!(
        "qod: {} (score {}) — {}",
        d.decision.as_str().to_uppercase(),
        d.score,
        d.summary
    );
    for o in &d.objectives {
        use crate::decision::OutcomeEffect as E;
        let mark = match (o.effect, o.status) {
            (E::None, _) => "shadow",
            (_, S::Pass) => "ok",
            (E::Fail, S::NoData) => "NODATA",
            (_, S::NoData) => "nodata",
            (_, S::NoBaseline) => "new",
            (E::Fail, _) => "FAIL",
            _ => "warn",
        };
        let value = o
            .value
            .map(|v| format_with_unit(v, o.unit.as_deref().unwrap_or("")))
            .unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "\n  {mark:<6} {:<24} {:>12}  {}",
            o.id, value, o.reason
        ));
    }
    for p in d.plugins.iter().filter(|p| p.error.is_some()) {
        let e = p.error.as_ref().expect("filtered");
        s.push_str(&format!(
            "\n  plugin `{}` ({}): {}: {}",
            p.instance,
            p.name,
            p.status.as_str(),
            e.message
        ));
        if let Some(tail) = &p.stderr_tail {
            let lines: Vec<&str> = tail.lines().collect();
            let shown: Vec<String> = lines[lines.len().saturating_sub(5)..]
                .iter()
                .map(|l| format!("    | {l}"))
                .collect();
            let shown = shown.join("\n");
            s.push('\n');
            // A plugin's stderr must not issue workflow commands on GitHub; the
            // token is fresh, so a plugin cannot guess it to resume them.
            s.push_str(&if github {
                crate::outputs::github::verbatim(&shown, &uuid::Uuid::now_v7().simple().to_string())
            } else {
                shown
            });
        }
    }
    if let Some(e) = &d.store.error {
        s.push_str(&format!(
            "\nerror: history store `{}`: {e}",
            d.store.location
        ));
    }
    s
}

fn schema(kind: Option<SchemaKind>, write: Option<&Path>) -> Exit {
    if let Some(dir) = write {
        return match crate::commands::schema::write_all(dir) {
            Ok(_) => Exit::Pass,
            Err(e) => fail(&e),
        };
    }
    let Some(kind) = kind else {
        eprint("error: name a schema: policy, manifest, context, result, decision or record");
        return Exit::Usage;
    };
    print!("{}", crate::commands::schema::render(kind));
    Exit::Pass
}

/// The one way an error is shown: `error:` and its cause chain, or the
/// diagnostics of a policy or manifest as they render themselves.
fn fail(e: &(dyn std::error::Error + 'static)) -> Exit {
    match e.downcast_ref::<crate::diag::Diagnostics>() {
        Some(d) => eprint(&d.to_string()),
        None => eprint(&format!("error: {}", crate::diag::error_chain(e))),
    }
    Exit::NoDecision
}

fn plugins(command: PluginsCommand) -> Exit {
    let cwd = cwd();
    let discovery = Discovery::standard(&cwd, &cwd);
    match command {
        PluginsCommand::List { json } => {
            let found = discovery.list();
            if json {
                let list: Vec<serde_json::Value> = found
                    .iter()
                    .map(|(name, r)| match r {
                        Ok(p) => serde_json::json!({
                            "name": name, "version": p.manifest.version, "origin": p.origin.as_str(),
                            "source": p.source, "description": p.manifest.description,
                        }),
                        Err(e) => serde_json::json!({"name": name, "error": crate::diag::error_chain(e)}),
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).expect("serializes")
                );
            } else if found.is_empty() {
                eprint("qod: no plugins found (looked in ./plugins, QOD_PLUGIN_PATH, the first-party plugins and PATH)");
            } else {
                for (name, r) in &found {
                    match r {
                        Ok(p) => println!(
                            "{name:<20} {:<8} {:<12} {}",
                            p.manifest.version,
                            p.origin.as_str(),
                            p.manifest.description.as_deref().unwrap_or("")
                        ),
                        Err(e) => println!("{name:<20} error: {}", crate::diag::error_chain(e)),
                    }
                }
            }
            Exit::Pass
        }
        PluginsCommand::Describe { name } => match discovery.find(&name, None, &cwd) {
            Ok(p) => {
                let mut v = serde_json::to_value(&p.manifest).expect("serializes");
                v["source"] = serde_json::json!(p.source);
                v["origin"] = serde_json::json!(p.origin.as_str());
                println!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
                Exit::Pass
            }
            Err(crate::plugin::DiscoveryError::Manifest { diagnostics, .. }) => {
                eprint(&crate::diag::Diagnostics(diagnostics).to_string());
                Exit::NoDecision
            }
            Err(e) => {
                eprint(&format!("error: {}", crate::diag::error_chain(&e)));
                Exit::NoDecision
            }
        },
    }
}
