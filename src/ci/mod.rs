//! The CI environment: which provider runs qod, and what it says about the
//! pipeline and the source. Every variable may be missing or empty; what
//! the provider leaves out comes from git where git knows it. The mapping
//! is documented in docs/ci.md.

mod base;
pub mod codepipeline;
mod detect;
mod head;
pub mod lambda;
mod provider;

pub use base::{base_of, is_change, is_shallow, request_head, ChangeBase};
pub use detect::{detect, git_info, merge_context, ContextError, GitInfo};
pub use provider::Provider;

use std::collections::BTreeMap;

/// The pipeline and source: detected from the CI environment, with
/// `context` (a file, or `-` for stdin) merged over them, `base` (`--base`)
/// as the base branch, and the merge-base from git when the CI left it out.
pub fn context(
    env: &BTreeMap<String, String>,
    provider: Provider,
    cwd: &std::path::Path,
    context: Option<&str>,
    base: Option<&str>,
    git: impl FnOnce() -> GitInfo,
) -> Result<(crate::protocol::Pipeline, crate::protocol::Source), ContextError> {
    let (mut pipeline, mut source) = detect(env, provider, cwd, git);
    if let Some(file) = context {
        let text = if file == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
        } else {
            std::fs::read_to_string(cwd.join(file))
        }
        .map_err(|source| ContextError::Read {
            file: file.to_owned(),
            source,
        })?;
        merge_context(file, &text, &mut pipeline, &mut source)?;
    }
    let event = provider.event_file(env);
    base::complete(cwd, &mut source, base, event);
    Ok((pipeline, source))
}
