//! Plugins as qod sees them before running them: finding a plugin by name
//! (discovery), reading and checking its manifest, and checking an
//! instance's config against the manifest's schema.

mod config;
mod discovery;
pub(crate) mod manifest;
mod probe;

pub use config::check_config;
pub use discovery::{Discovery, DiscoveryError, ResolvedPlugin};
