//! GitHub Actions: its variables, the event file of a pull request, the
//! job summary and workflow commands, and the group of a workflow run.

use super::*;

pub(super) fn context(env: &Env) -> (Pipeline, Source) {
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
            provider: Provider::GitHub.name().into(),
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

/// The workflow run every job of it shares.
pub(super) fn group(env: &Env) -> Option<String> {
    get(env, "GITHUB_RUN_ID").map(|id| format!("github-{id}"))
}
