//! Running the `git` program: one place for how qod calls it (no stdin,
//! output captured) and for what it says when git fails.

use crate::supervise::Cmd;
use std::path::Path;

/// Runs `git ARGS` in `dir`; its stdout, or what went wrong (git's stderr,
/// or that git could not be started).
pub fn run(dir: &Path, args: &[&str]) -> Result<String, String> {
    // `-C` rather than a working directory: a folder that is not there is
    // git's error to report, not a failure to start git.
    let out = Cmd::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output(None, None)
        .map_err(|e| format!("cannot run `git`: {e}; install git or put it on PATH"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
