//! The one error every command returns: rendered once by the CLI (its
//! cause chain, or a policy's diagnostics as they render themselves), each
//! kind with its exit code.

use crate::diag::Diagnostics;
use crate::exit::Exit;
use std::path::PathBuf;

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A policy, manifest or config that is wrong; the diagnostics name
    /// the file, the position and the fix.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("cannot use the history store")]
    Store(#[from] crate::store::StoreError),
    #[error("no store at `{0}`: nothing was ever recorded there; check `--store` (or `QOD_STORE`), or record a first run with `qod run`")]
    NoStore(String),
    #[error(transparent)]
    Context(#[from] crate::ci::ContextError),
    #[error(transparent)]
    Plugin(crate::plugin::DiscoveryError),
    #[error(transparent)]
    Prepare(crate::compare::WorkspaceError),
    #[error(transparent)]
    Part(crate::parts::PartError),
    #[error("{0}")]
    Combine(String),
    #[error(transparent)]
    Token(#[from] crate::gate::suspend::TokenError),
    #[error(transparent)]
    Report(#[from] crate::outputs::ReportError),
    #[error(transparent)]
    Job(#[from] crate::ci::codepipeline::JobError),
    #[error(transparent)]
    Runtime(#[from] crate::ci::lambda::RuntimeError),
    #[error(transparent)]
    Bisect(#[from] crate::gate::bisect::BisectError),
    #[error(transparent)]
    Calibrate(#[from] crate::gate::calibrate::CalibrateError),
    #[error("invalid `UserParameters` of the CodePipeline job: {0}")]
    UserParameters(String),
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
    #[error("cannot write CSV")]
    Csv(#[from] csv::Error),
    #[error("cannot read `{}`", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    #[error("cannot write `{}`", .0.display())]
    Write(PathBuf, #[source] std::io::Error),
    /// An argument clap accepted but the command cannot use.
    #[error("{0}")]
    Usage(String),
}

impl CommandError {
    /// The exit code the command ends with.
    pub fn exit(&self) -> Exit {
        match self {
            // A store location that is no store is a mistake on the command line.
            CommandError::Usage(_)
            | CommandError::Store(crate::store::StoreError::BadLocation { .. }) => Exit::Usage,
            CommandError::Prepare(crate::compare::WorkspaceError::Cancelled { signal, .. })
            | CommandError::Bisect(crate::gate::bisect::BisectError::Cancelled(signal))
            | CommandError::Calibrate(crate::gate::calibrate::CalibrateError::Cancelled(signal)) => {
                Exit::Cancelled(u8::try_from(*signal).unwrap_or(15))
            }
            _ => Exit::NoDecision,
        }
    }

    /// Whether the reader of stdout went away (`qod … | head`): not an
    /// error, the output is simply no longer wanted.
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            CommandError::Output(e) => Some(e),
            CommandError::Csv(e) => match e.kind() {
                csv::ErrorKind::Io(e) => Some(e),
                _ => None,
            },
            _ => None,
        };
        io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The diagnostics, when the error is a document that is wrong.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            CommandError::Invalid(d) => Some(d),
            _ => None,
        }
    }
}

impl From<Diagnostics> for CommandError {
    fn from(d: Diagnostics) -> Self {
        CommandError::Invalid(d)
    }
}

impl From<crate::plugin::DiscoveryError> for CommandError {
    fn from(e: crate::plugin::DiscoveryError) -> Self {
        match e {
            crate::plugin::DiscoveryError::Manifest { diagnostics, .. } => {
                CommandError::Invalid(Diagnostics(diagnostics))
            }
            other => CommandError::Plugin(other),
        }
    }
}

impl From<crate::gate::GateError> for CommandError {
    fn from(e: crate::gate::GateError) -> Self {
        use crate::gate::GateError as G;
        match e {
            G::Invalid(d) => CommandError::Invalid(d),
            G::Store(e) => CommandError::Store(e),
            G::Context(e) => CommandError::Context(e),
            G::Prepare(e) => CommandError::Prepare(e),
            G::Part(e) => CommandError::Part(e),
            e @ G::NoParts { .. } => CommandError::Combine(e.to_string()),
        }
    }
}
