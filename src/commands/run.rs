//! `qod run`: the gate, then its outputs beside the decision (`--out`,
//! JUnit, Markdown, the env file, GitHub's job summary and step outputs).

use super::CommandError;
use crate::exit::Exit;
use crate::gate::{GateOutcome, RunOptions};
use crate::outputs::Outputs;
use std::path::{Path, PathBuf};

/// Where a run's outputs go.
#[derive(Debug, Clone, Default)]
pub struct Sinks {
    /// `--out`: the decision, as on stdout.
    pub out: Option<PathBuf>,
    pub outputs: Outputs,
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

/// The decision as qod prints it: pretty JSON.
pub fn decision_json(outcome: &GateOutcome) -> String {
    serde_json::to_string_pretty(&outcome.decision).expect("decisions serialize")
}

/// Runs the gate and writes its outputs.
pub async fn run(opts: &RunOptions, sinks: &Sinks) -> Result<Ran, CommandError> {
    let outcome = crate::gate::run(opts).await?;
    Ok(publish(outcome, sinks, &opts.env))
}

/// Writes the outputs of a decided run.
pub fn publish(
    outcome: GateOutcome,
    sinks: &Sinks,
    env: &std::collections::BTreeMap<String, String>,
) -> Ran {
    let mut failed = None;
    if let Some(out) = &sinks.out {
        if let Err(e) = write_decision(out, &decision_json(&outcome)) {
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
