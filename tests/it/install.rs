//! Installing prebuilt binaries: `install.sh` and the action's install step
//! against a server on 127.0.0.1 that lays out a release as the release
//! workflow publishes it (made from the binary under test), including a
//! wrong checksum and a platform without a binary.

use crate::common::repo;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// This machine's platform, as install.sh names it.
fn target() -> String {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "aarch64",
        _ => "x86_64",
    };
    format!("{arch}-unknown-linux-musl")
}

/// A release served from a folder: `/example/qod/releases/download/vX/…`
/// (install.sh among the assets), `…/latest/download/FILE`, and
/// `/example/qod/releases/latest` redirecting to the tag, as GitHub does.
pub struct Release {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
    /// The served folder, kept while the server runs.
    _dir: tempfile::TempDir,
}

impl Release {
    /// The release of the `qod` under test; with `corrupt`, its sums file
    /// lists another checksum.
    pub fn start(corrupt: bool) -> Release {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("qod-{VERSION}-{}", target());
        let stage = dir.path().join("stage").join(&name);
        std::fs::create_dir_all(&stage).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_qod"), stage.join("qod")).unwrap();
        std::fs::copy(repo().join("README.md"), stage.join("README.md")).unwrap();
        let assets = dir.path().join("download").join(format!("v{VERSION}"));
        std::fs::create_dir_all(&assets).unwrap();
        let archive = format!("{name}.tar.gz");
        let tar = std::process::Command::new("tar")
            .args(["-czf"])
            .arg(assets.join(&archive))
            .arg("-C")
            .arg(dir.path().join("stage"))
            .arg(&name)
            .status()
            .unwrap();
        assert!(tar.success());
        let sum = std::process::Command::new("sha256sum")
            .arg(assets.join(&archive))
            .output()
            .unwrap();
        let mut sum = String::from_utf8(sum.stdout).unwrap()[..64].to_owned();
        if corrupt {
            sum = sum.replace(&sum[..1], if sum.starts_with('0') { "1" } else { "0" });
        }
        std::fs::copy(repo().join("install.sh"), assets.join("install.sh")).unwrap();
        std::fs::write(
            assets.join(format!("qod-{VERSION}-sha256sums.txt")),
            format!("{sum}  {archive}\n"),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let (root, count) = (dir.path().to_owned(), requests.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().take(200).flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(req) = crate::common::read_http(&conn) else {
                    continue;
                };
                let rel = req
                    .path
                    .strip_prefix("/example/qod/releases/")
                    .unwrap_or("");
                // `latest/download/FILE` is the latest release's FILE.
                let latest = rel
                    .strip_prefix("latest/download/")
                    .map(|f| format!("download/v{VERSION}/{f}"));
                let rel = latest.as_deref().unwrap_or(rel);
                if rel == "latest" {
                    let to = format!("Location: /example/qod/releases/tag/v{VERSION}\r\n");
                    crate::common::respond(&conn, 302, &to, b"");
                } else if let Ok(bytes) = std::fs::read(root.join(rel)) {
                    crate::common::respond(&conn, 200, "", &bytes);
                } else if rel.starts_with("tag/") {
                    // The tag's page, after the redirect.
                    crate::common::respond(&conn, 200, "", b"");
                } else {
                    crate::common::respond(&conn, 404, "", b"Not Found");
                }
            }
        });
        Release {
            port,
            requests,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/example/qod/releases", self.port)
    }
}

fn install(release: &Release, into: &Path, extra: &[(&str, &str)]) -> crate::common::Run {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(repo().join("install.sh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", into)
        .env("QOD_DOWNLOAD_URL", release.url())
        .env("QOD_INSTALL_DIR", into.join("bin"))
        .envs(extra.iter().copied());
    crate::common::finish(cmd.output().unwrap())
}

#[test]
fn install_sh_installs_the_latest_release_and_checks_it() {
    let release = Release::start(false);
    let home = tempfile::tempdir().unwrap();
    let r = install(&release, home.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("installed qod {VERSION} ({})", target())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("is not on PATH"), "{}", r.stderr);
    let v = std::process::Command::new(home.path().join("bin/qod"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("qod {VERSION}")
    );
    // A given version needs no redirect.
    let r = install(
        &release,
        home.path(),
        &[("QOD_VERSION", &format!("v{VERSION}"))],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn install_sh_refuses_a_wrong_checksum_and_names_a_missing_platform() {
    let release = Release::start(true);
    let home = tempfile::tempdir().unwrap();
    let r = install(&release, home.path(), &[("QOD_VERSION", VERSION)]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("checksum mismatch"), "{}", r.stderr);
    assert!(r.stderr.contains("refusing to install"));
    assert!(!home.path().join("bin/qod").exists());

    let r = install(
        &release,
        home.path(),
        &[
            ("QOD_VERSION", VERSION),
            ("QOD_TARGET", "riscv64gc-unknown-linux-musl"),
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "no prebuilt qod {VERSION} for riscv64gc-unknown-linux-musl (HTTP 404"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("cargo install --locked --git"),
        "{}",
        r.stderr
    );
    let r = install(&release, home.path(), &[("QOD_VERSION", "9.9.9")]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("no release v9.9.9"), "{}", r.stderr);
}

/// The action's install step, run as the runner runs it.
fn action_install(
    release: &Release,
    dir: &Path,
    reference: &str,
    path: &str,
) -> crate::common::Run {
    let step = crate::common::action_step("Install qod");
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(step)
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        .env("QOD_DOWNLOAD_URL", release.url())
        .env("GITHUB_ACTION_REF", reference)
        .env("GITHUB_ACTION_PATH", repo())
        .env("GITHUB_PATH", dir.join("github_path"))
        .env("RUNNER_TOOL_CACHE", dir.join("toolcache"))
        .env("RUNNER_TEMP", dir.join("tmp"));
    crate::common::finish(cmd.output().unwrap())
}

/// A PATH with the system's tools but no `qod`, and a `cargo` that only
/// says how it was called.
fn path_without_qod(dir: &Path) -> String {
    let bin = dir.join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\necho \"cargo $*\" >> \"$HOME/cargo-calls\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let system: Vec<PathBuf> = std::env::split_paths(&std::env::var("PATH").unwrap())
        .filter(|p| !p.join("qod").exists() && !p.join("cargo").exists())
        .collect();
    std::env::join_paths(std::iter::once(bin).chain(system))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_action_installs_a_release_tag_into_the_tool_cache_and_builds_other_refs() {
    let release = Release::start(false);
    let dir = tempfile::tempdir().unwrap();
    let path = path_without_qod(dir.path());
    let r = action_install(&release, dir.path(), &format!("v{VERSION}"), &path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cached = dir
        .path()
        .join("toolcache/qod")
        .join(VERSION)
        .join(std::env::consts::ARCH);
    assert!(cached.join("qod").is_file());
    let github_path = std::fs::read_to_string(dir.path().join("github_path")).unwrap();
    assert_eq!(github_path.trim(), cached.to_string_lossy());
    // The next job on this runner finds it in the tool cache: no download.
    let before = release.requests.load(Ordering::SeqCst);
    let r = action_install(&release, dir.path(), &format!("v{VERSION}"), &path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(release.requests.load(Ordering::SeqCst), before);
    assert!(!dir.path().join("cargo-calls").exists());

    // A branch: built from the action's source.
    let r = action_install(&release, dir.path(), "main", &path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let calls = std::fs::read_to_string(dir.path().join("cargo-calls")).unwrap();
    assert!(
        calls.starts_with("cargo install --locked --path"),
        "{calls}"
    );
}

/// A server that answers headers and then never sends the body.
fn stalled() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().take(20).flatten() {
            if crate::common::read_http(&conn).is_ok() {
                use std::io::Write;
                let _ = (&conn).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
                held.push(conn);
            }
        }
    });
    port
}

#[test]
fn install_sh_gives_up_on_a_stalled_download_and_stops_on_sigterm() {
    let port = stalled();
    let home = tempfile::tempdir().unwrap();
    let tmp = home.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let command = |timeout: &str| {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg(repo().join("install.sh"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", home.path())
            .env("TMPDIR", &tmp)
            .env("QOD_VERSION", VERSION)
            .env("QOD_INSTALL_TIMEOUT", timeout)
            .env("QOD_DOWNLOAD_URL", format!("http://127.0.0.1:{port}/r"))
            .env("QOD_INSTALL_DIR", home.path().join("bin"));
        cmd
    };
    let start = std::time::Instant::now();
    let r = crate::common::finish(command("2").output().unwrap());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("QOD_INSTALL_TIMEOUT"), "{}", r.stderr);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    // SIGTERM ends it (and its temporary folder) at once.
    let mut child = command("300")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status =
        crate::common::terminate(&mut child, std::time::Duration::from_secs(10), "install.sh");
    assert_eq!(status.code(), Some(143), "{status:?}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn install_sh_eight_installs_into_one_folder_at_once_all_succeed() {
    let release = Release::start(false);
    let home = tempfile::tempdir().unwrap();
    let runs = crate::common::at_once((0..8).map(|_| {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg(repo().join("install.sh"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", home.path())
            .env("QOD_VERSION", VERSION)
            .env("QOD_DOWNLOAD_URL", release.url())
            .env("QOD_INSTALL_DIR", home.path().join("bin"));
        cmd
    }));
    for r in &runs {
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let left: Vec<_> = std::fs::read_dir(home.path().join("bin"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["qod"], "{left:?}");
}
