//! The `--manifest` probe of a `qod-plugin-NAME` executable on `PATH`: run
//! like a plugin (the minimal environment, its own process group, a
//! timeout), its stdout read as the manifest.

use super::discovery::{DiscoveryError, Origin, ResolvedPlugin};
use super::manifest::parse_manifest;
use crate::diag::Diagnostic;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let mut child = Command::new(exe)
        .arg("--manifest")
        .env_clear()
        .envs(crate::secrets::plugin_env(&parent, &[]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("cannot run `--manifest`: {e}")))?;
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.by_ref().take(1 << 20).read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() < MANIFEST_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            _ => {
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(fail(format!(
                    "`--manifest` did not answer within {}s",
                    MANIFEST_TIMEOUT.as_secs()
                )));
            }
        }
    };
    // Nothing the probe started outlives it.
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(fail(format!("`--manifest` exited with {status}")));
    }
    let text = String::from_utf8_lossy(&out);
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
