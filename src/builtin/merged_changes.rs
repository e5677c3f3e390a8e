//! `merged-changes`: what has been merged since the last deployment, from
//! git alone, so it works with any host. The prototype's release gate
//! (release once at least three pull requests are merged) is `merged`.

use super::{Failure, Measured};
use crate::git::run as git;
use crate::protocol::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    since: Option<String>,
    #[serde(default = "dot")]
    repository: String,
    #[serde(default = "default_squash")]
    squash_pattern: String,
    #[serde(default = "yes")]
    first_parent: bool,
}

fn dot() -> String {
    ".".into()
}
fn default_squash() -> String {
    r"\(#[0-9]+\)$".into()
}
fn yes() -> bool {
    true
}

pub fn run(ctx: &Context) -> Result<Measured, Failure> {
    let config: Config = super::config(ctx)?;
    let squash = regex::Regex::new(&config.squash_pattern).map_err(|e| {
        Failure::config(format!(
            "`with.squash_pattern` is not a regular expression: {e}"
        ))
    })?;
    let repo = super::workspace(ctx).join(&config.repository);
    // Without a repository nothing else matters: say that first.
    git(&repo, &["rev-parse", "--git-dir"]).map_err(|e| {
        Failure::new(
            "not-a-repository",
            format!("`{}` is not a git repository ({e}); set `with.repository` to the checkout's folder", repo.display()),
        )
    })?;
    let deployment = ctx.history.last_deployment.as_ref();
    let (since, from) = match (&config.since, deployment.and_then(|d| d.revision.as_ref())) {
        (Some(s), _) => (s.clone(), "`with.since`".to_owned()),
        (None, Some(r)) => (r.clone(), "the last deployment".to_owned()),
        (None, None) => {
            return Err(Failure::new(
                "no-reference",
                match deployment {
                    Some(_) => "the last deployment was recorded without a revision, so there is nothing to count from; record deployments with `qod deployed --revision <commit>`, or set `with.since`".to_owned(),
                    None => "no deployment is recorded yet, so there is nothing to count from; after a deploy run `qod deployed` (it records the deployed revision in the store), or set `with.since` to a commit or tag".to_owned(),
                },
            ))
        }
    };
    let head = ctx
        .source
        .revision
        .clone()
        .filter(|r| git(&repo, &["cat-file", "-e", &format!("{r}^{{commit}}")]).is_ok())
        .unwrap_or_else(|| "HEAD".to_owned());
    let since_commit = git(&repo, &["rev-parse", "--verify", "--quiet", &format!("{since}^{{commit}}")])
        .map_err(|_| {
            let shallow = git(&repo, &["rev-parse", "--is-shallow-repository"])
                .map(|s| s.trim() == "true")
                .unwrap_or(false);
            Failure::new(
                "unknown-revision",
                format!(
                    "revision `{since}` (from {from}) is not in the repository at `{}`{}",
                    repo.display(),
                    if shallow {
                        "; the clone is shallow: fetch full history (`git fetch --unshallow`, or `git-clone-depth: 0` in CodeBuild, `fetch-depth: 0` in GitHub Actions)"
                    } else {
                        "; check that it was pushed and fetched"
                    }
                ),
            )
        })?
        .trim()
        .to_owned();
    let range = format!("{since_commit}..{head}");
    let commits: u64 = git(&repo, &["rev-list", "--count", &range])
        .map_err(|e| Failure::new("git-failed", e))?
        .trim()
        .parse()
        .map_err(|e| {
            Failure::new(
                "git-failed",
                format!("`git rev-list --count` printed no number: {e}"),
            )
        })?;
    let mut args = vec!["log", "--format=%P%x00%s"];
    if config.first_parent {
        args.push("--first-parent");
    }
    args.push(&range);
    let log = git(&repo, &args).map_err(|e| Failure::new("git-failed", e))?;
    let (mut merges, mut squashes) = (0u64, 0u64);
    for line in log.lines() {
        let (parents, subject) = line.split_once('\0').unwrap_or((line, ""));
        if parents.split_whitespace().count() > 1 {
            merges += 1;
        } else if squash.is_match(subject.trim_end()) {
            squashes += 1;
        }
    }
    let since_time = match deployment.filter(|_| config.since.is_none()) {
        Some(d) => DateTime::parse_from_rfc3339(&d.at)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        None => git(&repo, &["show", "-s", "--format=%ct", &since_commit])
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .and_then(|s| DateTime::from_timestamp(s, 0)),
    };
    let mut m = Measured::default();
    m.push("merged", (merges + squashes) as f64, None);
    m.push("commits", commits as f64, None);
    let mut days_text = String::new();
    if let Some(t) = since_time {
        let days = ((Utc::now() - t).num_seconds() as f64 / 86_400.0).max(0.0);
        m.push(
            "days_since_deployment",
            (days * 100.0).round() / 100.0,
            Some("d"),
        );
        days_text = format!(", {days:.1} days ago");
    }
    m.summary = format!(
        "{} merged ({merges} merge commit{}, {squashes} squash merge{}) and {commits} commit{} since {} ({from}{days_text})",
        merges + squashes,
        if merges == 1 { "" } else { "s" },
        if squashes == 1 { "" } else { "s" },
        if commits == 1 { "" } else { "s" },
        &since_commit[..since_commit.len().min(12)],
    );
    Ok(m)
}
