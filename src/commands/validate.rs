//! `qod validate`: everything `qod run` checks, without running anything.

use super::CommandError;
use crate::plan::Plan;
use std::path::Path;

/// The policy, manifests and configs, checked.
pub fn validate(policy: Option<&Path>, cwd: &Path) -> Result<Plan, CommandError> {
    Ok(crate::plan::load(policy, cwd)?)
}
