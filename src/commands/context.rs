//! `qod context`: the pipeline and source a run would see.

use super::{CommandError, Env};
use crate::protocol::{Pipeline, Source};
use std::path::Path;

/// The pipeline and source detected from the CI environment, with
/// `context` (a file, or `-` for stdin) merged over them.
pub fn context(
    env: &Env,
    cwd: &Path,
    context: Option<&str>,
    base: Option<&str>,
) -> Result<(Pipeline, Source), CommandError> {
    Ok(crate::ci::context(env, cwd, context, base, || {
        crate::ci::git_info(cwd)
    })?)
}
