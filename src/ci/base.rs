//! What a change is compared with: a pull (merge) request build's base
//! branch, the merge-base where the change left it (from the CI, else from
//! git), and the commits before the merge-base, so that baselines can be
//! taken from the code the change started from.

use crate::protocol::Source;
use std::path::Path;

/// Commits before the merge-base whose runs may stand for it, at most.
pub const ANCESTORS: usize = 1000;

/// The base of a change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeBase {
    /// The branch the change targets.
    pub branch: String,
    /// The merge-base, when known.
    pub merge_base: Option<String>,
    /// The merge-base and the commits before it, newest first (empty when
    /// git cannot tell: no repository, a shallow clone).
    pub ancestors: Vec<String>,
    /// When the merge-base was committed (RFC 3339, UTC), when known.
    pub merge_base_time: Option<String>,
}

/// Whether `source` is a change to be compared with its base: a pull
/// (merge) request, or a build given a base branch other than its own.
pub fn is_change(source: &Source) -> bool {
    source.pull_request.is_some()
        || source
            .base_branch
            .as_deref()
            .is_some_and(|b| Some(b) != source.branch.as_deref())
}

/// Applies `--base REF` (a branch, or a remote-tracking `origin/<branch>`)
/// and fills the merge-base from git when the CI did not give it.
pub fn complete(cwd: &Path, source: &mut Source, base: Option<&str>, github_event: Option<&Path>) {
    if let Some(r) = base {
        source.base_branch = Some(r.strip_prefix("origin/").unwrap_or(r).to_owned());
    }
    if source.merge_base.is_some() || !is_change(source) {
        return;
    }
    let Some(branch) = source.base_branch.clone() else {
        return;
    };
    // GitHub's event names the request's head and base commits: their
    // merge-base is the change's, whatever was checked out (the merge
    // commit, by default).
    let from_event = github_event.and_then(|f| {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok()?;
        let head = v.pointer("/pull_request/head/sha")?.as_str()?.to_owned();
        let base = v.pointer("/pull_request/base/sha")?.as_str()?.to_owned();
        super::detect::git(cwd, &["merge-base", &head, &base])
    });
    let head = source.revision.as_deref().unwrap_or("HEAD");
    let mut candidates: Vec<String> = base.map(str::to_owned).into_iter().collect();
    candidates.extend([format!("origin/{branch}"), branch.clone()]);
    let find = || {
        candidates
            .iter()
            .find_map(|c| super::detect::git(cwd, &["merge-base", head, c]))
    };
    source.merge_base = from_event
        .or_else(find)
        .or_else(|| deepen_to_merge_base(cwd, head, &branch).and_then(|()| find()));
}

/// Whether the checkout is shallow (CI checkouts often are).
pub fn is_shallow(cwd: &Path) -> bool {
    super::detect::git(cwd, &["rev-parse", "--is-shallow-repository"]).as_deref() == Some("true")
}

/// Depths fetched in turn while looking for a shallow checkout's
/// merge-base: at most 3,150 commits of each side, in 6 fetches.
const DEEPEN: [u32; 6] = [50, 100, 200, 400, 800, 1600];

/// In a shallow checkout of a change, fetches the base branch and deepens
/// both histories from `origin` until they meet: `Some(())` once `head`
/// and `origin/<branch>` have a merge-base, `None` when the checkout is
/// not shallow or `origin` cannot give it (within [`DEEPEN`]).
fn deepen_to_merge_base(cwd: &Path, head: &str, branch: &str) -> Option<()> {
    if !is_shallow(cwd) {
        return None;
    }
    let sha = super::detect::git(
        cwd,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{head}^{{commit}}"),
        ],
    )?;
    let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
    let tracking = format!("origin/{branch}");
    let fetch = |how: String| {
        crate::git::run(
            cwd,
            &[
                "fetch",
                "--no-tags",
                "--quiet",
                &how,
                "origin",
                &sha,
                &refspec,
            ],
        )
        .is_ok()
    };
    // The base branch first (a shallow clone of one branch lacks it).
    if !fetch(format!("--depth={}", DEEPEN[0])) {
        return None;
    }
    for step in DEEPEN {
        if super::detect::git(cwd, &["merge-base", &sha, &tracking]).is_some() {
            return Some(());
        }
        if !is_shallow(cwd) || !fetch(format!("--deepen={step}")) {
            break;
        }
    }
    super::detect::git(cwd, &["merge-base", &sha, &tracking]).map(|_| ())
}

/// The base of `source` when it is a change: the branch, the merge-base,
/// its ancestors and its commit time (from git).
pub fn base_of(cwd: &Path, source: &Source) -> Option<ChangeBase> {
    if !is_change(source) {
        return None;
    }
    let branch = source.base_branch.clone()?;
    let Some(mb) = source.merge_base.clone() else {
        return Some(ChangeBase {
            branch,
            ..ChangeBase::default()
        });
    };
    let ancestors =
        super::detect::git(cwd, &["rev-list", &format!("--max-count={ANCESTORS}"), &mb])
            .map(|out| out.lines().map(str::to_owned).collect())
            .unwrap_or_else(|| vec![mb.clone()]);
    let merge_base_time = super::detect::git(cwd, &["show", "-s", "--format=%cI", &mb])
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| crate::time::rfc3339(t.with_timezone(&chrono::Utc)));
    Some(ChangeBase {
        branch,
        merge_base: Some(mb),
        ancestors,
        merge_base_time,
    })
}

/// The head commit of a request: GitHub's event names it (the checkout is
/// a merge commit by default); elsewhere the revision built.
pub fn request_head(source: &Source, github_event: Option<&Path>) -> Option<String> {
    github_event
        .and_then(|f| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok()?;
            Some(v.pointer("/pull_request/head/sha")?.as_str()?.to_owned())
        })
        .or_else(|| source.revision.clone())
}
