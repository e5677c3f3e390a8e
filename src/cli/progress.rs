//! The gate's events as progress lines on stderr: the CLI's reporter. It
//! owns whether they are shown (`--quiet`, `--progress`, a terminal) and
//! how often a running plugin is mentioned (`--heartbeat`). Text from
//! plugins is made printable (one line, no control codes) here.

use crate::diag::printable;
use crate::duration::HumanDuration;
use crate::events::{Event, Reporter};
use std::time::Duration;

/// Progress lines on stderr.
#[derive(Debug)]
pub struct Progress {
    /// Print at all (`--quiet` off, and `--progress` or a terminal).
    pub shown: bool,
    /// Time between lines for a plugin still running.
    pub heartbeat: Duration,
}

/// ` (candidate, pair 3)` side by side, else nothing.
fn side(s: &Option<(String, u32)>) -> String {
    s.as_ref()
        .map(|(v, n)| format!(" ({v}, pair {n})"))
        .unwrap_or_default()
}

/// The line an event prints as.
pub fn line(event: &Event) -> String {
    match event {
        Event::Started {
            instance,
            plugin,
            side: s,
        } => format!("qod: `{instance}` ({plugin}){} started", side(s)),
        Event::Heartbeat {
            instance,
            plugin,
            elapsed,
        } => format!(
            "qod: `{instance}` ({plugin}) running, {} s",
            elapsed.as_secs()
        ),
        Event::Pending {
            instance,
            what,
            retry_after,
        } => format!(
            "qod: `{instance}` pending ({}); resuming in {}",
            printable(what),
            HumanDuration(*retry_after)
        ),
        Event::Ended {
            instance,
            side: s,
            status,
            duration_ms,
            detail,
        } => format!(
            "qod: `{instance}`{} {status} in {duration_ms} ms{}{}",
            side(s),
            if detail.is_empty() { "" } else { ": " },
            printable(detail)
        ),
        Event::Pair {
            instance,
            pair,
            max,
            progress,
            left,
            budget,
        } => format!(
            "qod: `{instance}` side by side: pair {pair} of at most {max}{}{}",
            if progress.is_empty() {
                String::new()
            } else {
                format!(", {progress}")
            },
            if *budget {
                format!(", {} of the budget left", crate::duration::short(*left))
            } else {
                format!(", at most {} left", crate::duration::short(*left))
            }
        ),
        Event::Bisect {
            step,
            of_about,
            revision,
            subject,
            verdict,
            detail,
        } => {
            let rev = &revision[..revision.len().min(12)];
            match verdict {
                None => format!(
                    "qod: bisect step {step} of about {of_about}: {rev} ({})",
                    printable(subject)
                ),
                Some(v) => format!(
                    "qod: bisect step {step}: {rev} is {v}{}{}",
                    if detail.is_empty() { "" } else { ": " },
                    printable(detail)
                ),
            }
        }
        Event::Calibrating {
            instance,
            run,
            of,
            left,
            budget,
        } => format!(
            "qod: `{instance}` run {run} of {of} in a row, {} {}",
            crate::duration::short(*left),
            if *budget {
                "of the budget left"
            } else {
                "left at this pace"
            }
        ),
        Event::WaitingForParts {
            group,
            covered,
            total,
            what,
            left,
        } => format!(
            "qod: waiting for the parts of group `{group}`: {covered} of {total} {what} recorded ({} left)",
            HumanDuration(*left)
        ),
    }
}

impl Reporter for Progress {
    fn report(&self, event: Event) {
        if self.shown {
            super::render::eprint(&line(&event));
        }
    }

    fn heartbeat(&self) -> Option<Duration> {
        self.shown.then_some(self.heartbeat)
    }
}
