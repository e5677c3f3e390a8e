//! The history store: every run is recorded here, and baselines and the last
//! deployment are read back from it. [`Store`] is the front; backends hold
//! the same layout (`runs/date=YYYY-MM-DD/<run-id>.json`, one JSON line per
//! record) in a directory ([`DirStore`]) or, later, elsewhere.

mod dir;
mod record;

pub use dir::DirStore;
pub use record::*;

use std::ops::ControlFlow;
use std::path::PathBuf;

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("run record `{}` already exists; records are never overwritten", path.display())]
    Exists { path: PathBuf },
    #[error("unsupported store location `{location}`")]
    Unsupported { location: String },
}

/// The history store a run uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Store {
    Dir(DirStore),
}

impl Store {
    /// Opens the store at `location`: a directory path. Nothing is created
    /// until something is written.
    pub fn open(location: &str) -> Result<Store, StoreError> {
        if let Some((scheme, _)) = location.split_once("://") {
            return Err(StoreError::Unsupported {
                location: format!("{location} (scheme `{scheme}` is not supported by this build)"),
            });
        }
        Ok(Store::Dir(DirStore::new(location)))
    }

    /// Where the store lives, for messages.
    pub fn location(&self) -> String {
        match self {
            Store::Dir(d) => d.root().display().to_string(),
        }
    }

    /// Visits records newest first until `visit` breaks. Records that cannot
    /// be read are reported to `skipped` and passed over, never fatal.
    pub async fn scan(
        &self,
        visit: impl FnMut(RunRecord) -> ControlFlow<()>,
        skipped: impl FnMut(String),
    ) -> Result<(), StoreError> {
        match self {
            Store::Dir(d) => d.scan(visit, skipped),
        }
    }

    /// Records a run. Never overwrites an existing record.
    pub async fn record(&self, record: &RunRecord) -> Result<(), StoreError> {
        match self {
            Store::Dir(d) => d.record(record),
        }
    }
}
