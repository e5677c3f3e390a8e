//! Every child process qod starts, started here and nowhere else: plugins,
//! `compare.prepare`, `bench-import`'s `with.run`, `command-bench`'s
//! commands, the `--manifest` probe and git. One description of a command
//! ([`Cmd`]) and the ways to run it:
//!
//! - [`Cmd::supervise`]: a long, untrusted child (a plugin, a `prepare`):
//!   its own process group, stdin written and closed, stdout capped,
//!   stderr's tail kept, a timeout and the gate's cancellation, each ending
//!   the whole group (the signal, a grace, SIGKILL) ([`child`]);
//! - [`Cmd::output`] and [`Cmd::output_async`]: a short trusted tool (git),
//!   its output captured whole; a timeout, when given, kills its group;
//! - [`Cmd::status_to_stderr`] and [`Cmd::measure`]: a command whose
//!   output is the user's to read, or whose resources are the measurement.
//!
//! Temporary folders named after their process ([`temp_dir`]) are removed
//! by a later run once that process is gone ([`sweep_orphans`]): a
//! `kill -9` leaves no chance to clean up.

mod cancel;
pub mod child;

pub use cancel::{become_subreaper, kill_orphans, signal_name, Cancel};
pub use child::{Ending, Limits, RawRun, StdoutMode, DEFAULT_GRACE, STDERR_TAIL, STDOUT_CAP};

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A command to run: program, arguments, folder and environment.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    /// Start from an empty environment rather than qod's.
    clear: bool,
    vars: Vec<(OsString, OsString)>,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            clear: false,
            vars: Vec::new(),
        }
    }

    /// `argv[0]` with `argv[1..]`.
    pub fn argv(argv: &[String]) -> Cmd {
        Cmd::new(&argv[0]).args(&argv[1..])
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Only the variables given, none of qod's.
    pub fn env_clear(mut self) -> Cmd {
        self.clear = true;
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.vars
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Cmd
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// The program's name, for messages.
    pub fn program(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    fn std(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if self.clear {
            cmd.env_clear();
        }
        cmd.envs(self.vars.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn tokio(&self) -> tokio::process::Command {
        tokio::process::Command::from(self.std())
    }

    /// Runs a long, untrusted child under `limits` and `cancel`: see
    /// [`child::run`].
    pub async fn supervise(&self, input: Vec<u8>, limits: Limits, cancel: &Cancel) -> RawRun {
        child::run(self.tokio(), input, limits, cancel).await
    }

    /// Runs to the end with `input` on stdin (or none), its output
    /// captured. With a `timeout`, the command has its own process group,
    /// killed whole when the timeout passes (an error of kind `TimedOut`).
    pub fn output(
        &self,
        input: Option<&[u8]>,
        timeout: Option<Duration>,
    ) -> std::io::Result<Output> {
        let mut cmd = self.std();
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if timeout.is_some() {
            cmd.process_group(0);
        }
        let mut child = cmd.spawn()?;
        let Some(limit) = timeout else {
            // std reads both pipes in this thread (poll); only the input
            // needs a thread of its own.
            let writer = write_input(input, child.stdin.take());
            let out = child.wait_with_output();
            if let Some(w) = writer {
                let _ = w.join();
            }
            return out;
        };
        let group = child.id() as i32;
        // Input written and output read by threads: a command that answers
        // as it reads would otherwise fill a pipe and wait forever.
        let writer = write_input(input, child.stdin.take());
        let read = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = read(child.stdout.take().map(|s| Box::new(s) as _));
        let err = read(child.stderr.take().map(|s| Box::new(s) as _));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(limit) {
            Ok(status) => {
                // Nothing it started outlives it.
                let _ = kill_group(group);
                status?
            }
            Err(_) => {
                let _ = kill_group(group);
                let _ = rx.recv();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "`{}` did not end within {}",
                        self.program(),
                        humantime::format_duration(limit)
                    ),
                ));
            }
        };
        if let Some(w) = writer {
            let _ = w.join();
        }
        Ok(Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        })
    }

    /// [`Cmd::output`] without a timeout, in the async runtime; the child
    /// is killed if the future is dropped.
    pub async fn output_async(&self, input: Option<&[u8]>) -> std::io::Result<Output> {
        use tokio::io::AsyncWriteExt;
        let mut cmd = self.tokio();
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let write = async move {
            if let (Some(bytes), Some(mut stdin)) = (input, stdin) {
                stdin.write_all(bytes).await?;
                stdin.shutdown().await?;
            }
            Ok::<(), std::io::Error>(())
        };
        let (written, out) = tokio::join!(write, child.wait_with_output());
        let out = out?;
        if out.status.success() {
            written?;
        }
        Ok(out)
    }

    /// Runs to the end, its output to qod's stderr (a plugin's stdout
    /// carries its result): for a harness whose log the user reads.
    pub fn status_to_stderr(&self) -> std::io::Result<ExitStatus> {
        use std::os::fd::AsFd;
        let to_stderr = std::io::stderr().as_fd().try_clone_to_owned()?;
        self.std().stdin(Stdio::null()).stdout(to_stderr).status()
    }

    /// Runs once, stdout discarded and stderr into `stderr`, and reads its
    /// resource usage with `wait4`: a measurement of the command itself.
    pub fn measure(&self, stderr: std::fs::File) -> std::io::Result<Usage> {
        let mut cmd = self.std();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // A hook makes std fork instead of vfork-like spawning. With vfork
        // the child shares qod's memory until exec, and Linux counts that
        // memory into the child's peak RSS; a forked child copies only
        // qod's few anonymous pages.
        // SAFETY: the hook does nothing, so it is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| Ok(()));
        }
        let start = Instant::now();
        let child = cmd.spawn()?;
        let (status, rusage) = wait4(child.id() as libc::pid_t)?;
        Ok(Usage {
            wall: start.elapsed(),
            status,
            rusage,
        })
    }
}

/// What [`Cmd::measure`] saw.
pub struct Usage {
    pub wall: Duration,
    /// The exit code; negative: the signal that killed it.
    pub status: i32,
    pub rusage: libc::rusage,
}

/// Writes `input` to `stdin` from a thread of its own (then closes it).
fn write_input(
    input: Option<&[u8]>,
    stdin: Option<std::process::ChildStdin>,
) -> Option<std::thread::JoinHandle<()>> {
    let (bytes, mut stdin) = (input?.to_vec(), stdin?);
    Some(std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    }))
}

fn kill_group(group: i32) -> nix::Result<()> {
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(group),
        nix::sys::signal::Signal::SIGKILL,
    )
}

/// Waits for `pid` and returns its exit status (negative: the signal that
/// killed it) with its resource usage.
fn wait4(pid: libc::pid_t) -> std::io::Result<(i32, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data that wait4 fills in; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        -1
    };
    Ok((code, usage))
}

/// A temporary folder named `<prefix><pid>-…`, so that one left by a
/// process that was killed is known for [`sweep_orphans`].
pub fn temp_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .tempdir()
}

/// Whether no process has id `pid`.
pub fn is_gone(pid: i32) -> bool {
    pid > 0
        && matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        )
}

/// The folders in `temp` made by [`temp_dir`] with `prefix` for processes
/// that are gone (killed with `kill -9`, which leaves no chance to clean
/// up), removed after `before` has had its say on each (a git worktree is
/// unregistered from its repository first).
pub fn sweep_orphans(temp: &Path, prefix: &str, before: impl Fn(&Path)) -> usize {
    let mut removed = 0;
    for e in std::fs::read_dir(temp).into_iter().flatten().flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if is_gone(pid) {
            before(&e.path());
            if std::fs::remove_dir_all(e.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}
