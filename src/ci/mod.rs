//! The CI environment: which provider runs qod, and what it says about the
//! pipeline and the source. Every variable may be missing or empty; what the
//! provider does not say comes from git where git knows it.

use crate::protocol::{Pipeline, Source};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

type Env = BTreeMap<String, String>;

fn get<'a>(env: &'a Env, name: &str) -> Option<&'a str> {
    env.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn owned(env: &Env, name: &str) -> Option<String> {
    get(env, name).map(str::to_owned)
}

fn first(env: &Env, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| owned(env, n))
}

/// What git says about the checkout: revision and branch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GitInfo {
    pub revision: Option<String>,
    pub branch: Option<String>,
}

/// Asks git for the revision and branch of `cwd`, in one call. Detached
/// checkouts (CI) have no branch.
pub fn git_info(cwd: &Path) -> GitInfo {
    let Some(out) = git(cwd, &["rev-parse", "HEAD", "--abbrev-ref", "HEAD"]) else {
        return GitInfo::default();
    };
    let mut lines = out.lines().map(str::trim);
    GitInfo {
        revision: lines.next().map(str::to_owned),
        branch: lines.next().filter(|b| *b != "HEAD").map(str::to_owned),
    }
}

/// Detects the provider and fills what it tells; `git` (called only when
/// the provider leaves something out) fills the rest of `source`.
pub fn detect(env: &Env, cwd: &Path, git: impl FnOnce() -> GitInfo) -> (Pipeline, Source) {
    let (mut pipeline, mut source) = if get(env, "CODEBUILD_BUILD_ID").is_some() {
        codebuild(env)
    } else if get(env, "GITHUB_ACTIONS") == Some("true") {
        github(env)
    } else if get(env, "GITLAB_CI").is_some() {
        gitlab(env)
    } else if get(env, "JENKINS_URL").is_some() {
        jenkins(env)
    } else {
        (
            Pipeline {
                provider: "local".into(),
                ..Pipeline::default()
            },
            Source::default(),
        )
    };
    if source.revision.is_none() || source.branch.is_none() {
        let g = git();
        source.revision = source.revision.or(g.revision);
        source.branch = source.branch.or(g.branch);
    }
    if pipeline.name.is_none() && pipeline.provider == "local" {
        pipeline.name = cwd.file_name().map(|n| n.to_string_lossy().into_owned());
    }
    (pipeline, source)
}

fn codebuild(env: &Env) -> (Pipeline, Source) {
    let build_id = owned(env, "CODEBUILD_BUILD_ID");
    let started_at = get(env, "CODEBUILD_START_TIME")
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(crate::time::rfc3339);
    let branch = get(env, "CODEBUILD_WEBHOOK_HEAD_REF")
        .map(|r| r.strip_prefix("refs/heads/").unwrap_or(r).to_owned());
    (
        Pipeline {
            provider: "codebuild".into(),
            name: build_id
                .as_deref()
                .and_then(|b| b.split(':').next())
                .map(str::to_owned),
            execution_id: None,
            build_number: get(env, "CODEBUILD_BUILD_NUMBER").and_then(|n| n.parse().ok()),
            build_id,
            started_at,
        },
        Source {
            repository: owned(env, "CODEBUILD_SOURCE_REPO_URL"),
            revision: owned(env, "CODEBUILD_RESOLVED_SOURCE_VERSION"),
            branch,
        },
    )
}

fn github(env: &Env) -> (Pipeline, Source) {
    (
        Pipeline {
            provider: "github".into(),
            name: owned(env, "GITHUB_WORKFLOW"),
            execution_id: owned(env, "GITHUB_RUN_ID"),
            build_id: owned(env, "GITHUB_RUN_ID"),
            build_number: get(env, "GITHUB_RUN_NUMBER").and_then(|n| n.parse().ok()),
            started_at: None,
        },
        Source {
            repository: owned(env, "GITHUB_REPOSITORY"),
            revision: owned(env, "GITHUB_SHA"),
            branch: first(env, &["GITHUB_HEAD_REF", "GITHUB_REF_NAME"]),
        },
    )
}

fn gitlab(env: &Env) -> (Pipeline, Source) {
    (
        Pipeline {
            provider: "gitlab".into(),
            name: owned(env, "CI_PROJECT_PATH"),
            execution_id: owned(env, "CI_PIPELINE_ID"),
            build_id: owned(env, "CI_JOB_ID"),
            build_number: get(env, "CI_PIPELINE_IID").and_then(|n| n.parse().ok()),
            started_at: owned(env, "CI_JOB_STARTED_AT"),
        },
        Source {
            repository: owned(env, "CI_PROJECT_URL"),
            revision: owned(env, "CI_COMMIT_SHA"),
            branch: first(
                env,
                &["CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_REF_NAME"],
            ),
        },
    )
}

fn jenkins(env: &Env) -> (Pipeline, Source) {
    (
        Pipeline {
            provider: "jenkins".into(),
            name: owned(env, "JOB_NAME"),
            execution_id: owned(env, "BUILD_TAG"),
            build_id: owned(env, "BUILD_ID"),
            build_number: get(env, "BUILD_NUMBER").and_then(|n| n.parse().ok()),
            started_at: None,
        },
        Source {
            repository: owned(env, "GIT_URL"),
            revision: owned(env, "GIT_COMMIT"),
            branch: first(env, &["CHANGE_BRANCH", "BRANCH_NAME", "GIT_BRANCH"])
                .map(|b| b.strip_prefix("origin/").map(str::to_owned).unwrap_or(b)),
        },
    )
}

fn git(cwd: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codebuild_variables() {
        let env: Env = [
            ("CODEBUILD_BUILD_ID", "app:1b2c"),
            ("CODEBUILD_BUILD_NUMBER", "42"),
            ("CODEBUILD_RESOLVED_SOURCE_VERSION", "9f1c"),
            ("CODEBUILD_START_TIME", "1700000000123"),
            ("CODEBUILD_WEBHOOK_HEAD_REF", "refs/heads/main"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (p, s) = codebuild(&env);
        assert_eq!(p.name.as_deref(), Some("app"));
        assert_eq!(p.build_number, Some(42));
        assert_eq!(p.started_at.as_deref(), Some("2023-11-14T22:13:20.123Z"));
        assert_eq!(s.branch.as_deref(), Some("main"));
        assert_eq!(s.revision.as_deref(), Some("9f1c"));
    }
}
