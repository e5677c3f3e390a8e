//! Reading a policy file: find it, parse YAML or JSON, check it against the
//! policy schema, and turn it into [`Policy`].

use super::Policy;
use crate::diag::{Diagnostic, Diagnostics, FileKind};
use crate::validate::SchemaKind;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Names looked for in the working directory when no `--policy` is given.
pub const POLICY_FILE_NAMES: [&str; 3] = ["qod.yaml", "qod.yml", "qod.json"];

/// A policy with the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    pub file: PathBuf,
    pub policy: Policy,
    /// The document as parsed.
    pub raw: Value,
    /// The file's text, for the line and column of problems.
    pub text: String,
}

impl LoadedPolicy {
    /// The folder relative paths in the policy resolve against.
    pub fn dir(&self) -> &Path {
        self.file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }
}

/// The policy file to use: `explicit`, or the first of
/// [`POLICY_FILE_NAMES`] in `cwd`.
pub fn find_policy(explicit: Option<&Path>, cwd: &Path) -> Result<PathBuf, Diagnostics> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    for name in POLICY_FILE_NAMES {
        let p = cwd.join(name);
        if p.is_file() {
            return Ok(PathBuf::from(name));
        }
    }
    Err(Diagnostics(vec![Diagnostic::new(
        FileKind::Policy,
        Path::new("qod.yaml"),
        format!("no policy file found in `{}`", cwd.display()),
    )
    .hint(
        "create `qod.yaml` there, or pass `--policy FILE`; `qod schema policy` shows the format",
    )]))
}

/// Reads and checks a policy file. Every schema violation is reported, not
/// only the first.
pub fn load_policy(file: &Path) -> Result<LoadedPolicy, Diagnostics> {
    let diag = |msg: String| Diagnostic::new(FileKind::Policy, file, msg);
    let text = std::fs::read_to_string(file).map_err(|e| {
        Diagnostics(vec![diag(format!("cannot read the file: {e}")).hint(
            "check the path given with `--policy`, or run qod where `qod.yaml` is",
        )])
    })?;
    check_policy(file, text)
}

/// Checks the text of a policy file as [`load_policy`] does.
pub fn check_policy(file: &Path, text: String) -> Result<LoadedPolicy, Diagnostics> {
    let diag = |msg: String| Diagnostic::new(FileKind::Policy, file, msg);
    let raw = parse_document(file, &text)?;
    let diags = SchemaKind::Policy.diagnose(FileKind::Policy, file, &text, &raw);
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }
    let policy: Policy = serde_json::from_value(raw.clone()).map_err(|e| {
        Diagnostics(vec![
            diag(e.to_string()).hint("run `qod schema policy` to see the accepted fields")
        ])
    })?;
    Ok(LoadedPolicy {
        file: file.to_owned(),
        policy,
        raw,
        text,
    })
}

/// The deepest flow nesting (`[`, `{`) a YAML policy may have; serde_json
/// refuses JSON deeper than 128 levels on its own.
pub const MAX_NESTING: usize = 64;

/// Where flow nesting in `text` first goes deeper than `max` (line and
/// column from 1), skipping quoted strings and comments: one pass.
fn too_deep(text: &str, max: usize) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    for (i, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for (col, c) in line.chars().enumerate() {
            match (quote, c) {
                (Some('\''), '\'') => quote = None,
                (Some('"'), '"') if prev != '\\' => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '#') if prev.is_whitespace() => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > max {
                        return Some((i + 1, col + 1));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
            prev = c;
        }
    }
    None
}

/// Parses YAML, or JSON when the file ends in `.json`, keeping the line and
/// column of syntax errors.
fn parse_document(file: &Path, text: &str) -> Result<Value, Diagnostics> {
    let is_json = file.extension().is_some_and(|e| e == "json");
    let err = |msg: String, line: usize, col: usize| {
        let d = Diagnostic::new(FileKind::Policy, file, msg).hint(
            "`qod schema policy` shows the format; examples/quickstart/qod.yaml is a small example",
        );
        Diagnostics(vec![if line > 0 { d.at_line(line, col) } else { d }])
    };
    if is_json {
        serde_json::from_str(text).map_err(|e| err(e.to_string(), e.line(), e.column()))
    } else {
        // The YAML parser takes quadratic time on deep flow nesting before
        // its own limit applies; this check is linear.
        if let Some((line, col)) = too_deep(text, MAX_NESTING) {
            return Err(err(
                format!("nested deeper than {MAX_NESTING} levels of `[` and `{{`"),
                line,
                col,
            ));
        }
        let v: Value = serde_norway::from_str(text).map_err(|e| {
            let (l, c) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            let at = text
                .lines()
                .nth(l.saturating_sub(1))
                .and_then(|line| line.chars().nth(c.saturating_sub(1)));
            if at == Some('\t') {
                return err(
                    "a tab: YAML indents with spaces only; replace the tab with spaces".into(),
                    l,
                    c,
                );
            }
            err(format!("not valid YAML: {e}"), l, c)
        })?;
        if v.is_null() {
            return Err(err("the file is empty".into(), 0, 0));
        }
        Ok(v)
    }
}
