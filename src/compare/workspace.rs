//! The base's folder for a side-by-side comparison: a git worktree of the
//! base revision in a temporary folder (removed when dropped: after
//! success, failure, or a cancelled run), or a folder the pipeline already
//! prepared; and `compare.prepare` run once in each side's folder.

use crate::policy::BaseSource;
use crate::protocol::Source;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
}

/// The base's folder, and how it is shown.
#[derive(Debug)]
pub struct Base {
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

impl Base {
    /// Makes the base ready: checks out `source` for a revision, or checks
    /// the folder.
    pub fn open(spec: &BaseSource, source: &Source, cwd: &Path) -> Result<Base, WorkspaceError> {
        let wanted = match spec {
            BaseSource::Workspace(dir) => {
                let path = cwd.join(dir);
                if !path.is_dir() {
                    return Err(WorkspaceError::MissingFolder(path));
                }
                return Ok(Base {
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
        // Worktrees of runs that were killed outright are pruned first.
        let _ = git(&top, &["worktree", "prune"]);
        let tmp = tempfile::Builder::new()
            .prefix("qod-base-")
            .tempdir()
            .map_err(|e| WorkspaceError::Worktree {
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
        Ok(Base {
            label: format!("{name}@{}", &sha[..sha.len().min(7)]),
            path: path.join(inside),
            revision: Some(sha),
            worktree: Some((top, tmp)),
        })
    }
}

impl Drop for Base {
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

/// Runs `compare.prepare` in `folder` through `sh -c`, with the gate's
/// environment.
pub fn prepare(
    command: &str,
    side: &'static str,
    folder: &Path,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<(), WorkspaceError> {
    let out = Command::new("sh")
        .args(["-c", command])
        .current_dir(folder)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output();
    let failed = |how: String, stderr: &[u8]| {
        let text = String::from_utf8_lossy(stderr);
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
    match out {
        Err(e) => Err(failed(format!("cannot start `sh`: {e}"), b"")),
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(failed(
            format!("`{command}` exited with {}", o.status),
            &o.stderr,
        )),
    }
}
