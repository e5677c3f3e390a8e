//! The history store: every run is recorded here, and baselines and the last
//! deployment are read back from it. [`Store`] is the front; backends hold
//! the same layout (`runs/date=YYYY-MM-DD/<run-id>.json`, one JSON line per
//! record) in a directory ([`DirStore`]) or, later, elsewhere.

mod dir;
mod record;

pub use dir::DirStore;
pub use record::*;

use std::future::Future;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// What a history store backend does. Every backend keeps the same layout
/// and the same guarantees: records are written whole or not at all, never
/// overwritten, and read newest first so a caller can stop early.
pub trait Backend {
    /// Where the store lives, for messages.
    fn location(&self) -> String;

    /// Visits records newest first until `visit` breaks; unreadable records
    /// go to `skipped` and are passed over.
    fn scan(
        &self,
        visit: impl FnMut(RunRecord) -> ControlFlow<()> + Send,
        skipped: impl FnMut(String) + Send,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a run; fails rather than overwrite an existing record.
    fn record(&self, record: &RunRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
}

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
}

impl Backend for Store {
    fn location(&self) -> String {
        match self {
            Store::Dir(d) => d.location(),
        }
    }

    async fn scan(
        &self,
        visit: impl FnMut(RunRecord) -> ControlFlow<()> + Send,
        skipped: impl FnMut(String) + Send,
    ) -> Result<(), StoreError> {
        match self {
            Store::Dir(d) => d.scan(visit, skipped).await,
        }
    }

    async fn record(&self, record: &RunRecord) -> Result<(), StoreError> {
        match self {
            Store::Dir(d) => d.record(record).await,
        }
    }
}
