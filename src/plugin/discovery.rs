//! Finding a plugin by name. First match wins: an explicit `path:` in the
//! policy; `./plugins/<name>/` (next to the policy, then in the working
//! directory); each folder of `QOD_PLUGIN_PATH`; the first-party plugins;
//! `qod-plugin-<name>` on `PATH`, asked for its manifest with `--manifest`.

use super::manifest::{load_manifest, parse_manifest};
use super::probe::from_executable;
use crate::diag::Diagnostic;
use crate::protocol::Manifest;
use std::path::{Path, PathBuf};

/// Where a plugin was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The policy's `path:`.
    Explicit,
    /// `plugins/<name>/` of the project.
    Project,
    /// A folder of `QOD_PLUGIN_PATH`.
    PluginPath,
    /// Shipped with qod.
    FirstParty,
    /// `qod-plugin-<name>` on `PATH`.
    Executable,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Explicit => "policy path",
            Origin::Project => "project",
            Origin::PluginPath => "QOD_PLUGIN_PATH",
            Origin::FirstParty => "first-party",
            Origin::Executable => "PATH",
        }
    }
}

/// A plugin with its manifest and the argv that starts it.
#[derive(Debug, Clone)]
pub struct ResolvedPlugin {
    pub manifest: Manifest,
    /// The manifest file, or the executable that printed the manifest.
    pub source: PathBuf,
    pub origin: Origin,
    /// Program and arguments, with relative paths resolved.
    pub argv: Vec<String>,
}

/// Why a plugin could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    #[error("plugin `{name}` not found (looked in {})", looked.join(", "))]
    NotFound { name: String, looked: Vec<String> },
    #[error("plugin `{name}` has an invalid manifest")]
    Manifest {
        name: String,
        diagnostics: Vec<Diagnostic>,
    },
    #[error("plugin `{name}` at `{}` is named `{found}` in its manifest", path.display())]
    NameMismatch {
        name: String,
        found: String,
        path: PathBuf,
    },
}

/// The places plugins are looked for.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub project_dirs: Vec<PathBuf>,
    pub plugin_path: Vec<PathBuf>,
    pub first_party: Vec<PathBuf>,
    pub path_dirs: Vec<PathBuf>,
}

const MANIFEST: &str = "plugin.json";

impl Discovery {
    /// The standard places, given the policy's folder and the working directory.
    pub fn standard(policy_dir: &Path, cwd: &Path) -> Self {
        let mut project_dirs = vec![policy_dir.join("plugins")];
        let cwd_plugins = cwd.join("plugins");
        if !project_dirs.iter().any(|p| same_dir(p, &cwd_plugins)) {
            project_dirs.push(cwd_plugins);
        }
        let mut first_party = first_party_dirs();
        // In qod's own source tree the project's plugins are the first-party ones.
        first_party.retain(|f| !project_dirs.iter().any(|p| same_dir(p, f)));
        let split = |var: &str| -> Vec<PathBuf> {
            std::env::var_os(var)
                .map(|v| {
                    std::env::split_paths(&v)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        Discovery {
            project_dirs,
            plugin_path: split("QOD_PLUGIN_PATH"),
            first_party,
            path_dirs: split("PATH"),
        }
    }

    /// Finds plugin `name`, or loads it from `explicit` (relative to `base`).
    pub fn find(
        &self,
        name: &str,
        explicit: Option<&Path>,
        base: &Path,
    ) -> Result<ResolvedPlugin, DiscoveryError> {
        let mut looked = Vec::new();
        if let Some(p) = explicit {
            let p = p.strip_prefix("./").unwrap_or(p);
            let p = if base == Path::new(".") || base.as_os_str().is_empty() {
                p.to_owned()
            } else {
                base.join(p)
            };
            let file = if p.is_dir() { p.join(MANIFEST) } else { p };
            if file.is_file() {
                return from_manifest_file(name, &file, Origin::Explicit, true);
            }
            return Err(DiscoveryError::NotFound {
                name: name.to_owned(),
                looked: vec![format!("`{}`", file.display())],
            });
        }
        for (dirs, origin) in [
            (&self.project_dirs, Origin::Project),
            (&self.plugin_path, Origin::PluginPath),
            (&self.first_party, Origin::FirstParty),
        ] {
            for dir in dirs {
                let file = dir.join(name).join(MANIFEST);
                if file.is_file() {
                    return from_manifest_file(name, &file, origin, false);
                }
                looked.push(format!("`{}`", dir.display()));
            }
        }
        if let Some(found) = built_in(name) {
            return found;
        }
        looked.push("the plugins built into qod".to_owned());
        let exe_name = format!("qod-plugin-{name}");
        for dir in &self.path_dirs {
            let exe = dir.join(&exe_name);
            if is_executable(&exe) {
                return from_executable(name, &exe);
            }
        }
        looked.push(format!("`{exe_name}` on PATH"));
        Err(DiscoveryError::NotFound {
            name: name.to_owned(),
            looked,
        })
    }

    /// Every plugin discovery can see, first match per name, in search order.
    pub fn list(&self) -> Vec<(String, Result<ResolvedPlugin, DiscoveryError>)> {
        self.names()
            .into_iter()
            .map(|n| {
                let r = self.find(&n, None, Path::new("."));
                (n, r)
            })
            .collect()
    }

    /// The names of every plugin discovery can see, in search order,
    /// without reading their manifests.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut push = |n: String| {
            if !names.contains(&n) {
                names.push(n);
            }
        };
        for dir in self
            .project_dirs
            .iter()
            .chain(&self.plugin_path)
            .chain(&self.first_party)
        {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut found: Vec<String> = entries
                .flatten()
                .filter(|e| e.path().join(MANIFEST).is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            found.sort();
            found.into_iter().for_each(&mut push);
        }
        crate::builtin::names()
            .map(str::to_owned)
            .for_each(&mut push);
        for dir in &self.path_dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut found: Vec<String> = entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_prefix("qod-plugin-").map(str::to_owned))
                .collect();
            found.sort();
            found.into_iter().for_each(&mut push);
        }
        names
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Plugins shipped with qod: `<prefix>/share/qod/plugins` beside an
/// installed binary, then the source tree qod was built from.
fn first_party_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        let installed = dir.join("../share/qod/plugins");
        if installed.is_dir() {
            dirs.push(installed);
        }
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins");
    if built_from.is_dir() {
        dirs.push(built_from);
    }
    dirs
}

fn from_manifest_file(
    name: &str,
    file: &Path,
    origin: Origin,
    explicit: bool,
) -> Result<ResolvedPlugin, DiscoveryError> {
    let manifest = load_manifest(file).map_err(|diagnostics| DiscoveryError::Manifest {
        name: name.to_owned(),
        diagnostics,
    })?;
    // With an explicit path the instance may call the plugin anything; when
    // found by name, the folder and the manifest must agree.
    if !explicit && manifest.name != name {
        return Err(DiscoveryError::NameMismatch {
            name: name.to_owned(),
            found: manifest.name,
            path: file.to_owned(),
        });
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let argv = resolve_command(&manifest.command, dir);
    // Files the command names relative to the plugin's folder must be there
    // now, not only when the plugin first runs.
    let missing: Vec<Diagnostic> = manifest
        .command
        .iter()
        .zip(&argv)
        .enumerate()
        .filter(|(i, (written, resolved))| {
            *written != *resolved
                && !(*i == 0 && written.as_str() == "qod")
                && !Path::new(resolved.as_str()).exists()
        })
        .map(|(i, (written, _))| {
            Diagnostic::new(
                crate::diag::FileKind::Manifest,
                file,
                format!(
                    "`command` names `{written}`, which is not in `{}`",
                    dir.display()
                ),
            )
            .at(format!("/command/{i}"))
            .hint("paths in `command` are relative to the manifest's folder; build or add the file, or fix the path")
        })
        .collect();
    if !missing.is_empty() {
        let mut missing = missing;
        if let Ok(text) = std::fs::read_to_string(file) {
            crate::diag::locate_all(&mut missing, file, &text);
        }
        return Err(DiscoveryError::Manifest {
            name: name.to_owned(),
            diagnostics: missing,
        });
    }
    Ok(ResolvedPlugin {
        manifest,
        source: file.to_owned(),
        origin,
        argv,
    })
}

/// A first-party plugin's manifest as built into the binary, for a `qod`
/// installed without its `share/qod/plugins` folder.
fn built_in(name: &str) -> Option<Result<ResolvedPlugin, DiscoveryError>> {
    let (_, text) = crate::builtin::MANIFESTS.iter().find(|(n, _)| *n == name)?;
    let source = PathBuf::from(format!("<built into qod>/{name}/{MANIFEST}"));
    Some(match parse_manifest(&source, text) {
        Ok(manifest) => {
            let argv = resolve_command(&manifest.command, Path::new("."));
            Ok(ResolvedPlugin {
                manifest,
                source,
                origin: Origin::FirstParty,
                argv,
            })
        }
        Err(diagnostics) => Err(DiscoveryError::Manifest {
            name: name.to_owned(),
            diagnostics,
        }),
    })
}

/// Makes the manifest's relative paths absolute: the program when it
/// contains a `/`, and arguments written as `./…` or `../…`. Bare program
/// names are looked up on `PATH`, except `qod`, which is the running qod
/// (so a plugin built on `qod` uses the same version as the gate).
pub fn resolve_command(command: &[String], dir: &Path) -> Vec<String> {
    command
        .iter()
        .enumerate()
        .map(|(i, arg)| {
            if i == 0 && arg == "qod" {
                if let Ok(exe) = std::env::current_exe() {
                    return exe.to_string_lossy().into_owned();
                }
            }
            let explicit = arg.starts_with("./") || arg.starts_with("../");
            if explicit || (i == 0 && arg.contains('/') && Path::new(arg).is_relative()) {
                dir.join(arg).to_string_lossy().into_owned()
            } else {
                arg.clone()
            }
        })
        .collect()
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
