//! Reading each provider's variables into the protocol's `pipeline` and
//! `source`.

use crate::protocol::{Pipeline, Source};
use std::collections::BTreeMap;
use std::path::Path;

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

fn number(env: &Env, name: &str) -> Option<u64> {
    get(env, name).and_then(|n| n.parse().ok())
}

fn strip_ref(r: &str) -> String {
    r.strip_prefix("refs/heads/").unwrap_or(r).to_owned()
}

/// `pr/12` (CodeBuild) as 12.
fn pr_number(s: &str) -> Option<u64> {
    s.strip_prefix("pr/").and_then(|n| n.parse().ok())
}

fn looks_like_commit(s: &str) -> bool {
    s.len() >= 7 && s.len() <= 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The provider whose variables are set: `codebuild`, `github`, `gitlab`,
/// `jenkins`, or `local`.
pub fn provider_of(env: &Env) -> &'static str {
    if get(env, "CODEBUILD_BUILD_ID").is_some() {
        "codebuild"
    } else if get(env, "GITHUB_ACTIONS") == Some("true") {
        "github"
    } else if get(env, "GITLAB_CI").is_some() {
        "gitlab"
    } else if get(env, "JENKINS_URL").is_some() || get(env, "JENKINS_HOME").is_some() {
        "jenkins"
    } else {
        "local"
    }
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
    let (mut pipeline, mut source) = match provider_of(env) {
        "codebuild" => codebuild(env),
        "github" => github(env),
        "gitlab" => gitlab(env),
        "jenkins" => jenkins(env),
        _ => (
            Pipeline {
                provider: "local".into(),
                ..Pipeline::default()
            },
            Source::default(),
        ),
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
    let initiator = owned(env, "CODEBUILD_INITIATOR");
    // Started by CodePipeline, the pipeline's name is the better name.
    let name = initiator
        .as_deref()
        .and_then(|i| i.strip_prefix("codepipeline/"))
        .map(str::to_owned)
        .or_else(|| {
            build_id
                .as_deref()
                .and_then(|b| b.split(':').next())
                .map(str::to_owned)
        });
    let started_at = get(env, "CODEBUILD_START_TIME")
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(crate::time::rfc3339);
    let source_version = get(env, "CODEBUILD_SOURCE_VERSION");
    let branch = get(env, "CODEBUILD_WEBHOOK_HEAD_REF")
        .map(strip_ref)
        .or_else(|| {
            source_version
                .filter(|v| {
                    pr_number(v).is_none() && !looks_like_commit(v) && !v.starts_with("arn:")
                })
                .map(strip_ref)
        });
    let revision = owned(env, "CODEBUILD_RESOLVED_SOURCE_VERSION").or_else(|| {
        source_version
            .filter(|v| looks_like_commit(v))
            .map(str::to_owned)
    });
    (
        Pipeline {
            provider: "codebuild".into(),
            name,
            execution_id: None,
            build_number: number(env, "CODEBUILD_BUILD_NUMBER"),
            build_id,
            started_at,
            job: owned(env, "CODEBUILD_BATCH_BUILD_IDENTIFIER"),
            initiator,
            url: owned(env, "CODEBUILD_PUBLIC_BUILD_URL"),
        },
        Source {
            repository: owned(env, "CODEBUILD_SOURCE_REPO_URL"),
            revision,
            branch,
            base_branch: get(env, "CODEBUILD_WEBHOOK_BASE_REF").map(strip_ref),
            pull_request: source_version
                .and_then(pr_number)
                .or_else(|| get(env, "CODEBUILD_WEBHOOK_TRIGGER").and_then(pr_number)),
            merge_base: None,
            event: owned(env, "CODEBUILD_WEBHOOK_EVENT"),
        },
    )
}

fn github(env: &Env) -> (Pipeline, Source) {
    let server = get(env, "GITHUB_SERVER_URL").unwrap_or("https://github.com");
    let repo = get(env, "GITHUB_REPOSITORY");
    let run_id = owned(env, "GITHUB_RUN_ID");
    // refs/pull/12/merge
    let pull_request = get(env, "GITHUB_REF")
        .and_then(|r| r.strip_prefix("refs/pull/"))
        .and_then(|r| r.split('/').next())
        .and_then(|n| n.parse().ok());
    (
        Pipeline {
            provider: "github".into(),
            name: owned(env, "GITHUB_WORKFLOW"),
            execution_id: run_id.clone(),
            build_id: run_id
                .as_ref()
                .map(|id| match get(env, "GITHUB_RUN_ATTEMPT") {
                    Some(attempt) => format!("{id}/{attempt}"),
                    None => id.clone(),
                }),
            build_number: number(env, "GITHUB_RUN_NUMBER"),
            started_at: None,
            job: owned(env, "GITHUB_JOB"),
            initiator: owned(env, "GITHUB_ACTOR"),
            url: match (repo, &run_id) {
                (Some(r), Some(id)) => Some(format!("{server}/{r}/actions/runs/{id}")),
                _ => None,
            },
        },
        Source {
            repository: repo.map(|r| format!("{server}/{r}")),
            revision: owned(env, "GITHUB_SHA"),
            // On a pull request the head branch; on a push the branch pushed
            // to (a tag is no branch).
            branch: owned(env, "GITHUB_HEAD_REF").or_else(|| {
                get(env, "GITHUB_REF")
                    .and_then(|r| r.strip_prefix("refs/heads/"))
                    .map(str::to_owned)
            }),
            base_branch: owned(env, "GITHUB_BASE_REF"),
            pull_request,
            merge_base: None,
            event: owned(env, "GITHUB_EVENT_NAME"),
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
            build_number: number(env, "CI_PIPELINE_IID"),
            started_at: owned(env, "CI_JOB_STARTED_AT"),
            job: owned(env, "CI_JOB_NAME"),
            initiator: owned(env, "GITLAB_USER_LOGIN"),
            url: owned(env, "CI_JOB_URL"),
        },
        Source {
            repository: owned(env, "CI_PROJECT_URL"),
            revision: owned(env, "CI_COMMIT_SHA"),
            branch: first(
                env,
                &[
                    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
                    "CI_COMMIT_BRANCH",
                    "CI_COMMIT_REF_NAME",
                ],
            ),
            base_branch: owned(env, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            pull_request: number(env, "CI_MERGE_REQUEST_IID"),
            merge_base: owned(env, "CI_MERGE_REQUEST_DIFF_BASE_SHA"),
            event: owned(env, "CI_PIPELINE_SOURCE"),
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
            build_number: number(env, "BUILD_NUMBER"),
            started_at: None,
            job: owned(env, "STAGE_NAME"),
            initiator: None,
            url: owned(env, "BUILD_URL"),
        },
        Source {
            repository: first(env, &["GIT_URL", "CHANGE_URL"]),
            revision: owned(env, "GIT_COMMIT"),
            branch: first(env, &["CHANGE_BRANCH", "BRANCH_NAME", "GIT_BRANCH"])
                .map(|b| b.strip_prefix("origin/").map(str::to_owned).unwrap_or(b)),
            base_branch: owned(env, "CHANGE_TARGET"),
            pull_request: number(env, "CHANGE_ID"),
            merge_base: None,
            event: None,
        },
    )
}

pub(super) fn git(cwd: &Path, args: &[&str]) -> Option<String> {
    crate::git::run(cwd, args)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Why a `--context` document cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    #[error("cannot read the context `{file}`")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid context `{file}`: {message}")]
    Invalid { file: String, message: String },
}

/// Merges a JSON document `{"pipeline": {…}, "source": {…}}` over what was
/// detected: fields it gives replace detected ones, `null` removes one.
pub fn merge_context(
    file: &str,
    text: &str,
    pipeline: &mut Pipeline,
    source: &mut Source,
) -> Result<(), ContextError> {
    let invalid = |message: String| ContextError::Invalid {
        file: file.to_owned(),
        message,
    };
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid("expected a JSON object with `pipeline` and/or `source`".into()))?;
    if let Some(k) = obj.keys().find(|k| *k != "pipeline" && *k != "source") {
        return Err(invalid(format!(
            "unknown field `{k}`; a context gives `pipeline` and/or `source`"
        )));
    }
    fn merge(base: &mut serde_json::Value, patch: &serde_json::Value) {
        if let (Some(b), Some(p)) = (base.as_object_mut(), patch.as_object()) {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let Some(p) = obj.get("pipeline") {
        let mut v = serde_json::to_value(&*pipeline).expect("serializes");
        merge(&mut v, p);
        *pipeline = serde_json::from_value(v).map_err(|e| invalid(format!("/pipeline: {e}")))?;
    }
    if let Some(s) = obj.get("source") {
        let mut v = serde_json::to_value(&*source).expect("serializes");
        merge(&mut v, s);
        *source = serde_json::from_value(v).map_err(|e| invalid(format!("/source: {e}")))?;
    }
    Ok(())
}
