//! How the CLI prints: data on stdout (a table or JSON), notes, warnings
//! and errors on stderr, colour only on a terminal and never with
//! `NO_COLOR`. The text of each command's table lives in [`tables`].

use crate::commands::CommandError;
use anstyle::{AnsiColor, Style};
use std::io::Write;

/// Where and how output goes, for one invocation.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// `--quiet`: no notes, no summary, no progress.
    pub quiet: bool,
    /// Colour on stderr.
    pub colour: bool,
}

/// Whether stderr gets colour: only on a terminal, and never when
/// `NO_COLOR` is set to anything but the empty string (no-color.org).
pub fn colour_wanted(env: &std::collections::BTreeMap<String, String>, terminal: bool) -> bool {
    terminal && env.get("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The styles of qod's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Dim,
}

impl Tone {
    fn style(self) -> Style {
        match self {
            Tone::Good => AnsiColor::Green.on_default(),
            Tone::Warn => AnsiColor::Yellow.on_default(),
            Tone::Bad => AnsiColor::Red.on_default().bold(),
            Tone::Dim => Style::new().dimmed(),
        }
    }
}

/// `text` in `tone` when `colour` is on.
pub fn paint(text: &str, tone: Tone, colour: bool) -> String {
    if colour {
        let s = tone.style();
        format!("{s}{text}{s:#}")
    } else {
        text.to_owned()
    }
}

impl Printer {
    /// A line for people on stderr (left out with `--quiet`).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprint(text);
        }
    }

    /// `warning: …` on stderr, even with `--quiet`.
    pub fn warning(&self, text: &str) {
        // Warnings quote stores and plugins: one line, no control codes.
        eprint(&format!(
            "{}: {}",
            paint("warning", Tone::Warn, self.colour),
            crate::diag::printable(text)
        ));
    }

    /// Each warning, on stderr.
    pub fn warnings(&self, warnings: &[String]) {
        for w in warnings {
            self.warning(w);
        }
    }

    /// The one way an error is shown: a policy's diagnostics as they render
    /// themselves, anything else as `error:` and its cause chain.
    pub fn error(&self, e: &(dyn std::error::Error + 'static)) {
        match e
            .downcast_ref::<CommandError>()
            .and_then(CommandError::diagnostics)
        {
            Some(d) => eprint(&d.to_string()),
            None => eprint(&format!(
                "{}: {}",
                paint("error", Tone::Bad, self.colour),
                crate::diag::error_chain(e)
            )),
        }
    }

    /// Data for programs or people, on stdout.
    pub fn data(&self, text: &str) -> Result<(), CommandError> {
        if text.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(())
    }

    /// `value` as pretty JSON on stdout.
    pub fn json<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<(), CommandError> {
        self.data(&serde_json::to_string_pretty(value).expect("serializes"))
    }
}

/// A line on stderr; a closed stderr is not worth failing over.
pub fn eprint(s: &str) {
    let _ = writeln!(std::io::stderr(), "{s}");
}

/// `n thing` or `n things`.
pub fn count(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        let env = |v: Option<&str>| {
            v.map(|v| [("NO_COLOR".to_owned(), v.to_owned())].into())
                .unwrap_or_default()
        };
        assert!(colour_wanted(&env(None), true));
        assert!(!colour_wanted(&env(None), false));
        assert!(!colour_wanted(&env(Some("1")), true));
        // An empty NO_COLOR is as if unset.
        assert!(colour_wanted(&env(Some("")), true));
        assert_eq!(paint("FAIL", Tone::Bad, false), "FAIL");
        assert_eq!(
            paint("FAIL", Tone::Bad, true),
            "\u{1b}[1m\u{1b}[31mFAIL\u{1b}[0m"
        );
    }
}
