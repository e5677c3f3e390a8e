//! `qod plugins list` and `qod plugins describe`: what discovery finds.

use super::CommandError;
use crate::plugin::{Discovery, DiscoveryError, ResolvedPlugin};
use std::path::Path;

/// Every plugin discovery finds, first match per name.
pub fn list(cwd: &Path) -> Vec<(String, Result<ResolvedPlugin, DiscoveryError>)> {
    Discovery::standard(cwd, cwd).list()
}

/// The plugin `name`, with its manifest.
pub fn describe(cwd: &Path, name: &str) -> Result<ResolvedPlugin, CommandError> {
    Ok(Discovery::standard(cwd, cwd).find(name, None, cwd)?)
}
