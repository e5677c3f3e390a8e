//! The decision for people, on stderr: the verdict, one line per objective,
//! the plugins that failed with the end of their stderr.

use super::render::{paint, Tone};
use crate::decision::{Decision, ObjectiveStatus as S, OutcomeEffect as E, Verdict};
use crate::units::format_with_unit;

/// Lines of a failed plugin's stderr the summary shows: enough to hold
/// the cause of a crash under its stack trace.
const STDERR_SHOWN: usize = 20;

/// Whether a stderr line reads like the cause of a failure.
fn looks_like_a_cause(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    [
        "error",
        "exception",
        "panicked",
        "traceback",
        "fatal",
        "cannot",
        "not found",
    ]
    .iter()
    .any(|w| l.contains(w))
}

/// The summary of `d`; `github` hides plugin stderr from GitHub's workflow
/// commands, `colour` paints the verdict and the marks.
pub fn human_summary(d: &Decision, github: bool, colour: bool) -> String {
    let verdict = d.decision.as_str().to_uppercase();
    let tone = match d.decision {
        Verdict::Pass => Tone::Good,
        Verdict::Warn => Tone::Warn,
        Verdict::Fail => Tone::Bad,
    };
    // Everything below quotes plugins and requests: one line each.
    use crate::diag::printable;
    let mut s = format!(
        "qod: {} (score {}) — {}",
        paint(&verdict, tone, colour),
        d.score,
        printable(&d.summary)
    );
    for o in &d.objectives {
        let (mark, tone) = match (o.effect, o.status) {
            (E::None, _) => ("shadow", Tone::Dim),
            (_, S::Pass) => ("ok", Tone::Good),
            (_, S::Acknowledged) => ("acked", Tone::Good),
            (E::Fail, S::NoData) => ("NODATA", Tone::Bad),
            (_, S::NoData) => ("nodata", Tone::Warn),
            (_, S::NoBaseline) => ("new", Tone::Dim),
            (E::Fail, _) => ("FAIL", Tone::Bad),
            _ => ("warn", Tone::Warn),
        };
        let value = o
            .value
            .map(|v| format_with_unit(v, o.unit.as_deref().unwrap_or("")))
            .unwrap_or_else(|| "-".into());
        // Padding is counted without the colour codes.
        let mark = format!("{mark:<6}");
        s.push_str(&format!(
            "\n  {} {:<24} {:>12}  {}",
            paint(&mark, tone, colour),
            printable(&o.id),
            printable(&value),
            printable(&o.reason)
        ));
    }
    for p in d.plugins.iter().filter(|p| p.error.is_some()) {
        let e = p.error.as_ref().expect("filtered");
        s.push_str(&format!(
            "\n  plugin `{}` ({}): {}: {}",
            p.instance,
            p.name,
            paint(p.status.as_str(), Tone::Bad, colour),
            printable(&e.message)
        ));
        if let Some(tail) = &p.stderr_tail {
            let lines: Vec<String> = tail.lines().map(|l| printable(l).into_owned()).collect();
            let cut = lines.len().saturating_sub(STDERR_SHOWN);
            let mut shown: Vec<String> = Vec::new();
            // A crash's cause is often above its stack trace: keep the
            // first line that reads like one.
            let cause = lines[..cut].iter().position(|l| looks_like_a_cause(l));
            let mut cut_lines = cut;
            if let Some(i) = cause {
                shown.push(format!("    | {}", lines[i]));
                cut_lines -= 1;
            }
            if cut_lines > 0 {
                shown.push(format!(
                    "    | … {cut_lines} other line{} in the decision's `stderr_tail`",
                    if cut_lines == 1 { "" } else { "s" }
                ));
            }
            shown.extend(lines[cut..].iter().map(|l| format!("    | {l}")));
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
            "\n{}: history store `{}`: {e}",
            paint("error", Tone::Bad, colour),
            d.store.location
        ));
    }
    s
}
