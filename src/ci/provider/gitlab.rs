//! GitLab CI/CD: its variables (merge request pipelines included) and the
//! group of a pipeline.

use super::*;

pub(super) fn context(env: &Env) -> (Pipeline, Source) {
    (
        Pipeline {
            provider: Provider::GitLab.name().into(),
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

/// The pipeline every job of it shares.
pub(super) fn group(env: &Env) -> Option<String> {
    get(env, "CI_PIPELINE_ID").map(|id| format!("gitlab-{id}"))
}
