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
    let provider = crate::ci::Provider::detect(env);
    Ok(crate::ci::context(
        env,
        provider,
        cwd,
        context,
        base,
        || crate::ci::git_info(cwd),
    )?)
}
