//! Exit codes: a promise to every CI system that runs qod (the README's
//! table). Ordered from best to worst, so several outcomes combine with
//! `max`.

/// How a qod command ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: the gate passed or warned; any other command succeeded.
    Pass,
    /// 1: the gate failed (or warned, with `--strict`).
    Fail,
    /// 2: no decision could be made: a bad policy or manifest, an unusable
    /// store, a file that cannot be written.
    NoDecision,
    /// 64: the command line itself is wrong (an unknown flag, a missing
    /// argument), as `EX_USAGE` in sysexits.h.
    Usage,
    /// 128 + the signal: the gate was cancelled (130 SIGINT, 143 SIGTERM,
    /// 129 SIGHUP), as a shell reports a job ended by that signal; the
    /// decision was still printed and recorded.
    Cancelled(u8),
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Pass => 0,
            Exit::Fail => 1,
            Exit::NoDecision => 2,
            Exit::Usage => 64,
            Exit::Cancelled(sig) => 128u8.saturating_add(sig),
        }
    }
}
