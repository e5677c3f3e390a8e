//! Supervising one long, untrusted child (a plugin, `compare.prepare`):
//! spawn it in its own process group, write its input to stdin and close
//! it, drain stdout and stderr concurrently with caps, and stop the whole
//! group on timeout or cancellation (the signal, a grace period, SIGKILL)
//! so grandchildren die too.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Limits for one supervised run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    pub stdout: StdoutMode,
    pub stderr_tail: usize,
}

/// What becomes of the child's stdout.
#[derive(Debug, Clone, Copy)]
pub enum StdoutMode {
    /// Kept, up to this many bytes; past them the group is killed (a
    /// plugin's stdout is its result: one that floods it has failed).
    Capped(usize),
    /// Read and dropped (a build's log).
    Discarded,
}

pub const STDOUT_CAP: usize = 16 << 20;
pub const STDERR_TAIL: usize = 64 << 10;
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3);

/// How long output pipes may stay open after the plugin exits before the
/// processes holding them are killed.
const LINGER: Duration = Duration::from_millis(200);
/// How long to wait for pipes after the group was killed; a process that
/// escaped the group (setsid) could hold them forever.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(1);

/// How the process ended.
#[derive(Debug)]
pub enum Ending {
    Exited(ExitStatus),
    TimedOut,
    /// The run was cancelled by this signal, forwarded to the plugin.
    Cancelled(i32),
    SpawnFailed(std::io::Error),
}

/// What one plugin run produced, before it is interpreted.
#[derive(Debug)]
pub struct RawRun {
    pub ending: Ending,
    pub stdout: Vec<u8>,
    pub stdout_overflow: bool,
    pub stderr_tail: Vec<u8>,
    pub duration: Duration,
    /// Things worth telling the user that did not decide the outcome.
    pub notes: Vec<String>,
}

/// Runs `cmd` with `input` on stdin.
pub async fn run(
    mut cmd: Command,
    input: Vec<u8>,
    limits: Limits,
    cancel: &super::Cancel,
) -> RawRun {
    let mut cancel = cancel.clone();
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + limits.timeout);
    let mut notes = Vec::new();
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return RawRun {
                ending: Ending::SpawnFailed(e),
                stdout: Vec::new(),
                stdout_overflow: false,
                stderr_tail: Vec::new(),
                duration: start.elapsed(),
                notes,
            }
        }
    };
    let pgid = Pid::from_raw(child.id().expect("a spawned child has a pid") as i32);

    let mut stdin = child.stdin.take().expect("piped");
    let writer = tokio::spawn(async move {
        // A plugin that never reads its input is fine; a broken pipe is not an error.
        let _ = stdin.write_all(&input).await;
        let _ = stdin.shutdown().await;
    });
    let overflow = Arc::new(AtomicBool::new(false));
    let mut stdout_task = tokio::spawn(read_capped(
        child.stdout.take().expect("piped"),
        match limits.stdout {
            StdoutMode::Capped(cap) => Some(cap),
            StdoutMode::Discarded => None,
        },
        pgid,
        overflow.clone(),
    ));
    let mut stderr_task = tokio::spawn(read_tail(
        child.stderr.take().expect("piped"),
        limits.stderr_tail,
    ));

    let ending = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => Ending::Exited(s),
            Err(e) => Ending::SpawnFailed(e),
        },
        _ = tokio::time::sleep_until(deadline) => Ending::TimedOut,
        sig = cancel.cancelled() => Ending::Cancelled(sig),
    };
    let stopped = matches!(ending, Ending::TimedOut | Ending::Cancelled(_));
    if stopped {
        // SIGTERM on a timeout; on a cancellation, the signal qod got.
        let sig = match ending {
            Ending::Cancelled(s) => Signal::try_from(s).unwrap_or(Signal::SIGTERM),
            _ => Signal::SIGTERM,
        };
        let _ = killpg(pgid, sig);
        let waited = tokio::select! {
            w = tokio::time::timeout(limits.grace, child.wait()) => w.is_ok(),
            // A second signal: no more grace.
            _ = cancel.again() => false,
        };
        if !waited {
            notes.push(format!(
                "did not stop within {} of {} and was killed with SIGKILL",
                humantime::format_duration(limits.grace),
                sig.as_str()
            ));
            let _ = killpg(pgid, Signal::SIGKILL);
            let _ = child.wait().await;
        }
    }

    // The plugin is done; its output ends when every process holding the
    // pipes is gone. Give stragglers a moment, then end the group.
    let both = async {
        let out = (&mut stdout_task).await;
        let err = (&mut stderr_task).await;
        (out, err)
    };
    let linger = if stopped { Duration::ZERO } else { LINGER };
    let drained = tokio::time::timeout(linger, both).await;
    let (stdout, stderr_tail) = match drained {
        Ok((out, err)) => {
            if killpg(pgid, Signal::SIGKILL).is_ok() && !stopped {
                notes.push("left processes running after it exited; qod killed them".into());
            }
            (out.unwrap_or_default(), err.unwrap_or_default())
        }
        Err(_) => {
            if killpg(pgid, Signal::SIGKILL).is_ok() && !stopped {
                notes.push(
                    "left processes running that held its output open; qod killed them".into(),
                );
            }
            let out = tokio::time::timeout(DRAIN_AFTER_KILL, &mut stdout_task).await;
            let err = tokio::time::timeout(DRAIN_AFTER_KILL, &mut stderr_task).await;
            if out.is_err() || err.is_err() {
                notes.push("its output stayed open after its process group was killed (a process left the group); output may be cut short".into());
                stdout_task.abort();
                stderr_task.abort();
            }
            (
                out.ok().and_then(Result::ok).unwrap_or_default(),
                err.ok().and_then(Result::ok).unwrap_or_default(),
            )
        }
    };
    writer.abort();
    RawRun {
        ending,
        stdout,
        stdout_overflow: overflow.load(Ordering::Relaxed),
        stderr_tail,
        duration: start.elapsed(),
        notes,
    }
}

/// Reads up to `cap` bytes; past that, kills the group: a plugin that floods
/// stdout has failed and must not make qod hold gigabytes. With no cap,
/// reads and drops everything.
async fn read_capped(
    mut r: impl AsyncRead + Unpin,
    cap: Option<usize>,
    pgid: Pid,
    overflow: Arc<AtomicBool>,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return buf,
            Ok(_) if cap.is_none() => {}
            Ok(n) => {
                let cap = cap.unwrap_or_default();
                if buf.len() + n > cap {
                    overflow.store(true, Ordering::Relaxed);
                    let _ = killpg(pgid, Signal::SIGKILL);
                    return buf;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// Reads everything, keeping only the last `keep` bytes.
async fn read_tail(mut r: impl AsyncRead + Unpin, keep: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 << 10];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 2 * keep {
                    buf.drain(..buf.len() - keep);
                }
            }
        }
    }
    if buf.len() > keep {
        buf.drain(..buf.len() - keep);
    }
    buf
}

/// The signal number that ended `status`, if one did.
pub fn signal_of(status: &ExitStatus) -> Option<i32> {
    status.signal()
}
