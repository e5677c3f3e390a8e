//! Blobs on a branch of a git repository (`git:BRANCH` for a branch of the
//! checkout's `origin`, `git+URL#BRANCH` for any remote): the store's
//! layout as the branch's tree, every write a commit pushed to it.
//!
//! - Reads fetch what they need only: the branch's tip commit first
//!   (`--depth 1 --filter=tree:0`), then, lazily, the trees along a key's
//!   path and the key's blob. An evaluation (the index head and a few run
//!   records) costs the same number of objects however long the history.
//! - A blob's tag is its object id. A write checks its condition (no blob
//!   there; the same tag there) against the tip it builds on, and pushes
//!   without force: a push another job beat is rejected as not a
//!   fast-forward, which is the compare-and-swap failing. The tip is then
//!   fetched again and the condition checked again: still holding, the
//!   same change is rebuilt on the new tip and pushed; no longer holding,
//!   it is a conflict for the store's own retries. Nothing is lost.
//! - Credentials are what the CI already has: the checkout's `extraheader`
//!   (actions/checkout), `GITHUB_TOKEN`, or `CI_JOB_TOKEN` (in the GitLab
//!   remote's URL). They reach git through its environment, never its
//!   arguments, and are taken out of every message.
//!
//! Size: the git plumbing (fetch, lazy reads, tree edits, pushes with their
//! retries, compaction) kept together with the invariants it relies on.

use super::blobs::{Blob, Blobs, Written};
use super::StoreError;
use crate::secrets::REDACTED;
use crate::supervise::{self, Cmd};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// A commit changing more files than this edits its tree through a
/// temporary index, in a fixed number of git calls.
const BATCH_EDIT: usize = 8;

/// How many times a write is rebuilt on a newer tip before giving up.
const PUSH_ATTEMPTS: u32 = 40;

/// What a write asks of the key it changes first.
#[derive(Debug, Clone)]
enum Cond {
    /// Nothing asked.
    Any,
    /// No blob there (a create).
    Absent,
    /// The blob there has this tag (a swap).
    Tagged(String),
}

/// Blobs on a git branch.
#[derive(Debug, Clone)]
pub struct GitBlobs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The remote's URL, credentials included (never shown).
    url: String,
    branch: String,
    /// What messages show: `git:BRANCH` or `git+URL#BRANCH`, no credentials.
    shown: String,
    /// The local partial repository.
    dir: PathBuf,
    /// Kept alive for the repository's life when it is temporary.
    _temp: Option<tempfile::TempDir>,
    /// Variables for every git call: configuration (credentials) and no
    /// prompts.
    env: Vec<(String, String)>,
    /// Secrets to take out of git's messages.
    secrets: Vec<String>,
    /// The tip this process builds on: `None` before the first fetch,
    /// `Some(None)` when the branch does not exist yet.
    tip: Mutex<Option<Option<String>>>,
    /// Fetches and pushes made.
    requests: AtomicU64,
}

/// Takes `user:password@` out of URLs in `s`, and every secret.
fn scrub(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_owned();
    for secret in secrets.iter().filter(|x| x.len() >= 4) {
        out = out.replace(secret.as_str(), REDACTED);
    }
    let re = regex::Regex::new(r"://[^/@\s]+@").expect("valid regex");
    re.replace_all(&out, format!("://{REDACTED}@").as_str())
        .into_owned()
}

/// git's message on one line: its `fatal:`/`error:` lines without git's
/// boilerplate advice ("Please make sure you have the correct access
/// rights…"), which says nothing the first line does not.
fn one_line(detail: &str) -> String {
    let lines: Vec<&str> = detail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            !l.starts_with("Please make sure you have the correct access rights")
                && *l != "and the repository exists."
                && *l != "fatal: Could not read from remote repository."
        })
        .collect();
    if lines.is_empty() {
        return detail.trim().to_owned();
    }
    lines.join("; ")
}

/// `%XX` escapes decoded, as git decodes a URL's user and password.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `https://user:password@host/…` (or `http://`) without its user and
/// password, and `("user:password", secret)` decoded as git decodes them;
/// a user alone (`https://TOKEN@host/…`, as many CI docs write a token) is
/// the secret, with an empty password. Other URLs as they are.
fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url
        .split_once("://")
        .filter(|(s, _)| matches!(*s, "https" | "http"))
    else {
        return (url.to_owned(), None);
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    let Some((info, host)) = rest[..host_end].rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    let (user, password) = match info.split_once(':') {
        Some((u, p)) => (percent_decoded(u), percent_decoded(p)),
        None => (percent_decoded(info), String::new()),
    };
    let secret = if password.is_empty() {
        user.clone()
    } else {
        password.clone()
    };
    (
        format!("{scheme}://{host}{}", &rest[host_end..]),
        Some((format!("{user}:{password}"), secret)),
    )
}

/// What `git:BRANCH` or `git+URL#BRANCH` names.
struct Parsed {
    url: Option<String>,
    branch: String,
}

fn parse(location: &str) -> Result<Parsed, StoreError> {
    let bad = |hint: &str| StoreError::BadLocation {
        location: scrub(location, &[]),
        hint: hint.to_owned(),
    };
    let good_branch = |b: &str| {
        // `HEAD` and `refs/…` would make refs that shadow others.
        !b.is_empty()
            && b != "HEAD"
            && !b.starts_with("refs/")
            && !b.starts_with('-')
            && !b.contains("..")
            && b.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'))
    };
    if let Some(rest) = location.strip_prefix("git+") {
        let Some((url, branch)) = rest.rsplit_once('#') else {
            return Err(bad(
                "give the branch after `#`: `git+https://host/owner/repo.git#qod-history`",
            ));
        };
        if !good_branch(branch) || url.is_empty() {
            return Err(bad(
                "give a URL and a branch name: `git+https://host/owner/repo.git#qod-history`",
            ));
        }
        return Ok(Parsed {
            url: Some(url.to_owned()),
            branch: branch.to_owned(),
        });
    }
    let branch = location.strip_prefix("git:").unwrap_or_default();
    if !good_branch(branch) {
        return Err(bad(
            "name a branch: `git:qod-history` (a branch of this checkout's `origin`)",
        ));
    }
    Ok(Parsed {
        url: None,
        branch: branch.to_owned(),
    })
}

/// Branches of the checkout's `origin` that hold code, which a history
/// must never be written onto: `main` and `master`, the remote's default
/// branch, the checked-out branch, and the branches the CI names (the
/// pushed or requested branch, the base of a request, the default).
fn code_branches(cwd: &Path, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = vec!["main".into(), "master".into()];
    let git = |args: &[&str]| crate::git::run(cwd, args).ok().map(|s| s.trim().to_owned());
    if let Some(b) = git(&[
        "symbolic-ref",
        "--quiet",
        "--short",
        "refs/remotes/origin/HEAD",
    ]) {
        out.push(b.strip_prefix("origin/").unwrap_or(&b).to_owned());
    }
    if let Some(b) = git(&["symbolic-ref", "--quiet", "--short", "HEAD"]) {
        out.push(b);
    }
    for var in [
        "GITHUB_BASE_REF",
        "GITHUB_HEAD_REF",
        "GITHUB_REF_NAME",
        "CI_DEFAULT_BRANCH",
        "CI_COMMIT_BRANCH",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
        "CODEBUILD_WEBHOOK_BASE_REF",
        "CODEBUILD_WEBHOOK_HEAD_REF",
        "BRANCH_NAME",
        "CHANGE_TARGET",
    ] {
        if let Some(v) = env.get(var).filter(|v| !v.is_empty()) {
            out.push(v.strip_prefix("refs/heads/").unwrap_or(v).to_owned());
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

/// How a process's own repository folder in the temporary folder starts:
/// `qod-git-<pid>-…`, so that one left by a killed process is known.
const ORPHAN_PREFIX: &str = "qod-git-";

/// Whether `location` is an scp-like git remote with a branch
/// (`git@github.com:acme/app.git#qod-history`): a user, a host, a colon
/// and a path; no scheme.
pub fn is_scp_like(location: &str) -> bool {
    let Some((userhost, path)) = location.split_once(':') else {
        return false;
    };
    let Some((user, host)) = userhost.split_once('@') else {
        return false;
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    word(user) && word(host) && !path.starts_with("//") && !path.is_empty()
}

/// Whether `location` names a git store.
pub fn is_git(location: &str) -> bool {
    location.starts_with("git:") || location.starts_with("git+")
}

impl GitBlobs {
    /// Opens `location` as seen from the checkout in `cwd`; nothing is
    /// fetched until something is read or written.
    pub fn open(
        location: &str,
        cwd: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<GitBlobs, StoreError> {
        let parsed = parse(location)?;
        let mut config: Vec<(String, String)> = Vec::new();
        let mut secrets = Vec::new();
        let url = match parsed.url {
            Some(u) => u,
            None => {
                let url = crate::git::run(cwd, &["remote", "get-url", "origin"])
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| StoreError::BadLocation {
                        location: location.to_owned(),
                        hint: format!(
                            "`git:BRANCH` keeps the history on a branch of this checkout's `origin`, and there is none ({}); run qod in the checkout, or give the remote: `git+URL#BRANCH`",
                            scrub(&e, &[])
                        ),
                    })?;
                if let Some(code) = code_branches(cwd, env)
                    .into_iter()
                    .find(|b| *b == parsed.branch)
                {
                    return Err(StoreError::BadLocation {
                        location: location.to_owned(),
                        hint: format!(
                            "`{code}` holds this repository's code: qod would commit its records onto it (and `qod store prune` would rewrite it); keep the history on a branch of its own, such as `git:qod-history`"
                        ),
                    });
                }
                // What actions/checkout left for its own fetches and pushes.
                if let Ok(headers) =
                    crate::git::run(cwd, &["config", "--get-regexp", r"^http\..*\.extraheader$"])
                {
                    for line in headers.lines() {
                        if let Some((k, v)) = line.split_once(' ') {
                            secrets.push(v.to_owned());
                            config.push((k.to_owned(), v.to_owned()));
                        }
                    }
                }
                url
            }
        };
        // A GitHub token when the checkout left no header.
        if config.is_empty() && url.starts_with("https://") {
            let server = env
                .get("GITHUB_SERVER_URL")
                .cloned()
                .unwrap_or_else(|| "https://github.com".into());
            if let Some(token) = env.get("GITHUB_TOKEN").filter(|t| !t.is_empty()) {
                if url.starts_with(&server) {
                    use base64::Engine;
                    let basic = base64::engine::general_purpose::STANDARD
                        .encode(format!("x-access-token:{token}"));
                    let value = format!("AUTHORIZATION: basic {basic}");
                    secrets.push(token.clone());
                    secrets.push(basic);
                    config.push((format!("http.{server}/.extraheader"), value));
                }
            }
        }
        // A user and password in an https URL (GitLab's runner puts the job
        // token there), or else GitLab's job token: sent as a header, so
        // that no secret is written into the local repository's config.
        let (url, basic) = split_userinfo(&url);
        let basic = basic.or_else(|| {
            let token = env.get("CI_JOB_TOKEN").filter(|t| !t.is_empty())?;
            url.starts_with("https://")
                .then(|| (format!("gitlab-ci-token:{token}"), token.clone()))
        });
        if let Some((pair, password)) = basic {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(&pair);
            let host_end = url
                .find("://")
                .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j + 1))
                .unwrap_or(url.len());
            secrets.push(password);
            secrets.push(encoded.clone());
            config.push((
                format!("http.{}.extraheader", &url[..host_end]),
                format!("AUTHORIZATION: basic {encoded}"),
            ));
        }
        let mut genv: Vec<(String, String)> = vec![
            ("GIT_TERMINAL_PROMPT".into(), "0".into()),
            ("GIT_AUTHOR_NAME".into(), "qod".into()),
            ("GIT_AUTHOR_EMAIL".into(), "qod@localhost".into()),
            ("GIT_COMMITTER_NAME".into(), "qod".into()),
            ("GIT_COMMITTER_EMAIL".into(), "qod@localhost".into()),
            ("GIT_CONFIG_COUNT".into(), config.len().to_string()),
        ];
        if !env.contains_key("GIT_SSH_COMMAND") {
            genv.push(("GIT_SSH_COMMAND".into(), "ssh -o BatchMode=yes".into()));
        }
        for (i, (k, v)) in config.iter().enumerate() {
            genv.push((format!("GIT_CONFIG_KEY_{i}"), k.clone()));
            genv.push((format!("GIT_CONFIG_VALUE_{i}"), v.clone()));
        }
        let shown = match location.strip_prefix("git:") {
            Some(b) => format!("git:{b} (origin {})", scrub(&url, &secrets)),
            None => scrub(location, &secrets),
        };
        // A cache folder (`QOD_GIT_CACHE`) keeps the objects between runs of
        // one job; by default each process has its own, removed at the end.
        let (dir, temp) = match env.get("QOD_GIT_CACHE").filter(|d| !d.is_empty()) {
            Some(d) => (PathBuf::from(d), None),
            None => {
                supervise::sweep_orphans(&std::env::temp_dir(), ORPHAN_PREFIX, |_| {});
                let t = supervise::temp_dir(ORPHAN_PREFIX).map_err(|source| StoreError::Io {
                    action: "create a folder for",
                    path: std::env::temp_dir(),
                    source,
                })?;
                (t.path().to_owned(), Some(t))
            }
        };
        Ok(GitBlobs {
            inner: Arc::new(Inner {
                url,
                branch: parsed.branch,
                shown,
                dir,
                _temp: temp,
                env: genv,
                secrets,
                tip: Mutex::new(None),
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// Fetches and pushes made so far.
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    fn fail(&self, action: &'static str, detail: String) -> StoreError {
        StoreError::Git {
            action,
            location: self.inner.shown.clone(),
            detail: scrub(&one_line(&detail), &self.inner.secrets),
        }
    }

    /// Runs git in the local repository with `input` on stdin; its stdout,
    /// or its stderr as the error.
    async fn git(&self, args: &[&str], input: Option<&[u8]>) -> Result<String, String> {
        self.git_bytes(args, input, &[])
            .await
            .map(|out| String::from_utf8_lossy(&out).into_owned())
    }

    /// [`GitBlobs::git`] with raw output and extra variables. The input is
    /// written while the output is read: a batch command answers as it
    /// reads, and would fill its output pipe before taking all its input.
    async fn git_bytes(
        &self,
        args: &[&str],
        input: Option<&[u8]>,
        vars: &[(&str, &str)],
    ) -> Result<Vec<u8>, String> {
        let out = self
            .cmd(args)
            .envs(vars.iter().copied())
            .output_async(input)
            .await
            .map_err(|e| format!("cannot run `git`: {e}; install git or put it on PATH"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// `git -C <the local repository> ARGS`, with the store's variables.
    fn cmd(&self, args: &[&str]) -> Cmd {
        Cmd::new("git")
            .arg("-C")
            .arg(&self.inner.dir)
            .args(args)
            .envs(self.inner.env.iter().map(|(k, v)| (k, v)))
    }

    /// Makes the local partial repository, once.
    async fn init(&self) -> Result<(), StoreError> {
        if self.inner.dir.join("HEAD").exists() {
            return Ok(());
        }
        let dir = self.inner.dir.to_string_lossy().into_owned();
        let out = Cmd::new("git")
            .args(["init", "-q", "--bare", &dir])
            .envs(self.inner.env.iter().map(|(k, v)| (k, v)))
            .output_async(None)
            .await
            .map_err(|e| self.fail("create a repository for", e.to_string()))?;
        if !out.status.success() {
            return Err(self.fail(
                "create a repository for",
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        for args in [
            vec!["config", "core.repositoryformatversion", "1"],
            vec!["config", "extensions.partialClone", "origin"],
            vec!["remote", "add", "origin", self.inner.url.as_str()],
            vec!["config", "remote.origin.promisor", "true"],
            vec!["config", "remote.origin.partialclonefilter", "tree:0"],
            vec!["config", "gc.auto", "0"],
        ] {
            self.git(&args, None)
                .await
                .map_err(|e| self.fail("create a repository for", e))?;
        }
        Ok(())
    }

    /// Fetches the branch's tip (the commit only); `None` when the branch
    /// does not exist yet.
    async fn fetch(&self) -> Result<Option<String>, StoreError> {
        self.init().await?;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let refspec = format!(
            "+refs/heads/{b}:refs/remotes/origin/{b}",
            b = self.inner.branch
        );
        match self
            .git(
                &[
                    "fetch",
                    "-q",
                    "--depth=1",
                    "--filter=tree:0",
                    "origin",
                    &refspec,
                ],
                None,
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.contains("couldn't find remote ref") => return Ok(None),
            Err(e) => return Err(self.fail("fetch", e)),
        }
        let tip = self
            .git(
                &[
                    "rev-parse",
                    &format!("refs/remotes/origin/{}", self.inner.branch),
                ],
                None,
            )
            .await
            .map_err(|e| self.fail("read", e))?;
        Ok(Some(tip.trim().to_owned()))
    }

    /// The tip this process builds on, fetched the first time.
    async fn tip(&self) -> Result<Option<String>, StoreError> {
        let mut tip = self.inner.tip.lock().await;
        if tip.is_none() {
            *tip = Some(self.fetch().await?);
        }
        Ok(tip.clone().flatten())
    }

    /// Fetches tree `id` alone when it is not here yet. Left to itself, git
    /// would fetch a missing tree with everything below it (its lazy fetch
    /// filters blobs only), which grows with the history.
    async fn ensure_tree(&self, id: &str) -> Result<(), StoreError> {
        let check = ["cat-file", "-e", id];
        if self.git_nolazy(&check).await {
            return Ok(());
        }
        // As git's own lazy fetch does it, with a filter that keeps
        // everything below the tree out.
        self.fetch_objects(&format!("{id}\n"), "tree:0").await
    }

    /// Fetches the objects whose ids `wanted` lists (one a line) in one
    /// request, as git's own lazy fetch does, with `filter` (`tree:0`: the
    /// objects alone; `blob:none`: with the trees below them).
    async fn fetch_objects(&self, wanted: &str, filter: &str) -> Result<(), StoreError> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let filter = format!("--filter={filter}");
        self.git(
            &[
                "-c",
                "fetch.negotiationAlgorithm=noop",
                "fetch",
                "-q",
                "origin",
                "--no-tags",
                "--no-write-fetch-head",
                "--recurse-submodules=no",
                &filter,
                "--stdin",
            ],
            Some(wanted.as_bytes()),
        )
        .await
        .map(|_| ())
        .map_err(|e| self.fail("fetch", e))
    }

    /// Whether `git ARGS` succeeds without fetching anything.
    async fn git_nolazy(&self, args: &[&str]) -> bool {
        self.cmd(args)
            .env("GIT_NO_LAZY_FETCH", "1")
            .output_async(None)
            .await
            .is_ok_and(|o| o.status.success())
    }

    /// The root tree of commit `tip`.
    async fn root_tree(&self, tip: &str) -> Result<String, StoreError> {
        let out = self
            .git(&["cat-file", "commit", tip], None)
            .await
            .map_err(|e| self.fail("read", e))?;
        out.lines()
            .find_map(|l| l.strip_prefix("tree "))
            .map(|t| t.trim().to_owned())
            .ok_or_else(|| self.fail("read", format!("commit {tip} names no tree")))
    }

    /// The entries of a tree: name to (mode, type, id).
    async fn entries(
        &self,
        tree: &str,
    ) -> Result<BTreeMap<String, (String, String, String)>, StoreError> {
        self.ensure_tree(tree).await?;
        let out = self
            .git(&["ls-tree", "-z", tree], None)
            .await
            .map_err(|e| self.fail("read", e))?;
        let mut map = BTreeMap::new();
        for item in out.split('\0').filter(|s| !s.is_empty()) {
            let (meta, name) = item.split_once('\t').unwrap_or((item, ""));
            let mut parts = meta.split(' ');
            let (mode, kind, id) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            map.insert(name.to_owned(), (mode.into(), kind.into(), id.into()));
        }
        Ok(map)
    }

    /// The object id at `key` in commit `tip`, if there is one; fetches
    /// the trees along the path only.
    async fn id_at(&self, tip: &str, key: &str) -> Result<Option<String>, StoreError> {
        let mut tree = self.root_tree(tip).await?;
        let parts: Vec<&str> = key.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let entries = self.entries(&tree).await?;
            let Some((_, kind, id)) = entries.get(*part) else {
                return Ok(None);
            };
            let last = i + 1 == parts.len();
            match (last, kind.as_str()) {
                (true, "blob") => return Ok(Some(id.clone())),
                (false, "tree") => tree = id.clone(),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Whether folder `path` is in commit `tip`; fetches the trees along
    /// the path only.
    async fn has_tree(&self, tip: &str, path: &str) -> Result<bool, StoreError> {
        let mut tree = self.root_tree(tip).await?;
        for part in path.split('/') {
            match self.entries(&tree).await?.get(part) {
                Some((_, kind, id)) if kind == "tree" => tree = id.clone(),
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    /// `tree` (or an empty one) with `path` set to `blob`, or removed when
    /// `blob` is `None`; `None` when the result is empty.
    async fn edit(
        &self,
        tree: Option<String>,
        path: &[&str],
        blob: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        let mut entries = match &tree {
            Some(t) => self.entries(t).await?,
            None => BTreeMap::new(),
        };
        let name = path[0];
        if path.len() == 1 {
            match blob {
                Some(b) => {
                    entries.insert(name.into(), ("100644".into(), "blob".into(), b.into()));
                }
                None => {
                    entries.remove(name);
                }
            }
        } else {
            let sub = entries
                .get(name)
                .filter(|(_, kind, _)| kind == "tree")
                .map(|(_, _, id)| id.clone());
            match Box::pin(self.edit(sub, &path[1..], blob)).await? {
                Some(id) => {
                    entries.insert(name.into(), ("040000".into(), "tree".into(), id));
                }
                None => {
                    entries.remove(name);
                }
            }
        }
        if entries.is_empty() {
            return Ok(None);
        }
        let mut input = Vec::new();
        for (name, (mode, kind, id)) in &entries {
            input.extend_from_slice(format!("{mode} {kind} {id}\t{name}\0").as_bytes());
        }
        let id = self
            .git(&["mktree", "-z", "--missing"], Some(&input))
            .await
            .map_err(|e| self.fail("write", e))?;
        Ok(Some(id.trim().to_owned()))
    }

    /// Pushes `commit` as the branch's new tip, without force; `false` when
    /// another writer moved the branch first.
    async fn push(&self, commit: &str, lease: Option<&str>) -> Result<bool, StoreError> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let dest = format!("{commit}:refs/heads/{}", self.inner.branch);
        let lease_arg;
        let mut args = vec!["push", "-q", "--porcelain"];
        if let Some(l) = lease {
            lease_arg = format!("--force-with-lease=refs/heads/{}:{l}", self.inner.branch);
            args.push(&lease_arg);
        }
        args.extend(["origin", dest.as_str()]);
        match self.git(&args, None).await {
            Ok(_) => Ok(true),
            Err(e)
                if e.contains("[rejected]")
                    || e.contains("Updates were rejected")
                    || e.contains("non-fast-forward")
                    || e.contains("fetch first")
                    || e.contains("stale info")
                    || e.contains("failed to update ref")
                    || e.contains("cannot lock ref") =>
            {
                Ok(false)
            }
            Err(e) => Err(self.fail("push to", e)),
        }
    }

    /// Whether the first changed key at `tip` is as `cond` asks.
    async fn holds(&self, tip: Option<&str>, key: &str, cond: &Cond) -> Result<bool, StoreError> {
        if let Cond::Any = cond {
            return Ok(true);
        }
        let now = match tip {
            Some(t) => self.id_at(t, key).await?,
            None => None,
        };
        Ok(match cond {
            Cond::Any => true,
            Cond::Absent => now.is_none(),
            Cond::Tagged(tag) => now.as_deref() == Some(tag.as_str()),
        })
    }

    /// Applies `changes` (key to new blob content, `None` to remove) as one
    /// commit, if the first key is as `cond` asks at the tip; rebuilt on the
    /// newer tip whenever a push is rejected.
    async fn commit(
        &self,
        message: &str,
        changes: &[(&str, Option<&[u8]>)],
        cond: Cond,
    ) -> Result<Written, StoreError> {
        // A write may be the first thing this process does with the store
        // (`qod deployed`, a spooled upload, a suspension): the local
        // repository must exist before the blobs go into it.
        self.init().await?;
        let blobs = self.hash_objects(changes).await?;
        for attempt in 0..PUSH_ATTEMPTS {
            let tip = self.tip().await?;
            let first = changes.first().map_or("", |c| c.0);
            if !self.holds(tip.as_deref(), first, &cond).await? {
                return Ok(Written::Conflict);
            }
            let root = match &tip {
                Some(t) => Some(self.root_tree(t).await?),
                None => None,
            };
            let tree = if changes.len() > BATCH_EDIT {
                self.edit_batch(root, changes, &blobs).await?
            } else {
                let mut tree = root;
                for ((key, _), blob) in changes.iter().zip(&blobs) {
                    let path: Vec<&str> = key.split('/').collect();
                    tree = self.edit(tree, &path, blob.as_deref()).await?;
                }
                match tree {
                    Some(t) => t,
                    None => self
                        .git(&["mktree", "-z"], Some(b""))
                        .await
                        .map_err(|e| self.fail("write", e))?
                        .trim()
                        .to_owned(),
                }
            };
            let mut args = vec!["commit-tree", tree.as_str(), "-m", message];
            if let Some(t) = &tip {
                args.extend(["-p", t.as_str()]);
            }
            let commit = self
                .git(&args, None)
                .await
                .map_err(|e| self.fail("write", e))?
                .trim()
                .to_owned();
            if self.push(&commit, None).await? {
                *self.inner.tip.lock().await = Some(Some(commit));
                return Ok(Written::Yes);
            }
            // Another writer was first: build on what it pushed.
            let fresh = self.fetch().await?;
            *self.inner.tip.lock().await = Some(fresh);
            tokio::time::sleep(super::jitter(Duration::from_millis(20 << attempt.min(6)))).await;
        }
        Err(StoreError::Contended {
            location: self.inner.shown.clone(),
            key: changes.first().map_or("", |c| c.0).to_owned(),
            attempts: PUSH_ATTEMPTS,
        })
    }

    /// The blob ids of the changes' contents, written into the local
    /// repository: one `hash-object` for a few, one for all of many (from
    /// files in a temporary folder).
    async fn hash_objects(
        &self,
        changes: &[(&str, Option<&[u8]>)],
    ) -> Result<Vec<Option<String>>, StoreError> {
        let written = changes.iter().filter(|(_, b)| b.is_some()).count();
        if written <= BATCH_EDIT {
            let mut blobs = Vec::new();
            for (_, bytes) in changes {
                blobs.push(match bytes {
                    Some(b) => Some(
                        self.git(&["hash-object", "-w", "--stdin"], Some(b))
                            .await
                            .map_err(|e| self.fail("write", e))?
                            .trim()
                            .to_owned(),
                    ),
                    None => None,
                });
            }
            return Ok(blobs);
        }
        let temp = supervise::temp_dir(ORPHAN_PREFIX)
            .map_err(|e| self.fail("write", format!("cannot make a temporary folder: {e}")))?;
        let mut paths = String::new();
        for (i, (_, bytes)) in changes.iter().enumerate() {
            if let Some(b) = bytes {
                let file = temp.path().join(i.to_string());
                std::fs::write(&file, b).map_err(|e| {
                    self.fail("write", format!("cannot write a temporary file: {e}"))
                })?;
                paths.push_str(&format!("{}\n", file.display()));
            }
        }
        let out = self
            .git(
                &["hash-object", "-w", "--no-filters", "--stdin-paths"],
                Some(paths.as_bytes()),
            )
            .await
            .map_err(|e| self.fail("write", e))?;
        let mut ids = out.lines().map(|l| l.trim().to_owned());
        Ok(changes
            .iter()
            .map(|(_, b)| b.and_then(|_| ids.next()))
            .collect())
    }

    /// The tree `root` (or an empty one) with every change applied, in
    /// three git calls through a temporary index rather than a few per
    /// change; the trees below `root` are fetched in one request first.
    async fn edit_batch(
        &self,
        root: Option<String>,
        changes: &[(&str, Option<&[u8]>)],
        blobs: &[Option<String>],
    ) -> Result<String, StoreError> {
        let temp = supervise::temp_dir(ORPHAN_PREFIX)
            .map_err(|e| self.fail("write", format!("cannot make a temporary folder: {e}")))?;
        let index = temp.path().join("index");
        let index = index.to_string_lossy();
        let vars = [("GIT_INDEX_FILE", index.as_ref())];
        if let Some(root) = &root {
            // Every tree below the root, no blob: what an index needs.
            self.fetch_objects(&format!("{root}\n"), "blob:none")
                .await?;
            self.git_bytes(&["read-tree", root], None, &vars)
                .await
                .map_err(|e| self.fail("write", e))?;
        }
        let mut info = String::new();
        for ((key, _), blob) in changes.iter().zip(blobs) {
            match blob {
                Some(id) => info.push_str(&format!("100644 {id}\t{key}\0")),
                None => info.push_str(&format!("0 {}\t{key}\0", "0".repeat(40))),
            }
        }
        self.git_bytes(
            &["update-index", "-z", "--index-info"],
            Some(info.as_bytes()),
            &vars,
        )
        .await
        .map_err(|e| self.fail("write", e))?;
        let tree = self
            .git_bytes(&["write-tree", "--missing-ok"], None, &vars)
            .await
            .map_err(|e| self.fail("write", e))?;
        Ok(String::from_utf8_lossy(&tree).trim().to_owned())
    }

    /// Removes many keys in one commit.
    pub async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let changes: Vec<(&str, Option<&[u8]>)> = keys.iter().map(|k| (k.as_str(), None)).collect();
        self.commit(
            &format!("qod: remove {} files", keys.len()),
            &changes,
            Cond::Any,
        )
        .await
        .map(|_| ())
    }

    /// The blobs at `keys` with a few git calls whatever their number: one
    /// listing for their ids, one fetch for those not here yet, one batch
    /// read. `None` for a key the branch does not hold.
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let Some(tip) = self.tip().await? else {
            return Ok(vec![None; keys.len()]);
        };
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let tops: std::collections::BTreeSet<&str> = keys
            .iter()
            .map(|k| k.split('/').next().unwrap_or(k))
            .collect();
        let mut args = vec!["ls-tree", "-r", "-z", tip.as_str(), "--"];
        args.extend(tops);
        let listing = self
            .git(&args, None)
            .await
            .map_err(|e| self.fail("list", e))?;
        let mut ids = BTreeMap::new();
        for item in listing.split('\0').filter(|s| !s.is_empty()) {
            let (meta, name) = item.split_once('\t').unwrap_or((item, ""));
            let mut parts = meta.split(' ');
            if let (Some(_), Some("blob"), Some(id)) = (parts.next(), parts.next(), parts.next()) {
                ids.insert(name.to_owned(), id.to_owned());
            }
        }
        let wanted: Vec<&str> = keys
            .iter()
            .filter_map(|k| ids.get(k).map(String::as_str))
            .collect();
        let list = wanted
            .iter()
            .map(|id| format!("{id}\n"))
            .collect::<String>();
        // Which blobs this partial repository lacks, without fetching them
        // one by one as a plain read would.
        let check = self
            .git_bytes(
                &["cat-file", "--batch-check"],
                Some(list.as_bytes()),
                &[("GIT_NO_LAZY_FETCH", "1")],
            )
            .await
            .map_err(|e| self.fail("read", e))?;
        let missing: String = String::from_utf8_lossy(&check)
            .lines()
            .filter_map(|l| l.strip_suffix(" missing"))
            .map(|id| format!("{id}\n"))
            .collect();
        if !missing.is_empty() {
            self.fetch_objects(&missing, "blob:none").await?;
        }
        let out = self
            .git_bytes(&["cat-file", "--batch"], Some(list.as_bytes()), &[])
            .await
            .map_err(|e| self.fail("read", e))?;
        let blobs = parse_batch(&out).map_err(|e| self.fail("read", e))?;
        Ok(keys
            .iter()
            .map(|k| ids.get(k).and_then(|id| blobs.get(id.as_str()).cloned()))
            .collect())
    }

    /// Moves files in one commit: each `(from, to, content)` writes its
    /// content at `to` (when it has one) and removes `from`.
    pub async fn move_many(
        &self,
        moves: &[(String, String, Option<Vec<u8>>)],
    ) -> Result<(), StoreError> {
        if moves.is_empty() {
            return Ok(());
        }
        let mut changes: Vec<(&str, Option<&[u8]>)> = Vec::new();
        for (from, to, bytes) in moves {
            if let Some(b) = bytes {
                changes.push((to.as_str(), Some(b.as_slice())));
            }
            changes.push((from.as_str(), None));
        }
        self.commit(
            &format!("qod: quarantine {} damaged files", moves.len()),
            &changes,
            Cond::Any,
        )
        .await
        .map(|_| ())
    }

    /// Replaces the branch's history by one commit holding its current
    /// tree (after a prune), so that the branch stays small; pushed with a
    /// lease, so that a run recorded meanwhile is never dropped (the
    /// compaction is then skipped). Returns whether it compacted.
    ///
    /// A branch holding files qod did not write (`README.md`, code) is
    /// never rewritten: `Refused` names them, and its history stays.
    pub async fn compact(&self) -> Result<Compacted, StoreError> {
        let Some(tip) = self.fetch().await? else {
            return Ok(Compacted::No);
        };
        let top = self
            .git(&["ls-tree", "-z", "--name-only", &tip], None)
            .await
            .map_err(|e| self.fail("read", e))?;
        let foreign: Vec<String> = top
            .split('\0')
            .filter(|n| !n.is_empty() && !QOD_TOP_LEVEL.contains(n))
            .map(str::to_owned)
            .collect();
        if !foreign.is_empty() {
            return Ok(Compacted::Refused(foreign));
        }
        let tree = format!("{tip}^{{tree}}");
        let commit = self
            .git(
                &[
                    "commit-tree",
                    &tree,
                    "-m",
                    "qod: history compacted by `qod store prune`",
                ],
                None,
            )
            .await
            .map_err(|e| self.fail("write", e))?
            .trim()
            .to_owned();
        let done = self.push(&commit, Some(&tip)).await?;
        if done {
            *self.inner.tip.lock().await = Some(Some(commit));
        }
        Ok(if done { Compacted::Yes } else { Compacted::No })
    }
}

/// What a compaction did.
#[derive(Debug, Clone, PartialEq)]
pub enum Compacted {
    Yes,
    /// Nothing to compact, or a run was recorded meanwhile.
    No,
    /// The branch holds these files qod did not write: never rewritten.
    Refused(Vec<String>),
}

/// The top-level folders qod writes on its branch.
const QOD_TOP_LEVEL: [&str; 6] = [
    "runs",
    "index",
    "deployments",
    "groups",
    "suspended",
    "quarantine",
];

impl Blobs for GitBlobs {
    fn location(&self) -> String {
        self.inner.shown.clone()
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        let Some(tip) = self.tip().await? else {
            return Ok(None);
        };
        let Some(id) = self.id_at(&tip, key).await? else {
            return Ok(None);
        };
        let bytes = self
            .git(&["cat-file", "blob", &id], None)
            .await
            .map_err(|e| self.fail("read", e))?;
        Ok(Some(Blob {
            bytes: bytes.into_bytes(),
            etag: id,
        }))
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<Written, StoreError> {
        self.commit(
            &format!("qod: {key}"),
            &[(key, Some(&bytes))],
            match if_match {
                None => Cond::Absent,
                Some(tag) => Cond::Tagged(tag.to_owned()),
            },
        )
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let Some(tip) = self.tip().await? else {
            return Ok(Vec::new());
        };
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..=i],
            None => "",
        };
        // A folder that is not there costs the trees along its path only
        // (`ls-tree -r` would fetch every tree it walks past).
        if !dir.is_empty() && !self.has_tree(&tip, dir.trim_end_matches('/')).await? {
            return Ok(Vec::new());
        }
        let mut args = vec!["ls-tree", "-r", "-z", "--name-only", tip.as_str()];
        if !dir.is_empty() {
            args.extend(["--", dir]);
        }
        let out = self
            .git(&args, None)
            .await
            .map_err(|e| self.fail("list", e))?;
        let mut keys: Vec<String> = out
            .split('\0')
            .filter(|k| !k.is_empty() && k.starts_with(prefix))
            .map(str::to_owned)
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.commit(&format!("qod: remove {key}"), &[(key, None)], Cond::Any)
            .await
            .map(|_| ())
    }
}

/// `git cat-file --batch` output: each object's header line (`ID TYPE
/// SIZE`, or `ID missing`), its bytes and a newline; object id to bytes.
fn parse_batch(mut out: &[u8]) -> Result<BTreeMap<&str, Vec<u8>>, String> {
    let mut blobs = BTreeMap::new();
    while !out.is_empty() {
        let end = out
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("a `cat-file --batch` header has no end")?;
        let header = std::str::from_utf8(&out[..end]).map_err(|e| e.to_string())?;
        out = &out[end + 1..];
        let mut parts = header.split(' ');
        let id = parts.next().unwrap_or_default();
        let (Some(_kind), Some(size)) = (parts.next(), parts.next()) else {
            // `ID missing`: nothing follows.
            continue;
        };
        let size: usize = size
            .parse()
            .map_err(|_| format!("`cat-file --batch` gave a bad size in `{header}`"))?;
        let body = out
            .get(..size)
            .ok_or("`cat-file --batch` output was cut short")?;
        blobs.insert(id, body.to_vec());
        out = out.get(size + 1..).unwrap_or_default();
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn config(g: &GitBlobs) -> BTreeMap<String, String> {
        let e: BTreeMap<_, _> = g.inner.env.iter().cloned().collect();
        let n: usize = e["GIT_CONFIG_COUNT"].parse().unwrap();
        (0..n)
            .map(|i| {
                (
                    e[&format!("GIT_CONFIG_KEY_{i}")].clone(),
                    e[&format!("GIT_CONFIG_VALUE_{i}")].clone(),
                )
            })
            .collect()
    }

    #[test]
    fn a_github_token_becomes_an_extra_header_that_no_message_shows() {
        let g = GitBlobs::open(
            "git+https://github.com/acme/app.git#qod-history",
            Path::new("."),
            &env(&[("GITHUB_TOKEN", "ghs_secret123")]),
        )
        .unwrap();
        let c = config(&g);
        let header = &c["http.https://github.com/.extraheader"];
        // base64("x-access-token:ghs_secret123")
        assert_eq!(
            header,
            "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX3NlY3JldDEyMw=="
        );
        assert_eq!(
            g.location(),
            "git+https://github.com/acme/app.git#qod-history"
        );
        let e = g.fail(
            "push to",
            format!("fatal: header {header} refused for ghs_secret123"),
        );
        let shown = e.to_string();
        assert!(
            !shown.contains("ghs_secret123") && !shown.contains("eC1hY2Nl"),
            "{shown}"
        );
        // Another host gets no GitHub token.
        let g = GitBlobs::open(
            "git+https://git.example.com/app.git#h",
            Path::new("."),
            &env(&[("GITHUB_TOKEN", "ghs_secret123")]),
        )
        .unwrap();
        assert!(config(&g).is_empty());
    }

    #[test]
    fn a_gitlab_job_token_is_a_header_and_never_in_the_config_or_messages() {
        for (location, env_pairs) in [
            (
                "git+https://gitlab.example.com/group/app.git#qod-history",
                vec![("CI_JOB_TOKEN", "glcbt-secret456")],
            ),
            // As GitLab's runner leaves the checkout's `origin`.
            (
                "git+https://gitlab-ci-token:glcbt-secret456@gitlab.example.com/group/app.git#qod-history",
                vec![],
            ),
        ] {
            let g = GitBlobs::open(location, Path::new("."), &env(&env_pairs)).unwrap();
            assert_eq!(g.inner.url, "https://gitlab.example.com/group/app.git");
            // base64("gitlab-ci-token:glcbt-secret456")
            assert_eq!(
                config(&g)["http.https://gitlab.example.com/.extraheader"],
                "AUTHORIZATION: basic Z2l0bGFiLWNpLXRva2VuOmdsY2J0LXNlY3JldDQ1Ng=="
            );
            assert!(!g.location().contains("glcbt-secret456"), "{}", g.location());
            let e = g.fail(
                "fetch",
                "fatal: unable to access 'https://gitlab-ci-token:glcbt-secret456@gitlab.example.com/'".into(),
            );
            assert!(!e.to_string().contains("glcbt-secret456"), "{e}");
        }
    }

    #[test]
    fn a_token_as_the_urls_user_and_escaped_passwords_are_taken_out_decoded() {
        assert_eq!(
            split_userinfo("https://ghp_T0KEN@github.com/o/r.git"),
            (
                "https://github.com/o/r.git".to_owned(),
                Some(("ghp_T0KEN:".to_owned(), "ghp_T0KEN".to_owned()))
            )
        );
        assert_eq!(
            split_userinfo("https://me:p%40ss%3Aw0rd@host/r.git"),
            (
                "https://host/r.git".to_owned(),
                Some(("me:p@ss:w0rd".to_owned(), "p@ss:w0rd".to_owned()))
            )
        );
        assert_eq!(
            split_userinfo("ssh://git@host/r.git").1,
            None,
            "ssh keeps its user"
        );
        assert_eq!(percent_decoded("a%2"), "a%2");
    }

    #[test]
    fn locations_are_checked() {
        for bad in [
            "git:",
            "git:-x",
            "git:a..b",
            "git+https://host/repo.git",
            "git+#b",
        ] {
            let e = parse(bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(matches!(e, StoreError::BadLocation { .. }), "{bad}: {e}");
        }
        let p = parse("git+ssh://git@host/r.git#team/qod").unwrap();
        assert_eq!(
            (p.url.as_deref(), p.branch.as_str()),
            (Some("ssh://git@host/r.git"), "team/qod")
        );
    }
}
