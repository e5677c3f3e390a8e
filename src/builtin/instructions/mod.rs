//! Instruction counts of a command: under Valgrind's cachegrind (exact and
//! repeatable, 20–100× slower), or from the CPU's hardware counter through
//! `perf_event_open` (full speed, where the machine exposes one). Also the
//! reader of cachegrind's output files, which `bench-import` shares.

mod cachegrind;
mod perf;

pub use cachegrind::{collect, parse_out, valgrind, valgrind_argv, Counts};
pub use perf::PerfCounter;

use super::{Failure, Measured};
use crate::policy::Aggregate;

/// What counts the instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Instrument {
    /// The hardware counter where it opens, else Valgrind.
    Auto,
    Valgrind,
    Perf,
}

impl Instrument {
    /// The name recorded with each metric, so that counts of different
    /// instruments are never compared.
    pub fn name(self) -> &'static str {
        match self {
            Instrument::Auto => "auto",
            Instrument::Valgrind => "valgrind",
            Instrument::Perf => "perf",
        }
    }
}

/// How `command-bench` counts.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub instrument: Instrument,
    pub cache_sim: bool,
    /// Counted runs.
    pub runs: u64,
}

/// Runs a command once (the argv given), prepared and checked; the `&str`
/// names the run in errors.
pub type RunOnce<'a> = dyn FnMut(&[String], &str) -> Result<(), Failure> + 'a;

/// Counts the instructions of `argv` over `settings.runs` runs, each made
/// by `run_once(argv to run, what the run is called)`, which prepares, runs
/// and checks it. Reports `instructions` (and, with `cache_sim`, cache
/// misses and estimated cycles), each tagged with the instrument.
pub fn count(
    settings: &Settings,
    argv: &[String],
    run_once: &mut RunOnce,
) -> Result<Measured, Failure> {
    let instrument = match settings.instrument {
        Instrument::Auto if !settings.cache_sim && PerfCounter::open().is_ok() => Instrument::Perf,
        Instrument::Auto => Instrument::Valgrind,
        i => i,
    };
    if instrument == Instrument::Perf && settings.cache_sim {
        return Err(Failure::config(
            "`with.cache_sim` simulates caches under Valgrind; set `instrument: valgrind` (or `auto`), or drop `cache_sim`",
        ));
    }
    let mut runs: Vec<Counts> = Vec::new();
    if instrument == Instrument::Perf {
        for _ in 0..settings.runs {
            let counter = PerfCounter::open().map_err(|why| {
                Failure::new(
                    "missing-tool",
                    format!("`instrument: perf` cannot count instructions here: {why}; set `instrument: valgrind` (or `auto`)"),
                )
            })?;
            run_once(argv, "counted run")?;
            let n = counter.read().map_err(|e| {
                Failure::new(
                    "measurement-failed",
                    format!("cannot read the instruction counter: {e}"),
                )
            })?;
            runs.push(Counts {
                events: vec!["Ir".into()],
                totals: vec![n],
                processes: 1,
            });
        }
    } else {
        let valgrind = valgrind()?;
        let dir = tempfile::tempdir().map_err(|e| {
            Failure::new(
                "io",
                format!("cannot create a folder for cachegrind's output: {e}"),
            )
        })?;
        let wrapped = valgrind_argv(&valgrind, dir.path(), settings.cache_sim, argv);
        for _ in 0..settings.runs {
            run_once(&wrapped, "run under Valgrind")?;
            runs.push(collect(dir.path())?);
        }
    }
    let mut m = Measured::default();
    let series = |f: &dyn Fn(&Counts) -> Option<u64>| -> Option<Vec<f64>> {
        runs.iter().map(|c| f(c).map(|v| v as f64)).collect()
    };
    let mut push = |name: &str, values: Vec<f64>| {
        let metric = m.push(
            name,
            crate::stats::aggregate(&values, Aggregate::Median),
            None,
        );
        metric.instrument = Some(instrument.name().to_owned());
        if values.len() > 1 {
            metric.samples = Some(values);
        }
    };
    let irs = series(&|c| c.get("Ir")).ok_or_else(|| {
        Failure::new(
            "measurement-failed",
            "the instrument reported no instruction count",
        )
    })?;
    let instructions = crate::stats::aggregate(&irs, Aggregate::Median);
    push("instructions", irs);
    if settings.cache_sim {
        let cache = |i: usize| series(&|c| c.cache().map(|t| [t.0, t.1, t.2][i]));
        let (Some(l1), Some(ll), Some(cycles)) = (cache(0), cache(1), cache(2)) else {
            return Err(Failure::new(
                "measurement-failed",
                "cachegrind reported no cache events although `cache_sim` is on",
            ));
        };
        push("l1_misses", l1);
        push("ll_misses", ll);
        push("estimated_cycles", cycles);
    }
    let processes = runs.last().map_or(1, |c| c.processes);
    m.summary = format!(
        "{} instructions ({}, {} run{}{})",
        group_digits(instructions),
        instrument.name(),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        if processes > 1 {
            format!(", {processes} processes")
        } else {
            String::new()
        }
    );
    Ok(m)
}

/// `39705376` as `39,705,376`.
fn group_digits(v: f64) -> String {
    let digits = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
