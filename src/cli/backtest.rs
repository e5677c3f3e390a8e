//! The tables of `qod backtest`: the tally per objective and the runs the
//! policy would have stopped; with `--against`, where two policies differ.

use super::render::count;
use super::tables::short;
use crate::commands::backtest::Backtested;
use std::fmt::Write;

/// The most failed runs `qod backtest` lists.
const BACKTEST_FAILED_SHOWN: usize = 20;
/// The most run numbers shown per objective.
const BACKTEST_STOPPED_SHOWN: usize = 12;

/// `qod backtest`: the tally per objective, then the runs it would have stopped.
pub fn backtest(b: &Backtested) -> String {
    let result = &b.result;
    let n = |v: &str| result.gate.get(v).copied().unwrap_or(0);
    let mut s = format!(
        "backtest of `{}` over {} of `{}`: {} pass, {} warn, {} fail ({} differ from the recorded decision)\n",
        b.policy_file.display(),
        count(result.runs, "run"),
        b.location,
        n("pass"),
        n("warn"),
        n("fail"),
        result.changed
    );
    let width = b
        .objective_ids
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(9)
        .max(9);
    let _ = writeln!(
        s,
        "\n{:width$}  {:>5} {:>5} {:>5} {:>8} {:>12}  would have stopped",
        "objective", "pass", "warn", "fail", "no data", "no baseline"
    );
    for id in &b.objective_ids {
        let Some(t) = result.objectives.get(id) else {
            continue;
        };
        let stopped = if t.stopped.is_empty() {
            "–".to_owned()
        } else {
            let mut v: Vec<String> = t
                .stopped
                .iter()
                .take(BACKTEST_STOPPED_SHOWN)
                .map(|n| format!("#{n}"))
                .collect();
            if t.stopped.len() > BACKTEST_STOPPED_SHOWN {
                v.push(format!("… ({} runs)", t.stopped.len()));
            }
            v.join(" ")
        };
        let _ = writeln!(
            s,
            "{id:width$}  {:>5} {:>5} {:>5} {:>8} {:>12}  {stopped}",
            t.pass, t.warn, t.fail, t.no_data, t.no_baseline
        );
    }
    let failed: Vec<_> = result
        .replayed
        .iter()
        .filter(|r| r.decision == crate::decision::Verdict::Fail)
        .collect();
    if !failed.is_empty() {
        s.push_str("\nruns the gate would have stopped:\n");
        for r in failed.iter().rev().take(BACKTEST_FAILED_SHOWN) {
            let why: Vec<String> = r
                .objectives
                .iter()
                .filter(|o| o.effect == crate::decision::OutcomeEffect::Fail)
                .map(|o| format!("{}: {}", o.id, o.reason))
                .collect();
            let _ = writeln!(
                s,
                "  #{:<5} {}  {}{}  {}",
                r.run_number,
                r.started_at,
                r.run_id,
                r.revision
                    .as_deref()
                    .map(|v| format!("  {}", short(v, 12)))
                    .unwrap_or_default(),
                why.join("; ")
            );
        }
        if failed.len() > BACKTEST_FAILED_SHOWN {
            let _ = writeln!(
                s,
                "  … and {} older (`--format json` lists them all)",
                failed.len() - BACKTEST_FAILED_SHOWN
            );
        }
    }
    s
}

/// `qod backtest --against OLD`: where the new policy decides otherwise.
pub fn backtest_against(b: &Backtested) -> String {
    let Some((old, d)) = &b.against else {
        return backtest(b);
    };
    let mut s = format!(
        "`{}` against `{}` over {} of `{}`: {} → {} failed ({} more, {} fewer)\n",
        b.policy_file.display(),
        old.display(),
        count(d.runs, "run"),
        b.location,
        d.old_failures,
        d.new_failures,
        d.extra_failures.len(),
        d.fewer_failures.len()
    );
    for (title, list) in [
        (
            "runs the new policy stops and the old did not",
            &d.extra_failures,
        ),
        (
            "runs the old policy stopped and the new does not",
            &d.fewer_failures,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{title}:");
        for r in list.iter().rev().take(BACKTEST_FAILED_SHOWN) {
            let _ = writeln!(
                s,
                "  #{:<5} {}{}",
                r.run_number,
                r.run_id,
                r.revision
                    .as_deref()
                    .map(|v| format!("  {}", short(v, 12)))
                    .unwrap_or_default()
            );
        }
        if list.len() > BACKTEST_FAILED_SHOWN {
            let _ = writeln!(
                s,
                "  … and {} older (`--format json` lists them all)",
                list.len() - BACKTEST_FAILED_SHOWN
            );
        }
    }
    if d.objectives.is_empty() {
        s.push_str("\nno objective's status differs in any run\n");
    }
    for (id, changes) in &d.objectives {
        let _ = writeln!(s, "\n{id}: {} differ", count(changes.len(), "run"));
        for c in changes.iter().rev().take(BACKTEST_FAILED_SHOWN) {
            let _ = writeln!(
                s,
                "  #{:<5} {} → {}  {}",
                c.run_number,
                c.old,
                c.new,
                crate::diag::printable(&c.reason)
            );
        }
        if changes.len() > BACKTEST_FAILED_SHOWN {
            let _ = writeln!(
                s,
                "  … and {} older (`--format json` lists them all)",
                changes.len() - BACKTEST_FAILED_SHOWN
            );
        }
    }
    s
}
