//! The base's folder for a side-by-side comparison: a git worktree of the
//! base revision in a temporary folder (removed when dropped: after
//! success, failure, or a cancelled run), or a folder the pipeline already
//! prepared; and `compare.prepare` run once in each side's folder.

use crate::policy::BaseSource;
use crate::protocol::Source;
use crate::supervise::{Cancel, Cmd, Ending, Limits, StdoutMode};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the temporary folder of a base's worktree starts: with the process
/// id after it, so that one left by a killed run is removed by the next.
const WORKTREE_PREFIX: &str = "qod-base-";

/// How much of `prepare`'s stderr is kept for its error.
const PREPARE_TAIL: usize = 64 << 10;

/// Why the base could not be made ready.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkspaceError {
    #[error("`compare.base.revision: merge-base`: this run has no merge-base; run it in a pull or merge request build, or give `--base BRANCH` (the merge-base comes from git), or name a revision")]
    NoMergeBase,
    #[error("`compare.base.revision: merge-base`: the checkout is shallow and its merge-base with `{branch}` could not be fetched from `origin`; check out the whole history (GitHub: `fetch-depth: 0` on actions/checkout; GitLab: `GIT_DEPTH: 0`; CodeBuild: a full clone, `git-clone-depth: 0`), or `git fetch --unshallow` before qod")]
    Shallow { branch: String },
    #[error("`compare.base.revision`: `{0}` names no commit in this repository (fetch it first: CI checkouts are often shallow, so set `fetch-depth: 0` or `git fetch origin {0}`)")]
    UnknownRevision(String),
    #[error("`compare.base.workspace`: `{0}` is not a folder; check out and build the base there first, or use `revision:`")]
    MissingFolder(PathBuf),
    #[error("cannot make a git worktree of `{revision}`: {message}")]
    Worktree { revision: String, message: String },
    #[error("`compare.prepare` failed in the {side}'s folder `{folder}`: {how}{tail}")]
    Prepare {
        side: &'static str,
        folder: PathBuf,
        how: String,
        tail: String,
    },
    #[error("cancelled by {} while `compare.prepare` ran in the {side}'s folder; nothing was measured", crate::supervise::signal_name(*.signal))]
    Cancelled { side: &'static str, signal: i32 },
}

impl WorkspaceError {
    /// The same error with `redact` applied to what came from `prepare`.
    pub fn redacted(self, redact: impl Fn(&str) -> String) -> WorkspaceError {
        match self {
            WorkspaceError::Prepare {
                side,
                folder,
                how,
                tail,
            } => WorkspaceError::Prepare {
                side,
                folder,
                how,
                tail: redact(&tail),
            },
            other => other,
        }
    }
}

/// The base's folder, and how it is shown.
#[derive(Debug)]
pub struct BaseCheckout {
    pub path: PathBuf,
    /// `main@abc1234`, `v1.2@abc1234`, or the folder.
    pub label: String,
    pub revision: Option<String>,
    /// The worktree to remove, with the repository it belongs to.
    worktree: Option<(PathBuf, tempfile::TempDir)>,
}

fn git(cwd: &Path, args: &[&str]) -> Result<String, String> {
    crate::git::run(cwd, args).map(|s| s.trim().to_owned())
}

impl BaseCheckout {
    /// Makes the base ready: checks out `source` for a revision, or checks
    /// the folder.
    pub fn open(
        spec: &BaseSource,
        source: &Source,
        cwd: &Path,
    ) -> Result<BaseCheckout, WorkspaceError> {
        let wanted = match spec {
            BaseSource::Workspace(dir) => {
                let path = cwd.join(dir);
                if !path.is_dir() {
                    return Err(WorkspaceError::MissingFolder(path));
                }
                return Ok(BaseCheckout {
                    label: dir.display().to_string(),
                    path,
                    revision: None,
                    worktree: None,
                });
            }
            BaseSource::Revision(r) if r == "merge-base" => {
                match (&source.merge_base, &source.base_branch) {
                    (Some(mb), _) => mb.clone(),
                    (None, Some(branch)) if crate::ci::is_shallow(cwd) => {
                        return Err(WorkspaceError::Shallow {
                            branch: branch.clone(),
                        })
                    }
                    (None, _) => return Err(WorkspaceError::NoMergeBase),
                }
            }
            BaseSource::Revision(r) => r.clone(),
        };
        let resolve = || {
            git(
                cwd,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{wanted}^{{commit}}"),
                ],
            )
        };
        // A shallow checkout may lack the commit the CI named: fetch it.
        let sha = resolve()
            .or_else(|e| {
                if !crate::ci::is_shallow(cwd) {
                    return Err(e);
                }
                git(
                    cwd,
                    &[
                        "fetch",
                        "--no-tags",
                        "--quiet",
                        "--depth=1",
                        "origin",
                        &wanted,
                    ],
                )?;
                resolve()
            })
            .map_err(|_| WorkspaceError::UnknownRevision(wanted.clone()))?;
        let top = git(cwd, &["rev-parse", "--show-toplevel"]).map_err(|message| {
            WorkspaceError::Worktree {
                revision: wanted.clone(),
                message,
            }
        })?;
        let top = PathBuf::from(top);
        // Worktrees of runs that were killed outright are removed first:
        // their folders (named after a process that is gone), then their
        // registrations.
        crate::supervise::sweep_orphans(&std::env::temp_dir(), WORKTREE_PREFIX, |_| {});
        let _ = git(&top, &["worktree", "prune"]);
        let tmp =
            crate::supervise::temp_dir(WORKTREE_PREFIX).map_err(|e| WorkspaceError::Worktree {
                revision: wanted.clone(),
                message: format!("cannot create a temporary folder: {e}"),
            })?;
        let path = tmp.path().join("base");
        git(
            &top,
            &[
                "worktree",
                "add",
                "--detach",
                "--quiet",
                &path.to_string_lossy(),
                &sha,
            ],
        )
        .map_err(|message| WorkspaceError::Worktree {
            revision: wanted.clone(),
            message,
        })?;
        // The same place inside the base as the gate has inside the candidate.
        let inside = cwd
            .canonicalize()
            .ok()
            .and_then(|c| {
                top.canonicalize()
                    .ok()
                    .and_then(|t| c.strip_prefix(t).ok().map(Path::to_owned))
            })
            .unwrap_or_default();
        let name = match spec {
            BaseSource::Revision(r) if r == "merge-base" => source
                .base_branch
                .clone()
                .unwrap_or_else(|| "merge-base".into()),
            _ => wanted.clone(),
        };
        Ok(BaseCheckout {
            label: format!("{name}@{}", &sha[..sha.len().min(7)]),
            path: path.join(inside),
            revision: Some(sha),
            worktree: Some((top, tmp)),
        })
    }
}

impl Drop for BaseCheckout {
    fn drop(&mut self) {
        if let Some((repo, tmp)) = self.worktree.take() {
            let path = tmp.path().join("base");
            let _ = git(
                &repo,
                &["worktree", "remove", "--force", &path.to_string_lossy()],
            );
            drop(tmp);
        }
    }
}

/// The base of a comparison made ready: checked out and prepared in each
/// side's folder; or why it cannot be (its objectives end `no_baseline`
/// with the reason). A candidate whose `prepare` fails is an error: there
/// is nothing to measure.
pub async fn open_base(
    spec: &crate::policy::CompareSpec,
    source: &crate::protocol::Source,
    cwd: &std::path::Path,
    env: &std::collections::BTreeMap<String, String>,
    grace: Duration,
    cancel: &Cancel,
) -> Result<Result<BaseCheckout, String>, WorkspaceError> {
    let base = match BaseCheckout::open(&spec.base, source, cwd) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e.to_string())),
    };
    prepare_side(spec, "candidate", cwd, env, grace, cancel).await?;
    match prepare_side(spec, "base", &base.path, env, grace, cancel).await {
        Ok(()) => {}
        Err(e @ WorkspaceError::Cancelled { .. }) => return Err(e),
        Err(e) => return Ok(Err(e.to_string())),
    }
    Ok(Ok(base))
}

/// Runs `spec`'s `compare.prepare`, if it has one, in one side's `folder`
/// under its `prepare_timeout` (a gate, a bisection step, a calibration).
pub async fn prepare_side(
    spec: &crate::policy::CompareSpec,
    side: &'static str,
    folder: &std::path::Path,
    env: &std::collections::BTreeMap<String, String>,
    grace: Duration,
    cancel: &Cancel,
) -> Result<(), WorkspaceError> {
    let Some(cmd) = &spec.prepare else {
        return Ok(());
    };
    let limits = PrepareLimits {
        timeout: spec.prepare_timeout.get(),
        grace,
    };
    prepare(cmd, side, folder, env, limits, cancel).await
}

/// How `compare.prepare` runs: its timeout, and the grace between the
/// signal and SIGKILL when it is stopped.
#[derive(Debug, Clone, Copy)]
pub struct PrepareLimits {
    pub timeout: Duration,
    pub grace: Duration,
}

/// Runs `compare.prepare` in `folder` through `sh -c`, with the gate's
/// environment: supervised as a plugin is (its own process group, stopped
/// whole at its timeout or when the gate is cancelled), its stdout
/// dropped and its stderr's tail kept for the error.
pub async fn prepare(
    command: &str,
    side: &'static str,
    folder: &Path,
    env: &std::collections::BTreeMap<String, String>,
    limits: PrepareLimits,
    cancel: &Cancel,
) -> Result<(), WorkspaceError> {
    let raw = Cmd::new("sh")
        .args(["-c", command])
        .cwd(folder)
        .env_clear()
        .envs(env)
        .supervise(
            Vec::new(),
            Limits {
                timeout: limits.timeout,
                grace: limits.grace,
                stdout: StdoutMode::Discarded,
                stderr_tail: PREPARE_TAIL,
            },
            cancel,
        )
        .await;
    let failed = |how: String| {
        let text = String::from_utf8_lossy(&raw.stderr_tail);
        let lines: Vec<&str> = text.trim().lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n");
        WorkspaceError::Prepare {
            side,
            folder: folder.to_owned(),
            how,
            tail: if tail.is_empty() {
                String::new()
            } else {
                format!("; its stderr ends:\n{tail}")
            },
        }
    };
    match raw.ending {
        Ending::Exited(s) if s.success() => Ok(()),
        Ending::Exited(s) => Err(failed(format!("`{command}` exited with {s}"))),
        Ending::TimedOut => Err(failed(format!(
            "`{command}` did not end within {} and was stopped; raise `compare.prepare_timeout` if the build needs longer",
            humantime::format_duration(limits.timeout)
        ))),
        Ending::Cancelled(signal) => Err(WorkspaceError::Cancelled { side, signal }),
        Ending::SpawnFailed(e) => Err(failed(format!("cannot start `sh`: {e}"))),
    }
}
