//! The embedded store: a directory, one file per run under
//! `runs/date=YYYY-MM-DD/`. A record is written to a temporary file in its
//! partition, synced, then linked into place without replacing anything, so
//! a killed writer leaves no half record and concurrent writers never lose
//! one. Reading goes newest first and stops as soon as the caller has enough.

use super::{Backend, RunRecord, StoreError};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// A history store in a directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

const RUNS: &str = "runs";
const PARTITION_PREFIX: &str = "date=";
const TEMP_PREFIX: &str = ".tmp-";

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io<'a>(
        action: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
        move |source| StoreError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }

    /// Entries of `dir` that pass `keep`, names sorted newest (largest) first.
    fn sorted_desc(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<String>, StoreError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::io("list", dir)(e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| keep(n))
            .collect();
        names.sort_unstable_by(|a, b| b.cmp(a));
        Ok(names)
    }

    fn scan_sync(
        &self,
        mut visit: impl FnMut(RunRecord) -> ControlFlow<()>,
        mut skipped: impl FnMut(String),
    ) -> Result<(), StoreError> {
        let runs = self.root.join(RUNS);
        for partition in Self::sorted_desc(&runs, |n| n.starts_with(PARTITION_PREFIX))? {
            let dir = runs.join(&partition);
            let files = Self::sorted_desc(&dir, |n| n.ends_with(".json") && !n.starts_with('.'))?;
            for file in files {
                let path = dir.join(&file);
                let record = std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| {
                        serde_json::from_slice::<RunRecord>(&bytes).map_err(|e| e.to_string())
                    });
                match record {
                    Ok(r) => {
                        if visit(r).is_break() {
                            return Ok(());
                        }
                    }
                    Err(e) => skipped(format!(
                        "skipped unreadable record `{}`: {e}",
                        path.display()
                    )),
                }
            }
        }
        Ok(())
    }

    fn record_sync(&self, record: &RunRecord) -> Result<(), StoreError> {
        let dir = self
            .root
            .join(RUNS)
            .join(format!("{PARTITION_PREFIX}{}", record.date()));
        std::fs::create_dir_all(&dir).map_err(Self::io("create", &dir))?;
        let path = dir.join(format!("{}.json", record.run_id));
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&dir)
            .map_err(Self::io("create a temporary file in", &dir))?;
        tmp.write_all(&line)
            .map_err(Self::io("write", tmp.path()))?;
        tmp.as_file().sync_all().map_err(Self::io("sync", &path))?;
        tmp.persist_noclobber(&path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                StoreError::Exists { path: path.clone() }
            } else {
                Self::io("write", &path)(e.error)
            }
        })?;
        // Make the new directory entry itself durable.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

// Local file I/O is quick and this runs on a runtime that only supervises
// child processes, so the blocking calls are made in place.
impl Backend for DirStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    async fn scan(
        &self,
        visit: impl FnMut(RunRecord) -> ControlFlow<()> + Send,
        skipped: impl FnMut(String) + Send,
    ) -> Result<(), StoreError> {
        self.scan_sync(visit, skipped)
    }

    async fn record(&self, record: &RunRecord) -> Result<(), StoreError> {
        self.record_sync(record)
    }
}
