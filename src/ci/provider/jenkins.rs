//! Jenkins: its variables (multibranch pipelines' `CHANGE_*` for pull
//! requests) and the group of a build.

use super::*;

pub(super) fn context(env: &Env) -> (Pipeline, Source) {
    (
        Pipeline {
            provider: Provider::Jenkins.name().into(),
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

/// The build's tag, which its stages share.
pub(super) fn group(env: &Env) -> Option<String> {
    owned(env, "BUILD_TAG")
}
