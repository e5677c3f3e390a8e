//! `qod run`: the gate, then its outputs beside the decision (`--out`,
//! JUnit, Markdown, the env file, GitHub's job summary and step outputs).

use super::CommandError;
use crate::exit::Exit;
use crate::gate::{GateOutcome, Request, RunOptions, Session};
use crate::outputs::Outputs;
use std::path::{Path, PathBuf};

/// Samples per metric the printed decision carries by default; the run
/// record keeps up to [`crate::record::MAX_SAMPLES_PER_METRIC`].
pub const PRINTED_SAMPLES: usize = 100;

/// Where a run's outputs go.
#[derive(Debug, Clone, Default)]
pub struct Sinks {
    /// `--out`: the decision, as on stdout.
    pub out: Option<PathBuf>,
    pub outputs: Outputs,
    /// Samples per metric in the printed decision (`None`: all of them).
    pub samples: Option<usize>,
}

/// A decided run and what became of its outputs.
#[derive(Debug)]
pub struct Ran {
    pub outcome: GateOutcome,
    /// Lines for stderr (GitHub annotations).
    pub annotations: Vec<String>,
    /// An output that could not be written; the run then ends with 2.
    pub failed: Option<CommandError>,
}

impl Ran {
    /// The exit code: the gate's, or 2 when an output failed.
    pub fn exit(&self) -> Exit {
        match self.failed {
            Some(_) => self.outcome.exit.max(Exit::NoDecision),
            None => self.outcome.exit,
        }
    }
}

/// The decision as qod prints it: pretty JSON, with at most `samples`
/// samples per metric (a note on the plugin says how many were left out),
/// so that its size does not grow with what plugins measure.
pub fn decision_json(outcome: &GateOutcome, samples: Option<usize>) -> String {
    let Some(max) = samples else {
        return serde_json::to_string_pretty(&outcome.decision).expect("decisions serialize");
    };
    let mut d = outcome.decision.clone();
    for p in &mut d.plugins {
        let mut cut = Vec::new();
        for m in &mut p.metrics {
            if let Some(s) = m.samples.as_mut().filter(|s| s.len() > max) {
                cut.push(format!("`{}` {} of {}", m.name, max, s.len()));
                s.truncate(max);
            }
        }
        if !cut.is_empty() {
            p.notes.push(format!(
                "samples shown: {} (`--samples all` prints every one; the run record keeps up to {})",
                cut.join(", "),
                crate::record::MAX_SAMPLES_PER_METRIC
            ));
        }
    }
    serde_json::to_string_pretty(&d).expect("decisions serialize")
}

/// Runs the gate and writes its outputs.
pub async fn run(req: Request, opts: &RunOptions, sinks: &Sinks) -> Result<Ran, CommandError> {
    let session = Session::open(req).await?;
    let outcome = crate::gate::run(&session, opts, None).await?;
    Ok(publish(outcome, sinks, &session.request.env))
}

/// Combines a group's parts and writes the outputs.
pub async fn combine(
    req: Request,
    opts: &crate::gate::combine::CombineOptions,
    sinks: &Sinks,
) -> Result<Ran, CommandError> {
    let session = Session::open(req).await?;
    let outcome = crate::gate::combine::combine(&session, opts).await?;
    Ok(publish(outcome, sinks, &session.request.env))
}

/// Writes the outputs of a decided run.
pub fn publish(
    outcome: GateOutcome,
    sinks: &Sinks,
    env: &std::collections::BTreeMap<String, String>,
) -> Ran {
    let mut failed = None;
    if let Some(out) = &sinks.out {
        if let Err(e) = write_decision(out, &decision_json(&outcome, sinks.samples)) {
            failed = Some(e);
        }
    }
    let annotations =
        match crate::outputs::publish(&outcome.decision, &outcome.trends, &sinks.outputs, env) {
            Ok(a) => a,
            Err(e) => {
                failed.get_or_insert(e.into());
                Vec::new()
            }
        };
    Ran {
        outcome,
        annotations,
        failed,
    }
}

fn write_decision(out: &Path, json: &str) -> Result<(), CommandError> {
    std::fs::write(out, format!("{json}\n")).map_err(|e| CommandError::Write(out.to_owned(), e))
}
