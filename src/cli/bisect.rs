//! `qod bisect`: the bisection as JSON or as a table, its Markdown summary,
//! and its exit code (0 when the culprit is found); and `qod calibrate`,
//! which measures a runner the same way, side by side.

use super::args::{BisectArgs, CalibrateArgs, Format};
use super::render::Printer;
use super::{block_on, cwd};
use crate::bisect::{BisectVerdict, Bisection};
use crate::commands::bisect::Start;
use crate::commands::{self, CommandError, Env};
use crate::exit::Exit;
use std::io::IsTerminal;

pub(super) fn run(args: BisectArgs, p: &Printer, env: Env) -> Result<Exit, CommandError> {
    let start = match (args.good, args.bad, args.from_decision, args.from_trend) {
        (Some(good), Some(bad), _, _) => Start::Given { good, bad },
        (_, _, Some(file), _) => Start::Decision(file),
        _ => Start::Trend {
            metric: args.metric.unwrap_or_default(),
        },
    };
    let (req, opts) = local(
        (args.policy, args.store.store, false),
        args.progress,
        args.kill_grace.0,
        p,
        env,
    );
    let options = commands::bisect::Options {
        objective: args.objective,
        record: args.record,
        probe: args.probe,
        after: args.after,
    };
    let b = block_on(commands::bisect::bisect(req, &opts, &start, options))?;
    p.warnings(&b.warnings);
    if let Some(file) = &args.markdown {
        commands::bisect::write_markdown(&b, file)?;
    }
    let default = if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    };
    match args.format.or(default) {
        Format::Json => p.json(&b)?,
        Format::Table => p.data(&table(&b))?,
    }
    p.note(&format!("qod: {}", headline(&b)));
    Ok(commands::bisect::exit(&b))
}

/// The request and options of a command that measures side by side here
/// (bisect, calibrate): one plugin at a time, cancelled by signals.
fn local(
    (policy, store, record): (Option<std::path::PathBuf>, String, bool),
    progress: bool,
    grace: std::time::Duration,
    p: &Printer,
    env: Env,
) -> (crate::gate::Request, crate::gate::RunOptions) {
    let req = crate::gate::Request {
        policy,
        store,
        strict: false,
        record,
        spool: None,
        reporter: std::sync::Arc::new(super::progress::Progress {
            shown: !p.quiet && (progress || std::io::stderr().is_terminal()),
            heartbeat: crate::runner::HEARTBEAT,
        }),
        cwd: cwd(),
        env,
    };
    let opts = crate::gate::RunOptions {
        jobs: Some(1),
        cancel_on_signals: true,
        grace,
        context: None,
        base: None,
        part: None,
        suspend: false,
    };
    (req, opts)
}

/// One line: what was found.
fn headline(b: &Bisection) -> String {
    let short = |r: &str| r[..r.len().min(12)].to_owned();
    match (&b.verdict, &b.culprit) {
        (BisectVerdict::Found, Some(c)) => format!(
            "`{}` ({}) made `{}` {:+.1}% [{:+.1}%, {:+.1}%] worse, found in {} steps over {} commits",
            short(&c.revision),
            crate::diag::printable(&c.subject),
            b.metric,
            c.change_pct,
            c.ci_low_pct,
            c.ci_high_pct,
            b.steps.len(),
            b.commits
        ),
        (BisectVerdict::NoRegression, _) => format!(
            "no regression: `{}` is not worse than `{}` beyond {:+}% on `{}`",
            short(&b.bad),
            short(&b.good),
            b.tolerance_pct,
            b.metric
        ),
        (BisectVerdict::Probed, _) => match b.steps.first() {
            Some(s) => format!(
                "probe: `{}` is {} ({}); give this output to `qod bisect --after`",
                short(&s.revision),
                s.verdict.phrase(),
                crate::diag::printable(&s.reason)
            ),
            None => "probe: nothing compared".into(),
        },
        _ => format!(
            "inconclusive: the culprit is one of {} (unknown or skipped commits)",
            b.candidates
                .iter()
                .map(|r| format!("`{}`", short(r)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The steps, one a line.
fn table(b: &Bisection) -> String {
    let mut s = format!(
        "bisect `{}` (`{}`, tolerance {:+}%) over {} commits from {} to {}\n\n",
        b.objective,
        b.metric,
        b.tolerance_pct,
        b.commits,
        &b.good[..b.good.len().min(12)],
        &b.bad[..b.bad.len().min(12)]
    );
    for (i, st) in b.steps.iter().enumerate() {
        let answer = st.verdict.as_str();
        s.push_str(&format!(
            "{:>3}  {}  {:<8} {}  ({})\n",
            i + 1,
            &st.revision[..st.revision.len().min(12)],
            answer,
            crate::diag::printable(&st.reason),
            crate::diag::printable(&st.subject)
        ));
    }
    s.push_str(&format!("\n{}\n", headline(b)));
    s
}

/// `qod calibrate`: the calibration as JSON or as a table.
pub(super) fn calibrate(args: CalibrateArgs, p: &Printer, env: Env) -> Result<Exit, CommandError> {
    let (req, opts) = local(
        (args.policy, args.store.store, !args.no_record),
        args.progress,
        crate::runner::DEFAULT_GRACE,
        p,
        env,
    );
    let ask = crate::gate::calibrate::CalibrateRequest {
        runs: args.runs,
        pairs: args.pairs,
        budget: args.budget.map(|b| b.0),
        target_pct: args.target_mde,
    };
    let (c, kept) = block_on(commands::calibrate::calibrate(req, &opts, &ask))?;
    let default = if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    };
    match args.format.or(default) {
        Format::Json => p.json(&c)?,
        Format::Table => p.data(&commands::calibrate::table(&c))?,
    }
    if let Some(key) = kept {
        p.note(&format!(
            "qod: kept as `{key}`: side-by-side gates on this runner cite it for 30 days"
        ));
    }
    Ok(Exit::Pass)
}
