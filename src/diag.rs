//! Diagnostics: problems found while checking the policy, manifests and
//! configs, each pointing at a file and a place in it, all reported at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which kind of file a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Policy,
    Manifest,
    /// The file a policy's `acknowledge:` names.
    Acknowledgements,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Policy => "policy",
            FileKind::Manifest => "plugin manifest",
            FileKind::Acknowledgements => "acknowledgements file",
        })
    }
}

/// Where in a file a problem is: a JSON Pointer into the document
/// (`/objectives/1/pass`), a line and column (1-based), or both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Position {
    pub pointer: Option<String>,
    pub line_column: Option<(usize, usize)>,
}

/// One problem, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: FileKind,
    pub file: PathBuf,
    pub position: Option<Position>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(kind: FileKind, file: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            file: file.to_owned(),
            position: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn at(mut self, pointer: impl Into<String>) -> Self {
        let p = pointer.into();
        self.position.get_or_insert_with(Position::default).pointer =
            Some(if p.is_empty() { "/".into() } else { p });
        self
    }

    pub fn at_line(mut self, line: usize, column: usize) -> Self {
        self.position
            .get_or_insert_with(Position::default)
            .line_column = Some((line, column));
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} `{}`", self.kind, self.file.display())?;
        match self.position.as_ref().map(|p| (&p.pointer, p.line_column)) {
            Some((Some(p), Some((l, c)))) => write!(f, "\n  at {p} (line {l} column {c})")?,
            Some((Some(p), None)) => write!(f, "\n  at {p}")?,
            Some((None, Some((l, c)))) => write!(f, "\n  at line {l} column {c}")?,
            _ => {}
        }
        write!(f, "\n  caused by: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Adds the line and column to every problem in `file` that has only a
/// JSON Pointer, reading positions from the file's `text` once.
pub fn locate_all(diags: &mut [Diagnostic], file: &Path, text: &str) {
    let needs = |d: &Diagnostic| {
        d.file == file
            && d.position
                .as_ref()
                .is_some_and(|p| p.pointer.is_some() && p.line_column.is_none())
    };
    if !diags.iter().any(needs) {
        return;
    }
    let positions = crate::locate::Positions::of(text);
    for d in diags.iter_mut().filter(|d| needs(d)) {
        let pos = d.position.as_mut().expect("checked");
        pos.line_column = pos.pointer.as_deref().and_then(|p| positions.find(p));
    }
}

/// Every problem found before running anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        if self.0.len() > 1 {
            write!(
                f,
                "\nerror: {} problems found; nothing was run",
                self.0.len()
            )?;
        }
        Ok(())
    }
}

/// Renders a JSON Pointer from path segments, escaping `~` and `/`.
pub fn pointer<I, S>(segments: I) -> String
where
    I: IntoIterator<Item = S>,
    S: fmt::Display,
{
    segments
        .into_iter()
        .map(|s| format!("/{}", s.to_string().replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The candidate closest to `wrong`, when it is close enough to be the
/// likely intent (a typo, not a different word).
pub fn suggest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(wrong, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `did you mean `x`? ` when there is a close candidate, else nothing.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest(wrong, candidates)
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default()
}

/// An error with its causes, `: `-separated, for one-line messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Text that came from plugins, requests or stores, made safe for one line
/// of a terminal or a CI log: line breaks become `⏎` and other control
/// characters (ANSI escapes, NUL) `�`, so that it can neither start a line
/// of its own (a forged `::error::` on GitHub Actions) nor drive the
/// terminal. Tabs stay.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\n' | '\r' => '⏎',
                '\t' => c,
                c if c.is_control() => '\u{fffd}',
                c => c,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let names = ["duration", "p95", "throughput", "build-time", "http-load"];
        assert_eq!(suggest("durration", names), Some("duration"));
        assert_eq!(suggest("http-laod", names), Some("http-load"));
        assert_eq!(suggest("p59", names), Some("p95"));
        assert_eq!(suggest("latency", names), None);
    }
}
