//! The `--manifest` probe of a `qod-plugin-NAME` executable on `PATH`: run
//! like a plugin (the minimal environment, its own process group, a
//! timeout), its stdout read as the manifest.

use super::discovery::{DiscoveryError, Origin, ResolvedPlugin};
use super::manifest::parse_manifest;
use crate::diag::Diagnostic;
use crate::supervise::Cmd;
use std::path::Path;
use std::time::Duration;

/// How long a probe may take to print its manifest.
const MANIFEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Asks `exe --manifest` for its manifest; its own path replaces `command[0]`.
pub(super) fn from_executable(name: &str, exe: &Path) -> Result<ResolvedPlugin, DiscoveryError> {
    let fail = |msg: String| {
        DiscoveryError::Manifest {
        name: name.to_owned(),
        diagnostics: vec![Diagnostic::new(crate::diag::FileKind::Manifest, exe, msg)
            .hint("a `qod-plugin-NAME` executable must print its plugin.json when run with `--manifest`")],
    }
    };
    // The probe is a plugin too: the same minimal environment (no
    // credentials), its own process group, killed whole on a timeout.
    let parent: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let out = Cmd::new(exe)
        .arg("--manifest")
        .env_clear()
        .envs(crate::secrets::plugin_env(&parent, &[]))
        .output(None, Some(MANIFEST_TIMEOUT))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => fail(format!(
                "`--manifest` did not answer within {}s",
                MANIFEST_TIMEOUT.as_secs()
            )),
            _ => fail(format!("cannot run `--manifest`: {e}")),
        })?;
    if !out.status.success() {
        return Err(fail(format!("`--manifest` exited with {}", out.status)));
    }
    let out = &out.stdout[..out.stdout.len().min(1 << 20)];
    let text = String::from_utf8_lossy(out);
    let mut manifest =
        parse_manifest(exe, &text).map_err(|diagnostics| DiscoveryError::Manifest {
            name: name.to_owned(),
            diagnostics,
        })?;
    let mut argv = manifest.command.clone();
    argv[0] = exe.to_string_lossy().into_owned();
    manifest.command = argv.clone();
    Ok(ResolvedPlugin {
        manifest,
        source: exe.to_owned(),
        origin: Origin::Executable,
        argv,
    })
}
