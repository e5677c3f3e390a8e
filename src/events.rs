//! What a gate run tells as it goes: plugins starting, still running,
//! pending, ending; pairs of a side-by-side comparison; parts awaited.
//! The runner, the comparison and the gate report [`Event`]s to a
//! [`Reporter`]; the command line implements one that prints them (and
//! owns `--quiet`, colour and cadence), tests one that keeps them. Text
//! in an event that came from a plugin is redacted before it is reported.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One thing worth telling while the gate runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A plugin instance started; side by side, on which side and pair.
    Started {
        instance: String,
        plugin: String,
        side: Option<(String, u32)>,
    },
    /// A plugin instance is still running after `elapsed`.
    Heartbeat {
        instance: String,
        plugin: String,
        elapsed: Duration,
    },
    /// A plugin answered `pending`; it is invoked again after `retry_after`.
    Pending {
        instance: String,
        what: String,
        retry_after: Duration,
    },
    /// A plugin instance ended with `status` (the decision's word).
    Ended {
        instance: String,
        side: Option<(String, u32)>,
        status: String,
        duration_ms: u64,
        /// Its brief (values) or its error.
        detail: String,
    },
    /// A side-by-side pair was measured.
    Pair {
        instance: String,
        pair: u32,
        max: u32,
        /// The running estimate, or how many metrics are decided.
        progress: String,
        left: Duration,
        /// Whether `left` is what `compare.budget` leaves (else the most
        /// the remaining pairs may take).
        budget: bool,
    },
    /// `qod bisect`: a step began or ended.
    Bisect {
        /// Steps so far, and about how many it takes.
        step: usize,
        of_about: usize,
        revision: String,
        subject: String,
        /// What it ended (`None`: it began).
        verdict: Option<String>,
        detail: String,
    },
    /// `qod calibrate`: a history objective's instance ran once more.
    Calibrating {
        instance: String,
        run: u32,
        of: u32,
        /// About how long the remaining runs take.
        left: Duration,
        /// Whether `left` is what `--budget` leaves.
        budget: bool,
    },
    /// `qod combine --wait`: parts still missing.
    WaitingForParts {
        group: String,
        covered: usize,
        total: usize,
        /// What is counted: `instances`, or `pair shares` (`--pairs K/N`).
        what: &'static str,
        left: Duration,
    },
}

/// Where events go.
pub trait Reporter: Send + Sync + std::fmt::Debug {
    fn report(&self, event: Event);
    /// How often a running plugin is reported (`None`: never).
    fn heartbeat(&self) -> Option<Duration> {
        None
    }
}

/// A reporter that drops everything (`--quiet`, library use).
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _: Event) {}
}

/// A reporter that keeps every event, in order (tests).
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Mutex<Vec<Event>>,
    pub heartbeat: Option<Duration>,
}

impl Reporter for Recorder {
    fn report(&self, event: Event) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }
    fn heartbeat(&self) -> Option<Duration> {
        self.heartbeat
    }
}

/// The reporter a run shares between its tasks.
pub type Shared = Arc<dyn Reporter>;

/// The silent reporter, shared.
pub fn silent() -> Shared {
    Arc::new(Silent)
}
