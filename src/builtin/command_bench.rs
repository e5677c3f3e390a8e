//! `command-bench`: times a command the way hyperfine does. Warm-up runs,
//! then timed runs until both a minimum count and a minimum measured time
//! are reached; user and system time and peak RSS come from `wait4`. With
//! `measure: instructions` (or `both`) it also counts the instructions the
//! command executes, under Valgrind or with the hardware counter.

use super::instructions::{self, Instrument};
use super::{Failure, Measured};
use crate::duration::HumanDuration;
use crate::protocol::Context;
use crate::stats;
use crate::supervise::Cmd;
use serde::Deserialize;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    command: CommandLine,
    #[serde(default)]
    base_command: Option<CommandLine>,
    #[serde(default = "default_shell")]
    shell: String,
    #[serde(default = "one")]
    warmup: u64,
    #[serde(default = "ten")]
    min_runs: u64,
    #[serde(default)]
    max_runs: Option<u64>,
    #[serde(default = "three_s")]
    min_time: HumanDuration,
    #[serde(default)]
    prepare: Option<String>,
    #[serde(default)]
    cleanup: Option<String>,
    #[serde(default)]
    ignore_failure: bool,
    #[serde(default = "dot")]
    cwd: String,
    #[serde(default)]
    measure: Measure,
    #[serde(default = "valgrind")]
    instrument: Instrument,
    #[serde(default)]
    cache_sim: bool,
    #[serde(default = "one")]
    instruction_runs: u64,
}

/// What `command-bench` measures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Measure {
    #[default]
    Time,
    Instructions,
    Both,
}

fn valgrind() -> Instrument {
    Instrument::Valgrind
}

fn default_shell() -> String {
    "sh".into()
}
fn one() -> u64 {
    1
}
fn ten() -> u64 {
    10
}
fn three_s() -> HumanDuration {
    HumanDuration(Duration::from_secs(3))
}
fn dot() -> String {
    ".".into()
}

/// One timed run.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: f64,
    user: f64,
    system: f64,
    max_rss: u64,
    status: i32,
}

/// Kept from a failing run's stderr.
const STDERR_TAIL: u64 = 2048;

pub fn run(ctx: &Context) -> Result<Measured, Failure> {
    let config: Config = super::config(ctx)?;
    if let Some(max) = config.max_runs {
        if max < config.min_runs {
            return Err(Failure::config(format!(
                "`with.max_runs` ({max}) is below `with.min_runs` ({}); raise it or lower `min_runs`",
                config.min_runs
            )));
        }
    }
    // In a side-by-side comparison the base side may run another program.
    let command = match (&config.base_command, ctx.variant.as_deref()) {
        (Some(base), Some("base")) => base,
        _ => &config.command,
    };
    let argv: Vec<String> = match command {
        CommandLine::Shell(s) if s.trim().is_empty() => {
            return Err(Failure::config("`with.command` is empty"))
        }
        CommandLine::Shell(s) => vec![config.shell.clone(), "-c".into(), s.clone()],
        CommandLine::Argv(a) if a.is_empty() => {
            return Err(Failure::config("`with.command` is an empty list"))
        }
        CommandLine::Argv(a) => a.clone(),
    };
    let cwd = super::workspace(ctx).join(&config.cwd);
    if !cwd.is_dir() {
        return Err(Failure::config(format!(
            "`with.cwd`: `{}` is not a folder",
            cwd.display()
        )));
    }
    let deadline = ctx
        .run
        .deadline
        .as_deref()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&chrono::Utc));
    let mut stderr = tempfile::tempfile()
        .map_err(|e| Failure::new("io", format!("cannot create a file for stderr: {e}")))?;

    let shell = |cmd: &str| vec![config.shell.clone(), "-c".into(), cmd.to_owned()];
    let mut m = Measured::default();
    let mut summaries = Vec::new();
    if config.measure != Measure::Time {
        let settings = instructions::Settings {
            instrument: config.instrument,
            cache_sim: config.cache_sim,
            runs: config.instruction_runs,
        };
        let counted = instructions::count(&settings, &argv, &mut |wrapped, what| {
            prepare(&config, &cwd, &shell)?;
            let r = time_once(wrapped, &cwd, &mut stderr)?;
            check(&config, &argv, &r, &mut stderr, what)
        })?;
        summaries.push(counted.summary.clone());
        m.metrics.extend(counted.metrics);
    }
    if config.measure == Measure::Instructions {
        if let Some(c) = &config.cleanup {
            let r = time_once(&shell(c), &cwd, &mut stderr)?;
            if r.status != 0 {
                return Err(failed("`with.cleanup`", &r, &mut stderr));
            }
        }
        m.summary = format!("`{}`: {}", argv.join(" "), summaries.join("; "));
        return Ok(m);
    }
    let result = (|| {
        for _ in 0..config.warmup {
            prepare(&config, &cwd, &shell)?;
            let r = time_once(&argv, &cwd, &mut stderr)?;
            check(&config, &argv, &r, &mut stderr, "warm-up run")?;
        }
        let mut runs: Vec<Run> = Vec::new();
        let mut measured = Duration::ZERO;
        let mut stopped_early = false;
        loop {
            let enough = runs.len() as u64 >= config.min_runs && measured >= config.min_time.get();
            if enough || config.max_runs.is_some_and(|m| runs.len() as u64 >= m) {
                break;
            }
            // Leave time to report before the engine's deadline.
            if let (Some(d), Some(last)) = (deadline, runs.last()) {
                let left = (d - chrono::Utc::now()).num_milliseconds() as f64 / 1000.0;
                if left < last.wall * 2.0 + 1.0 {
                    stopped_early = true;
                    break;
                }
            }
            prepare(&config, &cwd, &shell)?;
            let r = time_once(&argv, &cwd, &mut stderr)?;
            check(&config, &argv, &r, &mut stderr, "timed run")?;
            measured += Duration::from_secs_f64(r.wall);
            runs.push(r);
        }
        Ok((runs, stopped_early))
    })();
    if let Some(c) = &config.cleanup {
        let r = time_once(&shell(c), &cwd, &mut stderr)?;
        if r.status != 0 && result.is_ok() {
            return Err(failed("`with.cleanup`", &r, &mut stderr));
        }
    }
    let (runs, stopped_early) = result?;
    let timed = summarize(&runs, stopped_early, &argv);
    summaries.insert(0, timed.summary);
    m.metrics.splice(0..0, timed.metrics);
    m.summary = summaries.join("; ");
    Ok(m)
}

fn prepare(
    config: &Config,
    cwd: &Path,
    shell: &dyn Fn(&str) -> Vec<String>,
) -> Result<(), Failure> {
    let Some(p) = &config.prepare else {
        return Ok(());
    };
    let mut sink = tempfile::tempfile()
        .map_err(|e| Failure::new("io", format!("cannot create a file for stderr: {e}")))?;
    let r = time_once(&shell(p), cwd, &mut sink)?;
    if r.status != 0 {
        return Err(failed("`with.prepare`", &r, &mut sink));
    }
    Ok(())
}

fn check(
    config: &Config,
    argv: &[String],
    r: &Run,
    stderr: &mut std::fs::File,
    what: &str,
) -> Result<(), Failure> {
    if r.status != 0 && !config.ignore_failure {
        let mut f = failed(&format!("a {what} of `{}`", argv.join(" ")), r, stderr);
        f.message
            .push_str("; fix the command, or set `with.ignore_failure: true` to time it anyway");
        return Err(f);
    }
    Ok(())
}

fn failed(what: &str, r: &Run, stderr: &mut std::fs::File) -> Failure {
    let tail = tail(stderr);
    let how = if r.status >= 0 {
        format!("exited with status {}", r.status)
    } else {
        format!("was killed by signal {}", -r.status)
    };
    Failure::new(
        "command-failed",
        if tail.is_empty() {
            format!("{what} {how}")
        } else {
            format!("{what} {how}; its stderr ends: {tail}")
        },
    )
}

fn tail(f: &mut std::fs::File) -> String {
    let len = f.seek(SeekFrom::End(0)).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(STDERR_TAIL)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).trim().to_owned()
}

/// Runs `argv` once, stdout discarded and stderr into `stderr` (emptied
/// first), and reads its resource usage with `wait4`.
fn time_once(argv: &[String], cwd: &Path, stderr: &mut std::fs::File) -> Result<Run, Failure> {
    stderr
        .set_len(0)
        .and_then(|_| stderr.seek(SeekFrom::Start(0)).map(|_| ()))
        .map_err(|e| Failure::new("io", format!("cannot reset the stderr file: {e}")))?;
    let err = stderr
        .try_clone()
        .map_err(|e| Failure::new("io", format!("cannot share the stderr file: {e}")))?;
    let usage = Cmd::argv(argv).cwd(cwd).measure(err).map_err(|e| {
        Failure::new(
            "command-failed",
            format!(
                "cannot start `{}`: {e}; check the program exists and is executable",
                argv[0]
            ),
        )
    })?;
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Run {
        wall: usage.wall.as_secs_f64(),
        user: secs(usage.rusage.ru_utime),
        system: secs(usage.rusage.ru_stime),
        // Linux reports kilobytes.
        max_rss: (usage.rusage.ru_maxrss.max(0) as u64) * 1024,
        status: usage.status,
    })
}

fn summarize(runs: &[Run], stopped_early: bool, argv: &[String]) -> Measured {
    let walls: Vec<f64> = runs.iter().map(|r| r.wall).collect();
    let mean = stats::mean(&walls);
    let sorted = stats::sorted(&walls);
    let median = stats::quantile_sorted(&sorted, 0.5);
    // Sample standard deviation, as hyperfine reports it.
    let stddev = if walls.len() > 1 {
        stats::sd(&walls)
    } else {
        0.0
    };
    let users: Vec<f64> = runs.iter().map(|r| r.user).collect();
    let systems: Vec<f64> = runs.iter().map(|r| r.system).collect();
    let mut m = Measured::default();
    m.push("mean", mean, Some("s")).samples = Some(walls.clone());
    m.push("median", median, Some("s")).samples = Some(walls);
    m.push("min", sorted[0], Some("s"));
    m.push("max", sorted[sorted.len() - 1], Some("s"));
    m.push("stddev", stddev, Some("s"));
    let (user, system) = (stats::mean(&users), stats::mean(&systems));
    m.push("user", user, Some("s")).samples = Some(users);
    m.push("system", system, Some("s")).samples = Some(systems);
    let peak = runs.iter().map(|r| r.max_rss).max().unwrap_or(0);
    m.push("peak_rss", peak as f64, Some("B"));
    let ms = |s: f64| crate::units::format_with_unit(s * 1000.0, "ms");
    m.summary = format!(
        "`{}`: {} ± {} over {} run{}{}",
        argv.join(" "),
        ms(mean),
        ms(stddev),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        if stopped_early {
            " (stopped early to finish before the deadline)"
        } else {
            ""
        }
    );
    m
}
