//! The command line: parse the arguments ([`args`]), call the command
//! ([`crate::commands`]), render what it returns ([`render`], [`tables`],
//! [`summary`]) and exit with a named code. Nothing here decides anything;
//! errors are printed in one place, [`main`].

mod args;
mod backtest;
mod bisect;
mod gate;
mod history;
mod init;
mod progress;
mod render;
mod summary;
mod tables;

use crate::commands::{self, CommandError, Env};
use crate::exit::Exit;
use args::{Cli, Command, ExportFormat, Format, HistoryArgs, PluginsCommand, StoreCommand};
use clap::Parser;
use gate::{codepipeline, combine, forge_comment, options_of, show_run};
use render::{count, Printer};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs the CLI with the process's arguments.
pub fn main() -> ExitCode {
    crate::secrets::protect_environment();
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
    let env: Env = std::env::vars().collect();
    let p = Printer {
        quiet: cli.quiet,
        colour: render::colour_wanted(&env, std::io::stderr().is_terminal()),
    };
    let exit = match dispatch(cli.command, &p, env) {
        Ok(exit) => exit,
        // The reader of stdout left (`qod … | head`): stop quietly, as
        // ripgrep does.
        Err(e) if e.is_broken_pipe() => Exit::Pass,
        Err(e) => {
            p.error(&e);
            e.exit()
        }
    };
    ExitCode::from(exit.code())
}

/// ", and removed N stale temporary files" when there were any.
fn swept_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(
            ", and removed {} left by killed writers",
            count(n, "stale temporary file")
        )
    }
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// Plugins and the store are I/O-bound: one thread supervises them all.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
        .block_on(f)
}

fn dispatch(command: Command, p: &Printer, env: Env) -> Result<Exit, CommandError> {
    match command {
        Command::Run(args) => {
            let (req, opts, sinks) = options_of(args, p, env);
            let env = req.env.clone();
            let ran = block_on(commands::run::run(req, &opts, &sinks))?;
            Ok(show_run(&ran, &env, sinks.samples, p))
        }
        Command::Combine(args) => combine(args, p, env),
        Command::Github { command } => {
            forge_comment(crate::outputs::comment::Forge::Github, command, p, env)
        }
        Command::Gitlab { command } => {
            forge_comment(crate::outputs::comment::Forge::Gitlab, command, p, env)
        }
        Command::Init(args) => init::init(args, p),
        Command::Validate { policy, store } => {
            let plan = commands::validate::validate(policy.as_deref(), &cwd())?;
            if let Some(store) = store {
                let stale = block_on(commands::validate::stale(&env, &store, &plan))?;
                p.warnings(&stale);
            }
            p.note(&format!(
                "qod: `{}` is valid: {}, {}",
                plan.policy.file.display(),
                count(plan.instances.len(), "plugin instance"),
                count(plan.objectives.len(), "objective"),
            ));
            Ok(Exit::Pass)
        }
        Command::Schema { kind, write } => {
            if let Some(dir) = write {
                let written = commands::schema::write_all(&dir)?;
                p.note(&format!(
                    "qod: wrote {} in `{}`",
                    count(written.len(), "schema"),
                    dir.display()
                ));
                return Ok(Exit::Pass);
            }
            let kind = kind.ok_or_else(|| {
                CommandError::Usage(
                    "name a schema: policy, manifest, context, result, decision or record".into(),
                )
            })?;
            p.data(&commands::schema::render(kind))?;
            Ok(Exit::Pass)
        }
        Command::Plugins { command } => plugins(command, p),
        Command::Context {
            context,
            base,
            format,
        } => {
            let (pipeline, source) =
                commands::context::context(&env, &cwd(), context.as_deref(), base.as_deref())?;
            match format.or(Format::Json) {
                Format::Json => {
                    p.json(&serde_json::json!({"pipeline": pipeline, "source": source}))?
                }
                Format::Table => p.data(&tables::context(&pipeline, &source))?,
            }
            Ok(Exit::Pass)
        }
        Command::Deployed(args) => {
            let given = commands::deployed::Deployment {
                revision: args.revision,
                run_id: args.run_id,
                branch: args.branch,
            };
            let (record, location) = block_on(commands::deployed::deployed(
                &env,
                &args.store.store,
                given,
                &cwd(),
            ))?;
            let line = tables::deployment(&record, &location);
            match args.format.or(Format::Json) {
                Format::Json => {
                    p.note(&format!("qod: {line}"));
                    p.data(&serde_json::to_string(&record).expect("serializes"))?;
                }
                Format::Table => p.data(&line)?,
            }
            Ok(Exit::Pass)
        }
        Command::History(HistoryArgs {
            action: Some(action),
            ..
        }) => history::mark(p, &env, action),
        Command::History(args) => {
            let read = block_on(commands::history::history(
                &env,
                &args.store.store,
                args.metric.as_deref(),
                args.branch.as_deref(),
                args.last,
            ))?;
            p.warnings(&read.warnings);
            match args.format.or(Format::Table) {
                Format::Json => p.json(&read.runs)?,
                Format::Table if read.runs.is_empty() => {
                    let why = read
                        .miss
                        .clone()
                        .unwrap_or_else(|| format!("no runs recorded in `{}`", read.location));
                    p.note(&format!("qod: {why}"));
                }
                Format::Table => p.data(&tables::history(&read.runs, args.metric.as_deref()))?,
            }
            Ok(Exit::Pass)
        }
        Command::Export(args) => {
            let stdout = std::io::stdout().lock();
            match args.format {
                ExportFormat::Csv => {
                    let mut w = csv::Writer::from_writer(stdout);
                    w.write_record(tables::CSV_HEADER)?;
                    block_on(commands::export::export(
                        &env,
                        &args.store.store,
                        args.since.as_deref(),
                        |r| {
                            for row in tables::csv_rows(&r) {
                                w.write_record(&row)?;
                            }
                            Ok(())
                        },
                        |warning| p.warning(&warning),
                    ))?;
                    w.flush()?;
                }
                ExportFormat::Jsonl => {
                    let mut out = std::io::BufWriter::new(stdout);
                    block_on(commands::export::export(
                        &env,
                        &args.store.store,
                        args.since.as_deref(),
                        |r| {
                            use std::io::Write;
                            writeln!(out, "{}", serde_json::to_string(&r).expect("serializes"))?;
                            Ok(())
                        },
                        |warning| p.warning(&warning),
                    ))?;
                    std::io::Write::flush(&mut out)?;
                }
            }
            Ok(Exit::Pass)
        }
        Command::Bisect(args) => bisect::run(args, p, env),
        Command::Calibrate(args) => bisect::calibrate(args, p, env),
        Command::Backtest(args) => {
            let b = block_on(commands::backtest::backtest(
                &env,
                &args.store.store,
                args.policy.as_deref(),
                &cwd(),
                args.last,
                args.branch.as_deref(),
                args.against.as_deref(),
            ))?;
            p.warnings(&b.warnings);
            match (args.format.or(Format::Table), &b.against) {
                (Format::Json, Some((_, d))) => p.json(d)?,
                (Format::Json, None) => p.json(&b.result)?,
                (Format::Table, Some(_)) => p.data(&backtest::backtest_against(&b))?,
                (Format::Table, None) => p.data(&backtest::backtest(&b))?,
            }
            Ok(Exit::Pass)
        }
        Command::Trend(args) => {
            let query = commands::trend::TrendQuery {
                metrics: &args.metric,
                last: args.last,
                branch: args.branch.as_deref(),
                params: crate::changepoint::Params {
                    window: args.window as usize,
                    max_pvalue: args.max_pvalue,
                    min_magnitude: args.min_magnitude,
                },
            };
            let t = block_on(commands::trend::trend(&env, &args.store.store, query))?;
            p.warnings(&t.warnings);
            match args.format.or(Format::Table) {
                Format::Json => p.json(&t.metrics)?,
                Format::Table if t.metrics.is_empty() => {
                    p.note(&format!("qod: no runs with metrics in `{}`", t.location));
                }
                Format::Table => p.data(&tables::trend(&t))?,
            }
            Ok(Exit::Pass)
        }
        Command::Report(args) => {
            let w = block_on(commands::report::report(
                &env,
                &args.store.store,
                &args.out,
                args.last,
                &args.metric,
                args.branch.as_deref(),
                args.svg_dir.as_deref(),
            ))?;
            p.warnings(&w.warnings);
            p.note(&format!(
                "qod: wrote `{}`: {}, {}{}",
                w.out.display(),
                count(w.runs, "run"),
                count(w.metrics, "metric"),
                w.svg
                    .map(|(d, n)| format!(", and {} in `{}`", count(n, "SVG chart"), d.display()))
                    .unwrap_or_default()
            ));
            Ok(Exit::Pass)
        }
        Command::Codepipeline { command } => codepipeline(command, p, env),
        // A plugin's exit code is the plugin protocol's, not qod's.
        Command::Builtin { name } => Ok(match crate::builtin::exec(&name) {
            0 => Exit::Pass,
            _ => Exit::Fail,
        }),
        Command::Store { command } => {
            match command {
                StoreCommand::Prune {
                    store,
                    keep_days,
                    keep,
                } => {
                    let keep = match (keep_days, keep) {
                        (Some(d), _) => crate::store::Keep::Days(d),
                        (_, Some(n)) => crate::store::Keep::Newest(n),
                        (None, None) => unreachable!("clap requires one"),
                    };
                    let (report, swept, location) =
                        block_on(commands::store::prune(&env, &store.store, keep))?;
                    let parts = match report.removed_parts {
                        0 => String::new(),
                        n => format!(
                            " and {} (parts and suspended gates)",
                            count(n, "older gate file")
                        ),
                    };
                    if !report.not_compacted.is_empty() {
                        p.warning(&format!(
                            "`{location}` holds files qod did not write ({}): its git history was kept, not rewritten; the removed runs stay in that history",
                            report.not_compacted.join(", ")
                        ));
                    }
                    p.note(&format!(
                        "qod: removed {}{parts}, kept {} in `{location}`{}",
                        count(report.removed_runs, "run"),
                        report.kept_runs,
                        swept_note(swept)
                    ));
                }
                StoreCommand::Reindex { store } => {
                    let (done, location) = block_on(commands::store::reindex(&env, &store.store))?;
                    for q in &done.quarantined {
                        p.warning(&format!(
                            "a damaged record was moved to `{q}` in `{location}`: it is out of the history, not deleted"
                        ));
                    }
                    p.note(&format!(
                        "qod: indexed {} in `{location}`{}",
                        count(done.runs, "run"),
                        swept_note(done.swept)
                    ));
                }
            }
            Ok(Exit::Pass)
        }
    }
}

fn plugins(command: PluginsCommand, p: &Printer) -> Result<Exit, CommandError> {
    let cwd = cwd();
    match command {
        PluginsCommand::List { policy, format } => {
            let found = commands::plugins::list(&cwd, policy.as_deref());
            match format.or(Format::Table) {
                Format::Json => p.json(&tables::plugins_json(&found))?,
                Format::Table if found.is_empty() => p.note(
                    "qod: no plugins found (looked in ./plugins, QOD_PLUGIN_PATH, the first-party plugins and PATH)",
                ),
                Format::Table => p.data(&tables::plugins(&found))?,
            }
        }
        PluginsCommand::Describe {
            name,
            policy,
            format,
        } => {
            let plugin = commands::plugins::describe(&cwd, policy.as_deref(), &name)?;
            match format.or(Format::Json) {
                Format::Json => p.json(&tables::describe_json(&plugin))?,
                Format::Table => p.data(&tables::describe(&plugin))?,
            }
        }
    }
    Ok(Exit::Pass)
}
