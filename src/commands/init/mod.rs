//! `qod init`: a project adopts the gate in one command. It finds the
//! project's benchmark harness and CI ([`detect`]), and writes `qod.yaml`
//! (the suite side by side on requests, history on the default branch,
//! the store on a git branch) and the CI's pipeline ([`files`]), each
//! checked as `qod validate` would before anything is written.

pub mod detect;
pub mod files;

use super::CommandError;
pub use detect::{Ci, Harness};
use std::path::{Path, PathBuf};

/// What to set up.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub dir: PathBuf,
    pub ci: Option<Ci>,
    pub harness: Option<Harness>,
    /// Overwrite files that exist.
    pub force: bool,
    /// `<= +5%` unless given.
    pub tolerance: String,
}

/// A file to write.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Relative to the project.
    pub path: String,
    pub text: String,
    pub exists: bool,
}

/// What `qod init` found and would write.
#[derive(Debug, Clone)]
pub struct Init {
    /// What was found, and why, one line each.
    pub found: Vec<String>,
    pub files: Vec<Planned>,
    /// The branch whose pushes record history.
    pub default_branch: String,
}

/// Finds the harness and the CI of the project in `opts.dir` and plans
/// the files; nothing is written.
pub fn plan(opts: &InitOptions) -> Result<Init, CommandError> {
    let dir = &opts.dir;
    let harnesses = detect::harnesses(dir);
    let mut found = Vec::new();
    let harness = match opts.harness {
        Some(h) => {
            found.push(format!("harness: {} (`--harness`)", h.name()));
            h
        }
        None => match harnesses.first() {
            Some(f) => {
                found.push(format!("harness: {}, because {}", f.what.name(), f.because));
                for other in &harnesses[1..] {
                    found.push(format!(
                        "also {} ({}): left out; run `qod init --harness {}` in a folder of its own, or add it to `qod.yaml` as a second plugin",
                        other.what.name(),
                        other.because,
                        other.what.name()
                    ));
                }
                f.what
            }
            None => {
                return Err(CommandError::Usage(format!(
                    "no benchmark harness found in `{}` (looked for pytest-benchmark, criterion, libtest benches, `go test -bench`, Google Benchmark, JMH and hyperfine); name one with `--harness`",
                    dir.display()
                )))
            }
        },
    };
    let ci = match (opts.ci, detect::ci(dir)) {
        (Some(c), _) => {
            found.push(format!("CI: {} (`--ci`)", c.name()));
            c
        }
        (None, Some(f)) => {
            found.push(format!("CI: {}, because {}", f.what.name(), f.because));
            f.what
        }
        (None, None) => {
            return Err(CommandError::Usage(
                "no CI found (no `.github/workflows/`, `.gitlab-ci.yml`, `buildspec.yml` or `Jenkinsfile`); choose one with `--ci github|gitlab|codebuild|jenkins`".into(),
            ))
        }
    };
    let hyperfine_line = (harness == Harness::Hyperfine)
        .then(|| hyperfine_line(dir))
        .flatten();
    // pytest collects from the folder of the test it was found by, not
    // from everything under the project.
    let tests = harnesses
        .iter()
        .find(|f| f.what == harness)
        .and_then(|f| f.file.as_deref())
        .and_then(|f| f.split_once('/'))
        .map(|(top, _)| format!("{top}/"));
    let suite = files::Suite::of(harness, hyperfine_line.as_deref(), tests.as_deref());
    let because = harnesses
        .iter()
        .find(|f| f.what == harness)
        .map_or("named with `--harness`".to_owned(), |f| f.because.clone());
    let policy = files::policy(&suite, &because, &opts.tolerance);
    found.push(format!(
        "policy: every benchmark side by side on requests, `{}` (qod init's default tolerance; change it in `qod.yaml` or with `--tolerance`), history on pushes to `{}`, the store on the branch `qod-history`",
        opts.tolerance,
        default_branch(dir)
    ));
    let requirements: Vec<String> = ["requirements.txt", "requirements-dev.txt"]
        .iter()
        .filter(|r| dir.join(r).is_file())
        .map(|r| (*r).to_owned())
        .collect();
    let (ci_path, ci_text) =
        files::pipeline(ci, harness, &default_branch(dir), &requirements, |p| {
            dir.join(p).exists()
        });
    check_policy(&policy)?;
    check_yaml(&ci_path, &ci_text)?;
    let files = [("qod.yaml".to_owned(), policy), (ci_path, ci_text)]
        .into_iter()
        .map(|(path, text)| Planned {
            exists: dir.join(&path).exists(),
            path,
            text,
        })
        .collect();
    Ok(Init {
        found,
        files,
        default_branch: default_branch(dir),
    })
}

/// Writes the planned files; refuses files that exist unless `force`.
pub fn write(dir: &Path, init: &Init, force: bool) -> Result<(), CommandError> {
    if !force {
        let existing: Vec<&str> = init
            .files
            .iter()
            .filter(|f| f.exists)
            .map(|f| f.path.as_str())
            .collect();
        if !existing.is_empty() {
            return Err(CommandError::Usage(format!(
                "{} already exist{}: qod init overwrites nothing without `--force` (`--print` shows what it would write)",
                existing.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(" and "),
                if existing.len() == 1 { "s" } else { "" }
            )));
        }
    }
    for f in &init.files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CommandError::Write(path.clone(), e))?;
        }
        std::fs::write(&path, &f.text).map_err(|e| CommandError::Write(path.clone(), e))?;
    }
    Ok(())
}

/// The default branch: `origin`'s, else the checked-out one, else `main`.
fn default_branch(dir: &Path) -> String {
    let git = |args: &[&str]| {
        crate::git::run(dir, args)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    git(&[
        "symbolic-ref",
        "--quiet",
        "--short",
        "refs/remotes/origin/HEAD",
    ])
    .map(|b| b.trim_start_matches("origin/").to_owned())
    .or_else(|| git(&["symbolic-ref", "--quiet", "--short", "HEAD"]))
    .unwrap_or_else(|| "main".into())
}

/// The project's own hyperfine command line, from its first script that
/// runs one.
fn hyperfine_line(dir: &Path) -> Option<String> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        all.push(e.path());
        if e.path().is_dir() {
            if let Ok(inner) = std::fs::read_dir(e.path()) {
                all.extend(inner.flatten().map(|i| i.path()));
            }
        }
    }
    all.sort();
    all.iter().find_map(|p| {
        std::fs::read_to_string(p)
            .ok()?
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("hyperfine "))
            .map(|l| l.trim_end_matches('\\').trim().to_owned())
    })
}

/// The policy as `qod validate` would check it (in a folder of its own,
/// where only qod's first-party plugins are found).
fn check_policy(text: &str) -> Result<(), CommandError> {
    let tmp = crate::supervise::temp_dir("qod-init")
        .map_err(|e| CommandError::Write(std::env::temp_dir(), e))?;
    let file = tmp.path().join("qod.yaml");
    std::fs::write(&file, text).map_err(|e| CommandError::Write(file.clone(), e))?;
    crate::plan::load(Some(&file), tmp.path())?;
    Ok(())
}

/// A pipeline file is YAML (but a Jenkinsfile): it must parse.
fn check_yaml(path: &str, text: &str) -> Result<(), CommandError> {
    if path.contains("Jenkinsfile") {
        return Ok(());
    }
    serde_norway::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|e| {
            CommandError::Usage(format!(
                "qod init wrote a `{path}` that is not YAML ({e}); this is a bug in qod"
            ))
        })
}
