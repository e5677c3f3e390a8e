//! `qod context` and `qod validate`: what a run would see, without running.

use super::{CommandError, Env};
use crate::plan::Plan;
use crate::protocol::{Pipeline, Source};
use std::path::Path;

/// The pipeline and source detected from the CI environment, with
/// `context` (a file, or `-` for stdin) merged over them.
pub fn context(
    env: &Env,
    cwd: &Path,
    context: Option<&str>,
) -> Result<(Pipeline, Source), CommandError> {
    Ok(crate::ci::context(env, cwd, context, || {
        crate::ci::git_info(cwd)
    })?)
}

/// The policy, manifests and configs, checked.
pub fn validate(policy: Option<&Path>, cwd: &Path) -> Result<Plan, CommandError> {
    Ok(crate::plan::load(policy, cwd)?)
}
