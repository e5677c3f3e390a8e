//! Cancellation: what a CI runner sends when a job is cancelled or times
//! out (SIGTERM, SIGINT, SIGHUP). The first signal stops the plugins (the
//! signal forwarded to each plugin's process group, SIGKILL after the
//! grace) and lets the gate write its decision; a second one kills at once.
//! qod is also a child subreaper, so that processes which left their
//! plugin's group are found and killed when the plugins are done.

use tokio::sync::watch;

/// Signals received: the first one, and how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Received {
    first: Option<i32>,
    count: u32,
}

/// A cancellation that signals (or a test) may trigger.
#[derive(Debug, Clone)]
pub struct Cancel {
    rx: watch::Receiver<Received>,
    /// Keeps the channel open for a cancellation nothing can trigger.
    _tx: Option<std::sync::Arc<watch::Sender<Received>>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::never()
    }
}

impl Cancel {
    /// A cancellation that never comes.
    pub fn never() -> Cancel {
        let (tx, rx) = watch::channel(Received::default());
        Cancel {
            rx,
            _tx: Some(std::sync::Arc::new(tx)),
        }
    }

    /// Cancelled by SIGTERM, SIGINT or SIGHUP to qod. Needs a tokio runtime.
    pub fn on_signals() -> Cancel {
        use tokio::signal::unix::{signal, SignalKind};
        let (tx, rx) = watch::channel(Received::default());
        let tx = std::sync::Arc::new(tx);
        for kind in [
            SignalKind::terminate(),
            SignalKind::interrupt(),
            SignalKind::hangup(),
        ] {
            let Ok(mut sig) = signal(kind) else { continue };
            let tx = tx.clone();
            tokio::spawn(async move {
                while sig.recv().await.is_some() {
                    tx.send_modify(|r| {
                        r.first.get_or_insert(kind.as_raw_value());
                        r.count += 1;
                    });
                }
            });
        }
        Cancel { rx, _tx: Some(tx) }
    }

    /// The signal that cancelled the run, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.rx.borrow().first
    }

    /// Resolves with the signal once the run is cancelled.
    pub async fn cancelled(&mut self) -> i32 {
        let first = self.rx.wait_for(|r| r.count >= 1).await.map(|r| r.first);
        match first {
            Ok(first) => first.unwrap_or(libc::SIGTERM),
            Err(_) => std::future::pending().await,
        }
    }

    /// Resolves when a second signal came: kill at once.
    pub async fn again(&mut self) {
        let closed = self.rx.wait_for(|r| r.count >= 2).await.is_err();
        if closed {
            std::future::pending::<()>().await;
        }
    }
}

/// A signal's name: `SIGTERM`.
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// Makes qod the reaper of every descendant that is orphaned, so that
/// processes which left their plugin's group can still be found.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer argument
    // and changes only this process's attributes.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Kills (SIGKILL) and reaps every child of qod that is left once the
/// plugins are done: descendants that left their plugin's process group
/// and were orphaned to qod. Returns how many there were.
pub fn kill_orphans() -> usize {
    let children = children().unwrap_or_else(scan_children);
    let mut killed = 0;
    for (pid, state) in children {
        let pid = nix::unistd::Pid::from_raw(pid);
        if state != Some('Z') {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            killed += 1;
        }
        let _ = nix::sys::wait::waitpid(pid, None);
    }
    killed
}

/// The state letter of process `pid` (`Z` for a zombie), from its `stat`.
fn state_of(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// qod's children, from each of its threads' `children` file: a few reads
/// rather than one per process on the machine. `None` where the kernel
/// does not keep those files.
fn children() -> Option<Vec<(i32, Option<char>)>> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).ok()?;
        for pid in text
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            out.push((pid, state_of(pid)));
        }
    }
    Some(out)
}

/// qod's children, from every process's `stat`.
fn scan_children() -> Vec<(i32, Option<char>)> {
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in procs.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next());
        if fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            out.push((pid, state));
        }
    }
    out
}
