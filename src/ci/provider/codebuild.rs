//! AWS CodeBuild: its variables (started by CodePipeline, by a webhook
//! for a pull request, or by hand), and the group of a batch build.

use super::*;

pub(super) fn context(env: &Env) -> (Pipeline, Source) {
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
            provider: Provider::CodeBuild.name().into(),
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

/// The commit a batch builds: every build of the batch shares it.
pub(super) fn group(env: &Env) -> Option<String> {
    owned(env, "CODEBUILD_RESOLVED_SOURCE_VERSION").map(|sha| format!("codebuild-{sha}"))
}
