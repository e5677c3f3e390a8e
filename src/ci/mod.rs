//! The CI environment: which provider runs qod, and what it says about the
//! pipeline and the source. Every variable may be missing or empty; what
//! the provider leaves out comes from git where git knows it. The mapping
//! is documented in docs/ci.md.

pub mod codepipeline;
mod detect;

pub use detect::{detect, git_info, merge_context, provider_of, ContextError, GitInfo};
