//! The checkout's revision and branch read from its `.git` files, as
//! `git rev-parse HEAD --abbrev-ref HEAD` would say them, without starting
//! git: a process costs more than the rest of a one-plugin gate's start.
//! Whatever this does not know for sure (`GIT_DIR` set, a ref that is not
//! a loose or packed file, a repository format it does not read) is left
//! to git.

use super::GitInfo;
use std::path::{Path, PathBuf};

/// What the files say: `Some` when sure (no repository at all included),
/// `None` to ask git.
pub(super) fn read(cwd: &Path) -> Option<GitInfo> {
    if std::env::var_os("GIT_DIR").is_some() || std::env::var_os("GIT_COMMON_DIR").is_some() {
        return None;
    }
    let Some((gitdir, common)) = find(cwd)? else {
        // No repository here or above: git would say nothing either.
        return Some(GitInfo::default());
    };
    // Formats other than loose and packed files (reftable) are git's.
    let config = std::fs::read_to_string(common.join("config")).unwrap_or_default();
    if config.contains("refstorage") || config.contains("objectformat") {
        return None;
    }
    let head = std::fs::read_to_string(gitdir.join("HEAD")).ok()?;
    let head = head.trim();
    match head.strip_prefix("ref: ") {
        Some(name) => {
            let revision = resolve(&gitdir, &common, name)?;
            Some(GitInfo {
                revision: Some(revision),
                branch: Some(name.strip_prefix("refs/heads/").unwrap_or(name).to_owned()),
            })
        }
        None if is_sha(head) => Some(GitInfo {
            revision: Some(head.to_owned()),
            branch: None,
        }),
        None => None,
    }
}

/// The repository of `cwd`: its git folder and the folder its refs live
/// in (a worktree's are its main repository's). `Some(None)`: none.
fn find(cwd: &Path) -> Option<Option<(PathBuf, PathBuf)>> {
    let mut dir = cwd.canonicalize().ok()?;
    loop {
        let dotgit = dir.join(".git");
        if dotgit.is_dir() {
            return Some(Some((dotgit.clone(), dotgit)));
        }
        if dotgit.is_file() {
            // A worktree or submodule: `gitdir: PATH`.
            let text = std::fs::read_to_string(&dotgit).ok()?;
            let gitdir = dir.join(text.trim().strip_prefix("gitdir:")?.trim());
            let common = match std::fs::read_to_string(gitdir.join("commondir")) {
                Ok(c) => gitdir.join(c.trim()),
                Err(_) => gitdir.clone(),
            };
            return Some(Some((gitdir, common)));
        }
        if !dir.pop() {
            return Some(None);
        }
    }
}

/// The commit `name` (`refs/heads/main`) points at: its loose file (in the
/// worktree's folder for per-worktree refs, else the common one), else
/// `packed-refs`. `None` for a branch with no commit yet, or a symbolic
/// ref: git says those.
fn resolve(gitdir: &Path, common: &Path, name: &str) -> Option<String> {
    for dir in [gitdir, common] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            let sha = text.trim();
            return is_sha(sha).then(|| sha.to_owned());
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (sha, r) = l.split_once(' ')?;
        (r == name && is_sha(sha)).then(|| sha.to_owned())
    })
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        crate::git::run(dir, args)
            .expect("git runs")
            .trim()
            .to_owned()
    }

    /// What git itself says.
    fn by_git(dir: &Path) -> GitInfo {
        let out = git(dir, &["rev-parse", "HEAD", "--abbrev-ref", "HEAD"]);
        let mut lines = out.lines();
        GitInfo {
            revision: lines.next().map(str::to_owned),
            branch: lines.next().filter(|b| *b != "HEAD").map(str::to_owned),
        }
    }

    #[test]
    fn the_files_say_what_git_says() {
        let top = tempfile::tempdir().expect("a folder");
        let repo = top.path().join("repo");
        std::fs::create_dir(&repo).expect("created");
        assert_eq!(read(&repo), Some(GitInfo::default()), "no repository");
        git(&repo, &["init", "-q", "-b", "feature/x"]);
        for (k, v) in [("user.name", "qod"), ("user.email", "qod@example.com")] {
            git(&repo, &["config", k, v]);
        }
        std::fs::write(repo.join("a"), "1").expect("written");
        git(&repo, &["add", "a"]);
        git(&repo, &["commit", "-q", "-m", "one"]);
        let sub = repo.join("sub");
        std::fs::create_dir(&sub).expect("created");
        // A branch with a slash, from a folder inside.
        assert_eq!(read(&sub), Some(by_git(&repo)));
        // Packed refs.
        git(&repo, &["pack-refs", "--all"]);
        assert_eq!(read(&repo), Some(by_git(&repo)));
        // Detached.
        let sha = git(&repo, &["rev-parse", "HEAD"]);
        git(&repo, &["checkout", "-q", "--detach", &sha]);
        assert_eq!(read(&repo), Some(by_git(&repo)));
        // A worktree on its own branch.
        let wt = top.path().join("wt");
        git(
            &repo,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "other",
                &wt.to_string_lossy(),
            ],
        );
        assert_eq!(read(&wt), Some(by_git(&wt)));
        assert_eq!(read(&wt).and_then(|g| g.branch).as_deref(), Some("other"));
    }
}
