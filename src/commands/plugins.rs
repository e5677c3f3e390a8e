//! `qod plugins list` and `qod plugins describe`: what discovery finds.

use super::CommandError;
use crate::plugin::{Discovery, DiscoveryError, ResolvedPlugin};
use std::path::Path;

/// Every plugin discovery finds, first match per name.
pub fn list(
    cwd: &Path,
    policy: Option<&Path>,
) -> Vec<(String, Result<ResolvedPlugin, DiscoveryError>)> {
    Discovery::standard(&policy_dir(cwd, policy), cwd).list()
}

/// The folder a policy's project plugins are found beside.
fn policy_dir(cwd: &Path, policy: Option<&Path>) -> std::path::PathBuf {
    policy
        .map(|p| cwd.join(p))
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| cwd.to_path_buf())
}

/// The plugin `name`, with its manifest.
pub fn describe(
    cwd: &Path,
    policy: Option<&Path>,
    name: &str,
) -> Result<ResolvedPlugin, CommandError> {
    Ok(Discovery::standard(&policy_dir(cwd, policy), cwd).find(name, None, cwd)?)
}
